import { Alert, Anchor, Badge, Button, FileInput, Group, Stack, Table, Text } from '@mantine/core';
import { useQueryClient } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { ApiError } from '../../lib/api/errors';
import { applicationKeys } from '../../lib/api/keys';
import { createBatch } from './api';
import {
  BATCH_LIMIT,
  batches,
  type CsvPlan,
  planCsv,
  type RowError,
  SAMPLE_CSV,
  serverErrorsOnLines,
} from './csv';

interface Outcome {
  created: Array<{ key: string; id: string; title: string }>;
  serverErrors: RowError[];
  failedBatches: number;
  failure: string | null;
}

function sampleHref(): string {
  return URL.createObjectURL(new Blob(['\uFEFF', SAMPLE_CSV], { type: 'text/csv;charset=utf-8' }));
}

export function CsvUpload() {
  const { t } = useTranslation();
  const client = useQueryClient();
  const [file, setFile] = useState<File | null>(null);
  const [plan, setPlan] = useState<CsvPlan | null>(null);
  const [sending, setSending] = useState(false);
  const [progress, setProgress] = useState<{ done: number; total: number } | null>(null);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const sample = useMemo(sampleHref, []);

  const choose = async (chosen: File | null) => {
    setFile(chosen);
    setOutcome(null);
    setPlan(chosen === null ? null : planCsv(await chosen.text()));
  };

  const send = async () => {
    if (plan === null || plan.valid.length === 0) return;
    setSending(true);
    const result: Outcome = { created: [], serverErrors: [], failedBatches: 0, failure: null };
    const parts = batches(plan.valid, BATCH_LIMIT);
    setProgress({ done: 0, total: parts.length });
    for (const [index, part] of parts.entries()) {
      try {
        const answer = await createBatch(part.map((planned) => planned.application));
        answer.items.forEach((application, position) => {
          result.created.push({
            key: part[position]?.key ?? '',
            id: application.id,
            title: application.title,
          });
        });
      } catch (error) {
        result.failedBatches += 1;
        if (error instanceof ApiError && error.fieldErrors.length > 0) {
          result.serverErrors.push(...serverErrorsOnLines(part, error.fieldErrors));
        } else {
          result.failure = error instanceof Error ? error.message : String(error);
        }
      }
      setProgress({ done: index + 1, total: parts.length });
    }
    setOutcome(result);
    setSending(false);
    void client.invalidateQueries({ queryKey: applicationKeys.all });
  };

  const errors = [...(plan?.errors ?? []), ...(outcome?.serverErrors ?? [])].sort(
    (a, b) => a.line - b.line,
  );

  return (
    <Stack>
      <Text size="sm">
        {t('csv.format')} <code>applicationKey,title,description,itemName,quantity,unitPrice</code>
      </Text>
      <Group>
        <Anchor href={sample} download="zayavki-sample.csv">
          {t('csv.sample')}
        </Anchor>
      </Group>
      <FileInput
        label={t('csv.file')}
        accept=".csv,text/csv"
        value={file}
        onChange={(chosen) => void choose(chosen)}
        clearable
        data-testid="csv-input"
      />
      {plan !== null && (
        <Alert color={plan.errors.length > 0 ? 'orange' : 'teal'} data-testid="csv-summary">
          {t('csv.summary', {
            rows: plan.rowCount,
            valid: plan.valid.length,
            invalid: plan.invalidKeys.length,
            batches: Math.ceil(plan.valid.length / BATCH_LIMIT),
          })}
        </Alert>
      )}
      {errors.length > 0 && (
        <Table.ScrollContainer minWidth={480}>
          <Table data-testid="csv-errors" aria-label={t('csv.errors')}>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t('csv.line')}</Table.Th>
                <Table.Th>{t('csv.column')}</Table.Th>
                <Table.Th>{t('csv.problem')}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {errors.map((error) => (
                <Table.Tr
                  key={`${error.line}-${error.column}-${error.message}-${error.fromServer}`}
                >
                  <Table.Td>{error.line}</Table.Td>
                  <Table.Td>
                    <code>{error.column}</code>
                  </Table.Td>
                  <Table.Td>
                    {error.fromServer && (
                      <Badge size="xs" color="red" mr={4}>
                        {t('csv.fromServer')}
                      </Badge>
                    )}
                    {t(error.message as 'csv.server', error.params ?? {})}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <Group>
        <Button
          onClick={() => void send()}
          disabled={plan === null || plan.valid.length === 0 || outcome !== null}
          loading={sending}
        >
          {t('csv.send', { count: plan?.valid.length ?? 0 })}
        </Button>
        {progress !== null && sending && (
          <Text size="sm" aria-live="polite">
            {t('csv.progress', progress)}
          </Text>
        )}
      </Group>
      {outcome !== null && (
        <Alert
          color={outcome.failedBatches > 0 ? 'red' : 'teal'}
          role="status"
          data-testid="csv-outcome"
          title={t('csv.created', { count: outcome.created.length })}
        >
          {outcome.failure !== null && <Text size="sm">{outcome.failure}</Text>}
          {outcome.failedBatches > 0 && (
            <Text size="sm">{t('csv.failedBatches', { count: outcome.failedBatches })}</Text>
          )}
          <Stack gap={2} mt="xs">
            {outcome.created.slice(0, 20).map((created) => (
              <Anchor
                key={created.id}
                component={Link}
                to={`/applications/${created.id}`}
                size="sm"
              >
                {created.key}: {created.title}
              </Anchor>
            ))}
          </Stack>
        </Alert>
      )}
    </Stack>
  );
}
