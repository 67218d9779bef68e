import type { QueryClient } from '@tanstack/react-query';
import { applicationKeys, processKeys } from '../api/keys';
import { type Report, type ReportPage, reportKeys } from '../api/reports';
import type { Application, ApplicationStatus } from '../api/rest';
import type { PushEvent } from './stream';

/** How long the search index may lag behind a committed change. */
const SEARCH_INDEX_DELAY_MS = 1500;

type ApplicationLike = Pick<Application, 'id' | 'status' | 'version'>;

function patchApplication<T extends ApplicationLike>(
  application: T,
  id: string,
  status: ApplicationStatus,
  version: number,
): T {
  if (application.id !== id || application.version >= version) return application;
  return { ...application, status, version };
}

/** Puts a pushed status into whatever cached list, search page or application shows it. */
export function patchCachedStatus(
  value: unknown,
  id: string,
  status: ApplicationStatus,
  version: number,
): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if ('id' in value && 'status' in value && 'version' in value) {
    return patchApplication(value as ApplicationLike, id, status, version);
  }
  if ('items' in value && Array.isArray((value as { items: unknown }).items)) {
    const page = value as { items: unknown[] };
    return {
      ...page,
      items: page.items.map((item) => {
        if (typeof item !== 'object' || item === null) return item;
        if ('application' in item) {
          const hit = item as { application: ApplicationLike };
          return { ...hit, application: patchApplication(hit.application, id, status, version) };
        }
        return patchCachedStatus(item, id, status, version);
      }),
    };
  }
  return value;
}

function patchReport(client: QueryClient, reportId: string, change: Partial<Report>): void {
  client.setQueriesData<{ pages: ReportPage[] }>({ queryKey: reportKeys.list() }, (data) =>
    data === undefined
      ? data
      : {
          ...data,
          pages: data.pages.map((page) => ({
            ...page,
            reports: page.reports.map((report) =>
              report.id === reportId ? { ...report, ...change } : report,
            ),
          })),
        },
  );
}

/** Brings the cached server state up to date with one pushed event. */
export function applyPushEvent(client: QueryClient, event: PushEvent): void {
  switch (event.type) {
    case 'application.status_changed': {
      const id = String(event.applicationId ?? '');
      const status = event.status as ApplicationStatus;
      const version = Number(event.version ?? 0);
      // The row changes at once; the refetch then brings everything else that changed with it.
      client.setQueriesData({ queryKey: applicationKeys.all }, (value: unknown) =>
        patchCachedStatus(value, id, status, version),
      );
      void client.invalidateQueries({ queryKey: applicationKeys.all });
      void client.invalidateQueries({ queryKey: processKeys.all });
      // The search index follows PostgreSQL within about a second: search once more after it,
      // so an application that was not indexed yet at the first refetch still appears.
      setTimeout(() => {
        void client.invalidateQueries({ queryKey: applicationKeys.searches() });
      }, SEARCH_INDEX_DELAY_MS);
      break;
    }
    case 'report.progress': {
      const reportId = String(event.reportId ?? '');
      patchReport(client, reportId, { status: 'RUNNING', percent: Number(event.percent ?? 0) });
      break;
    }
    case 'report.completed':
    case 'report.failed': {
      const reportId = String(event.reportId ?? '');
      patchReport(
        client,
        reportId,
        event.type === 'report.completed'
          ? { status: 'COMPLETED', percent: 100 }
          : { status: 'FAILED', error: String(event.reason ?? '') },
      );
      void client.invalidateQueries({ queryKey: reportKeys.all });
      // A report's outcome joins its application's process history.
      void client.invalidateQueries({ queryKey: processKeys.all });
      break;
    }
    case 'reset':
      // Events were missed beyond what the server keeps: reload everything shown.
      void client.invalidateQueries();
      break;
    default:
      break;
  }
}
