import { setTimeout as sleep } from 'node:timers/promises';

import type { Log } from '@crawlee/core';

import { describeCause } from '../shared/describe.js';
import { StoreWriteRejectedError, type RejectedDelta, type SessionRecord, type SessionStore } from '../model/types.js';
import type { BoundSession } from '../session/bound-session.js';
import { hasChanges, takeDelta, type TakenDelta } from '../session/state.js';

/** Options of the write-behind persistence (`Sessions.open({ persistence })`). */
export interface PersistenceOptions {
    /**
     * How long changes may wait before they are written, in ms.
     * @default 1000
     */
    flushIntervalMillis: number;
    /**
     * Sessions per write to a shared store (MySQL): one transaction each; a flush writes several batches if
     * needed. Single-process stores get one write per flush.
     * @default 500
     */
    batchSize: number;
    /**
     * How many sessions with unwritten changes may accumulate while the store is unreachable before new sessions
     * are refused (existing sessions keep working: their changes are coalesced in place).
     * @default 100000
     */
    maxPendingSessions: number;
    /**
     * How often a shared store (MySQL) is polled for changes made by other processes, in ms: each poll reads one
     * row (the store's revision) and fetches the changed sessions only when it moved, so another process's renewal
     * is adopted within about this long, at one query per poll while nothing changes. 0 turns polling off.
     * @default 100
     */
    syncIntervalMillis: number;
    /**
     * How long a renewal lease in a shared store lasts without a heartbeat before another process may take over, in
     * ms.
     * @default 30000
     */
    leaseMillis: number;
    /**
     * How long `close()` keeps retrying to write pending changes to an unreachable store, in ms.
     * @default 10000
     */
    closeTimeoutMillis: number;
}

/** Default {@link PersistenceOptions}. */
export const DEFAULT_PERSISTENCE: Readonly<PersistenceOptions> = Object.freeze({
    flushIntervalMillis: 1000,
    batchSize: 500,
    maxPendingSessions: 100_000,
    syncIntervalMillis: 100,
    leaseMillis: 30_000,
    closeTimeoutMillis: 10_000,
});

const MAX_RETRY_DELAY_MS = 30_000;

/**
 * Writes session changes behind the crawl: sessions are marked dirty on the hot path (a Set insertion), and a
 * timer writes them in batches. Changes of one session are coalesced (latest cookies, summed counters), so the
 * backlog during a store outage is bounded by the number of sessions, not by the number of requests. A failed
 * write keeps everything and retries with backoff; an outage is reported once, and its end once.
 */
export class WriteBehind {
    private readonly dirty = new Set<BoundSession>();
    private timer: NodeJS.Timeout | undefined;
    /** The pending timer fires at once (a full batch is waiting). */
    private timerIsImmediate = false;
    private flushing: Promise<void> | undefined;
    private failures = 0;
    private outageSince: number | undefined;
    private closed = false;
    /** Ticks at every write that settles: a pull compares it to know which sessions were written while it ran. */
    private settledWrites = 0;

    constructor(
        private readonly store: SessionStore,
        private readonly options: PersistenceOptions,
        private readonly log: Log,
        /** Applies what the store returned for a written session (shared stores: other processes' changes). */
        private readonly reconcile: (session: BoundSession, record: SessionRecord) => void,
        /** Sessions with a renewal under way are written when it ends, not before. */
        private readonly isRenewing: (session: BoundSession) => boolean,
        /** Told when an outage starts and when it ends. */
        private readonly outages: {
            started?(error: unknown, pendingSessions: number): void;
            ended?(outageMillis: number, written: number): void;
        } = {},
    ) {}

    /** Number of sessions with unwritten changes. */
    get pendingSessions(): number {
        return this.dirty.size;
    }

    /** A logical clock of settled writes; see {@link WriteBehind.writtenSince}. */
    get clock(): number {
        return this.settledWrites;
    }

    /**
     * Whether a write of the session is under way or settled after `clock` was read: a row read meanwhile may predate
     * that write, and the write's own answer brings the session up to date instead.
     */
    writtenSince(session: BoundSession, clock: number): boolean {
        return session.writesInFlight > 0 || session.writeSettledAt > clock;
    }

    /** Called after every successful flush (sessions written then may be dropped from memory). */
    afterWrite: (() => void) | undefined;

    /** Whether the session has changes not yet taken by a write. */
    isPending(session: BoundSession): boolean {
        return this.dirty.has(session);
    }

    /** Whether the store is currently failing. */
    get inOutage(): boolean {
        return this.outageSince !== undefined;
    }

    /** Records that a session changed. Cheap: called on every request. */
    markDirty(session: BoundSession): void {
        if (session.unwritable !== undefined) return;
        this.dirty.add(session);
        if (this.closed) return;
        if (this.dirty.size >= this.options.batchSize && !this.flushing && this.failures === 0) {
            if (!this.timerIsImmediate) this.schedule(0);
        } else if (!this.timer) {
            this.schedule(this.options.flushIntervalMillis);
        }
    }

