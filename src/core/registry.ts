import type { SessionIdentity } from '../model/identity.js';
import type { SessionRecord } from '../model/types.js';
import { createIdentity } from '../profiles/identity.js';
import type { Profile } from '../profiles/profile.js';
import { ProfilePool } from '../profiles/profile-pool.js';
import { attemptStorage } from '../session/attempt.js';
import { BoundSession, type SessionObserver } from '../session/bound-session.js';
import { parseSessionId } from '../shared/ids.js';
import type { LiveSet } from './live-set.js';

/**
 * The sessions of this process by id: creation on first use (with a profile from the pool and an identity), loading
 * from stored records, and every change of a session's profile assignment (the pool's counts stay exact).
 */
export class SessionRegistry {
    private readonly sessions = new Map<string, BoundSession>();
    private readonly pool: ProfilePool;
    /** Consecutive transport failures per profile index (reset by a request that got an answer through it). */
    private readonly profileFailures = new Map<number, number>();
    /** With `maxLiveSessions`: the recency order and the sessions dropped from memory (see {@link evictIdle}). */
    liveSet: LiveSet | undefined;

    constructor(
        /** The validated profiles. */
        readonly profiles: readonly Profile[],
        /** The session of requests and calls that name none. */
        readonly defaultSessionId: string,
        /** Called whenever a session changes in a way the store must learn. */
        private readonly onChange: (session: BoundSession) => void,
        /** Told of every session's counted events and status changes. */
        private readonly observer?: SessionObserver,
    ) {
        this.pool = new ProfilePool(profiles);
    }

    /** The number of sessions. */
    get size(): number {
        return this.sessions.size;
    }

    /** Every session, in creation order. */
    all(): IterableIterator<BoundSession> {
        return this.sessions.values();
    }

    /** Every session id, in creation order. */
    ids(): IterableIterator<string> {
        return this.sessions.keys();
    }

    /** The session with this id, if it exists (never creates one). */
    find(id: string): BoundSession | undefined {
        return this.sessions.get(id);
    }

    /** The id a call means: the given one, else the current request's session inside a handler, else the default. */
    idOf(id: string | number | undefined): string {
        return id === undefined ? (attemptStorage.getStore()?.sessionId ?? this.defaultSessionId) : parseSessionId(id);
    }

    /** The session with this id, created with the least-used profile and a fresh identity on first use. */
    resolve(id: string | number | undefined, beforeCreate?: () => void): BoundSession {
        const sessionId = this.idOf(id);
        let session = this.sessions.get(sessionId);
        if (session) {
            this.liveSet?.used(session);
        } else {
            this.liveSet?.checkNotCold(sessionId);
            beforeCreate?.();
            session = this.create(sessionId);
            session.profileIndex = this.pool.acquire();
            session.identity = createIdentity(this.profileOf(session));
            session.touch();
        }
        return session;
    }

    /** Creates a session from its stored record (at open, or when another process created it). */
    load(record: SessionRecord): BoundSession {
        const reloaded = this.liveSet?.isCold(record.id) ?? false;
        this.liveSet?.warmed(record.id);
        const session = this.create(record.id);
        // Back from the store: the totals of sessions.stats() still count it (see evictIdle).
        if (reloaded) this.observer?.reloaded?.();
        session.load(record, this.restoreProfile(record.profileIndex));
        this.ensureIdentity(session);
        return session;
    }

    /** Told of every adoption of a stored record (another process's renewal, a revert). */
    onAdopted: ((session: BoundSession) => void) | undefined;

    /**
     * Moves a session to its next generation with a fresh profile (another one than before when there are several);
     * with `keepProfile` (a renewal ahead of expiry), with its profile and identity.
     */
    reset(session: BoundSession, options: { keepProfile?: boolean } = {}): void {
        if (options.keepProfile) {
            session.reset(session.profileIndex, this.ensureIdentity(session));
            return;
        }
        const previous = session.profileIndex;
        if (previous !== undefined) this.pool.release(previous);
        const profileIndex = this.pool.acquire({ avoid: previous });
        session.reset(profileIndex, createIdentity(this.profileAt(profileIndex)));
    }

