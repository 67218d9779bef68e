import { getJson } from './http';

export type ReportStatus = 'QUEUED' | 'RUNNING' | 'COMPLETED' | 'FAILED';

/** A report as report-service's `GET /reports` and `GET /reports/{id}` answer it. */
export interface Report {
  id: string;
  kind: 'PURCHASE' | 'APPLICATIONS_SUMMARY' | string;
  format: 'CSV' | 'JSON' | 'XLSX' | string;
  status: ReportStatus;
  owner: string;
  parameters: Record<string, unknown>;
  attempts: number;
  percent: number;
  error?: string;
  requestedAt: string;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  rows?: number;
  size?: number;
  sha256?: string;
  fileName?: string;
  downloadUrl?: string;
}

export interface ReportPage {
  reports: Report[];
  nextPageToken?: string;
}

export function listReports(pageToken?: string, signal?: AbortSignal): Promise<ReportPage> {
  const query = new URLSearchParams({ pageSize: '20' });
  if (pageToken) query.set('pageToken', pageToken);
  return getJson<ReportPage>(`/reports?${query}`, signal);
}

export function getReport(id: string, signal?: AbortSignal): Promise<Report> {
  return getJson<Report>(`/reports/${encodeURIComponent(id)}`, signal);
}

export const reportKeys = {
  all: ['reports'] as const,
  list: () => ['reports', 'list'] as const,
  one: (id: string) => ['reports', 'one', id] as const,
};
