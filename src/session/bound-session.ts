import { CookieJar } from 'tough-cookie';

import type { PlaywrightCookieParam } from '../browser/cookies.js';
import type { SessionIdentity } from '../model/identity.js';
import { NO_COUNTERS, zeroCounters } from '../model/merge.js';
import type { SessionAuth, SessionRecord, StoredCounters } from '../model/types.js';
import { InTransit } from './in-transit.js';
import { loadStoredCookies } from './stored-cookies.js';
import { type CookieChangeListener, TrackingCookieStore } from './tracking-cookie-store.js';

/** Something whose cookies must be wiped when its session is cleared: an open Playwright browser context. */
export interface CookieHolder {
    clearCookies(): Promise<void>;
    /** Adds cookies (Playwright's form); a switch ahead of expiry gives open pages the new login's cookies. */
    addCookies?(cookies: PlaywrightCookieParam[]): Promise<void>;
}

/** A session's status: `renewing` while a renewal is pending, `failed` when the last renewal failed for good. */
export type SessionStatus = 'ready' | 'renewing' | 'failed';

/** What is told of every session's counted events and status changes (keeps totals without scanning sessions). */
export interface SessionObserver {
    counted(counter: keyof StoredCounters, by: number): void;
    /** `before` is undefined when the session was just created. */
    statusChanged(before: SessionStatus | undefined, after: SessionStatus): void;
    /** The session was dropped from memory in this status (`maxLiveSessions`); it is still a session. */
    evicted?(status: SessionStatus): void;
    /** A dropped session was loaded again (its new object announced itself as a new session). */
    reloaded?(): void;
    /** Sessions of the store left unloaded at open (`maxLiveSessions`). */
    coldAdded?(count: number): void;
}

const NO_OBSERVER: SessionObserver = { counted: () => undefined, statusChanged: () => undefined };

/** A next generation being filled by a renewal ahead of expiry (see {@link BoundSession.prepareGeneration}). */
export interface PreparedGeneration {
    readonly jar: CookieJar;
    readonly cookieStore: TrackingCookieStore;
    /** The values the new login applies. */
    auth: SessionAuth | undefined;
    /** Whether the session took it (its cookie changes are then the session's). */
    readonly holder: { installed: boolean };
}

/** The announced end of one generation's login (see {@link BoundSession.announcedEnd}). */
export interface AnnouncedEnd {
    readonly generation: number;
    /** When the login ends (ms since the epoch). */
    readonly at: number;
    /** When the credential that ends first was issued (ms since the epoch). */
    readonly issuedAt: number;
}

