import { log as crawleeLog } from '@crawlee/core';
import type { Cookie } from 'tough-cookie';
import { z } from 'zod';

import { HeaderPipeline, headerPipelineOptionsSchema, type HeaderPipelineOptions } from '../headers/pipeline.js';
import { LogoutGuard, logoutGuardOptionsSchema, type LogoutGuardOptions } from '../pacing/logout-guard.js';
import { pacingOptionsSchema, type PacingOptions } from '../pacing/options.js';
import { SessionPacing } from '../pacing/pacing.js';
import { describeProfile } from '../profiles/describe.js';
import { defineProfiles, type Profile } from '../profiles/profile.js';
import { AheadScheduler, DEFAULT_RENEW_AHEAD, type RenewAheadOptions } from '../renewal/ahead.js';
import { LifetimeLearner } from '../renewal/lifetime-learner.js';
import { RenewalCoordinator, type RenewalHost } from '../renewal/coordinator.js';
import { credentialTest, sessionExpiry } from '../renewal/expiry.js';
import { NoRenewalError } from '../renewal/errors.js';
import { processLeaseOwner } from '../renewal/lease.js';
import { scopedAuth, traitsOf, type Renewal, type RenewalContext } from '../renewal/renewal.js';
import { RequestPipeline } from '../request/pipeline.js';
import { createSessionClient, type SessionHttpClient } from '../request/session-client.js';
import { attemptStorage } from '../session/attempt.js';
import type { BoundSession, PreparedGeneration, SessionCounters, SessionStatus } from '../session/bound-session.js';
import { openStore, type StoreChoice } from '../stores/open-store.js';
import { MIN_SECRET_LENGTH } from '../stores/secrets.js';
import type { SessionIdentity } from '../model/identity.js';
import type { SessionStore } from '../model/types.js';
import { SessionTokens, sessionTokensOptionsSchema, type SessionTokensOptions } from '../tokens/session-tokens.js';
import { addCookiesToJar, allCookies, cookiesToDict, type CookieFormat, type CookieInput } from '../shared/cookies.js';
import { renameDeprecated } from '../shared/deprecation.js';
import { describeCause } from '../shared/describe.js';
import { sessionIdStringSchema } from '../shared/ids.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../shared/retry.js';
import { parseWithZod } from '../shared/validation.js';
import { SessionsClosedError, StoreBacklogError } from './errors.js';
import { SessionEvents, type SessionEventMap, type SessionEventName } from './events.js';
import { ExitFlush } from './exit.js';
import { SessionHeadersApi } from './header-api.js';
import { registerInternals, type SessionsInternals } from './internals.js';
import { SessionRegistry } from './registry.js';
import { LiveSet } from './live-set.js';
import { StoreSync } from './store-sync.js';
import { StatsCollector, type SessionStats } from './stats.js';
import { SessionTokensApi } from './token-api.js';
import { UserDataStore } from './user-data.js';
import { DEFAULT_PERSISTENCE, type PersistenceOptions } from './write-behind.js';

/** The session of requests and calls that name none. */
export const DEFAULT_SESSION_ID = 'default';

/** How renewals run: the retry policy, plus the deadline of each attempt. */
export interface RenewalOptions extends RetryPolicy {
    /**
     * The deadline of one renewal attempt, in seconds: an attempt still running then is abandoned (its requests
     * aborted through `RenewalContext.signal`) and counts as a failed attempt, so a login that hangs never stalls
     * its session, its lease or `close()`.
     * @default 60
     */
    timeoutSecs: number;
}

/** Default {@link RenewalOptions}. */
export const DEFAULT_RENEWAL_OPTIONS: Readonly<RenewalOptions> = Object.freeze({ ...DEFAULT_RETRY_POLICY, timeoutSecs: 60 });

/** The shortest secret of stores created by older versions (new stores need `MIN_SECRET_LENGTH`). */
const LEGACY_MIN_SECRET_LENGTH = 8;

/** Default of `Sessions.open({ profileFailureThreshold })`. */
export const DEFAULT_PROFILE_FAILURE_THRESHOLD = 3;


