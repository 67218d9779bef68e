import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from '../../gen/application-api';
import { ApiError, errorFromProblem } from './errors';
import { authorizationHeaders, reportUnauthenticated } from './http';

export type Application = components['schemas']['Application'];
export type ApplicationStatus = components['schemas']['ApplicationStatus'];
export type NewApplication = components['schemas']['NewApplication'];
export type SearchHit = components['schemas']['SearchHit'];

export const STATUSES: ApplicationStatus[] = [
  'NEW',
  'PROCESSING',
  'COMPLETED',
  'CANCELLED',
  'REJECTED',
];

const authenticate: Middleware = {
  onRequest({ request }) {
    for (const [name, value] of Object.entries(authorizationHeaders())) {
      request.headers.set(name, value);
    }
    return request;
  },
};

/** application-service's REST API, typed from `openapi/application-openapi.yml`. */
export const rest = createClient<paths>({
  baseUrl: typeof window === 'undefined' ? 'http://127.0.0.1' : window.location.origin,
  querySerializer: { array: { style: 'form', explode: true } },
  // Looked up at each call, so tests can put a fake in its place.
  fetch: (request) => globalThis.fetch(request),
});
rest.use(authenticate);

/** The data of an openapi-fetch answer, or the ApiError of its problem. */
export async function unwrap<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error: problem, response } = await call;
  if (!response.ok || data === undefined) {
    // openapi-fetch has read the body already: the problem comes parsed.
    const error = response.ok
      ? new ApiError('empty answer', response.status)
      : errorFromProblem(response, problem);
    reportUnauthenticated(error);
    throw error;
  }
  return data;
}