/** A generation kept aside (see {@link BoundSession.keep}). */
export interface KeptGeneration {
    readonly cookieStore: TrackingCookieStore;
    readonly jar: CookieJar;
    readonly auth: SessionAuth | undefined;
    readonly generation: number;
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
 * The live state of one named session in this process. It keeps itself consistent: every change of generation
 * (a clear, the adoption of another process's renewal, a revert) goes through one of its methods, which move jar,
 * identity, login values and pending store changes together. Internal: users see sessions through `Sessions`.
 * @internal
 */
export class BoundSession implements CookieChangeListener {
    /** Cookie jar (tough-cookie, synchronous, tracking changed cookies for the store). */
    jar!: CookieJar;
    /** The jar's store: which cookies changed since the last flush. */
    cookieStore!: TrackingCookieStore;
    /** Bumped by every clear and every switch ahead of expiry. */
    generation = 0;
    /**
     * The oldest generation whose requests may still be sent and absorbed: the current one after a clear or an
     * adoption; an older one after a switch ahead of expiry (its login is still valid, its requests finish).
     */
    validSince = 0;
    /** A renewal ahead of expiry under way (the session keeps serving meanwhile). */
    renewingAhead: Promise<void> | undefined;
    /**
     * When the login of a generation ends, as the site announced it (set by renewal ahead of expiry): requests that
     * would reach the site after it wait for the renewal instead. Ignored once the session is in another generation.
     */
    announcedEnd: AnnouncedEnd | undefined;
    /** Open browser contexts are being given the cookies of the generation just switched to (see `renewAhead`). */
    reseeding: Promise<void> | undefined;
    /** Index of the assigned profile in the profile list; undefined without profiles. */
    profileIndex: number | undefined;
    /** The identity presented by this generation; set by the registry when the session is created or reset. */
    identity: SessionIdentity | undefined;
    /** Headers and query parameters a login put on the requests of this generation (see SessionAuth). */
    auth: SessionAuth | undefined;
    #headerToken: object | undefined;
    /** Totals as this process knows them (stored totals plus local increments). */
    readonly counters: SessionCounters = { requests: 0, successes: 0, failures: 0, renewals: 0 };
    /** Increments not yet written to the store ({@link NO_COUNTERS}, shared and frozen, while there are none). */
    pending: StoredCounters = NO_COUNTERS;
    /** The session was cleared into its current generation and the store has not been told yet. */
    resetPending = false;
    /** The last renewal error changed and the store has not been told yet. */
    renewalErrorPending = false;
    #renewal: Promise<void> | undefined;
    #lastRenewalError: string | undefined;
    /** Why the store refused this generation for good, if it did: it is not written again until the next clear. */
    unwritable: string | undefined;
    /** `updatedAt` of the newest stored record this session was brought up to date with (older ones are ignored). */
    storedAt = 0;
    /** Totals this session object has handed to the store as deltas (see `SessionDelta.writer`). */
    sent: StoredCounters = NO_COUNTERS;
    /** Names this session object as a writer in the store, assigned at its first delta. */
    writerId: string | undefined;
    /** Writes of this session under way (a pulled row may not show them yet). */
    writesInFlight = 0;
    /** When the last write of this session settled, on the write-behind's clock (see `WriteBehind.clock`). */
    writeSettledAt = 0;
    /** Consecutive requests that could not reach the site (proxy or network), reset by an answer. */
    transportFailures = 0;
    /** Request attempts under way (from the binding's pre-navigation hook to the end of their handler): they pin it in memory. */
    pins = 0;
    /** Crawlee's `session.userData`, once read from the store (see `UserDataStore`). */
    userData: Record<string, unknown> | undefined;
    /** The JSON of `userData` as last read or written: a handler that changed it makes it differ. */
    userDataSaved: string | undefined;
    /** Crawlee's error score (`context.session.markBad()`/`markGood()`): the session is renewed when it reaches the maximum. */
    errorScore = 0;
    /** Settle when the requests transmitted with the current generation have been answered by the server. */
    readonly inTransit = new InTransit();
    #cookieHolders: Set<CookieHolder> | undefined;

    /**
     * @param id The session id.
     * @param onChange Called whenever the session changes in a way the store must learn (cookies, counters).
     * @param observer Told of every counted event and status change (the O(1) totals of `sessions.stats()`).
     */
    constructor(
        readonly id: string,
        private readonly onChange: (session: BoundSession) => void = () => undefined,
        private readonly observer: SessionObserver = NO_OBSERVER,
    ) {
        this.replaceJar();
        observer.statusChanged(undefined, 'ready');
    }

    /** got-scraping's header session token for this generation (stable generated headers); made at first use. */
    get headerToken(): object {
        return (this.#headerToken ??= {});
    }

    set headerToken(token: object) {
        this.#headerToken = token;
    }

    /** Open browser contexts currently holding this session's cookies (the set is made at first use). */
    get cookieHolders(): Set<CookieHolder> {
        return (this.#cookieHolders ??= new Set());
    }

    /** Whether an open browser context holds this session's cookies (without making the set). */
    get holdsCookies(): boolean {
        return this.#cookieHolders !== undefined && this.#cookieHolders.size > 0;
    }

    /** Called by the jar's store when a cookie changed (see {@link TrackingCookieStore}). */
    cookiesChanged(): void {
        this.onChange(this);
    }

    /** Settles when the pending renewal ends; undefined when none is pending. */
    get renewal(): Promise<void> | undefined {
        return this.#renewal;
    }

    set renewal(renewal: Promise<void> | undefined) {
        const before = this.status;
        this.#renewal = renewal;
        this.notifyStatus(before);
    }

    /** Why the last renewal failed for good, if it did (no secrets). */
    get lastRenewalError(): string | undefined {
        return this.#lastRenewalError;
    }

    set lastRenewalError(description: string | undefined) {
        const before = this.status;
        this.#lastRenewalError = description;
        this.notifyStatus(before);
    }

    /** The status the API and the CLI show. */
    get status(): SessionStatus {
        return this.#renewal ? 'renewing' : this.#lastRenewalError ? 'failed' : 'ready';
    }

    /** Counts an event (a transmitted request, a handled request, a failure, a renewal). */
    count(counter: keyof StoredCounters, by = 1): void {
        this.counters[counter] += by;
        if (this.pending === NO_COUNTERS) this.pending = zeroCounters();
        this.pending[counter] += by;
        if (counter === 'requests' && by > 0) this.counters.lastUsedAt = Date.now();
        this.observer.counted(counter, by);
        this.onChange(this);
    }

    private notifyStatus(before: SessionStatus): void {
        const after = this.status;
        if (after !== before) this.observer.statusChanged(before, after);
    }

    /** Notes that something the store keeps (other than cookies and counters) changed. */
    touch(): void {
        this.onChange(this);
    }

    /**
     * Clears the session into its next generation (the synchronous part of a clear): from here on nothing can read
     * the old cookies, identity or login values. The store learns it as a reset.
     */
    reset(profileIndex: number | undefined, identity: SessionIdentity): void {
        this.generation++;
        this.validSince = this.generation;
        this.emptyJar();
        this.profileIndex = profileIndex;
        this.identity = identity;
        this.auth = undefined;
        this.#headerToken = undefined;
        this.lastRenewalError = undefined;
        this.unwritable = undefined;
        this.resetPending = true;
        this.renewalErrorPending = true;
        this.touch();
    }

    /**
     * A jar for the next generation, filled by a renewal ahead of expiry while the current one keeps serving; it
     * becomes the session's with {@link switchTo}.
     */
    prepareGeneration(): PreparedGeneration {
        const holder = { installed: false };
        const cookieStore = new TrackingCookieStore(() => {
            if (holder.installed) this.onChange(this);
        });
        return { jar: new CookieJar(cookieStore, { looseMode: true }), cookieStore, auth: undefined, holder };
    }

    /**
     * Switches to a generation a renewal ahead of expiry prepared (make-before-break): one synchronous step, so
     * every request prepared from now on uses the new login; requests begun before finish with the old one (it is
     * still valid) and are not stale. Ignored (false) when the session was cleared or switched since `from`.
     */
    switchTo(next: PreparedGeneration, from: number): boolean {
        if (this.generation !== from || this.renewal) return false;
        this.generation++;
        next.holder.installed = true;
        this.cookieStore = next.cookieStore;
        this.jar = next.jar;
        this.cookieStore.markAllDirty();
        this.auth = next.auth;
        this.#headerToken = undefined;
        this.lastRenewalError = undefined;
        this.unwritable = undefined;
        this.resetPending = true;
        this.renewalErrorPending = true;
        this.touch();
        return true;
    }

    /** The current generation's jar and login values, to go back to if a renewal ahead in pause mode fails. */
    keep(): KeptGeneration {
        return { cookieStore: this.cookieStore, jar: this.jar, auth: this.auth, generation: this.generation };
    }

    /**
     * Puts back a generation kept before a renewal ahead in pause mode, which failed: the old login is still valid.
     * Its cookies become the current generation's (written as such).
     */
    restore(kept: KeptGeneration, generation: number): boolean {
        if (this.generation !== generation) return false;
        this.cookieStore = kept.cookieStore;
        this.jar = kept.jar;
        this.cookieStore.markAllDirty();
        this.auth = kept.auth;
        this.lastRenewalError = undefined;
        this.touch();
        return true;
    }

    /** Empties the jar of the current generation (a failed renewal attempt); the next flush writes the empty set. */
    emptyJar(): void {
        this.replaceJar();
        this.cookieStore.markAllDirty();
    }

    /** Gives the current generation the values its login applies; ignored when the session was cleared since. */
    setAuth(auth: SessionAuth | undefined, generation: number): void {
        if (this.generation !== generation) return;
        this.auth = auth;
        this.touch();
    }

    /** Records that the last renewal failed for good (a description without secrets). */
    failRenewal(description: string): void {
        this.lastRenewalError = description;
        this.renewalErrorPending = true;
    }

    /**
     * Takes a stored record's generation, profile, identity, login values and cookies, dropping local changes that
     * were not written: another process renewed the session (adoption), or a failed renewal goes back to what is
     * stored (revert). Returns the browser contexts that held the old cookies, to be wiped.
     */
    adopt(record: SessionRecord, profileIndex: number | undefined): CookieHolder[] {
        const holders = this.#cookieHolders ? [...this.#cookieHolders] : [];
        this.replaceJar();
        this.resetPending = false;
        this.assign(record, profileIndex);
        this.lastRenewalError = record.lastRenewalError ?? undefined;
        return holders;
    }

    /** Fills a new session from its stored record (at open, or when another process created it). */
    load(record: SessionRecord, profileIndex: number | undefined): void {
        this.assign(record, profileIndex);
        Object.assign(this.counters, record.counters, { lastUsedAt: record.lastUsedAt ?? undefined });
        this.lastRenewalError = record.lastRenewalError ?? undefined;
    }

    private assign(record: SessionRecord, profileIndex: number | undefined): void {
        this.profileIndex = profileIndex;
        this.generation = record.generation;
        this.validSince = record.generation;
        this.identity = record.identity ?? undefined;
        this.auth = record.auth ?? undefined;
        this.#headerToken = undefined;
        loadStoredCookies(this.cookieStore, record.cookies);
    }

    private replaceJar(): void {
        this.cookieStore = new TrackingCookieStore(this);
        this.jar = new CookieJar(this.cookieStore, { looseMode: true });
    }
}
