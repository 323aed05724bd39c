import { CookieJar } from 'tough-cookie';

import type { SessionIdentity } from '../profiles/identity.js';
import { zeroCounters } from '../model/merge.js';
import { TrackingCookieStore } from './tracking-cookie-store.js';
import type { SessionAuth, StoredCounters } from '../model/types.js';

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
    /** Cookie jar (tough-cookie, synchronous, tracking changed cookies for the store). */
    jar: CookieJar;
    /** The jar's store: which cookies changed since the last flush. */
    cookieStore: TrackingCookieStore;
    /** Bumped by every clear; a response sent under an older generation is stale. */
    generation = 0;
    /** Index of the assigned profile in the profile list; undefined without profiles. */
    profileIndex: number | undefined;
    /** The identity presented by this generation; generated lazily. */
    identity: SessionIdentity | undefined;
    /** Headers and query parameters a login put on every request of this generation (see SessionAuth). */
    auth: SessionAuth | undefined;
    /** got-scraping's header session token for this generation (stable generated headers). */
    headerToken: object = {};
    /** Totals as this process knows them (stored totals plus local increments). */
    readonly counters: SessionCounters = { requests: 0, successes: 0, failures: 0, renewals: 0 };
    /** Increments not yet written to the store. */
    pending: StoredCounters = zeroCounters();
    /** The session was cleared into its current generation and the store has not been told yet. */
    resetPending = false;
    /** The last renewal error changed and the store has not been told yet. */
    renewalErrorPending = false;
    /** Settles when the pending renewal ends; undefined when none is pending. */
    renewal: Promise<void> | undefined;
    /** Why the last renewal failed for good, if it did (no secrets). */
    lastRenewalError: string | undefined;
    /** Settle when the requests transmitted with the current generation have been answered by the server. */
    readonly inTransit = new Set<Promise<void>>();
    /** Open browser contexts currently holding this session's cookies. */
    readonly cookieHolders = new Set<CookieHolder>();

    /**
     * @param id The session id.
     * @param onChange Called whenever the session changes in a way the store must learn (cookies, counters).
     */
    constructor(
        readonly id: string,
        private readonly onChange: (session: BoundSession) => void = () => undefined,
    ) {
        this.cookieStore = new TrackingCookieStore(() => this.onChange(this));
        this.jar = new CookieJar(this.cookieStore, { looseMode: true });
    }

    /** Replaces the jar with an empty one (a clear); the next flush writes the session's full cookie set. */
    emptyJar(): void {
        this.cookieStore = new TrackingCookieStore(() => this.onChange(this));
        this.jar = new CookieJar(this.cookieStore, { looseMode: true });
        this.cookieStore.markAllDirty();
    }

    /** Counts an event (a transmitted request, a handled request, a failure, a renewal). */
    count(counter: keyof StoredCounters, by = 1): void {
        this.counters[counter] += by;
        this.pending[counter] += by;
        if (counter === 'requests' && by > 0) this.counters.lastUsedAt = Date.now();
        this.onChange(this);
    }

    /** Notes that something the store keeps (other than cookies and counters) changed. */
    touch(): void {
        this.onChange(this);
    }
}
