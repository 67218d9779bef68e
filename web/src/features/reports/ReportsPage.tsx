import {
  Anchor,
  Button,
  Card,
  Group,
  Loader,
  Progress,
  SegmentedControl,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError } from '../../lib/api/errors';
import { apiUrl } from '../../lib/api/http';
import type { Report } from '../../lib/api/reports';
import type { ApplicationStatus } from '../../lib/api/rest';
import { isOperator, useSession } from '../../lib/auth/session';
import { ErrorAlert } from '../../lib/ui/ErrorAlert';
import { formatBytes, formatDateTime, utcDay } from '../../lib/ui/format';
import { StatusChips } from '../../lib/ui/StatusChips';
import { type Format, useReports, useRequestReport } from './api';
import { StatsChart } from './StatsChart';

function firstOfMonth(): string {
  return `${utcDay().slice(0, 8)}01`;
}

export function ReportsPage() {
  const { t } = useTranslation();
  const [appliedFrom, setAppliedFrom] = useState(firstOfMonth);
  const [appliedTo, setAppliedTo] = useState(() => utcDay());
  const [statuses, setStatuses] = useState<ApplicationStatus[]>([]);
  const [format, setFormat] = useState<Format>('CSV');
  const request = useRequestReport();
  const fieldError = (name: string) =>
    request.error instanceof ApiError
      ? request.error.fieldErrors.find((field) => field.field === name)?.message
      : undefined;

  return (
    <Stack>
      <Title order={2}>{t('reports.title')}</Title>
      <Card withBorder>
        <form
          aria-label={t('reports.request')}
          onSubmit={(event) => {
            event.preventDefault();
            request.mutate(
              { appliedFrom, appliedTo, statuses, format },
              {
                onSuccess: () =>
                  notifications.show({ color: 'blue', message: t('reports.requested') }),
              },
            );
          }}
        >
          <Stack>
            <Title order={3} size="h5">
              {t('reports.request')}
            </Title>
            <Group align="flex-start" wrap="wrap">
              <TextInput
                type="date"
                label={t('filters.appliedFrom')}
                value={appliedFrom}
                onChange={(event) => setAppliedFrom(event.currentTarget.value)}
                error={fieldError('applied_from') ?? fieldError('appliedFrom')}
              />
              <TextInput
                type="date"
                label={t('filters.appliedTo')}
                value={appliedTo}
                onChange={(event) => setAppliedTo(event.currentTarget.value)}
                error={fieldError('applied_to') ?? fieldError('appliedTo')}
              />
            </Group>
            <StatusChips legend={t('reports.statuses')} value={statuses} onChange={setStatuses} />
            <div>
              <Text size="sm" fw={500} id="report-format-label">
                {t('reports.format')}
              </Text>
              <SegmentedControl
                aria-labelledby="report-format-label"
                value={format}
                onChange={(value) => setFormat(value as Format)}
                data={['CSV', 'JSON', 'XLSX']}
              />
            </div>
            <ErrorAlert error={request.error} showFields />
            <Group>
              <Button type="submit" loading={request.isPending}>
                {t('reports.submit')}
              </Button>
            </Group>
          </Stack>
        </form>
      </Card>
      <Card withBorder>
        <Title order={3} size="h5" mb="sm">
          {t('chart.title', { from: appliedFrom || '…', to: appliedTo || '…' })}
        </Title>
        <StatsChart appliedFrom={appliedFrom} appliedTo={appliedTo} />
      </Card>
      <ReportList />
    </Stack>
  );
}

function ReportList() {
  const { t, i18n } = useTranslation();
  const session = useSession();
  const reports = useReports();
  const rows = reports.data?.pages.flatMap((page) => page.reports) ?? [];
  const showOwner = session !== null && isOperator(session.user);
  return (
    <Stack>
      <Title order={3} size="h4">
        {t('reports.mine')}
      </Title>
      <ErrorAlert error={reports.error} />
      <Table.ScrollContainer minWidth={640}>
        <Table striped data-testid="reports-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t('reports.requestedAt')}</Table.Th>
              <Table.Th>{t('reports.kind')}</Table.Th>
              {showOwner && <Table.Th>{t('reports.owner')}</Table.Th>}
              <Table.Th>{t('reports.format')}</Table.Th>
              <Table.Th>{t('reports.status')}</Table.Th>
              <Table.Th>{t('reports.size')}</Table.Th>
              <Table.Th />
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {rows.map((report) => (
              <Table.Tr key={report.id} data-report-id={report.id} data-status={report.status}>
                <Table.Td style={{ whiteSpace: 'nowrap' }}>
                  {formatDateTime(report.requestedAt, i18n.language)}
                </Table.Td>
                <Table.Td>
                  {t(`reportKind.${report.kind}` as 'reportKind.PURCHASE', {
                    defaultValue: report.kind,
                  })}
                  <Text size="xs" c="dimmed">
                    {describeParameters(report)}
                  </Text>
                </Table.Td>
                {showOwner && <Table.Td>{report.owner}</Table.Td>}
                <Table.Td>{report.format}</Table.Td>
                <Table.Td style={{ minWidth: 140 }}>
                  <Text size="sm">{t(`reportStatus.${report.status}`)}</Text>
                  {(report.status === 'RUNNING' || report.status === 'QUEUED') && (
                    <Progress
                      value={report.percent}
                      size="sm"
                      aria-label={t('reports.progress', { percent: report.percent })}
                    />
                  )}
                  {report.error && (
                    <Text size="xs" c="red">
                      {report.error}
                    </Text>
                  )}
                </Table.Td>
                <Table.Td>{formatBytes(report.size, i18n.language)}</Table.Td>
                <Table.Td>
                  {report.status === 'COMPLETED' && report.downloadUrl && (
                    <Anchor href={apiUrl(report.downloadUrl)} download>
                      {t('reports.download', { format: report.format })}
                    </Anchor>
                  )}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      {reports.isPending && <Loader size="sm" aria-label={t('common.loading')} />}
      {!reports.isPending && rows.length === 0 && <Text c="dimmed">{t('reports.empty')}</Text>}
      {reports.hasNextPage && (
        <Button
          variant="default"
          onClick={() => void reports.fetchNextPage()}
          loading={reports.isFetchingNextPage}
        >
          {t('pagination.more')}
        </Button>
      )}
    </Stack>
  );
}

function describeParameters(report: Report): string {
  const parameters = report.parameters ?? {};
  const from = parameters.appliedFrom;
  const to = parameters.appliedTo;
  if (typeof from === 'string' || typeof to === 'string') {
    return `${typeof from === 'string' ? from : '…'} — ${typeof to === 'string' ? to : '…'}`;
  }
  if (typeof parameters.applicationId === 'string') return parameters.applicationId;
  return '';
}
