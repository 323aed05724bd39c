import type { Log } from '@crawlee/core';

import type { SessionStore } from '../model/types.js';
import type { AnnouncedEnd, BoundSession } from '../session/bound-session.js';
import { describeCause } from '../shared/describe.js';
import type { AheadOutcome, RenewalCoordinator } from './coordinator.js';
import { renewalDueAt, type RenewAheadMargin, type SessionExpiry } from './expiry.js';
import { traitsOf, type Renewal, type RenewalTraits } from './renewal.js';

/**
 * How a renewal ahead of expiry replaces a login: `'overlap'` (make-before-break: the new login is made while the old
 * one keeps serving), `'pause'` (break-before-make: new requests wait during the login, as in a clear), `'auto'`
 * (overlap; when the old login's check fails after a new login, the site ends old logins: pause from then on for that
 * recipe, remembered in the store).
 */
export type RenewAheadMode = 'auto' | 'overlap' | 'pause';

/** Options of renewal ahead of expiry (`Sessions.open({ renewAhead })`). */
export interface RenewAheadOptions {
    /**
     * Renew at the latest this many seconds before the login ends.
     * @default 60
     */
    marginSecs: number;
    /**
     * Renew at the latest when this fraction of the login's lifetime remains (the smaller of the two margins wins).
     * @default 0.1
     */
    fraction: number;
    /**
     * How the new login replaces the old one (see {@link RenewAheadMode}).
     * @default 'auto'
     */
    mode: RenewAheadMode;
}

/** Default {@link RenewAheadOptions}. */
export const DEFAULT_RENEW_AHEAD: Readonly<RenewAheadOptions> = Object.freeze({ marginSecs: 60, fraction: 0.1, mode: 'auto' });

/** The store collection where `'auto'` remembers the recipes whose site ends old logins (recipe name → mode). */
export const RENEWAL_MODES_COLLECTION = 'renewal-modes';

/**
 * The least time before a login's announced end from which the session's requests wait for its renewal (they would
 * reach the site too close to the end, or after it), in ms; more when the session's answers take longer.
 */
export const END_GUARD_MILLIS = 200;

/** The shortest and longest wait before a failed renewal ahead is tried again, in ms. */
const MIN_RETRY_MILLIS = 100;
const MAX_RETRY_MILLIS = 60_000;

/** What the scheduler needs of the sessions. */
export interface AheadHost {
    /** When the session's login ends, as announced (undefined: nothing announced). */
    expiryOf(session: BoundSession, renewal: Renewal): SessionExpiry | undefined;
    /** The login the session renews through (undefined: none, not renewed ahead). */
    renewalOf(session: BoundSession): Renewal | undefined;
    /** The session still exists and the sessions are open. */
    isLive(session: BoundSession): boolean;
    /** Checks a session's current login with the recipe's check (auto mode, after a new login). */
    checkCurrent(session: BoundSession, traits: RenewalTraits): Promise<boolean>;
}

interface Entry {
    session: BoundSession;
    expiry: SessionExpiry;
    /** The session's generation when {@link Entry.expiry} was computed. */
    generation: number;
    dueAt: number;
    /** Failed renewals ahead in a row. */
    failures: number;
    /** How long the session's last login took, in ms (0: not known). */
    loginMillis: number;
    /** Bumped by every reschedule: heap items of an older version are ignored. */
    version: number;
    running: boolean;
    /** The renewal ahead under way (from the moment it is decided, before `running`). */
    pending: Promise<void> | undefined;
    /** Counted in `expiringSoon`: its renewal ahead is under way or waiting to be retried. */
    counted: boolean;
}

interface HeapItem {
    key: number;
    id: string;
    version: number;
}

/** A binary min-heap of (key, id, version) with lazy deletion: stale items are skipped when they surface. */
class LazyHeap {
    private items: HeapItem[] = [];

    get size(): number {
        return this.items.length;
    }

    /** Replaces the items (a compaction: the stale ones are gone). */
    rebuild(items: HeapItem[]): void {
        this.items = [];
        for (const item of items) this.push(item);
    }

    push(item: HeapItem): void {
        const items = this.items;
        items.push(item);
        let i = items.length - 1;
        while (i > 0) {
            const parent = (i - 1) >> 1;
            if (items[parent]!.key <= items[i]!.key) break;
            [items[parent], items[i]] = [items[i]!, items[parent]!];
            i = parent;
        }
    }

    /** The smallest item that `isCurrent` accepts (stale ones are dropped on the way). */
    peek(isCurrent: (item: HeapItem) => boolean): HeapItem | undefined {
        while (this.items.length > 0 && !isCurrent(this.items[0]!)) this.pop();
        return this.items[0];
    }