    /** Writes every pending change now; rejects if the store failed (the changes are kept). */
    async flush(): Promise<void> {
        while (this.flushing) await this.flushing.catch(() => undefined);
        const run = this.writeAll();
        this.flushing = run;
        try {
            await run;
        } finally {
            this.flushing = undefined;
        }
    }

    /** Stops the timer and writes what is pending, retrying for up to `closeTimeoutMillis`. */
    async close(): Promise<void> {
        this.closed = true;
        clearTimeout(this.timer);
        this.timer = undefined;
        const deadline = Date.now() + this.options.closeTimeoutMillis;
        for (let attempt = 1; ; attempt++) {
            try {
                await this.flush();
                return;
            } catch (error) {
                if (Date.now() >= deadline) throw error;
                await sleep(Math.min(200 * 2 ** attempt, Math.max(0, deadline - Date.now())));
            }
        }
    }

    private schedule(delay: number): void {
        clearTimeout(this.timer);
        this.timerIsImmediate = delay === 0;
        this.timer = setTimeout(() => {
            this.timer = undefined;
            this.timerIsImmediate = false;
            this.flush().catch(() => undefined);
        }, delay);
        this.timer.unref();
    }

    private async writeAll(): Promise<void> {
        const sessions = [...this.dirty].filter((session) => !this.isRenewing(session));
        for (const session of sessions) this.dirty.delete(session);
        const taken: Array<[BoundSession, TakenDelta]> = [];
        for (const session of sessions) {
            if (hasChanges(session)) taken.push([session, takeDelta(session)]);
        }
        let written = 0;
        try {
            // A single-process store rewrites whatever a write touches (the embedded store: its shards), so it gets
            // one write per flush; a shared store gets transactions of batchSize sessions.
            const batchSize = this.store.shared ? this.options.batchSize : Math.max(taken.length, 1);
            for (let start = 0; start < taken.length; start += batchSize) {
                const batch = taken.slice(start, start + batchSize);
                let records: ReadonlyArray<SessionRecord | undefined>;
                for (const [session] of batch) session.writesInFlight++;
                try {
                    records = await this.store.write(batch.map(([, t]) => t.delta));
                } catch (error) {
                    if (!(error instanceof StoreWriteRejectedError)) throw error;
                    records = error.records;
                    this.setAside(batch, error.rejected);
                } finally {
                    this.settledWrites++;
                    for (const [session] of batch) {
                        session.writesInFlight--;
                        session.writeSettledAt = this.settledWrites;
                    }
                }
                records.forEach((record, index) => record && this.reconcile(batch[index]![0], record));
                written += batch.length;
            }
        } catch (error) {
            for (const [session, t] of taken.slice(written)) {
                t.restore();
                this.dirty.add(session);
            }
            this.onFailure(error);
            throw error;
        }
        this.onSuccess(written);
        if (this.dirty.size > 0 && !this.closed) this.schedule(this.options.flushIntervalMillis);
    }

    /**
     * Sessions the store refused for good (too large for it, invalid): retrying cannot help, so they are not written
     * again until they change into a new generation (a clear); they keep working in memory meanwhile.
     */
    private setAside(batch: ReadonlyArray<[BoundSession, TakenDelta]>, rejected: readonly RejectedDelta[]): void {
        for (const { id, reason } of rejected) {
            const session = batch.find(([each]) => each.id === id)?.[0];
            if (!session) continue;
            session.unwritable = reason;
            this.dirty.delete(session);
            this.log.error(
                `Session "${id}" cannot be written to the session ${this.store.description} (${reason}). It keeps working in ` +
                    'memory and is written again once it is cleared into a new generation.',
            );
        }
    }

    private onFailure(error: unknown): void {
        this.failures++;
        if (this.outageSince === undefined) {
            this.outageSince = Date.now();
            this.outages.started?.(error, this.dirty.size);
            this.log.warning(
                `Cannot write to the session ${this.store.description}: ${describeCause(error)}. The crawl goes on from ` +
                    `memory; the changes of ${this.dirty.size} session(s) are kept and will be written when it is back.`,
            );
        }
        if (!this.closed) {
            this.schedule(Math.min(MAX_RETRY_DELAY_MS, this.options.flushIntervalMillis * 2 ** Math.min(this.failures, 10)));
        }
    }

    private onSuccess(written: number): void {
        if (this.outageSince !== undefined) {
            this.outages.ended?.(Date.now() - this.outageSince, written);
            const seconds = Math.round((Date.now() - this.outageSince) / 1000);
            this.log.info(`The session ${this.store.description} is back after ${seconds} s; wrote ${written} session(s).`);
        }
        this.outageSince = undefined;
        this.failures = 0;
        this.afterWrite?.();
    }
}
