import { useSyncExternalStore } from 'react';
import {
  isSessionSettled,
  readToken,
  sessionToken,
  setSessionToken,
  subscribeToSession,
  type User,
} from './token';

export interface Session {
  token: string;
  user: User;
}

let cachedToken: string | null = null;
let cachedSession: Session | null = null;

function snapshot(): Session | null {
  const token = sessionToken();
  if (token !== cachedToken) {
    cachedToken = token;
    const user = token === null ? null : readToken(token);
    cachedSession = token !== null && user !== null ? { token, user } : null;
  }
  return cachedSession;
}

/** The signed-in person, or null. */
export function useSession(): Session | null {
  return useSyncExternalStore(subscribeToSession, snapshot, snapshot);
}

/** False for a moment in a new tab while it asks the other tabs for the session. */
export function useSessionSettled(): boolean {
  return useSyncExternalStore(subscribeToSession, isSessionSettled, isSessionSettled);
}

export function signIn(token: string): void {
  setSessionToken(token.trim());
}

export function signOut(): void {
  setSessionToken(null);
}

export function isOperator(user: User): boolean {
  return user.roles.includes('operator');
}

export function isApplicant(user: User): boolean {
  return user.roles.includes('applicant');
}
