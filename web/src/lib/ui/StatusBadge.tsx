import { Badge } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import type { ApplicationStatus } from '../api/rest';

const COLORS: Record<ApplicationStatus, string> = {
  NEW: 'blue',
  PROCESSING: 'yellow',
  COMPLETED: 'teal',
  CANCELLED: 'gray',
  REJECTED: 'red',
};

export function StatusBadge({ status }: { status: ApplicationStatus }) {
  const { t } = useTranslation();
  return (
    <Badge
      color={COLORS[status] ?? 'gray'}
      variant="light"
      data-status={status}
      style={{ flexShrink: 0, overflow: 'visible' }}
      styles={{ label: { overflow: 'visible' } }}
    >
      {t(`status.${status}`)}
    </Badge>
  );
}
