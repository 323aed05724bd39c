import { log as crawleeLog, RetryRequestError, SessionError } from '@crawlee/core';

import type { SessionsInternals } from '../core/internals.js';
import { describeProfile } from '../profiles/describe.js';
import type { RequestAttempt } from '../session/attempt.js';
import type { BoundSession } from '../session/bound-session.js';
import { describeCause } from '../shared/describe.js';
import { isNetworkError } from '../shared/retry.js';

/**
 * What a failed attempt of a bound request was:
 * - `deliberate`: a `RetryRequestError` of ours or the user's (a renewal, a check): not a failure;
 * - `transport`: the proxy or the site could not be reached (Crawlee reports proxy errors as a `SessionError`);
 * - `blocked`: a `SessionError` for any other reason (`retryOnBlocked`, or thrown by the user): the session is
 *   cleared and renewed through its login, and the request retried;
 * - `other`: anything else (counted, retried per `maxRequestRetries`).
 */
export type FailureKind = 'deliberate' | 'transport' | 'blocked' | 'other';

/** What Crawlee reports as a proxy error (its `ROTATE_PROXY_ERRORS`), and socket-level failures. */
const TRANSPORT_MESSAGES = /ECONNRESET|ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ERR_PROXY_CONNECTION_FAILED|ERR_TUNNEL_CONNECTION_FAILED|Proxy responded with|socket hang up/;

export function classifyFailure(error: unknown): FailureKind {
    if (error instanceof SessionError) return TRANSPORT_MESSAGES.test(error.message) ? 'transport' : 'blocked';
    if (error instanceof RetryRequestError) return 'deliberate';
    return isNetworkError(error) ? 'transport' : 'other';
}

/** Errors already counted: Crawlee hands the last attempt's error to `failedRequestHandler` after `errorHandler`. */
const counted = new WeakSet<object>();

interface FailedContext {
    request: { retryCount: number; maxRetries?: number; noRetry: boolean; url: string };
    crawler?: { maxRequestRetries?: number };
}

/**
 * Records a failed attempt of a bound request (from `errorHandler` and `failedRequestHandler`) and acts on it:
 * counts it on the session; for a transport failure, counts it on the profile and, once the profile reached
 * `profileFailureThreshold` consecutive failures, reports it once and moves the session to another profile; for a
 * blocked session, clears and renews it. Crawlee retries a `SessionError` up to `maxSessionRotations` times whatever
 * `maxRequestRetries` says; a transport failure is held to `maxRequestRetries`.
 */
export async function recordFailure(
    internals: SessionsInternals,
    context: FailedContext,
    attempt: RequestAttempt,
    error: unknown,
    clear: (session: BoundSession) => Promise<void>,
): Promise<void> {
    const kind = classifyFailure(error);
    if (kind === 'deliberate') return;
    const session = internals.resolve(attempt.sessionId);
    if (typeof error === 'object' && error !== null) {
        if (counted.has(error)) return;
        counted.add(error);
    }
    session.count('failures');
    if (kind === 'transport') {
        const maxRetries = context.request.maxRetries ?? context.crawler?.maxRequestRetries ?? 3;
        if (error instanceof SessionError && context.request.retryCount >= maxRetries) context.request.noRetry = true;
        const { profileIndex, failures, crossed } = internals.registry.transportFailure(session, internals.profileFailureThreshold);
        if (crossed && profileIndex !== undefined) reportFailingProfile(internals, profileIndex, failures, error);
        if (internals.registry.onFailingProfile(session)) await moveAway(session, clear);
        return;
    }
    internals.registry.transportSuccess(session); // the site answered
    if (kind === 'blocked') await moveAway(session, clear);
}

/** A request of the session got an answer: its transport works again. */
export function recordAnswer(internals: SessionsInternals, attempt: RequestAttempt): void {
    internals.registry.transportSuccess(internals.resolve(attempt.sessionId));
}

function reportFailingProfile(internals: SessionsInternals, profileIndex: number, failures: number, error: unknown): void {
    const profile = internals.registry.profiles[profileIndex];
    const described = profile ? describeProfile(profile) : `#${profileIndex}`;
    // Crawlee puts the proxy error on the second line of its SessionError.
    const message = error instanceof Error ? error.message.replace(/^Detected a session error, rotating session\.\.\.\s*/, '') : error;
    const cause = describeCause(message);
    crawleeLog
        .child({ prefix: 'Sessions' })
        .warning(`Profile ${profileIndex} (${described}) failed ${failures} times in a row (${cause}): its sessions move to other profiles.`);
    internals.events.emit('profileFailed', { profileIndex, profile: described, failures, error: cause });
}

/** Clears the session (it then renews through its login, on another profile); a failed renewal is already reported. */
async function moveAway(session: BoundSession, clear: (session: BoundSession) => Promise<void>): Promise<void> {
    await clear(session).catch(() => undefined);
}
