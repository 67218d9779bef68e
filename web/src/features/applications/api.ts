import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Decision, ProcessState } from '../../gen/process/v1/process_pb';
import { ApiError } from '../../lib/api/errors';
import { processClient } from '../../lib/api/grpc';
import { applicationKeys, processKeys } from '../../lib/api/keys';
import { getReport, reportKeys } from '../../lib/api/reports';
import { type NewApplication, rest, unwrap } from '../../lib/api/rest';
import { newRequestId } from '../../lib/ids';
import type { ListFilters } from './filters';

export const PAGE_SIZE = 20;

const TRANSITIONAL = new Set<ProcessState>([
  ProcessState.STARTING,
  ProcessState.APPROVING,
  ProcessState.REJECTING,
  ProcessState.CANCELLING,
]);

function listQuery(filters: ListFilters) {
  return {
    appliedFrom: filters.appliedFrom || undefined,
    appliedTo: filters.appliedTo || undefined,
    status: filters.status.length > 0 ? filters.status : undefined,
    pageSize: PAGE_SIZE,
    pageToken: filters.pageToken || undefined,
  };
}

export function useApplicationList(filters: ListFilters, enabled: boolean) {
  return useQuery({
    queryKey: [...applicationKeys.lists(), filters],
    queryFn: ({ signal }) =>
      unwrap(rest.GET('/applications', { params: { query: listQuery(filters) }, signal })),
    enabled,
    placeholderData: (previous) => previous,
  });
}

export function useApplicationSearch(filters: ListFilters, enabled: boolean) {
  return useQuery({
    queryKey: [...applicationKeys.searches(), filters],
    queryFn: ({ signal }) =>
      unwrap(
        rest.GET('/applications/search', {
          params: { query: { ...listQuery(filters), q: filters.q.trim() } },
          signal,
        }),
      ),
    enabled,
    placeholderData: (previous) => previous,
  });
}

export function useApplication(id: string) {
  return useQuery({
    queryKey: applicationKeys.one(id),
    queryFn: ({ signal }) =>
      unwrap(rest.GET('/applications/{id}', { params: { path: { id } }, signal })),
  });
}

export function useCreateApplication() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ application, requestId }: { application: NewApplication; requestId: string }) =>
      unwrap(
        rest.POST('/applications', {
          params: { header: { 'Idempotency-Key': requestId } },
          body: application,
        }),
      ),
    onSuccess: () => client.invalidateQueries({ queryKey: applicationKeys.all }),
  });
}

const sleep = (milliseconds: number) =>
  new Promise<void>((resolve) => setTimeout(resolve, milliseconds));

/**
 * Files one batch (at most 1,000). A throttled batch waits for `Retry-After` and is sent again
 * with the same idempotency key, a bounded number of times.
 */
export async function createBatch(applications: NewApplication[]) {
  const requestId = newRequestId();
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await unwrap(
        rest.POST('/applications/batch', {
          params: { header: { 'Idempotency-Key': requestId } },
          body: { applications },
        }),
      );
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 429 || attempt >= 4) throw error;
      await sleep(Math.min(error.retryAfterSeconds ?? 1, 30) * 1000);
    }
  }
}

export function useCancelApplication(id: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (reason: string) =>
      unwrap(
        rest.POST('/applications/{id}/cancel', {
          params: { path: { id } },
          body: { reason: reason.trim() === '' ? null : reason.trim() },
        }),
      ),
    onSuccess: (application) => {
      client.setQueryData(applicationKeys.one(id), application);
      void client.invalidateQueries({ queryKey: applicationKeys.all });
      void client.invalidateQueries({ queryKey: processKeys.all });
    },
  });
}

export function useProcess(applicationId: string) {
  return useQuery({
    queryKey: processKeys.one(applicationId),
    queryFn: ({ signal }) => processClient.getProcess({ applicationId }, { signal }),
    // The process starts a moment after filing: until then it is "not found".
    retry: (count, error) => error instanceof ApiError && error.status === 404 && count < 5,
    retryDelay: 700,
    // business-process pushes nothing of its own, and its steps between two status changes
    // (the budget, waiting for a decision) change no application: look again while it moves.
    refetchInterval: (query) =>
      query.state.data !== undefined && TRANSITIONAL.has(query.state.data.state) ? 1000 : false,
  });
}

export function useBudget(applicant: string, month: string, enabled: boolean) {
  return useQuery({
    queryKey: processKeys.budget(applicant, month),
    queryFn: ({ signal }) => processClient.getBudget({ applicant, month }, { signal }),
    enabled,
  });
}

export function useDecide(applicationId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ approve, comment }: { approve: boolean; comment: string }) =>
      processClient.decideApplication({
        applicationId,
        decision: approve ? Decision.APPROVE : Decision.REJECT,
        comment: comment.trim(),
        requestId: newRequestId(),
      }),
    onSuccess: (process) => {
      client.setQueryData(processKeys.one(applicationId), process);
      void client.invalidateQueries({ queryKey: processKeys.all });
      void client.invalidateQueries({ queryKey: applicationKeys.all });
    },
  });
}

export function usePurchaseReport(reportId: string | undefined) {
  return useQuery({
    queryKey: reportKeys.one(reportId ?? ''),
    queryFn: ({ signal }) => getReport(reportId ?? '', signal),
    enabled: reportId !== undefined && reportId !== '',
  });
}
