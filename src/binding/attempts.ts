import type { ProxyInfo } from '@crawlee/core';

import { ATTEMPT, attemptStorage, sessionIdOf, type RequestAttempt } from '../session/attempt.js';
import { internalsOf } from '../core/internals.js';
import type { Sessions } from '../core/sessions.js';

/** The parts of a crawling context the binding reads and writes. */
export interface BindableContext {
    request: { userData: Record<string, unknown>; url?: string };
    sendRequest?: (overrideOptions?: Record<PropertyKey, unknown>) => Promise<unknown>;
    sessions?: Sessions;
    proxyInfo?: ProxyInfo;
    [ATTEMPT]?: RequestAttempt;
}

/**
 * Starts a new attempt for the context's request (each retry is a new attempt), exposes the sessions on the
 * context and binds `context.sendRequest` to the request's session (each call is an attempt of its own, sent
 * through the crawler's session-bound HTTP client).
 */
export function beginAttempt(sessions: Sessions, context: BindableContext): RequestAttempt {
    // A request that names no session uses its site's active session (sessions.tokens.activate), else the default.
    const fallback = internalsOf(sessions).sessionIdForUrl(context.request.url);
    const attempt: RequestAttempt = { sessionId: sessionIdOf(context.request.userData, fallback) };
    context.sessions = sessions;
    context[ATTEMPT] = attempt;
    const sendRequest = context.sendRequest;
    if (sendRequest) {
        context.sendRequest = (overrideOptions = {}) =>
            sendRequest({ ...overrideOptions, [ATTEMPT]: { sessionId: attempt.sessionId } satisfies RequestAttempt });
    }
    return attempt;
}

/** The attempt of a context, if the binding's pre-navigation hook has run for it. */
export function attemptOf(context: object): RequestAttempt | undefined {
    return (context as BindableContext)[ATTEMPT];
}

/** Runs a user callback with the context's attempt visible to `sessions.clear()` and friends. */
export function runInAttempt<T>(context: object, callback: () => T): T {
    const attempt = attemptOf(context);
    return attempt ? attemptStorage.run(attempt, callback) : callback();
}

/** Crawlee's ProxyInfo for a proxy URL (what `context.proxyInfo` shows for a session's profile proxy). */
export function proxyInfoFor(proxyUrl: string, sessionId: string): ProxyInfo {
    const url = new URL(proxyUrl);
    return {
        sessionId,
        url: proxyUrl,
        hostname: url.hostname,
        port: url.port,
        username: decodeURIComponent(url.username),
        password: decodeURIComponent(url.password),
    };
}