/** Options of {@link Sessions.open}. */
export interface SessionsOptions {
    /**
     * Client identities (proxy and/or User-Agent) to pair sessions with, e.g. from `loadProfiles('./profiles.ts')`.
     * Each new session gets the least-used profile; a renewal gets a fresh one.
     * @default none: every session still gets a generated, stable browser identity, but no proxy
     */
    profiles?: readonly Profile[];
    /**
     * The session of requests whose `userData.sessionId` is absent.
     * @default 'default'
     */
    defaultSessionId?: string;
    /** How renewals are retried and how long an attempt may take (see {@link RenewalOptions} for each field's default). */
    renewal?: Partial<RenewalOptions>;
    /**
     * Where sessions outlive the process (see {@link StoreChoice}).
     * @default MySQL when the environment variable `CRAWLEE_SESSIONS_MYSQL_URL` is set, else the embedded store (a
     * named Crawlee key-value store in the storage directory)
     */
    store?: StoreChoice;
    /**
     * Encrypts cookie values, login values, header values and secret entries at rest with AES-256-GCM; at least 12
     * characters.
     * @default the environment variable `CRAWLEE_SESSIONS_SECRET`; without either, they are stored in clear
     */
    secret?: string;
    /** Write-behind and multi-process tuning; see {@link PersistenceOptions} for each field and its default. */
    persistence?: Partial<PersistenceOptions>;
    /**
     * How every session is renewed when `clear(id)` or `renew(id)` is given no renewal, e.g.
     * `loginRenewal(recipe)`. `loginFor` and `sessions.bindRenewal(id, renewal)` take precedence.
     * @default none: a clear only empties the session
     */
    login?: Renewal;
    /**
     * Chooses the renewal per session id (return undefined to fall back to `login`).
     * @default none
     */
    loginFor?: (sessionId: string) => Renewal | undefined;
    /** Header rules and session headers: refresh and cleanup intervals (see {@link HeaderPipelineOptions}). */
    headers?: HeaderPipelineOptions;
    /** Session token names per site, as OWASP ZAP tracks them (see {@link SessionTokensOptions}). */
    tokens?: SessionTokensOptions;
    /**
     * Consecutive transport failures (the proxy or the site could not be reached) after which a profile counts as
     * failing: the session that hit it moves to another profile (a renewal through its login), the profile is reported
     * once (event `profileFailed`, one warning without its password), and no new session gets it while another profile
     * works. A request that gets an answer through the profile makes it count as working again.
     * @default 3
     */
    profileFailureThreshold?: number;
    /**
     * Renewal ahead of expiry, for sessions that have a login and whose login's end is announced (token cookies'
     * `Expires`/`Max-Age`, a JWT `exp`, an OAuth2 `expires_in`, a recipe's `expiry.afterSecs`): the login runs before
     * the end, once per expiry, through the session's own profile and account (see {@link RenewAheadOptions} for
     * each field's default). `false`: sessions are renewed only once the site refused them.
     * @default { marginSecs: 60, fraction: 0.1, mode: 'auto' }
     */
    renewAhead?: Partial<RenewAheadOptions> | false;
    /**
     * Flush pending writes when the process receives SIGINT or SIGTERM (then let the signal take its usual
     * course). Pending writes are flushed on `beforeExit` in any case.
     * @default true
     */
    flushOnSignals?: boolean;
    /**
     * How carefully every session treats the site: a rate per session, the gap between its requests, the pause after
     * a 429/503 (see {@link PacingOptions} for each field's default). `sessions.setPacing(id, …)` overrides it for one.
     * @default no rate limit; cooldowns on 429 and 503 (30 s doubling, at most 600 s, or the answer's Retry-After)
     */
    pacing?: PacingOptions;
    /**
     * Requests of the crawl that would log their session out (`/logout`, `/sign-out`, `action=logout`, …) are skipped:
     * marked handled without being fetched, one info line each, counted in `stats().logoutSkipped`.
     * @default enabled, with the default patterns
     */
    logoutGuard?: LogoutGuardOptions;
    /**
     * Hot and cold sessions: at most this many sessions stay in memory. Beyond it, the least recently used idle
     * sessions (written, no renewal, no request under way) are dropped from memory after a flush — they stay in the
     * store — and loaded again on first use: by a request bound to them, `clear()`, `renew()` or `load()`.
     * Synchronous calls (`get()`, `addCookies()`, …) on a dropped session throw a `SessionNotLoadedError`;
     * `list()` shows the sessions in memory. Unlimited when undefined.
     * @default undefined
     */
    maxLiveSessions?: number;
}

/** Options of {@link Sessions.clear}. */
export interface ClearOptions {
    /**
     * How to renew the session right away, ahead of the request queue and without a concurrency slot: a request
     * to send (`{ url, method?, headers?, form?, json?, body? }`) or an async function receiving the session, its
     * new profile and an HTTP client bound to both.
     * @default the session's login (`bindRenewal`, `loginFor`, `login`); none: the session is only emptied
     */
    renewal?: Renewal;
}