    pop(): HeapItem | undefined {
        const items = this.items;
        const top = items[0];
        const last = items.pop();
        if (items.length > 0 && last) {
            items[0] = last;
            let i = 0;
            for (;;) {
                const left = 2 * i + 1;
                const right = left + 1;
                let smallest = i;
                if (left < items.length && items[left]!.key < items[smallest]!.key) smallest = left;
                if (right < items.length && items[right]!.key < items[smallest]!.key) smallest = right;
                if (smallest === i) break;
                [items[smallest], items[i]] = [items[i]!, items[smallest]!];
                i = smallest;
            }
        }
        return top;
    }
}

/** What `sessions.stats()` reports of renewal ahead. */
export interface AheadStats {
    /** The earliest announced end of a session's login (ms since the epoch), if any. */
    nextExpiryAt: number | undefined;
    /** Sessions whose renewal ahead is due: under way, or waiting to be retried. */
    expiringSoon: number;
    /** Renewals ahead of expiry completed by this process. */
    renewalsAhead: number;
}

/**
 * How long before a login's announced end a session stops sending with it: {@link END_GUARD_MILLIS}, or its slowest
 * recent answer time when longer (a request is judged when it arrives, and under load it arrives later), at most a
 * quarter of the login's lifetime: less than renewal ahead's own lead, so that a renewal on time never holds requests.
 */
export function endGuardMillis(session: BoundSession, end: AnnouncedEnd): number {
    return Math.min(Math.max(END_GUARD_MILLIS, session.inTransit.slowestRecentMillis), Math.max(0, end.at - end.issuedAt) / 4);
}

/**
 * A login's end computed again within the same generation: later only when the same credential announces a later
 * end (a sliding expiry). When the credential that ended first is gone (tough-cookie drops an expired cookie when it
 * is read), the rest of the login does not outlive it: the earlier end stands.
 */
function sameLoginExpiry(entry: Entry, session: BoundSession, computed: SessionExpiry): SessionExpiry {
    const previous = entry.expiry;
    if (entry.generation !== session.generation || computed.at <= previous.at || computed.source === previous.source) return computed;
    return previous;
}

/**
 * Renews sessions ahead of their announced expiry: one timer for the earliest due session (not one per session),
 * unref'd (it never keeps the process alive), stopped by {@link close}. A due session is renewed through the
 * coordinator's single flight ({@link RenewalCoordinator.renewAhead}); a failure keeps the current login and is
 * retried with backoff before it ends.
 */
export class AheadScheduler {
    readonly #entries = new Map<string, Entry>();
    readonly #due = new LazyHeap();
    readonly #ends = new LazyHeap();
    readonly #learned = new Map<string, 'pause'>();
    #timer: NodeJS.Timeout | undefined;
    #timerAt = Infinity;
    #closed = false;
    /** Sessions whose renewal ahead is under way or waiting to be retried (see `Entry.counted`). */
    #expiringSoon = 0;
    #renewalsAhead = 0;

    constructor(
        private readonly coordinator: RenewalCoordinator,
        private readonly host: AheadHost,
        private readonly options: RenewAheadOptions,
        private readonly store: Pick<SessionStore, 'getEntry' | 'putEntry'>,
        private readonly log: Log,
    ) {}

