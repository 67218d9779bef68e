import { Anchor, Button, Group, Loader, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { type FormEvent, useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useSearchParams } from 'react-router';
import type { Application } from '../../lib/api/rest';
import { isOperator, useSession } from '../../lib/auth/session';
import { formatAmount } from '../../lib/money';
import { ErrorAlert } from '../../lib/ui/ErrorAlert';
import { formatDateTime } from '../../lib/ui/format';
import { StatusBadge } from '../../lib/ui/StatusBadge';
import { StatusChips } from '../../lib/ui/StatusChips';
import { useApplicationList, useApplicationSearch } from './api';
import { filtersFromSearch, type ListFilters, searchFromFilters } from './filters';
import { Snippet } from './snippet';

interface Row {
  application: Application;
  snippet?: string;
}

export function ApplicationsPage() {
  const { t, i18n } = useTranslation();
  const session = useSession();
  const [search, setSearch] = useSearchParams();
  const filters = filtersFromSearch(search);
  const searching = filters.q.trim() !== '';
  const [query, setQuery] = useState(filters.q);
  // Tokens of the pages before this one, to go back; the URL holds the current page's.
  const [previousTokens, setPreviousTokens] = useState<string[]>([]);

  useEffect(() => setQuery(filters.q), [filters.q]);

  const list = useApplicationList(filters, !searching);
  const found = useApplicationSearch(filters, searching);
  const current = searching ? found : list;
  const rows: Row[] = searching
    ? (found.data?.items ?? []).map((hit) => ({
        application: hit.application,
        snippet: hit.snippet,
      }))
    : (list.data?.items ?? []).map((application) => ({ application }));
  const nextPageToken = current.data?.nextPageToken ?? null;
  const showApplicant = session !== null && isOperator(session.user);

  const update = (change: Partial<ListFilters>) => {
    setPreviousTokens([]);
    setSearch(searchFromFilters({ ...filters, ...change, pageToken: '' }));
  };
  const submitSearch = (event: FormEvent) => {
    event.preventDefault();
    update({ q: query });
  };

  return (
    <Stack>
      <Title order={2}>{t('applications.title')}</Title>
      <search>
        <form onSubmit={submitSearch}>
          <Group align="flex-end" wrap="wrap" gap="sm">
            <TextInput
              type="search"
              label={t('applications.search')}
              description={t('applications.searchHint')}
              value={query}
              onChange={(event) => setQuery(event.currentTarget.value)}
              style={{ flex: '1 1 220px' }}
              name="q"
            />
            <Button type="submit">{t('applications.find')}</Button>
            {searching && (
              <Button variant="subtle" onClick={() => update({ q: '' })}>
                {t('applications.clearSearch')}
              </Button>
            )}
          </Group>
        </form>
      </search>
      <Group align="flex-end" wrap="wrap" gap="sm">
        <TextInput
          type="date"
          label={t('filters.appliedFrom')}
          value={filters.appliedFrom}
          onChange={(event) => update({ appliedFrom: event.currentTarget.value })}
        />
        <TextInput
          type="date"
          label={t('filters.appliedTo')}
          value={filters.appliedTo}
          onChange={(event) => update({ appliedTo: event.currentTarget.value })}
        />
      </Group>
      <StatusChips
        legend={t('filters.status')}
        value={filters.status}
        onChange={(value) => update({ status: value })}
      />

      <ErrorAlert error={current.error} showFields />
      <Table.ScrollContainer minWidth={560}>
        <Table
          striped
          highlightOnHover
          aria-busy={current.isFetching}
          data-testid="applications-table"
        >
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t('applications.columns.title')}</Table.Th>
              <Table.Th>{t('applications.columns.status')}</Table.Th>
              <Table.Th style={{ textAlign: 'right' }}>{t('applications.columns.total')}</Table.Th>
              <Table.Th>{t('applications.columns.appliedAt')}</Table.Th>
              {showApplicant && <Table.Th>{t('applications.columns.applicant')}</Table.Th>}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {rows.map(({ application, snippet }) => (
              <Table.Tr key={application.id} data-application-id={application.id}>
                <Table.Td>
                  <Anchor component={Link} to={`/applications/${application.id}`}>
                    {application.title}
                  </Anchor>
                  {snippet !== undefined && (
                    <Text size="xs" c="dimmed">
                      <Snippet html={snippet} />
                    </Text>
                  )}
                </Table.Td>
                <Table.Td style={{ whiteSpace: 'nowrap' }}>
                  <StatusBadge status={application.status} />
                </Table.Td>
                <Table.Td style={{ textAlign: 'right', whiteSpace: 'nowrap' }}>
                  {formatAmount(application.totalAmount, i18n.language)}
                </Table.Td>
                <Table.Td style={{ whiteSpace: 'nowrap' }}>
                  {formatDateTime(application.appliedAt, i18n.language)}
                </Table.Td>
                {showApplicant && <Table.Td>{application.applicant}</Table.Td>}
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      {current.isPending && <Loader size="sm" aria-label={t('common.loading')} />}
      {!current.isPending && rows.length === 0 && (
        <Text c="dimmed">
          {searching ? t('applications.nothingFound') : t('applications.empty')}
        </Text>
      )}
      <Group justify="space-between">
        <Button
          variant="default"
          disabled={filters.pageToken === ''}
          onClick={() => {
            const previous = previousTokens.slice(0, -1);
            const token = previousTokens.at(-1) ?? '';
            setPreviousTokens(previous);
            setSearch(searchFromFilters({ ...filters, pageToken: token }));
          }}
        >
          {t('pagination.previous')}
        </Button>
        <Button
          variant="default"
          disabled={nextPageToken === null}
          onClick={() => {
            setPreviousTokens([...previousTokens, filters.pageToken]);
            setSearch(searchFromFilters({ ...filters, pageToken: nextPageToken ?? '' }));
          }}
        >
          {t('pagination.next')}
        </Button>
      </Group>
    </Stack>
  );
}
