import {
    browserPoolCookieToToughCookie,
    log as crawleeLog,
    toughCookieToBrowserPoolCookie,
    type Session,
} from '@crawlee/core';
import type { CookieJar } from 'tough-cookie';

import type { SessionsInternals } from '../core/internals.js';
import type { Sessions } from '../core/sessions.js';
import type { RequestAttempt } from '../session/attempt.js';
import type { BoundSession } from '../session/bound-session.js';
import { addCookiesToJar, storeSetCookieHeaders } from '../shared/cookies.js';
import { describeCause } from '../shared/describe.js';

/** Crawlee's default `maxErrorScore`: a session marked bad this many times more than good is renewed. */
export const MAX_ERROR_SCORE = 3;

/** How much `markGood()` takes off the error score (Crawlee's `errorScoreDecrement`). */
export const ERROR_SCORE_DECREMENT = 0.5;

/** The cookie objects of Crawlee's `Session.getCookies`/`setCookies`. */
type CookieObject = ReturnType<Session['getCookies']>[number];

/**
 * `context.session` in handlers of crawlers created with `withSessions()`: the request's bound session with Crawlee's
 * `Session` surface, so code written for Crawlee's SessionPool keeps working. It is a view: cookies are the bound
 * session's jar, `userData` is persisted with the session, `markBad()` feeds its health, `retire()` renews it through
 * its login (joining a renewal already under way for a request sent before it, as `sessions.clear()` does).
 *
 * Given to `requestHandler`, `errorHandler` and `failedRequestHandler` while they run — not to pre-navigation hooks,
 * where Crawlee would merge its cookies into the request before the request path sends the session's current ones,
 * and not to Crawlee's own `markGood()`/`markBad()` after a handler, which served the pool this replaces (only your
 * code's calls count).
 */
export class SessionView {
    /** Crawlee's `maxErrorScore`. */
    readonly maxErrorScore = MAX_ERROR_SCORE;
    /** Crawlee's `errorScoreDecrement`. */
    readonly errorScoreDecrement = ERROR_SCORE_DECREMENT;
    /** Bound sessions do not expire by use count. */
    readonly maxUsageCount = Number.POSITIVE_INFINITY;

    constructor(
        private readonly internals: SessionsInternals,
        private readonly sessions: Sessions,
        private readonly attempt: RequestAttempt,
    ) {}

    private get session(): BoundSession {
        return this.internals.resolve(this.attempt.sessionId);
    }

    /** The session id (`request.userData.sessionId`). */
    get id(): string {
        return this.attempt.sessionId;
    }

    /** Per-session user data, persisted with the session in the store (JSON, at most 64 KiB). */
    get userData(): Record<string, unknown> {
        const session = this.session;
        session.userData ??= {};
        return session.userData;
    }

    set userData(value: Record<string, unknown>) {
        this.session.userData = value;
    }

    /** The session's cookie jar (tough-cookie), the one the request path sends from. */
    get cookieJar(): CookieJar {
        return this.session.jar;
    }

    get errorScore(): number {
        return this.session.errorScore;
    }

    /** Requests the session transmitted. */
    get usageCount(): number {
        return this.session.counters.requests;
    }

    /** Whether the session can serve requests: not renewing, not failed, not marked bad too often. */
    isUsable(): boolean {
        return this.session.status === 'ready' && !this.isBlocked();
    }

    /** Whether `markBad()` was called `maxErrorScore` times more than `markGood()`. */
    isBlocked(): boolean {
        return this.session.errorScore >= this.maxErrorScore;
    }

    /** Bound sessions do not expire by age here: their login's own expiry is the store's business. */
    isExpired(): boolean {
        return false;
    }

    isMaxUsageCountReached(): boolean {
        return false;
    }

    /** The request went well for this session. */
    markGood(): void {
        const session = this.session;
        session.errorScore = Math.max(0, session.errorScore - this.errorScoreDecrement);
    }

    /** The request went badly for this session; at `maxErrorScore` the session is renewed. */
    markBad(): void {
        const session = this.session;
        session.errorScore += 1;
        if (this.isBlocked()) this.retire();
    }

    /**
     * Renews the session through its login (a clear without a login only empties it), as Crawlee's `retire()` replaces
     * a session. Returns at once; the session's requests wait for the renewal.
     */
    retire(): void {
        const session = this.session;
        session.errorScore = 0;
        void this.internals.coordinator.clear(session, this.internals.renewalOf(session.id), this.attempt).catch((error: unknown) => {
            crawleeLog.child({ prefix: 'Sessions' }).debug(`Retiring session "${session.id}" failed: ${describeCause(error)}`);
        });
    }

    /** Crawlee's `retireOnBlockedStatusCodes`: renews the session on 401, 403 or 429 (or the codes given). */
    retireOnBlockedStatusCodes(statusCode: number, blockedStatusCodes: number[] = [401, 403, 429]): boolean {
        const blocked = blockedStatusCodes.includes(statusCode);
        if (blocked) this.retire();
        return blocked;
    }

    /** The Cookie header a request to `url` would send. */
    getCookieString(url: string): string {
        return this.session.jar.getCookieStringSync(url);
    }

    /** The cookies a request to `url` would send, as Crawlee's cookie objects. */
    getCookies(url: string): CookieObject[] {
        return this.session.jar.getCookiesSync(url).map((cookie) => toughCookieToBrowserPoolCookie(cookie));
    }

    /** Adds Crawlee cookie objects as if received from `url`. */
    setCookies(cookies: CookieObject[], url: string): void {
        addCookiesToJar(
            this.session.jar,
            cookies.map((cookie) => browserPoolCookieToToughCookie(cookie, Number.POSITIVE_INFINITY)),
            url,
        );
    }

    /** Adds one raw `Set-Cookie` value as if received from `url`. */
    setCookie(rawCookie: string, url: string): void {
        addCookiesToJar(this.session.jar, [rawCookie], url);
    }

    /** Stores the `Set-Cookie` headers of a response (its `url` and `headers`). */
    setCookiesFromResponse(response: { url?: string; headers?: Record<string, unknown> }): void {
        const setCookie = response.headers?.['set-cookie'] as string | string[] | undefined;
        const url = response.url;
        if (setCookie && url) storeSetCookieHeaders(this.session.jar, setCookie, url);
    }

    /** The `Sessions` object the view belongs to (everything else about sessions). */
    get pool(): Sessions {
        return this.sessions;
    }
}
