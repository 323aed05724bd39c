import type { Log } from '@crawlee/core';

import type { SessionRecord, SessionStore } from '../model/types.js';
import type { BoundSession } from '../session/bound-session.js';
import { mergeStoredCookies } from '../session/state.js';
import { describeCause } from '../shared/describe.js';
import type { SessionEvents } from './events.js';
import type { SessionRegistry } from './registry.js';
import { WriteBehind, type PersistenceOptions } from './write-behind.js';

/**
 * Keeps this process's sessions and the store in step: loads every stored session at open, writes changes behind
 * the crawl (see {@link WriteBehind}), and with a store shared by other processes brings each session up to date
 * with what they did — another process's renewal is adopted whole, its cookie changes of the same generation are
 * merged — from what writes return and from polling the store: a cheap change signal (MySQL: its revision row) every
 * `syncIntervalMillis`, and the changed rows only when it moved.
 */
export class StoreSync {
    readonly writeBehind: WriteBehind;
    private pullTimer: NodeJS.Timeout | undefined;
    private cursor: string | undefined;
    /** The store's change signal when rows were last pulled (or at start): rows are pulled again once it moved. */
    private signal: string | undefined;
    private pulling = false;
    /** Reads of cold sessions under way, by id. */
    private readonly loading = new Map<string, Promise<void>>();
    private closed = false;
    /**
     * How many polls of a shared store ran (a read of its change signal, or of its changes when it has no signal),
     * how many of them fetched rows, and the poll that did so last.
     */
    readonly syncCounters = { polls: 0, pulls: 0, lastPullAtPoll: 0 };

    constructor(
        private readonly store: SessionStore,
        private readonly registry: SessionRegistry,
        private readonly persistence: PersistenceOptions,
        private readonly log: Log,
        events: SessionEvents,
    ) {
        this.writeBehind = new WriteBehind(
            store,
            persistence,
            log,
            (session, record) => this.reconcile(session, record),
            (session) => session.renewal !== undefined,
            {
                started: (error, pendingSessions) =>
                    events.emit('storeOutage', () => ({ store: store.description, error: describeCause(error), pendingSessions })),
                ended: (outageMillis, written) => events.emit('storeRecovered', { store: store.description, outageMillis, written }),
            },
        );
    }

    /**
     * Loads every stored session (with `maxLiveSessions`: the most recently used ones; the others are known by id)
     * and, for a shared store, starts pulling other processes' changes.
     */
    async start(): Promise<void> {
        // The cursor is taken before the sessions are loaded: a write landing in between is pulled (again), not missed.
        if (this.store.shared) {
            this.signal = await this.store.changeSignal?.();
            this.cursor = (await this.store.changes(undefined)).cursor;
        }
        const { liveSet } = this.registry;
        if (liveSet && this.store.loadRecent) {
            const { records, otherIds } = await this.store.loadRecent(liveSet.maxLiveSessions);
            this.registry.addCold(otherIds);
            for (const record of records.reverse()) this.registry.load(record);
            this.afterLoading();
            return;
        }
        const records = await this.store.loadAll();
        if (this.registry.liveSet) {
            // Least recently used first, so that those are the ones dropped; a few at a time, so memory stays bounded.
            records.sort((a, b) => (a.lastUsedAt ?? 0) - (b.lastUsedAt ?? 0));
            const step = Math.max(1, this.registry.liveSet.maxLiveSessions);
            records.forEach((record, index) => {
                this.registry.load(record);
                if ((index + 1) % step === 0) this.evictIdle();
            });
            this.evictIdle();
        } else {
            for (const record of records) this.registry.load(record);
        }
        this.afterLoading();
    }

    private afterLoading(): void {
        this.writeBehind.afterWrite = () => this.evictIdle();
        if (this.store.shared) this.schedulePull();
    }

    /**
     * Drops idle sessions beyond `maxLiveSessions` from memory. A session is pinned while it has changes not yet
     * written (or being written), a renewal (and so a lease), requests on the wire, attempts under way or open
     * browser contexts holding its cookies.
     */
    evictIdle(): number {
        return this.registry.evictIdle(
            (session) =>
                session.pins === 0 &&
                session.inTransit.size === 0 &&
                session.writesInFlight === 0 &&
                session.renewal === undefined &&
                !session.holdsCookies &&
                !this.writeBehind.isPending(session),
        );
    }

    /**
     * Brings a session dropped from memory back from the store (concurrent calls share one read). A session no
     * longer in the store is forgotten (it is created afresh on use).
     */
    async ensureLive(id: string): Promise<void> {
        if (!this.registry.isCold(id)) return;
        let loading = this.loading.get(id);
        if (!loading) {
            loading = (async () => {
                try {
                    const record = await this.store.read(id);
                    if (!this.registry.isCold(id)) return;
                    if (record) this.registry.load(record);
                    else this.registry.liveSet?.warmed(id);
                } finally {
                    this.loading.delete(id);
                }
            })();
            this.loading.set(id, loading);
        }
        await loading;
    }