    /** Figures of {@link AheadStats}: O(1) amortized (stale heap items are dropped as they surface). */
    stats(): AheadStats {
        const top = this.#ends.peek((item) => this.#isCurrent(item));
        return { nextExpiryAt: top?.key, expiringSoon: this.#expiringSoon, renewalsAhead: this.#renewalsAhead };
    }

    /** When the session's login ends, as last computed (undefined: not known or not tracked). */
    expiresAt(id: string): number | undefined {
        return this.#entries.get(id)?.expiry.at;
    }

    /**
     * (Re)computes when a session's login ends and when to renew it: after a login, an adoption, a token rotation,
     * or when it is loaded. A session without a login or without an announced end is not tracked.
     */
    track(session: BoundSession, loginMillis?: number): void {
        if (this.#closed) return;
        const current = this.#entries.get(session.id);
        if (current && loginMillis !== undefined && Number.isFinite(loginMillis)) current.loginMillis = Math.max(0, loginMillis);
        if (current?.running) return; // re-tracked when its renewal ends
        const renewal = this.host.renewalOf(session);
        const computed = renewal && session.status !== 'failed' ? this.host.expiryOf(session, renewal) : undefined;
        if (!computed) {
            if (current) this.#drop(current);
            return;
        }
        const expiry = current?.session === session ? sameLoginExpiry(current, session, computed) : computed;
        const entry: Entry = current ?? {
            session,
            expiry,
            generation: session.generation,
            dueAt: 0,
            failures: 0,
            loginMillis: 0,
            version: 0,
            running: false,
            pending: undefined,
            counted: false,
        };
        entry.session = session;
        this.#setExpiry(entry, expiry);
        if (loginMillis !== undefined && Number.isFinite(loginMillis)) entry.loginMillis = Math.max(0, loginMillis);
        // A login that is due as soon as it is made (the site's logins last less than the margin) is renewed halfway
        // to its end at the soonest: never a storm of logins.
        const now = Date.now();
        this.#schedule(entry, Math.max(this.#dueAt(entry, expiry), Math.min(expiry.at, now + (expiry.at - now) / 2)));
    }

    /**
     * Settles when the session's current login may be used again, or undefined when it may be used now: a request
     * sent within {@link endGuardMillis} of the login's announced end (or after it) would be answered logged out, so
     * it waits for the renewal ahead, which is started now if it is not under way (its timer may run late on a
     * loaded machine; a login adopted from the store may have ended already). Called before every request: O(1).
     */
    whenEnding(session: BoundSession, now = Date.now()): Promise<void> | undefined {
        const end = session.announcedEnd;
        if (end === undefined || end.generation !== session.generation || now + endGuardMillis(session, end) < end.at) return undefined;
        const entry = this.#entries.get(session.id);
        if (!entry || entry.session !== session || this.#closed) return undefined;
        // After a failed renewal ahead, its retry is scheduled: requests are not held for it (nor start one each).
        return entry.pending ?? (entry.failures === 0 ? this.#start(entry, true) : undefined);
    }

    /** Stops tracking a session. */
    forget(id: string): void {
        const entry = this.#entries.get(id);
        if (entry) this.#drop(entry);
    }

    /** Stops the timer; renewals under way finish (the coordinator's close waits for them). */
    close(): void {
        this.#closed = true;
        clearTimeout(this.#timer);
        this.#timer = undefined;
    }

    #count(entry: Entry, counted: boolean): void {
        if (entry.counted === counted) return;
        entry.counted = counted;
        this.#expiringSoon += counted ? 1 : -1;
    }

    #isCurrent(item: HeapItem): boolean {
        const entry = this.#entries.get(item.id);
        return !!entry && entry.version === item.version;
    }

    #schedule(entry: Entry, dueAt: number): void {
        entry.version++;
        entry.dueAt = dueAt;
        this.#entries.set(entry.session.id, entry);
        this.#due.push({ key: dueAt, id: entry.session.id, version: entry.version });
        this.#ends.push({ key: entry.expiry.at, id: entry.session.id, version: entry.version });
        // Rescheduled entries leave stale items behind: compact before they outnumber the live ones.
        if (this.#ends.size > 2 * this.#entries.size + 64) {
            const live = [...this.#entries.values()];
            this.#due.rebuild(live.map((each) => ({ key: each.dueAt, id: each.session.id, version: each.version })));
            this.#ends.rebuild(live.map((each) => ({ key: each.expiry.at, id: each.session.id, version: each.version })));
        }
        this.#arm();
    }

    #drop(entry: Entry): void {
        this.#count(entry, false);
        entry.failures = 0;
        entry.version++;
        this.#entries.delete(entry.session.id);
        if (entry.session.announcedEnd?.generation === entry.generation) entry.session.announcedEnd = undefined;
    }

    #setExpiry(entry: Entry, expiry: SessionExpiry): void {
        const { session } = entry;
        entry.expiry = expiry;
        entry.generation = session.generation;
        session.announcedEnd = { generation: session.generation, at: expiry.at, issuedAt: expiry.issuedAt };
    }

    /** Starts the renewal ahead of a due entry (single flight: the one under way is returned). */
    #start(entry: Entry, ending = false): Promise<void> {
        if (entry.pending) return entry.pending;
        const pending = this.#renew(entry, ending).finally(() => {
            if (entry.pending === pending) entry.pending = undefined;
        });
        entry.pending = pending;
        return pending;
    }

    /** Sets the one timer to the earliest due session, if it is earlier than the timer set. */
    #arm(): void {
        if (this.#closed) return;
        const top = this.#due.peek((item) => this.#isCurrent(item) && !this.#entries.get(item.id)!.running);
        if (!top) return;
        if (this.#timer && top.key >= this.#timerAt) return;
        clearTimeout(this.#timer);
        this.#timerAt = top.key;
        this.#timer = setTimeout(() => this.#fire(), Math.max(0, top.key - Date.now()));
        this.#timer.unref();
    }

    #fire(): void {
        this.#timer = undefined;
        this.#timerAt = Infinity;
        if (this.#closed) return;
        const now = Date.now();
        for (;;) {
            const top = this.#due.peek((item) => this.#isCurrent(item));
            if (!top || top.key > now) break;
            this.#due.pop();
            const entry = this.#entries.get(top.id)!;
            if (!entry.running) void this.#start(entry);
        }
        this.#arm();
    }

    /** Renews a due entry; `ending`: its requests are waiting for it (the login is about to end), renew now. */
    async #renew(entry: Entry, ending: boolean): Promise<void> {
        const { session } = entry;
        const renewal = this.host.renewalOf(session);
        if (!renewal || !this.host.isLive(session)) {
            this.#drop(entry);
            return;
        }
        // Cookies may have been extended since (sliding expiry): look again before renewing.
        const computed = this.host.expiryOf(session, renewal);
        if (!computed) {
            this.#drop(entry);
            return;
        }
        const expiry = sameLoginExpiry(entry, session, computed);
        const dueAt = this.#dueAt(entry, expiry);
        if (!ending && entry.failures === 0 && dueAt > Date.now() + 50) {
            this.#setExpiry(entry, expiry);
            this.#schedule(entry, dueAt);
            return;
        }
        entry.running = true;
        entry.version++; // its heap items are void while it runs
        this.#count(entry, true);
        let outcome: AheadOutcome = 'failed';
        try {
            const traits = traitsOf(renewal);
            const mode = await this.#modeOf(traits);
            const checkOld =
                mode === 'auto' && traits?.check ? (current: BoundSession) => this.host.checkCurrent(current, traits) : undefined;
            outcome = await this.coordinator.renewAhead(session, renewal, mode === 'pause' ? 'pause' : 'overlap', checkOld);
            if (outcome === 'oldKilled' && traits) await this.#learnPause(traits);
        } catch (error) {
            this.log.warning(`Renewal ahead of session "${session.id}" failed: ${describeCause(error)}`);
        } finally {
            entry.running = false;
        }
        if (outcome === 'renewed' || outcome === 'oldKilled') this.#renewalsAhead++;
        if (!this.host.isLive(session) || this.#closed) {
            this.#drop(entry);
            return;
        }
        if (outcome !== 'failed') {
            entry.failures = 0;
            this.#count(entry, false);
            this.track(session);
            return;
        }
        entry.failures++;
        this.#count(entry, true);
        const left = Math.max(0, expiry.at - Date.now());
        const backoff = Math.min(MAX_RETRY_MILLIS, MIN_RETRY_MILLIS * 2 ** Math.min(entry.failures, 20));
        // Before the login ends, retry with backoff (at the latest halfway to the end); after, the failure-driven
        // renewal takes over.
        if (left === 0) {
            this.#drop(entry);
            return;
        }
        this.#schedule(entry, Date.now() + Math.max(MIN_RETRY_MILLIS, Math.min(backoff, left / 2)));
    }

    /**
     * When to renew: the configured margin, but never less than three times the session's last login, nor less than
     * its login plus twice its slowest recent answer (at most half the lifetime): the requests sent with the old login
     * until the switch must be answered before it ends, and under load they take longer than any fixed margin.
     */
    #dueAt(entry: Entry, expiry: SessionExpiry): number {
        const configured = renewalDueAt(expiry, this.options);
        const needed = Math.max(3 * entry.loginMillis, entry.loginMillis + 2 * entry.session.inTransit.slowestRecentMillis);
        const floor = Math.min(needed, (expiry.at - expiry.issuedAt) / 2);
        return Math.min(configured, expiry.at - floor);
    }

    /** The mode for a recipe: the configured one, or `'pause'` once `'auto'` learned that its site ends old logins. */
    async #modeOf(traits: RenewalTraits | undefined): Promise<RenewAheadMode> {
        const configured = this.options.mode;
        if (configured !== 'auto' || !traits) return configured === 'auto' ? 'overlap' : configured;
        if (this.#learned.has(traits.name)) return 'pause';
        const stored = await this.store.getEntry<{ mode?: unknown }>(RENEWAL_MODES_COLLECTION, traits.name).catch(() => undefined);
        if (stored?.value?.mode === 'pause') {
            this.#learned.set(traits.name, 'pause');
            return 'pause';
        }
        return 'auto';
    }

    async #learnPause(traits: RenewalTraits): Promise<void> {
        if (this.#learned.has(traits.name)) return;
        this.#learned.set(traits.name, 'pause');
        this.log.info(
            `Login "${traits.name}": the site ended the old login when a new one started; renewals ahead of expiry pause ` +
                'the session from now on (make-before-break is not possible there).',
        );
        await this.store
            .putEntry(RENEWAL_MODES_COLLECTION, traits.name, { mode: 'pause', learnedAt: Date.now() })
            .catch((error: unknown) => this.log.warning(`The renewal mode of "${traits.name}" could not be stored: ${describeCause(error)}`));
    }
}
