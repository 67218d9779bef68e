import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { components } from '../../gen/application-api';
import { ApplicationStatus as ProtoStatus } from '../../gen/applications/v1/applications_pb';
import { ReportFormat, ReportKind } from '../../gen/process/v1/process_pb';
import { processClient } from '../../lib/api/grpc';
import { applicationKeys } from '../../lib/api/keys';
import { listReports, reportKeys } from '../../lib/api/reports';
import { type ApplicationStatus, rest, unwrap } from '../../lib/api/rest';

export type Format = 'CSV' | 'JSON' | 'XLSX';

export interface SummaryRequest {
  appliedFrom: string;
  appliedTo: string;
  statuses: ApplicationStatus[];
  format: Format;
}

export function useRequestReport() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (request: SummaryRequest) =>
      processClient.requestReport({
        kind: ReportKind.APPLICATIONS_SUMMARY,
        appliedFrom: request.appliedFrom,
        appliedTo: request.appliedTo,
        statuses: request.statuses.map((status) => ProtoStatus[status]),
        format: ReportFormat[request.format],
      }),
    onSuccess: () => client.invalidateQueries({ queryKey: reportKeys.all }),
  });
}

export function useReports() {
  return useInfiniteQuery({
    queryKey: reportKeys.list(),
    queryFn: ({ pageParam, signal }) => listReports(pageParam, signal),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextPageToken,
  });
}

/** One day and status of `GET /applications/stats`. */
export type DayStatusStats = components['schemas']['ApplicationDayStats'];

export function useStats(appliedFrom: string, appliedTo: string) {
  return useQuery({
    queryKey: [...applicationKeys.stats(), appliedFrom, appliedTo],
    queryFn: ({ signal }) =>
      unwrap(
        rest.GET('/applications/stats', {
          params: {
            query: { appliedFrom: appliedFrom || undefined, appliedTo: appliedTo || undefined },
          },
          signal,
        }),
      ),
    retry: 1,
  });
}
