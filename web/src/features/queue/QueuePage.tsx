import { timestampDate } from '@bufbuild/protobuf/wkt';
import { Anchor, Button, Loader, Stack, Table, Text, Title } from '@mantine/core';
import { useInfiniteQuery } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { ProcessState } from '../../gen/process/v1/process_pb';
import { processClient } from '../../lib/api/grpc';
import { processKeys } from '../../lib/api/keys';
import { formatAmount } from '../../lib/money';
import { ErrorAlert } from '../../lib/ui/ErrorAlert';
import { formatDateTime } from '../../lib/ui/format';

/** Operators: applications waiting for a decision, oldest first (`ListProcesses`). */
export function QueuePage() {
  const { t, i18n } = useTranslation();
  const queue = useInfiniteQuery({
    queryKey: [...processKeys.lists(), 'awaiting-decision'],
    queryFn: ({ pageParam, signal }) =>
      processClient.listProcesses(
        { state: [ProcessState.AWAITING_DECISION], pageSize: 50, pageToken: pageParam },
        { signal },
      ),
    initialPageParam: '',
    getNextPageParam: (last) => (last.nextPageToken === '' ? undefined : last.nextPageToken),
  });
  const processes = queue.data?.pages.flatMap((page) => page.processes) ?? [];

  return (
    <Stack>
      <Title order={2}>{t('queue.title')}</Title>
      <Text c="dimmed" size="sm">
        {t('queue.hint')}
      </Text>
      <ErrorAlert error={queue.error} />
      <Table.ScrollContainer minWidth={560}>
        <Table striped data-testid="queue-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t('applications.columns.title')}</Table.Th>
              <Table.Th>{t('applications.columns.applicant')}</Table.Th>
              <Table.Th style={{ textAlign: 'right' }}>{t('applications.columns.total')}</Table.Th>
              <Table.Th>{t('applications.columns.appliedAt')}</Table.Th>
              <Table.Th>{t('process.dueAt')}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {processes.map((process) => (
              <Table.Tr key={process.applicationId} data-application-id={process.applicationId}>
                <Table.Td>
                  <Anchor component={Link} to={`/applications/${process.applicationId}`}>
                    {process.title}
                  </Anchor>
                </Table.Td>
                <Table.Td>{process.applicant}</Table.Td>
                <Table.Td style={{ textAlign: 'right', whiteSpace: 'nowrap' }}>
                  {formatAmount(process.totalAmount, i18n.language)}
                </Table.Td>
                <Table.Td>
                  {process.appliedAt
                    ? formatDateTime(timestampDate(process.appliedAt), i18n.language)
                    : '—'}
                </Table.Td>
                <Table.Td>
                  {process.decisionDueAt
                    ? formatDateTime(timestampDate(process.decisionDueAt), i18n.language)
                    : '—'}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      {queue.isPending && <Loader size="sm" aria-label={t('common.loading')} />}
      {!queue.isPending && processes.length === 0 && <Text c="dimmed">{t('queue.empty')}</Text>}
      {queue.hasNextPage && (
        <Button
          variant="default"
          onClick={() => void queue.fetchNextPage()}
          loading={queue.isFetchingNextPage}
        >
          {t('pagination.more')}
        </Button>
      )}
    </Stack>
  );
}