/** Options of {@link Sessions.get}. */
export interface GetCookiesOptions<F extends CookieFormat = CookieFormat> {
    /**
     * `'cookies'` (tough-cookie Cookie objects), `'dict'` (name → value) or `'header'` (needs `url`).
     * @default 'cookies'
     */
    format?: F;
    /**
     * Only the cookies a request to this URL would send. Required for `'header'`.
     * @default every unexpired cookie of the session
     */
    url?: string;
}

/** The return type of {@link Sessions.get} for each format. */
export type CookiesIn<F extends CookieFormat> = F extends 'dict' ? Record<string, string> : F extends 'header' ? string : Cookie[];


/** One row of {@link Sessions.list}. Contains no cookie values and no proxy credentials. */
export interface SessionInfo extends SessionCounters {
    id: string;
    /** The assigned profile, credentials hidden (`http://user:***@host:port · UA…`), or undefined. */
    profile: string | undefined;
    profileIndex: number | undefined;
    /** Number of unexpired cookies in the session's jar. */
    cookies: number;
    /** How many times the session was cleared or renewed. */
    generation: number;
    status: SessionStatus;
    /** When the session's login ends as the site announced it (ms since the epoch); undefined: not announced. */
    expiresAt: number | undefined;
}

const optionsSchema = z.strictObject({
    profiles: z.array(z.unknown()).optional(),
    defaultSessionId: sessionIdStringSchema.optional(),
    renewal: z
        .strictObject({
            maxAttempts: z.number().int().min(1).max(100).optional(),
            backoffMillis: z.number().min(0).max(600_000).optional(),
            maxBackoffMillis: z.number().min(0).max(3_600_000).optional(),
            retryRefused: z.boolean().optional(),
            timeoutSecs: z.number().positive().max(3600).optional(),
        })
        .optional(),
    store: z.unknown().optional(),
    // The store enforces the length: 12 characters for a new store; 8, the old minimum, still opens a store made with it.
    secret: z.string().min(LEGACY_MIN_SECRET_LENGTH, `must be at least ${MIN_SECRET_LENGTH} characters long`).optional(),
    persistence: z
        .strictObject({
            flushIntervalMillis: z.number().int().min(0).max(3_600_000).optional(),
            batchSize: z.number().int().min(1).max(100_000).optional(),
            maxPendingSessions: z.number().int().min(1).optional(),
            syncIntervalMillis: z.number().int().min(0).max(3_600_000).optional(),
            leaseMillis: z.number().int().min(100).max(3_600_000).optional(),
            closeTimeoutMillis: z.number().int().min(0).max(3_600_000).optional(),
        })
        .optional(),
    flushOnSignals: z.boolean().optional(),
    maxLiveSessions: z.number().int().min(1).optional(),
    profileFailureThreshold: z.number().int().min(1).max(1000).optional(),
    login: z
        .union([
            z.custom<(...args: never[]) => unknown>((value) => typeof value === 'function', 'must be a function'),
            z.looseObject({ url: z.string() }),
        ])
        .optional(),
    loginFor: z.custom<(...args: never[]) => unknown>((value) => typeof value === 'function', 'must be a function').optional(),
    headers: headerPipelineOptionsSchema.optional(),
    tokens: sessionTokensOptionsSchema.optional(),
    renewAhead: z
        .union([
            z.literal(false),
            z.strictObject({
                marginSecs: z.number().min(0).max(86_400).optional(),
                fraction: z.number().min(0).max(0.9).optional(),
                mode: z.enum(['auto', 'overlap', 'pause']).optional(),
            }),
        ])
        .optional(),
    pacing: pacingOptionsSchema.optional(),
    logoutGuard: logoutGuardOptionsSchema.optional(),
});

/** Option names of earlier versions, accepted with a warning for one more version. */
const DEPRECATED_OPTIONS = {
    'renewal.backoffMs': 'renewal.backoffMillis',
    'renewal.maxBackoffMs': 'renewal.maxBackoffMillis',
    'persistence.flushIntervalMs': 'persistence.flushIntervalMillis',
    'persistence.syncIntervalMs': 'persistence.syncIntervalMillis',
    'persistence.leaseMs': 'persistence.leaseMillis',
    'persistence.closeTimeoutMs': 'persistence.closeTimeoutMillis',
    'headers.refreshIntervalMs': 'headers.refreshIntervalMillis',
    'headers.cleanupIntervalMs': 'headers.cleanupIntervalMillis',
} as const;

