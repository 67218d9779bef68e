import { Chip, Group, Text } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { type ApplicationStatus, STATUSES } from '../api/rest';

/** A labelled group of toggles, one per application status. */
export function StatusChips({
  legend,
  value,
  onChange,
}: {
  legend: string;
  value: ApplicationStatus[];
  onChange: (value: ApplicationStatus[]) => void;
}) {
  const { t } = useTranslation();
  return (
    <fieldset style={{ border: 0, padding: 0, margin: 0 }}>
      <legend>
        <Text size="sm" fw={500}>
          {legend}
        </Text>
      </legend>
      <Chip.Group multiple value={value} onChange={(next) => onChange(next as ApplicationStatus[])}>
        <Group gap="xs" mt={4}>
          {STATUSES.map((status) => (
            <Chip key={status} value={status} size="sm">
              {t(`status.${status}`)}
            </Chip>
          ))}
        </Group>
      </Chip.Group>
    </fieldset>
  );
}
