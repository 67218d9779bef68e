import type { ApplicationStatus } from '../../lib/api/rest';
import { STATUSES } from '../../lib/api/rest';

/** What the list shows; all of it lives in the URL so a view can be shared. */
export interface ListFilters {
  appliedFrom: string;
  appliedTo: string;
  status: ApplicationStatus[];
  q: string;
  pageToken: string;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

export function filtersFromSearch(search: URLSearchParams): ListFilters {
  const day = (name: string) => {
    const value = search.get(name) ?? '';
    return DAY.test(value) ? value : '';
  };
  const status = search
    .getAll('status')
    .flatMap((value) => value.split(','))
    .filter((value): value is ApplicationStatus => STATUSES.includes(value as ApplicationStatus));
  return {
    appliedFrom: day('appliedFrom'),
    appliedTo: day('appliedTo'),
    status: [...new Set(status)],
    q: search.get('q') ?? '',
    pageToken: search.get('pageToken') ?? '',
  };
}

export function searchFromFilters(filters: ListFilters): URLSearchParams {
  const search = new URLSearchParams();
  if (filters.q.trim() !== '') search.set('q', filters.q.trim());
  if (filters.appliedFrom) search.set('appliedFrom', filters.appliedFrom);
  if (filters.appliedTo) search.set('appliedTo', filters.appliedTo);
  for (const status of filters.status) search.append('status', status);
  if (filters.pageToken) search.set('pageToken', filters.pageToken);
  return search;
}
