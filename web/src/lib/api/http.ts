import { sessionToken } from '../auth/token';
import { ApiError, errorFromResponse } from './errors';

/** Called when the server no longer accepts the session's token. */
let onUnauthenticated: () => void = () => {};

export function handleUnauthenticated(handler: () => void): void {
  onUnauthenticated = handler;
}

export function reportUnauthenticated(error: unknown): void {
  if (error instanceof ApiError && error.unauthenticated) onUnauthenticated();
}

/** Origin-relative URLs work the same in development (Vite's proxy) and behind the gateway. */
export function apiUrl(path: string): string {
  return new URL(path, window.location.origin).toString();
}

export function authorizationHeaders(token = sessionToken()): Record<string, string> {
  return token === null ? {} : { authorization: `Bearer ${token}` };
}

/**
 * GET a JSON resource with the session's token (or the one given, to try a token before
 * signing in with it); a non-2xx answer throws ApiError.
 */
export async function getJson<T>(path: string, signal?: AbortSignal, token?: string): Promise<T> {
  const response = await fetch(apiUrl(path), {
    headers: { accept: 'application/json', ...authorizationHeaders(token ?? sessionToken()) },
    signal,
  });
  if (!response.ok) {
    const error = await errorFromResponse(response);
    if (token === undefined) reportUnauthenticated(error);
    throw error;
  }
  return (await response.json()) as T;
}