/**
 * The sessions of a crawl: named cookie jars bound to requests through `request.userData.sessionId`, each paired
 * with a client identity, cleared and renewed without ever stalling the crawl.
 *
 * It is a facade over parts with one job each: a registry (ids, creation, profiles and identities), a renewal
 * coordinator (single-flight clear and renewal, the cross-process lease, the retry policy), the request pipeline
 * (what each hop of each request carries), store synchronisation (write-behind, adoption of other processes'
 * renewals), and exit handling. Header rules and session tokens are its sub-objects `headers` and `tokens`.
 *
 * ```ts
 * const sessions = await Sessions.open({ profiles: await loadProfiles('./profiles.ts') });
 * const crawler = new CheerioCrawler(withSessions(sessions, { requestHandler }));
 * ```
 */
export class Sessions {
    /** Where the sessions are persisted. */
    readonly store: SessionStore;
    /** The session of requests that name none. */
    readonly defaultSessionId: string;
    /** The profiles the sessions are paired with (validated, frozen). */
    readonly profiles: readonly Profile[];
    /** Header rules and per-session TTL headers (see {@link SessionHeadersApi}). */
    readonly headers: SessionHeadersApi;
    /** ZAP-style session tokens (see {@link SessionTokensApi}). */
    readonly tokens: SessionTokensApi;

