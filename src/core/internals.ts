import type { HeaderPipeline } from '../headers/pipeline.js';
import type { LogoutGuard } from '../pacing/logout-guard.js';
import type { SessionPacing } from '../pacing/pacing.js';
import type { RenewalCoordinator } from '../renewal/coordinator.js';
import type { Renewal } from '../renewal/renewal.js';
import type { RequestPipeline } from '../request/pipeline.js';
import type { SessionHttpClient } from '../request/session-client.js';
import type { BoundSession } from '../session/bound-session.js';
import type { SessionTokens } from '../tokens/session-tokens.js';
import type { SessionEvents } from './events.js';
import type { SessionRegistry } from './registry.js';
import type { SessionStats, StatsCollector } from './stats.js';
import type { UserDataStore } from './user-data.js';

/**
 * What the Crawlee adapters (src/binding) use of a `Sessions` beyond its public API: the parts the facade is made
 * of. Reached through {@link internalsOf}, so that none of it is a member of the public class (or of its `.d.ts`).
 */
export interface SessionsInternals {
    readonly registry: SessionRegistry;
    readonly coordinator: RenewalCoordinator;
    /** The request path every request of a session goes through. */
    readonly pipeline: RequestPipeline;
    readonly headerPipeline: HeaderPipeline;
    readonly tokens: SessionTokens;
    /**
     * The login tied to this one session (`bindRenewal`, else `loginFor`), not the default `login`: a check renews a
     * session through it rather than through the check's own renewal, so that it keeps its own account.
     */
    ownLoginOf(sessionId: string): Renewal | undefined;
    /** The session with this id (created on first use); refuses when closed or when the store backlog is full. */
    resolve(id?: string | number): BoundSession;
    /** The session of a request to `url` that names none: the site's active session, else the default. */
    sessionIdForUrl(url: string | undefined): string;
    /** An HTTP client of the session's current generation (checks sent from a crawl). */
    clientOf(session: BoundSession): SessionHttpClient;
    /** The event channel of `sessions.on()`. */
    readonly events: SessionEvents;
    /** The totals behind `sessions.stats()` (the adapters count stale retries). */
    readonly stats: StatsCollector;
    /** `sessions.stats()` itself. */
    readonly statsNow: () => SessionStats;
    /** Crawlee's per-session `userData`, persisted in the store. */
    readonly userData: UserDataStore;
    /** The login a session renews through when it is cleared without an explicit renewal. */
    renewalOf(sessionId: string): Renewal | undefined;
    /** Consecutive transport failures after which a profile counts as failing. */
    readonly profileFailureThreshold: number;
    /** Polls of a shared store and the row fetches among them (see `StoreSync.syncCounters`). */
    /**
     * The session with this id, loaded first if `maxLiveSessions` dropped it from memory. It is in memory when the
     * promise settles: pin it before awaiting anything else (see `pinAttempt`).
     */
    resolveLive(id: string): Promise<BoundSession>;
    readonly syncCounters: { readonly polls: number; readonly pulls: number; readonly lastPullAtPoll: number };
    /** Every session's pacing and cooldowns. */
    readonly pacing: SessionPacing;
    /** Which URLs would log a session out. */
    readonly logoutGuard: LogoutGuard;
    /**
     * A validity check found the session logged out, in an answer to a request sent with `sentGeneration`: the age of
     * that login is an observation for a recipe that learns its lifetime (`expiry.learn`). Counted once per generation.
     */
    loginEnded(session: BoundSession, sentGeneration: number | undefined): void;
}

const registered = new WeakMap<object, SessionsInternals>();

/** Registers the internals of a `Sessions` (its constructor does). */
export function registerInternals(sessions: object, internals: SessionsInternals): void {
    registered.set(sessions, internals);
}

/** The internals of a `Sessions` object. */
export function internalsOf(sessions: object): SessionsInternals {
    const internals = registered.get(sessions);
    if (!internals) throw new TypeError('Expected a Sessions object from Sessions.open().');
    return internals;
}
