import type { Timestamp } from '@bufbuild/protobuf/wkt';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import {
  Alert,
  Anchor,
  Badge,
  Button,
  Card,
  Code,
  Grid,
  Group,
  Loader,
  Modal,
  Progress,
  SimpleGrid,
  Stack,
  Table,
  Text,
  Textarea,
  Timeline,
  Title,
} from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router';
import { type Process, ProcessState, ReservationState } from '../../gen/process/v1/process_pb';
import { ApiError } from '../../lib/api/errors';
import { apiUrl } from '../../lib/api/http';
import type { Application } from '../../lib/api/rest';
import { isOperator, useSession } from '../../lib/auth/session';
import { formatAmount } from '../../lib/money';
import { ErrorAlert } from '../../lib/ui/ErrorAlert';
import { formatBytes, formatDateTime } from '../../lib/ui/format';
import { StatusBadge } from '../../lib/ui/StatusBadge';
import {
  useApplication,
  useBudget,
  useCancelApplication,
  useDecide,
  useProcess,
  usePurchaseReport,
} from './api';

function date(timestamp: Timestamp | undefined): Date | null {
  return timestamp === undefined ? null : timestampDate(timestamp);
}

export function ApplicationPage() {
  const { id = '' } = useParams();
  const { t } = useTranslation();
  const application = useApplication(id);
  if (application.isPending) return <Loader aria-label={t('common.loading')} />;
  if (application.error) {
    return (
      <Stack>
        <Anchor component={Link} to="/applications">
          ← {t('application.back')}
        </Anchor>
        <ErrorAlert error={application.error} />
      </Stack>
    );
  }
  return <ApplicationView application={application.data} />;
}

