import { setTimeout as sleep } from 'node:timers/promises';

import { log as crawleeLog, NonRetryableError, RetryRequestError } from '@crawlee/core';

import type { SessionsInternals } from '../core/internals.js';

/**
 * The longest a crawl request already handed out waits for its session's pace at transmission, holding its slot;
 * a longer wait sends it back to the queue, where it waits without one.
 */
export const MAX_TRANSMIT_WAIT_MILLIS = 1000;

/**
 * Cooldowns in a row of one session (without a good answer in between) whose retries do not count against
 * `maxRequestRetries`; beyond them they count, so a site that never stops refusing cannot keep a crawl running forever.
 */
export const MAX_FREE_COOLDOWNS = 10;

/** A request of the crawl goes back to the queue to wait for its session's pace or cooldown there, without a slot. */
export class PacingRetryError extends RetryRequestError {
    override readonly name: string = 'PacingRetryError';
    /** Whether the retry counts against `maxRequestRetries` (only after {@link MAX_FREE_COOLDOWNS} in a row). */
    counts = false;
}

/** The site answered a cooldown status: the session pauses, the request is retried after the pause. */
export class CooldownRetryError extends PacingRetryError {
    override readonly name: string = 'CooldownRetryError';
}

const log = crawleeLog.child({ prefix: 'Sessions' });

/**
 * Waits until the session's pace lets a crawl request be transmitted (records it then). A wait longer than
 * {@link MAX_TRANSMIT_WAIT_MILLIS} (a cooldown began, a login took the turn) throws {@link PacingRetryError} instead.
 * Returns undefined when the request may go at once (no promise to wait for: most requests).
 */
export function paceCrawlRequest(internals: SessionsInternals, sessionId: string): Promise<void> | undefined {
    const pacer = internals.pacing.pacerOf(sessionId);
    if (!pacer) return undefined;
    const wait = pacer.transmit(Date.now());
    return wait === 0 ? undefined : waitForPace(internals, sessionId, wait);
}

async function waitForPace(internals: SessionsInternals, sessionId: string, wait: number): Promise<void> {
    for (;;) {
        if (wait > MAX_TRANSMIT_WAIT_MILLIS) {
            throw new PacingRetryError(`Session "${sessionId}" is paced or cooling down for ${Math.ceil(wait / 1000)} s; the request waits in the queue.`);
        }
        await sleep(wait);
        const pacer = internals.pacing.pacerOf(sessionId);
        if (!pacer) return;
        wait = pacer.transmit(Date.now());
        if (wait === 0) return;
    }
}

/**
 * Tells the session's pacing about an answer. A cooldown status pauses the session (event `cooldown`, one info line)
 * (event `cooldown` and the count are `SessionPacing`'s) and returns the retry error for the request; any other status
 * returns undefined.
 */
export function cooldownOf(
    internals: SessionsInternals,
    sessionId: string,
    status: number,
    retryAfter: string | readonly string[] | undefined,
): CooldownRetryError | undefined {
    const waitMillis = internals.pacing.answered(sessionId, status, retryAfter);
    if (waitMillis === undefined) return undefined;
    log.info(`Session "${sessionId}" got ${status}: it pauses for ${(waitMillis / 1000).toFixed(1)} s; its request is retried then.`);
    const error = new CooldownRetryError(`Session "${sessionId}" got ${status} and cools down for ${Math.ceil(waitMillis / 1000)} s.`);
    error.counts = (internals.pacing.pacerOf(sessionId)?.streak ?? 0) > MAX_FREE_COOLDOWNS;
    return error;
}

/** A request that would have logged its session out was refused at transmission: it was not sent. */
export class LogoutGuardError extends NonRetryableError {
    override readonly name: string = 'LogoutGuardError';
}

/** A URL for a log line: origin and path, no query or fragment (they may carry tokens), at most 200 characters. */
export function urlForLog(target: string | URL | undefined): string {
    try {
        const url = typeof target === 'string' || !target ? new URL(String(target)) : target;
        const shown = `${url.origin}${url.pathname}`;
        return (shown.length > 200 ? `${shown.slice(0, 200)}…` : shown) + (url.search ? '?…' : '');
    } catch {
        return '(an invalid URL)';
    }
}

/**
 * Whether the logout guard stops a request of the session to `url`: if so it is counted (`stats().logoutSkipped`)
 * and logged once, and the pattern it matched is returned.
 */
export function logoutGuarded(internals: SessionsInternals, sessionId: string, url: string | URL | undefined): string | undefined {
    const matched = internals.logoutGuard.match(url);
    if (matched === undefined) return undefined;
    internals.stats.logoutSkipped++;
    log.info(`Skipped ${urlForLog(url)} of session "${sessionId}": it would log the session out (matches ${matched}).`);
    return matched;
}

/** Refuses a request the logout guard stops (one the request manager did not see: it is failed, never sent). */
export function refuseLogout(internals: SessionsInternals, sessionId: string, url: string | URL | undefined): void {
    const matched = logoutGuarded(internals, sessionId, url);
    if (matched !== undefined) {
        throw new LogoutGuardError(`Not sent: ${urlForLog(url)} would log session "${sessionId}" out (logout guard: ${matched}).`);
    }
}
