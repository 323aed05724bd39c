import { AsyncLocalStorage } from 'node:async_hooks';

import { parseSessionId } from '../shared/ids.js';

/**
 * One attempt of one crawler request bound to a session. It travels with the crawling context, and through an
 * AsyncLocalStorage into the user's handlers, so that `sessions.clear()` called for a response that was sent
 * under an older generation joins the renewal already done instead of starting another one (ZAP's re-auth
 * guard, applied automatically).
 */
export interface RequestAttempt {
    /** The session the request is bound to. */
    readonly sessionId: string;
    /** The session's generation when the request was transmitted; undefined until it is. */
    sentGeneration?: number;
    /** The session this attempt keeps in memory (`maxLiveSessions`) until its handler has run; see {@link pinAttempt}. */
    pinned?: { pins: number };
}

/** Keeps the attempt's session in memory until {@link unpinAttempt} (once per attempt, whatever calls it). */
export function pinAttempt(attempt: RequestAttempt, session: { pins: number }): void {
    if (attempt.pinned) return;
    session.pins++;
    attempt.pinned = session;
}

/** Ends the pin of {@link pinAttempt}; later calls for the same attempt do nothing. */
export function unpinAttempt(attempt: RequestAttempt): void {
    const session = attempt.pinned;
    if (!session) return;
    attempt.pinned = undefined;
    session.pins = Math.max(0, session.pins - 1);
}

/** The attempt whose handler is running in the current async context, if any. */
export const attemptStorage = new AsyncLocalStorage<RequestAttempt>();

/** Property under which the attempt rides on the crawling context and on the HTTP request options. */
export const ATTEMPT = Symbol.for('crawlee-sessions.attempt');

/** Normalises a request's `userData.sessionId` to the session id it names (`'default'` when absent). */
export function sessionIdOf(userData: Record<string, unknown> | undefined, defaultSessionId: string): string {
    const raw = userData?.sessionId;
    if (raw === undefined || raw === null) return defaultSessionId;
    return parseSessionId(raw, 'request.userData.sessionId');
}
