// The bearer token pasted at sign-in: kept in sessionStorage for this browser session only.

export type Role = 'applicant' | 'operator' | 'service';

export interface User {
  subject: string;
  name: string | null;
  roles: Role[];
  /** Seconds since the epoch, when the token carries `exp`. */
  expiresAt: number | null;
}

const STORAGE_KEY = 'zayavki.token';

function decodeSegment(segment: string): unknown {
  const base64 = segment.replace(/-/g, '+').replace(/_/g, '/');
  const padded = base64.padEnd(Math.ceil(base64.length / 4) * 4, '=');
  const bytes = Uint8Array.from(atob(padded), (character) => character.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

/**
 * The claims a person can see in a JWT (the server checks the signature; the browser only shows
 * who signed in). Null when the text is not a JWT with a subject.
 */
export function readToken(token: string): User | null {
  const parts = token.trim().split('.');
  if (parts.length !== 3 || !parts[1]) return null;
  try {
    const claims = decodeSegment(parts[1]) as Record<string, unknown>;
    if (typeof claims.sub !== 'string' || claims.sub === '') return null;
    const roles = Array.isArray(claims.roles)
      ? claims.roles.filter((role): role is Role =>
          ['applicant', 'operator', 'service'].includes(String(role)),
        )
      : [];
    return {
      subject: claims.sub,
      name: typeof claims.name === 'string' && claims.name !== '' ? claims.name : null,
      roles,
      expiresAt: typeof claims.exp === 'number' ? claims.exp : null,
    };
  } catch {
    return null;
  }
}

export function isExpired(user: User, now = Date.now()): boolean {
  return user.expiresAt !== null && user.expiresAt * 1000 <= now;
}

export function storedToken(): string | null {
  try {
    return sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

export function storeToken(token: string | null): void {
  try {
    if (token === null) sessionStorage.removeItem(STORAGE_KEY);
    else sessionStorage.setItem(STORAGE_KEY, token);
  } catch {
    // Storage may be unavailable (private mode); the session then lasts as long as the page.
  }
}

/** The token of the current session, read by the API clients on every call. */
let currentToken: string | null = storedToken();
const listeners = new Set<() => void>();

export function sessionToken(): string | null {
  return currentToken;
}

function apply(token: string | null): void {
  currentToken = token;
  storeToken(token);
  settled = true;
  for (const listener of listeners) listener();
}

/**
 * sessionStorage belongs to one tab. Tabs of the same browser session share the token over a
 * BroadcastChannel instead: a new tab asks, a signed-in tab answers, and signing out in one
 * tab signs out all. The token never goes to disk.
 */
type SessionMessage = { type: 'ask' } | { type: 'token'; token: string } | { type: 'signout' };
const channel: BroadcastChannel | null =
  typeof BroadcastChannel === 'undefined' ? null : new BroadcastChannel('zayavki.session');
/** Whether this tab knows its session: it had a token, another tab answered, or none did. */
let settled = currentToken !== null || channel === null;

if (channel !== null) {
  channel.onmessage = (event: MessageEvent<SessionMessage>) => {
    const message = event.data;
    if (message.type === 'ask' && currentToken !== null) {
      channel.postMessage({ type: 'token', token: currentToken } satisfies SessionMessage);
    } else if (message.type === 'token' && currentToken === null) {
      apply(message.token);
    } else if (message.type === 'signout' && currentToken !== null) {
      apply(null);
    }
  };
  if (currentToken === null) {
    channel.postMessage({ type: 'ask' } satisfies SessionMessage);
    setTimeout(() => {
      if (!settled) apply(currentToken);
    }, 300);
  }
}

export function isSessionSettled(): boolean {
  return settled;
}

export function setSessionToken(token: string | null): void {
  apply(token);
  channel?.postMessage(
    (token === null ? { type: 'signout' } : { type: 'token', token }) satisfies SessionMessage,
  );
}

export function subscribeToSession(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
