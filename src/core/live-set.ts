import type { BoundSession } from '../session/bound-session.js';
import { SessionNotLoadedError } from './errors.js';

/**
 * Hot and cold sessions (`maxLiveSessions`): keeps the sessions of this process in least-recently-used order and,
 * beyond the limit, tells which idle ones to drop from memory. A dropped ("cold") session stays in the store and is
 * loaded again on first use; until then it is only its id here.
 */
export class LiveSet {
    /** Live sessions, least recently used first (a Map keeps insertion order: a use moves a session to the end). */
    private readonly recency = new Map<string, BoundSession>();
    /** Sessions dropped from memory that are in the store. */
    private readonly cold = new Set<string>();

    constructor(readonly maxLiveSessions: number) {}

    /** Number of cold sessions. */
    get coldSize(): number {
        return this.cold.size;
    }

    isCold(id: string): boolean {
        return this.cold.has(id);
    }

    /** A live session was used (or created): it becomes the most recently used. */
    used(session: BoundSession): void {
        this.recency.delete(session.id);
        this.recency.set(session.id, session);
    }

    /** Sessions known to be in the store but never loaded (at open). */
    addCold(ids: Iterable<string>): void {
        for (const id of ids) this.cold.add(id);
    }

    /** A cold session was loaded again, or deleted from the store: it is no longer cold. */
    warmed(id: string): void {
        this.cold.delete(id);
    }

    /** A session left the process altogether (deleted). */
    forget(id: string): void {
        this.recency.delete(id);
        this.cold.delete(id);
    }

    /** Refuses to create a session afresh over a cold one (it would overwrite the stored state). */
    checkNotCold(id: string): void {
        if (this.cold.has(id)) throw new SessionNotLoadedError(id);
    }

    /**
     * The least recently used sessions to drop so that at most `maxLiveSessions` stay live, skipping those that
     * `evictable` refuses (pinned: unwritten changes, a renewal, requests in flight). Marks them cold.
     */
    takeEvictions(liveCount: number, evictable: (session: BoundSession) => boolean): BoundSession[] {
        let excess = liveCount - this.maxLiveSessions;
        const evicted: BoundSession[] = [];
        if (excess <= 0) return evicted;
        for (const session of this.recency.values()) {
            if (excess <= 0) break;
            if (!evictable(session)) continue;
            evicted.push(session);
            excess--;
        }
        for (const session of evicted) {
            this.recency.delete(session.id);
            this.cold.add(session.id);
        }
        return evicted;
    }
}