    /** Records that a session changed (called on the hot path). */
    markDirty(session: BoundSession): void {
        this.writeBehind.markDirty(session);
    }

    /**
     * Brings a session up to date with what the store returned or reported: a newer generation (renewed by another
     * process) is adopted whole; the same generation merges other processes' cookie changes.
     */
    reconcile(session: BoundSession, record: SessionRecord): void {
        if (!this.store.shared && record.generation <= session.generation) return;
        // A pull that read the row before this process's last write returned must not undo what that write returned
        // (a newer generation is always taken: another process renewed the session).
        if (record.generation === session.generation && record.updatedAt < session.storedAt) return;
        session.storedAt = Math.max(session.storedAt, record.updatedAt);
        const { pending } = session;
        Object.assign(session.counters, {
            requests: record.counters.requests + pending.requests,
            successes: record.counters.successes + pending.successes,
            failures: record.counters.failures + pending.failures,
            renewals: record.counters.renewals + pending.renewals,
        });
        if (record.generation > session.generation) {
            this.adopt(session, record);
        } else if (record.generation === session.generation) {
            mergeStoredCookies(session, record);
            session.identity ??= record.identity ?? undefined;
            session.auth ??= record.auth ?? undefined;
        }
    }

    /**
     * Takes what the store holds for a session this process renewed: adopted when it is another generation or
     * assignment (another process won the lease), else merged.
     */
    reconcileRenewal(session: BoundSession, record: SessionRecord): void {
        const same =
            record.generation === session.generation &&
            (record.profileIndex ?? undefined) === session.profileIndex &&
            record.identity?.userAgent === session.identity?.userAgent;
        if (same) this.reconcile(session, record);
        else this.adopt(session, record);
    }

    /** Adopts a renewal made by another process: nothing of the old generation is sent from now on. */
    adopt(session: BoundSession, record: SessionRecord): void {
        const holders = this.registry.adopt(session, record);
        void Promise.allSettled(holders.map((holder) => holder.clearCookies()));
        this.log.debug(`Session "${session.id}" was renewed by another process (generation ${record.generation}).`);
    }

    /**
     * After this process's renewal failed for good in a shared store: the stored session (maybe still good for other
     * processes, or refreshed by a maintainer) is not overwritten by this process's emptied one; the session goes
     * back to it and keeps only the failure.
     */
    revert(session: BoundSession, record: SessionRecord): void {
        const failure = session.lastRenewalError;
        this.registry.adopt(session, record);
        if (failure !== undefined) session.failRenewal(failure);
    }

    /** Writes every pending change now; rejects if the store failed (the changes are kept). */
    flush(): Promise<void> {
        return this.writeBehind.flush();
    }

    /** Stops pulling and writes what is pending (retrying for up to `persistence.closeTimeoutMillis`). */
    async close(): Promise<void> {
        this.closed = true;
        clearTimeout(this.pullTimer);
        await this.writeBehind.close();
    }

    private schedulePull(): void {
        if (this.closed || this.persistence.syncIntervalMillis === 0) return;
        this.pullTimer = setTimeout(() => void this.pull().finally(() => this.schedulePull()), this.persistence.syncIntervalMillis);
        this.pullTimer.unref();
    }

    /**
     * Polls a shared store: reads its change signal and, only when it moved, pulls the rows other processes changed.
     * The signal is read before the rows, so the rows pulled include every write it stands for.
     */
    private async pull(): Promise<void> {
        if (this.pulling || this.closed) return;
        this.pulling = true;
        try {
            const counters = this.syncCounters;
            counters.polls++;
            const signal = await this.store.changeSignal?.();
            if (signal !== undefined && signal === this.signal) return;
            counters.pulls++;
            counters.lastPullAtPoll = counters.polls;
            await this.pullRows();
            this.signal = signal;
        } catch {
            // An outage is reported by the write-behind; pulling resumes when the store is back.
        } finally {
            this.pulling = false;
        }
    }

    /** Pulls the changes other processes made to a shared store. */
    private async pullRows(): Promise<void> {
        const clock = this.writeBehind.clock;
        const { records, cursor } = await this.store.changes(this.cursor);
        this.cursor = cursor;
        for (const record of records) {
            const session = this.registry.find(record.id);
            // A cold session is read afresh when it is used again: no need to hold it meanwhile.
            if (!session && this.registry.isCold(record.id)) continue;
            if (!session) this.registry.load(record);
            // The row may predate a write of this process that was under way meanwhile (its counters would be
            // undone in memory); that write's answer carries the row as it is after it.
            else if (!session.renewal && !this.writeBehind.writtenSince(session, clock)) this.reconcile(session, record);
        }
    }
}