    /** Gives a session a stored record's state (adoption of another process's renewal, or a revert). */
    adopt(session: BoundSession, record: SessionRecord): ReturnType<BoundSession['adopt']> {
        if (session.profileIndex !== undefined) this.pool.release(session.profileIndex);
        const holders = session.adopt(record, this.restoreProfile(record.profileIndex));
        this.ensureIdentity(session);
        this.onAdopted?.(session);
        return holders;
    }

    /** The profile of a session's current generation. */
    profileOf(session: BoundSession): Profile | undefined {
        return this.profileAt(session.profileIndex);
    }

    /** The proxy the session's traffic goes through, if its profile has one. */
    proxyUrlOf(session: BoundSession): string | undefined {
        return this.profileOf(session)?.proxy;
    }

    /** The identity the session's current generation presents. */
    identityOf(session: BoundSession): SessionIdentity {
        return this.ensureIdentity(session);
    }

    /**
     * Counts a transport failure (the proxy or the site could not be reached) of a request of the session. Returns
     * the profile's consecutive failures, and whether this one made it reach `threshold`: the profile is then marked
     * failing (no new session gets it while another profile works).
     */
    transportFailure(session: BoundSession, threshold: number): { profileIndex: number | undefined; failures: number; crossed: boolean } {
        session.transportFailures++;
        const index = session.profileIndex;
        if (index === undefined) return { profileIndex: undefined, failures: session.transportFailures, crossed: false };
        const failures = (this.profileFailures.get(index) ?? 0) + 1;
        this.profileFailures.set(index, failures);
        const crossed = failures >= threshold && this.pool.setFailing(index, true);
        return { profileIndex: index, failures, crossed };
    }

    /** A request of the session got an answer: its profile's transport works. */
    transportSuccess(session: BoundSession): void {
        session.transportFailures = 0;
        const index = session.profileIndex;
        if (index === undefined || !this.profileFailures.has(index)) return;
        this.profileFailures.delete(index);
        this.pool.setFailing(index, false);
    }

    /** Whether the session's profile is marked failing. */
    onFailingProfile(session: BoundSession): boolean {
        return session.profileIndex !== undefined && this.pool.isFailing(session.profileIndex);
    }

    private create(id: string): BoundSession {
        const session = new BoundSession(id, this.onChange, this.observer);
        this.sessions.set(id, session);
        this.liveSet?.used(session);
        return session;
    }

    /** Sessions in the store that were not loaded at open (`maxLiveSessions`): known by id, counted as sessions. */
    addCold(ids: readonly string[]): void {
        this.liveSet?.addCold(ids);
        this.observer?.coldAdded?.(ids.length);
    }

    /** Whether the session was dropped from memory and is in the store. */
    isCold(id: string): boolean {
        return this.liveSet?.isCold(id) ?? false;
    }

    /**
     * Drops the least recently used idle sessions beyond `maxLiveSessions` from memory (they stay in the store):
     * `evictable` tells which are idle. Their profiles are released (a reload counts them again). Returns how many.
     */
    evictIdle(evictable: (session: BoundSession) => boolean): number {
        const liveSet = this.liveSet;
        if (!liveSet) return 0;
        const evicted = liveSet.takeEvictions(this.sessions.size, evictable);
        for (const session of evicted) {
            this.sessions.delete(session.id);
            if (session.profileIndex !== undefined) this.pool.release(session.profileIndex);
            this.observer?.evicted?.(session.status);
        }
        return evicted.length;
    }

    /** A stored profile index, counted in the pool when it is still a profile of this process; else a fresh one. */
    private restoreProfile(index: number | null): number | undefined {
        return index !== null && this.pool.restore(index) ? index : this.pool.acquire();
    }

    private ensureIdentity(session: BoundSession): SessionIdentity {
        if (!session.identity) {
            session.identity = createIdentity(this.profileOf(session));
            session.touch();
        }
        return session.identity;
    }

    private profileAt(index: number | undefined): Profile | undefined {
        return index === undefined ? undefined : this.pool.get(index);
    }
}
