import type { CookieJar } from 'tough-cookie';

import type { SessionIdentity } from '../profiles/identity.js';
import { createJar } from './cookies.js';

/** Something whose cookies must be wiped when its session is cleared: an open Playwright browser context. */
export interface CookieHolder {
    clearCookies(): Promise<void>;
}

/** Per-session counters, as {@link Sessions.list} reports them. */
export interface SessionCounters {
    /** Requests transmitted with this session (renewals not included). */
    requests: number;
    /** Requests whose handler finished without error. */
    successes: number;
    /** Request attempts that failed (handler, network or renewal error; a `RetryRequestError` is not a failure). */
    failures: number;
    /** Completed renewals. */
    renewals: number;
    /** When the session last transmitted a request (ms since epoch). */
    lastUsedAt?: number;
}

/**
 * The state of one named session. Internal: users see sessions through {@link Sessions}.
 * @internal
 */
export class BoundSession {
    /** Cookie jar (tough-cookie, synchronous in-memory store). */
    jar: CookieJar = createJar();
    /** Bumped by every clear; a response sent under an older generation is stale. */
    generation = 0;
    /** Index of the assigned profile in the profile list; undefined without profiles. */
    profileIndex: number | undefined;
    /** The identity presented by this generation; generated lazily. */
    identity: SessionIdentity | undefined;
    /** got-scraping's header session token for this generation (stable generated headers). */
    headerToken: object = {};
    readonly counters: SessionCounters = { requests: 0, successes: 0, failures: 0, renewals: 0 };
    /** Settles when the pending renewal ends; undefined when none is pending. */
    renewal: Promise<void> | undefined;
    /** Why the last renewal failed for good, if it did (no secrets). */
    lastRenewalError: string | undefined;
    /** Settle when the requests transmitted with the current generation have been answered by the server. */
    readonly inTransit = new Set<Promise<void>>();
    /** Open browser contexts currently holding this session's cookies. */
    readonly cookieHolders = new Set<CookieHolder>();

    constructor(readonly id: string) {}
}