    readonly #log = crawleeLog.child({ prefix: 'Sessions' });
    readonly #registry: SessionRegistry;
    readonly #sync: StoreSync;
    readonly #coordinator: RenewalCoordinator;
    readonly #pipeline: RequestPipeline;
    readonly #headerPipeline: HeaderPipeline;
    readonly #tracker: SessionTokens;
    readonly #persistence: PersistenceOptions;
    readonly #exit: ExitFlush;
    readonly #login: Renewal | undefined;
    readonly #loginFor: SessionsOptions['loginFor'];
    readonly #boundRenewals = new Map<string, Renewal>();
    readonly #profileFailureThreshold: number;
    readonly #stats = new StatsCollector();
    readonly #ahead: AheadScheduler | undefined;
    /** Login lifetimes learned from logged-out checks (`expiry.learn`). */
    readonly #learner: LifetimeLearner;
    /** The generation whose end was last observed, per session (one observation per login). */
    readonly #endObserved = new WeakMap<BoundSession, number>();
    readonly #userData: UserDataStore;
    readonly #pacing: SessionPacing;
    readonly #logoutGuard: LogoutGuard;
    readonly #events = new SessionEvents((event, error) =>
        this.#log.warning(`A listener of the "${event}" event threw: ${describeCause(error)}`),
    );
    #closed = false;

    private constructor(options: SessionsOptions & { profiles: readonly Profile[] }, store: SessionStore) {
        this.store = store;
        this.profiles = options.profiles;
        this.defaultSessionId = options.defaultSessionId ?? DEFAULT_SESSION_ID;
        this.#login = options.login;
        this.#loginFor = options.loginFor;
        this.#profileFailureThreshold = options.profileFailureThreshold ?? DEFAULT_PROFILE_FAILURE_THRESHOLD;
        this.#userData = new UserDataStore(store, this.#log);
        this.#pacing = new SessionPacing(options.pacing, (cooldown) => {
            this.#stats.cooldowns++;
            this.#events.emit('cooldown', cooldown);
        });
        this.#logoutGuard = new LogoutGuard(options.logoutGuard);
        this.#persistence = { ...DEFAULT_PERSISTENCE, ...options.persistence };
        this.#registry = new SessionRegistry(this.profiles, this.defaultSessionId, (session) => this.#sync.markDirty(session), this.#stats);
        if (options.maxLiveSessions !== undefined) this.#registry.liveSet = new LiveSet(options.maxLiveSessions);
        this.#sync = new StoreSync(store, this.#registry, this.#persistence, this.#log, this.#events);
        this.#headerPipeline = new HeaderPipeline(store, { ...options.headers, isClosed: () => this.#closed });
        this.#tracker = new SessionTokens(
            { ids: () => this.#registry.ids(), jarOf: (id) => this.#registry.find(id)?.jar },
            options.tokens,
        );
        this.#tracker.on('rotation', (rotation) => this.#events.emit('tokenRotated', rotation));
        this.#pipeline = new RequestPipeline({ headers: this.#headerPipeline, tokens: this.#tracker });
        this.#coordinator = new RenewalCoordinator({
            store,
            host: this.#renewalHost(),
            owner: processLeaseOwner(),
            leaseMillis: this.#persistence.leaseMillis,
            policy: { ...DEFAULT_RENEWAL_OPTIONS, ...options.renewal },
            timeoutSecs: options.renewal?.timeoutSecs ?? DEFAULT_RENEWAL_OPTIONS.timeoutSecs,
            log: this.#log,
        });
        this.#learner = new LifetimeLearner(store, this.#log);
        if (options.renewAhead !== false) {
            this.#ahead = new AheadScheduler(
                this.#coordinator,
                {
                    renewalOf: (session) => this.#renewalOf(session.id),
                    isLive: (session) => !this.#closed && this.#registry.find(session.id) === session,
                    expiryOf: (session, renewal) => this.#expiryOf(session, renewal),
                    checkCurrent: (session, traits) => traits.check!(this.#clientOf(session), session.auth),
                },
                { ...DEFAULT_RENEW_AHEAD, ...options.renewAhead },
                store,
                this.#log,
            );
            this.#coordinator.whenEnding = (session) => this.#ahead?.whenEnding(session);
            this.#registry.onAdopted = (session) => this.#ahead?.track(session);
            this.#tracker.on('rotation', (rotation) => {
                const session = this.#registry.find(rotation.sessionId);
                if (session) this.#ahead?.track(session);
            });
        }
        this.#exit = new ExitFlush({
            flush: () => this.flush(),
            timeoutMillis: this.#persistence.closeTimeoutMillis,
            onSignals: options.flushOnSignals ?? true,
            log: this.#log,
        });
        const idOf = (id: string | number | undefined) => this.#idOf(id);
        this.headers = new SessionHeadersApi(this.#headerPipeline, idOf);
        this.tokens = new SessionTokensApi(this.#tracker, idOf);
        registerInternals(this, this.#internals());
    }

    /**
     * Validates the options, opens the store and resumes every stored session (cookies, profile, identity,
     * generation, counters).
     */
    static async open(options: SessionsOptions = {}): Promise<Sessions> {
        const renamed = renameDeprecated(options, 'Sessions.open() options', DEPRECATED_OPTIONS);
        const parsed = parseWithZod(optionsSchema, renamed, 'options');
        const profiles = parsed.profiles ? defineProfiles(parsed.profiles as Profile[]) : [];
        const store = await openStore(renamed.store, parsed.secret);
        const sessions = new Sessions(
            {
                ...(parsed as Omit<typeof parsed, 'profiles' | 'store'>),
                profiles,
                store: undefined,
                login: renamed.login,
                loginFor: renamed.loginFor,
                tokens: renamed.tokens,
            },
            store,
        );
        try {
            await sessions.#sync.start();
        } catch (error) {
            await store.close().catch(() => undefined);
            throw error;
        }
        for (const session of sessions.#registry.all()) sessions.#ahead?.track(session);
        sessions.#exit.install();
        return sessions;
    }

    /**
     * Writes every pending change to the store now (changes are otherwise written behind the crawl, within
     * `persistence.flushIntervalMillis`). Rejects if the store cannot be reached; the changes are kept.
     */
    async flush(): Promise<void> {
        await this.#sync.flush();
    }

    /**
     * A session's cookies: as tough-cookie Cookies (default), as a name → value record, or as the Cookie header a
     * request to `url` would send. Without `url`, every unexpired cookie of the session. `id` defaults to the
     * current request's session inside a handler, else to the default session.
     */
    get<F extends CookieFormat = 'cookies'>(id?: string | number, options: GetCookiesOptions<F> = {}): CookiesIn<F> {
        const session = this.#resolve(id);
        const format = options.format ?? 'cookies';
        if (format === 'header') {
            if (!options.url) throw new TypeError('sessions.get(id, { format: "header" }) needs a url: a Cookie header is per URL.');
            return session.jar.getCookieStringSync(options.url) as CookiesIn<F>;
        }
        const cookies = options.url ? session.jar.getCookiesSync(options.url) : allCookies(session.jar);
        return (format === 'dict' ? cookiesToDict(cookies) : cookies) as CookiesIn<F>;
    }

    /**
     * Adds cookies to a session as if they had been received from `url` (domain, path and expiry rules apply):
     * tough-cookie Cookies, raw `Set-Cookie` strings, or `{ name, value, domain?, path?, expires?, … }` objects.
     * Returns how many were accepted.
     */
    addCookies(id: string | number | undefined, cookies: readonly CookieInput[], url: string): number {
        return addCookiesToJar(this.#resolve(id).jar, cookies, url);
    }

    /** The profile paired with a session (with its proxy credentials: keep it out of logs), or undefined. */
    getProfile(id?: string | number): Profile | undefined {
        return this.#registry.profileOf(this.#resolve(id));
    }

    /**
     * The client identity a session's current generation presents (User-Agent, Accept-Language, client hints), e.g.
     * to use the same identity in a tool of your own.
     */
    getIdentity(id?: string | number): SessionIdentity {
        return this.#registry.identityOf(this.#resolve(id));
    }

    /**
     * Totals of the sessions in this process — by status, requests, successes, failures, renewals, stale retries,
     * the store backlog — kept as they change: reading them is O(1) whatever the number of sessions (`list()` is a
     * scan). Counts are this process's since `Sessions.open()`.
     */
    stats(): SessionStats {
        const { byStatus, totals, sessions, staleRetries } = this.#stats;
        const { writeBehind } = this.#sync;
        return {
            sessions,
            ...byStatus,
            ...totals,
            staleRetries,
            logoutSkipped: this.#stats.logoutSkipped,
            cooldowns: this.#stats.cooldowns,
            pendingWrites: writeBehind.pendingSessions,
            storeOutage: writeBehind.inOutage,
            ...(this.#ahead?.stats() ?? { nextExpiryAt: undefined, expiringSoon: 0, renewalsAhead: 0 }),
        };
    }

    /**
     * When a session's login ends, as the site announced it: the earliest end among its session-token cookies'
     * `Expires`/`Max-Age` (plus the recipe's `expiry.cookies`), a JWT `exp` in a login value or token cookie
     * (decoded, not verified), an OAuth2 `expires_in` and the recipe's `expiry.afterSecs`. In ms since the epoch;
     * undefined when nothing announces an end. `id` defaults as in {@link get}.
     */
    expiresAt(id?: string | number): number | undefined {
        const session = this.#resolve(id);
        return this.#expiryOf(session, this.#renewalOf(session.id))?.at;
    }

    /** Every session with its profile (credentials hidden), cookie count, generation, status and counters. */
    list(): SessionInfo[] {
        return [...this.#registry.all()].map((session) => {
            const profile = this.#registry.profileOf(session);
            return {
                id: session.id,
                profile: profile ? describeProfile(profile) : undefined,
                profileIndex: session.profileIndex,
                cookies: allCookies(session.jar).length,
                generation: session.generation,
                status: session.status,
                ...session.counters,
                expiresAt: this.#expiryOf(session, this.#renewalOf(session.id))?.at,
            };
        });
    }

    /** Whether a session with this id exists (in memory, or dropped from it by `maxLiveSessions`). */
    has(id: string | number): boolean {
        return this.#registry.find(String(id)) !== undefined || this.#registry.isCold(String(id));
    }

    /**
     * Clears a session: empties its jar, bumps its generation, releases its profile and assigns a fresh one
     * (different from the cleared one when there is more than one). With a renewal (given, or the session's login),
     * renews it at once, ahead of the queue; until the renewal is done, requests bound to the session wait. Resolves
     * when the session is usable again; rejects with `SessionRenewalError` when the renewal failed for good.
     *
     * - Single flight: while a renewal is pending, further `clear` calls join it.
     * - Called from a handler for a response that was sent before the session was last cleared, it does not clear
     *   again: it waits for the renewal already under way (the response was stale, not the session).
     * - When it resolves, no request can still be transmitted with the cleared cookies.
     *
     * `id` defaults to the current request's session inside a handler, else to the default session.
     */
    async clear(id?: string | number, options: ClearOptions = {}): Promise<void> {
        const session = await this.#resolveLive(id);
        await this.#coordinator.clear(session, options.renewal ?? this.#renewalOf(session.id), attemptStorage.getStore());
    }

    /**
     * Renews a session through its login (`bindRenewal`, else `loginFor`, else `login`): the same single-flight,
     * ahead-of-the-queue renewal as `clear`.
     * @throws NoRenewalError when the session has no login to renew with.
     */
    async renew(id?: string | number): Promise<void> {
        const session = await this.#resolveLive(id);
        if (!this.#renewalOf(session.id)) throw new NoRenewalError(session.id);
        await this.clear(session.id);
    }

    /**
     * Brings a session that `maxLiveSessions` dropped from memory back from the store (a no-op for a session in
     * memory, or one the store does not have), so that synchronous calls such as `get()` can use it.
     */
    async load(id?: string | number): Promise<void> {
        await this.#sync.ensureLive(this.#idOf(id));
    }

    /**
     * Ties a session to the renewal (a login recipe's `loginRenewal(recipe)`, a request or a function) used when it
     * is cleared without an explicit one. Pass undefined to untie it.
     */
    bindRenewal(id: string | number, renewal: Renewal | undefined): void {
        const sessionId = this.#registry.idOf(id);
        if (renewal) this.#boundRenewals.set(sessionId, renewal);
        else this.#boundRenewals.delete(sessionId);
    }

    /**
     * Paces one session: the fields given replace those of `Sessions.open({ pacing })` for it (see
     * {@link PacingOptions}); `undefined` gives it the common pacing again. Applies from its next request on.
     */
    setPacing(id: string | number, pacing: PacingOptions | undefined): void {
        const sessionId = this.#idOf(id);
        const parsed = pacing === undefined ? undefined : (parseWithZod(pacingOptionsSchema, pacing, 'pacing') as PacingOptions);
        this.#pacing.set(sessionId, parsed);
    }

    /**
     * Listens for an event of the sessions: `renewed`, `renewalFailed`, `expired`, `tokenRotated`, `profileFailed`,
     * `storeOutage`, `storeRecovered`, `cooldown` (see {@link SessionEventMap} for each payload). Payloads carry no
     * cookie values, tokens, passwords or proxy credentials; a listener that throws is logged and does not disturb the
     * crawl.
     */
    on<E extends SessionEventName>(event: E, listener: (payload: SessionEventMap[E]) => void): this {
        this.#events.on(event, listener);
        return this;
    }

    /** Listens for one occurrence of an event (see {@link on}). */
    once<E extends SessionEventName>(event: E, listener: (payload: SessionEventMap[E]) => void): this {
        this.#events.once(event, listener);
        return this;
    }

    /** Stops listening (see {@link on}). */
    off<E extends SessionEventName>(event: E, listener: (payload: SessionEventMap[E]) => void): this {
        this.#events.off(event, listener);
        return this;
    }

    /**
     * Closes the sessions: awaits pending renewals (bounded by their retry policy and deadlines), writes every
     * pending change (retrying for up to `persistence.closeTimeoutMillis` if the store is unreachable) and closes
     * the store. Rejects if changes could not be written.
     */
    async close(): Promise<void> {
        if (this.#closed) return;
        this.#closed = true;
        this.#ahead?.close();
        this.#headerPipeline.close();
        this.#exit.uninstall();
        await Promise.allSettled([...this.#registry.all()].flatMap((session) => [session.renewal, session.renewingAhead]));
        try {
            await this.#sync.close();
        } catch (error) {
            const failure = new Error(
                `${this.#sync.writeBehind.pendingSessions} session(s) could not be written to the session ${this.store.description}: ` +
                    describeCause(error),
            );
            this.#log.error(failure.message);
            throw failure;
        } finally {
            await this.store.close().catch(() => undefined);
        }
    }

    #idOf(id: string | number | undefined): string {
        if (this.#closed) throw new SessionsClosedError();
        return this.#registry.idOf(id);
    }

    #resolve(id?: string | number): BoundSession {
        if (this.#closed) throw new SessionsClosedError();
        const { writeBehind } = this.#sync;
        return this.#registry.resolve(id, () => {
            if (writeBehind.inOutage && writeBehind.pendingSessions >= this.#persistence.maxPendingSessions) {
                throw new StoreBacklogError(this.store.description, writeBehind.pendingSessions);
            }
        });
    }

    /**
     * The session, loaded first if `maxLiveSessions` dropped it. The caller gets it in memory in the same turn as the
     * check: an eviction can only run between turns, so pin it (or start using it) before awaiting anything.
     */
    async #resolveLive(id?: string | number): Promise<BoundSession> {
        const sessionId = this.#idOf(id);
        while (this.#registry.isCold(sessionId)) await this.#sync.ensureLive(sessionId);
        return this.#resolve(sessionId);
    }

    #renewalOf(sessionId: string): Renewal | undefined {
        return this.#boundRenewals.get(sessionId) ?? this.#loginFor?.(sessionId) ?? this.#login;
    }

    #expiryOf(session: BoundSession, renewal: Renewal | undefined) {
        const traits = traitsOf(renewal);
        return sessionExpiry({
            cookies: allCookies(session.jar),
            auth: session.auth,
            isCredential: credentialTest(traits?.expiryCookies ?? [], this.#tracker.names),
            now: Date.now(),
        });
    }

    /**
     * A session just logged in through a recipe: a recipe's `expiry.afterSecs` when the login announced no sooner end;
     * with `expiry.learn`, when it was made (the age a later logged-out check observes) and the lifetime learned so far.
     */
    #stampLogin(session: BoundSession): void {
        const traits = traitsOf(this.#renewalOf(session.id));
        if (!traits || (traits.afterSecs === undefined && !traits.learnLifetime)) return;
        const now = Date.now();
        const generation = session.generation;
        const auth = session.auth ?? { headers: {}, query: {}, values: {}, origins: [] };
        const endAfter = (lifetimeMillis: number, source: string) => {
            const current = session.auth ?? auth;
            const issuedAt = current.issuedAt ?? now;
            if (typeof current.expiresAt === 'number' && current.expiresAt <= issuedAt + lifetimeMillis) return false;
            session.setAuth({ ...current, expiresAt: issuedAt + lifetimeMillis, issuedAt, expirySource: source }, generation);
            return true;
        };
        if (traits.afterSecs !== undefined) {
            endAfter(traits.afterSecs * 1000, 'afterSecs');
            return;
        }
        if (auth.issuedAt === undefined) session.setAuth({ ...auth, issuedAt: now }, generation);
        void this.#learner.lifetimeOf(traits.name).then((lifetime) => {
            if (lifetime === undefined || session.generation !== generation || this.#closed) return;
            if (endAfter(lifetime, 'learned')) this.#ahead?.track(session);
        });
    }

    #clientOf(session: BoundSession, signal?: AbortSignal, target?: PreparedGeneration): SessionHttpClient {
        return createSessionClient({
            pipeline: this.#pipeline,
            // A renewal ahead fills its prepared generation: its requests see the login values as they are set.
            session: target
                ? {
                      id: session.id,
                      jar: target.jar,
                      generation: 0,
                      get auth() {
                          return target.auth;
                      },
                  }
                : session,
            identity: this.#registry.identityOf(session),
            proxyUrl: this.#registry.proxyUrlOf(session),
            headerToken: session.headerToken,
            signal,
            pace: {
                before: (abort) => this.#pacing.turn(session.id, abort),
                answered: (status, headers) => void this.#pacing.answered(session.id, status, headers['retry-after']),
            },
        });
    }

    #renewalHost(): RenewalHost {
        const registry = () => this.#registry;
        const sync = () => this.#sync;
        return {
            reset: (session, options) => registry().reset(session, options),
            context: (session, attempt, signal, target): RenewalContext => {
                const generation = target ? session.generation + 1 : session.generation;
                const http = this.#clientOf(session, signal, target);
                return {
                    sessionId: session.id,
                    generation,
                    profile: registry().profileOf(session),
                    identity: registry().identityOf(session),
                    http,
                    jar: target?.jar ?? session.jar,
                    attempt,
                    signal,
                    // An attempt abandoned at its deadline must not set anything afterwards.
                    setAuth: (auth) => {
                        if (signal.aborted) return;
                        const scoped = auth && scopedAuth(auth, http.origins);
                        if (target) target.auth = scoped;
                        else session.setAuth(scoped, generation);
                    },
                    store: this.store,
                };
            },
            adopt: (session, record) => sync().adopt(session, record),
            reconcile: (session, record) => sync().reconcileRenewal(session, record),
            revert: (session, record) => sync().revert(session, record),
            renewed: (session, outcome) => {
                this.#stampLogin(session);
                this.#ahead?.track(session, outcome.durationMillis / Math.max(1, outcome.attempts));
                this.#events.emit('renewed', () => ({ sessionId: session.id, generation: session.generation, ...outcome }));
            },
            renewalFailed: (session, outcome) => this.#events.emit('renewalFailed', { sessionId: session.id, ...outcome }),
        };
    }

    #internals(): SessionsInternals {
        return {
            registry: this.#registry,
            coordinator: this.#coordinator,
            pipeline: this.#pipeline,
            headerPipeline: this.#headerPipeline,
            tokens: this.#tracker,
            resolve: (id) => this.#resolve(id),
            ownLoginOf: (sessionId) => this.#boundRenewals.get(sessionId) ?? this.#loginFor?.(sessionId),
            sessionIdForUrl: (url) => {
                if (!url) return this.defaultSessionId;
                try {
                    return this.#tracker.activeSession(url) ?? this.defaultSessionId;
                } catch {
                    return this.defaultSessionId; // not an http(s) URL
                }
            },
            clientOf: (session) => this.#clientOf(session),
            events: this.#events,
            stats: this.#stats,
            statsNow: () => this.stats(),
            userData: this.#userData,
            renewalOf: (sessionId) => this.#renewalOf(sessionId),
            profileFailureThreshold: this.#profileFailureThreshold,
            syncCounters: this.#sync.syncCounters,
            pacing: this.#pacing,
            logoutGuard: this.#logoutGuard,
            resolveLive: (id) => this.#resolveLive(id),
            loginEnded: (session, sentGeneration) => this.#loginEnded(session, sentGeneration),
        };
    }

    /** See `SessionsInternals.loginEnded`. */
    #loginEnded(session: BoundSession, sentGeneration: number | undefined): void {
        if (sentGeneration !== session.generation || this.#endObserved.get(session) === sentGeneration) return;
        const traits = traitsOf(this.#renewalOf(session.id));
        const issuedAt = session.auth?.issuedAt;
        if (!traits?.learnLifetime || typeof issuedAt !== 'number') return;
        this.#endObserved.set(session, sentGeneration);
        void this.#learner.observe(traits.name, Date.now() - issuedAt);
    }
}