function ApplicationView({ application }: { application: Application }) {
  const { t, i18n } = useTranslation();
  const session = useSession();
  const process = useProcess(application.id);
  const operator = session !== null && isOperator(session.user);
  const cancellable = application.status === 'NEW' || application.status === 'PROCESSING';

  return (
    <Stack>
      <Anchor component={Link} to="/applications">
        ← {t('application.back')}
      </Anchor>
      <Group justify="space-between" align="flex-start">
        <Title order={2}>{application.title}</Title>
        <Group gap="xs" data-testid="application-status">
          <StatusBadge status={application.status} />
        </Group>
      </Group>
      <Grid>
        <Grid.Col span={{ base: 12, md: 7 }}>
          <Stack>
            <Card withBorder>
              <SimpleGrid cols={{ base: 1, xs: 2 }} spacing="xs">
                <Field label={t('application.applicant')} value={application.applicant} />
                <Field
                  label={t('application.total')}
                  value={formatAmount(application.totalAmount, i18n.language)}
                />
                <Field
                  label={t('application.appliedAt')}
                  value={formatDateTime(application.appliedAt, i18n.language)}
                />
                <Field
                  label={t('application.updatedAt')}
                  value={formatDateTime(application.updatedAt, i18n.language)}
                />
                {application.cancelReason && (
                  <Field label={t('application.cancelReason')} value={application.cancelReason} />
                )}
                {application.rejectionReason && (
                  <Field
                    label={t('application.rejectionReason')}
                    value={application.rejectionReason}
                  />
                )}
              </SimpleGrid>
              {application.description && (
                <Text mt="sm" style={{ whiteSpace: 'pre-wrap' }}>
                  {application.description}
                </Text>
              )}
            </Card>
            <Table.ScrollContainer minWidth={420}>
              <Table aria-label={t('application.items')}>
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>{t('form.items')}</Table.Th>
                    <Table.Th style={{ textAlign: 'right' }}>{t('form.quantity')}</Table.Th>
                    <Table.Th style={{ textAlign: 'right' }}>{t('form.unitPrice')}</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {application.items.map((item, index) => (
                    // biome-ignore lint/suspicious/noArrayIndexKey: items never move
                    <Table.Tr key={index}>
                      <Table.Td>{item.name}</Table.Td>
                      <Table.Td style={{ textAlign: 'right' }}>{item.quantity}</Table.Td>
                      <Table.Td style={{ textAlign: 'right', whiteSpace: 'nowrap' }}>
                        {formatAmount(item.unitPrice, i18n.language)}
                      </Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
            {cancellable && <CancelButton id={application.id} />}
            {operator && process.data?.state === ProcessState.AWAITING_DECISION && (
              <DecisionPanel applicationId={application.id} process={process.data} />
            )}
          </Stack>
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 5 }}>
          <Stack>
            {process.isPending && <Loader size="sm" aria-label={t('common.loading')} />}
            {process.error && (
              <Alert color="gray">
                {process.error instanceof ApiError && process.error.status === 404
                  ? t('process.notStarted')
                  : String(process.error.message)}
              </Alert>
            )}
            {process.data && <ProcessCard process={process.data} />}
            {process.data && <BudgetCard process={process.data} />}
            {process.data?.purchaseReportId && (
              <PurchaseReport reportId={process.data.purchaseReportId} />
            )}
          </Stack>
        </Grid.Col>
      </Grid>
    </Stack>
  );
}

function Field({ label, value }: { label: string; value: string }) {
  return (
    <div>
      <Text size="xs" c="dimmed">
        {label}
      </Text>
      <Text size="sm">{value}</Text>
    </div>
  );
}

function ProcessCard({ process }: { process: Process }) {
  const { t, i18n } = useTranslation();
  const due = date(process.decisionDueAt);
  return (
    <Card withBorder>
      <Group justify="space-between" mb="sm">
        <Title order={3} size="h5">
          {t('process.title')}
        </Title>
        <Badge variant="outline" data-testid="process-state">
          {t(`processState.${ProcessState[process.state]}` as 'processState.STARTING')}
        </Badge>
      </Group>
      {process.reason && (
        <Text size="sm" mb="xs">
          {t('process.reason')}: {process.reason}
        </Text>
      )}
      {due && process.state === ProcessState.AWAITING_DECISION && (
        <Text size="sm" mb="xs">
          {t('process.dueAt')}: {formatDateTime(due, i18n.language)}
        </Text>
      )}
      <Timeline active={process.steps.length - 1} bulletSize={14} lineWidth={2}>
        {process.steps.map((step, index) => (
          <Timeline.Item
            // biome-ignore lint/suspicious/noArrayIndexKey: the history only grows
            key={index}
            title={t(`steps.${step.step.replace(/\./g, '_')}` as 'steps.application_created', {
              defaultValue: step.step,
            })}
          >
            <Text size="xs" c="dimmed">
              {formatDateTime(date(step.at), i18n.language)}
            </Text>
            <StepDetails json={step.detailsJson} />
          </Timeline.Item>
        ))}
      </Timeline>
    </Card>
  );
}

function StepDetails({ json }: { json: string }) {
  let details: Record<string, unknown> = {};
  try {
    details = JSON.parse(json || '{}') as Record<string, unknown>;
  } catch {
    return <Code>{json}</Code>;
  }
  const entries = Object.entries(details);
  if (entries.length === 0) return null;
  return (
    <Text size="xs">
      {entries.map(([key, value]) => (
        <span key={key} style={{ marginRight: 8 }}>
          {key}: <b>{typeof value === 'string' ? value : JSON.stringify(value)}</b>
        </span>
      ))}
    </Text>
  );
}

function BudgetCard({ process }: { process: Process }) {
  const { t, i18n } = useTranslation();
  const month = process.reservation?.month ?? '';
  const budget = useBudget(process.applicant, month, month !== '');
  const reservation = process.reservation;
  const money = (amount: string) => formatAmount(amount, i18n.language);
  const limit = Number(budget.data?.monthlyLimit ?? 0);
  const share = (amount: string | undefined) =>
    limit > 0 ? Math.min(100, (Number(amount ?? 0) / limit) * 100) : 0;
  return (
    <Card withBorder data-testid="budget">
      <Title order={3} size="h5" mb="xs">
        {t('budget.title', { month })}
      </Title>
      {reservation && (
        <Text size="sm">
          {t('budget.reservation')}: <b>{money(reservation.amount)}</b> —{' '}
          {t(
            `reservationState.${ReservationState[reservation.state]}` as 'reservationState.RESERVED',
          )}
        </Text>
      )}
      {!reservation && <Text size="sm">{t('budget.noReservation')}</Text>}
      {budget.data && (
        <Stack gap={4} mt="xs">
          <Progress.Root size="lg" aria-label={t('budget.usage')}>
            <Progress.Section value={share(budget.data.committed)} color="teal" />
            <Progress.Section value={share(budget.data.reserved)} color="yellow" />
          </Progress.Root>
          <Text size="xs">
            {t('budget.limit')}: {money(budget.data.monthlyLimit)} · {t('budget.committed')}:{' '}
            {money(budget.data.committed)} · {t('budget.reserved')}: {money(budget.data.reserved)} ·{' '}
            {t('budget.available')}: {money(budget.data.available)}
          </Text>
        </Stack>
      )}
      {budget.error && <ErrorAlert error={budget.error} />}
    </Card>
  );
}

function PurchaseReport({ reportId }: { reportId: string }) {
  const { t, i18n } = useTranslation();
  const report = usePurchaseReport(reportId);
  return (
    <Card withBorder data-testid="purchase-report">
      <Title order={3} size="h5" mb="xs">
        {t('application.purchaseReport')}
      </Title>
      {report.isPending && <Loader size="xs" aria-label={t('common.loading')} />}
      {report.data && (
        <Stack gap={4}>
          <Text size="sm">
            {t(`reportStatus.${report.data.status}` as 'reportStatus.QUEUED')}
            {report.data.size !== undefined && ` · ${formatBytes(report.data.size, i18n.language)}`}
          </Text>
          {report.data.status === 'COMPLETED' && report.data.downloadUrl && (
            <Anchor
              href={apiUrl(report.data.downloadUrl)}
              download
              data-testid="purchase-report-download"
            >
              {t('reports.download', { format: report.data.format })}
            </Anchor>
          )}
        </Stack>
      )}
      {report.error && <ErrorAlert error={report.error} />}
    </Card>
  );
}

function CancelButton({ id }: { id: string }) {
  const { t } = useTranslation();
  const [opened, { open, close }] = useDisclosure(false);
  const [reason, setReason] = useState('');
  const cancel = useCancelApplication(id);
  return (
    <>
      <Group>
        <Button color="red" variant="light" onClick={open}>
          {t('application.cancel')}
        </Button>
      </Group>
      <Modal opened={opened} onClose={close} title={t('application.cancelTitle')}>
        <form
          onSubmit={(event) => {
            event.preventDefault();
            cancel.mutate(reason, { onSuccess: close });
          }}
        >
          <Stack>
            <Textarea
              label={t('application.cancelReasonLabel')}
              value={reason}
              onChange={(event) => setReason(event.currentTarget.value)}
              maxLength={1000}
              data-autofocus
              error={
                cancel.error instanceof ApiError ? cancel.error.fieldErrors[0]?.message : undefined
              }
            />
            <ErrorAlert error={cancel.error} />
            <Group justify="flex-end">
              <Button variant="default" onClick={close}>
                {t('common.close')}
              </Button>
              <Button type="submit" color="red" loading={cancel.isPending}>
                {t('application.confirmCancel')}
              </Button>
            </Group>
          </Stack>
        </form>
      </Modal>
    </>
  );
}

function DecisionPanel({ applicationId, process }: { applicationId: string; process: Process }) {
  const { t, i18n } = useTranslation();
  const [comment, setComment] = useState('');
  const decide = useDecide(applicationId);
  const fieldError =
    decide.error instanceof ApiError
      ? decide.error.fieldErrors.find((field) => field.field === 'comment')?.message
      : undefined;
  return (
    <Card withBorder data-testid="decision">
      <Title order={3} size="h5" mb="xs">
        {t('decision.title')}
      </Title>
      <Text size="sm" mb="xs">
        {t('decision.amount', { amount: formatAmount(process.totalAmount, i18n.language) })}
      </Text>
      <Textarea
        label={t('decision.comment')}
        value={comment}
        onChange={(event) => setComment(event.currentTarget.value)}
        maxLength={1000}
        error={fieldError}
      />
      <ErrorAlert error={decide.isError && !fieldError ? decide.error : null} />
      <Group mt="sm">
        <Button
          color="teal"
          loading={decide.isPending && decide.variables?.approve === true}
          onClick={() => decide.mutate({ approve: true, comment })}
        >
          {t('decision.approve')}
        </Button>
        <Button
          color="red"
          variant="light"
          loading={decide.isPending && decide.variables?.approve === false}
          onClick={() => decide.mutate({ approve: false, comment })}
        >
          {t('decision.reject')}
        </Button>
      </Group>
    </Card>
  );
}
