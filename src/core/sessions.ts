import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { setImmediate as nextMacrotask, setTimeout as sleep } from 'node:timers/promises';

import { log as crawleeLog } from 'crawlee';
import type { Cookie } from 'tough-cookie';
import { z } from 'zod';

import { createIdentity, type SessionIdentity } from '../profiles/identity.js';
import { defineProfiles, type Profile } from '../profiles/profile.js';
import { ProfilePool } from '../profiles/profile-pool.js';
import { describeProfile } from '../profiles/describe.js';
import {
    backoffDelay,
    runRenewalAttempt,
    type Renewal,
    type RenewalRetryOptions,
} from '../renewal/renewal.js';
import { createSessionHttpClient, type SessionHttpClient } from '../request/session-client.js';
import { openStore, type StoreChoice } from '../stores/open-store.js';
import type { RenewalLease, SessionRecord, SessionStore } from '../model/types.js';
import type { HeaderRules } from '../headers/header-rules.js';
import { HeaderPipeline, headerPipelineOptionsSchema, type AppliedHeaders, type HeaderPipelineOptions } from '../headers/pipeline.js';
import type { SessionHeader, SessionHeaderInput, SessionHeaderPatch } from '../headers/rule.js';
import type { GetSessionHeadersOptions } from '../headers/session-headers.js';
import { SessionTokens, sessionTokensOptionsSchema, type CookieSet, type SessionTokensOptions } from '../tokens/session-tokens.js';
import { parseWithZod } from '../shared/validation.js';
import { attemptStorage } from '../session/attempt.js';
import {
    addCookiesToJar,
    storeSetCookieHeaders,
    allCookies,
    cookiesToDict,
    type CookieFormat,
    type CookieInput,
} from '../shared/cookies.js';
import { describeCause } from '../shared/describe.js';
import { SessionRenewalError, SessionsClosedError, StoreBacklogError } from './errors.js';
import { BoundSession, type SessionCounters } from '../session/bound-session.js';
import { loadStoredCookies, mergeStoredCookies, takeDelta } from '../session/state.js';
import { DEFAULT_PERSISTENCE, WriteBehind, type PersistenceOptions } from './write-behind.js';
import { parseSessionId, sessionIdStringSchema } from '../shared/ids.js';

/** Options of {@link Sessions.open}. */
export interface SessionsOptions {
    /**
     * Client identities (proxy and/or User-Agent) to pair sessions with, e.g. from `loadProfiles('./profiles.ts')`.
     * Each new session gets the least-used profile; a renewal gets a fresh one. Default: none (every session still
     * gets a generated, stable browser identity, but no proxy).
     */
    profiles?: readonly Profile[];
    /** The session of requests whose `userData.sessionId` is absent. Default `'default'`. */
    defaultSessionId?: string;
    /** Retry policy of failing renewals. Defaults: 3 attempts, 250 ms first backoff, 5 s at most. */
    renewal?: Partial<RenewalRetryOptions>;
    /**
     * Where sessions outlive the process (see {@link StoreChoice}). Default: MySQL when the environment variable
     * `CRAWLEE_SESSIONS_MYSQL_URL` is set, else the embedded store (a named Crawlee key-value store in the
     * storage directory).
     */
    store?: StoreChoice;
    /**
     * Encrypts cookie values, login values and secret entries at rest with AES-256-GCM. Default: the environment
     * variable `CRAWLEE_SESSIONS_SECRET`; without either, they are stored in clear.
     */
    secret?: string;
    /** Write-behind and multi-process tuning; see {@link PersistenceOptions} for each field and its default. */
    persistence?: Partial<PersistenceOptions>;
    /**
     * How every session is renewed when `clear(id)` or `renew(id)` is given no renewal, e.g.
     * `loginRenewal(recipe)`. `loginFor` and `sessions.bindRenewal(id, renewal)` take precedence. Default: none
     * (a clear only empties the session).
     */
    login?: Renewal;
    /** Chooses the renewal per session id (return undefined to fall back to `login`). Default: none. */
    loginFor?: (sessionId: string) => Renewal | undefined;
    /** Header rules and session headers: refresh and cleanup intervals (see {@link HeaderPipelineOptions}). */
    headers?: HeaderPipelineOptions;
    /** Session token names per site, as OWASP ZAP tracks them (see {@link SessionTokensOptions}). */
    tokens?: SessionTokensOptions;
    /**
     * Flush pending writes when the process receives SIGINT or SIGTERM (then let the signal take its usual
     * course). Default true.
     */
    flushOnSignals?: boolean;
}

/** Options of {@link Sessions.clear}. */
export interface ClearOptions {
    /**
     * How to renew the session right away, ahead of the request queue and without a concurrency slot: a request
     * to send (`{ url, method?, headers?, form?, json?, body? }`) or an async function receiving the session, its
     * new profile and an HTTP client bound to both. Without it the session is only emptied.
     */
    renewal?: Renewal;
}

/** Options of {@link Sessions.get}. */
export interface GetCookiesOptions<F extends CookieFormat = CookieFormat> {
    /** `'cookies'` (tough-cookie Cookie objects, the default), `'dict'` (name → value) or `'header'` (needs `url`). */
    format?: F;
    /** Only the cookies a request to this URL would send. Required for `'header'`. */
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
    /** How many times the session was cleared. */
    generation: number;
    /** `renewing` while a renewal is pending, `failed` when the last renewal failed for good. */
    status: 'ready' | 'renewing' | 'failed';
}

/** How long a clear waits for old-generation requests to be answered before renewing anyway. */
const FLUSH_WAIT_LIMIT_MS = 5_000;

const optionsSchema = z.strictObject({
    profiles: z.array(z.unknown()).optional(),
    defaultSessionId: sessionIdStringSchema.optional(),
    renewal: z
        .strictObject({
            maxAttempts: z.number().int().min(1).max(100).optional(),
            backoffMs: z.number().min(0).max(600_000).optional(),
            maxBackoffMs: z.number().min(0).max(3_600_000).optional(),
        })
        .optional(),
    store: z.unknown().optional(),
    secret: z.string().min(8, 'must be at least 8 characters long').optional(),
    persistence: z
        .strictObject({
            flushIntervalMs: z.number().int().min(0).max(3_600_000).optional(),
            batchSize: z.number().int().min(1).max(100_000).optional(),
            maxPendingSessions: z.number().int().min(1).optional(),
            syncIntervalMs: z.number().int().min(0).max(3_600_000).optional(),
            leaseMs: z.number().int().min(100).max(3_600_000).optional(),
            closeTimeoutMs: z.number().int().min(0).max(3_600_000).optional(),
        })
        .optional(),
    flushOnSignals: z.boolean().optional(),
    login: z
        .union([
            z.custom<(...args: never[]) => unknown>((value) => typeof value === 'function', 'must be a function'),
            z.looseObject({ url: z.string() }),
        ])
        .optional(),
    loginFor: z.custom<(...args: never[]) => unknown>((value) => typeof value === 'function', 'must be a function').optional(),
    headers: headerPipelineOptionsSchema.optional(),
    tokens: sessionTokensOptionsSchema.optional(),
});

/** Identifies this process in renewal leases of a shared store. */
const PROCESS_OWNER = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;

/**
 * The sessions of a crawl: named cookie jars bound to requests through `request.userData.sessionId`, each paired
 * with a client identity, cleared and renewed without ever stalling the crawl.
 *
 * ```ts
 * const sessions = await Sessions.open({ profiles: await loadProfiles('./profiles.ts') });
 * const crawler = new CheerioCrawler(withSessions(sessions, { requestHandler }));
 * ```
 */
export class Sessions {
    private readonly sessions = new Map<string, BoundSession>();
    private readonly profilePool: ProfilePool;
    private readonly retry: RenewalRetryOptions;
    private readonly log = crawleeLog.child({ prefix: 'Sessions' });
    private closed = false;
    private readonly persistence: PersistenceOptions;
    private readonly writeBehind: WriteBehind;
    private syncTimer: NodeJS.Timeout | undefined;
    private syncCursor: string | undefined;
    private syncing = false;
    private readonly signalHandler = (signal: NodeJS.Signals) => void this.onSignal(signal);
    /** Signal listeners that existed before ours: libraries' passive ones (e.g. signal-exit), not the program's. */
    private readonly listenersBefore = new Set<(...args: unknown[]) => void>();
    private readonly exitHandler = () => void this.flush().catch(() => undefined);

    /** Where the sessions are persisted. */
    readonly store: SessionStore;
    private readonly login: Renewal | undefined;
    private readonly loginFor: SessionsOptions['loginFor'];
    private readonly boundRenewals = new Map<string, Renewal>();

    /** The session of requests that name none. */
    readonly defaultSessionId: string;
    /** The profiles the sessions are paired with (validated, frozen). */
    readonly profiles: readonly Profile[];

    private constructor(options: SessionsOptions, store: SessionStore) {
        this.profiles = options.profiles ?? [];
        this.profilePool = new ProfilePool(this.profiles);
        this.defaultSessionId = options.defaultSessionId ?? 'default';
        this.retry = { maxAttempts: 3, backoffMs: 250, maxBackoffMs: 5000, ...options.renewal };
        this.store = store;
        this.login = options.login;
        this.loginFor = options.loginFor;
        this.headerSettings = { headers: options.headers, tokens: options.tokens };
        this.persistence = { ...DEFAULT_PERSISTENCE, ...options.persistence };
        this.writeBehind = new WriteBehind(
            store,
            this.persistence,
            this.log,
            (session, record) => this.reconcile(session, record),
            (session) => session.renewal !== undefined,
        );
    }

    /**
     * Validates the options, opens the store and resumes every stored session (cookies, profile, identity,
     * generation, counters).
     */
    static async open(options: SessionsOptions = {}): Promise<Sessions> {
        const parsed = parseWithZod(optionsSchema, options, 'options');
        const profiles = parsed.profiles ? defineProfiles(parsed.profiles as Profile[]) : undefined;
        const store = await openStore(options.store, parsed.secret);
        const sessions = new Sessions(
            { ...parsed, store: undefined, profiles, login: options.login, loginFor: options.loginFor },
            store,
        );
        try {
            for (const record of await store.loadAll()) sessions.load(record);
            if (store.shared) {
                sessions.syncCursor = (await store.changes(undefined)).cursor;
                sessions.scheduleSync();
            }
        } catch (error) {
            await store.close().catch(() => undefined);
            throw error;
        }
        if (parsed.flushOnSignals ?? true) {
            for (const signal of ['SIGINT', 'SIGTERM'] as const) {
                for (const listener of process.listeners(signal)) sessions.listenersBefore.add(listener as (...args: unknown[]) => void);
            }
            process.on('SIGINT', sessions.signalHandler);
            process.on('SIGTERM', sessions.signalHandler);
        }
        process.on('beforeExit', sessions.exitHandler);
        return sessions;
    }

    /**
     * Writes every pending change to the store now (changes are otherwise written behind the crawl, within
     * `persistence.flushIntervalMs`). Rejects if the store cannot be reached; the changes are kept.
     */
    async flush(): Promise<void> {
        await this.writeBehind.flush();
    }

    /**
     * A session's cookies: as tough-cookie Cookies (default), as a name → value record, or as the Cookie header a
     * request to `url` would send. Without `url`, every unexpired cookie of the session. `id` defaults to the
     * current request's session inside a handler, else to the default session.
     */
    get<F extends CookieFormat = 'cookies'>(id?: string | number, options: GetCookiesOptions<F> = {}): CookiesIn<F> {
        const session = this.resolve(id);
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
        return addCookiesToJar(this.resolve(id).jar, cookies, url);
    }

    /** The profile paired with a session (with its proxy credentials: keep it out of logs), or undefined. */
    getProfile(id?: string | number): Profile | undefined {
        const session = this.resolve(id);
        return this.profileOf(session);
    }

    /** Every session with its profile (credentials hidden), cookie count, generation, status and counters. */
    list(): SessionInfo[] {
        return [...this.sessions.values()].map((session) => {
            const profile = this.profileOf(session);
            return {
                id: session.id,
                profile: profile ? describeProfile(profile) : undefined,
                profileIndex: session.profileIndex,
                cookies: allCookies(session.jar).length,
                generation: session.generation,
                status: session.renewal ? 'renewing' : session.lastRenewalError ? 'failed' : 'ready',
                ...session.counters,
            };
        });
    }

    /** Whether a session with this id exists. */
    has(id: string | number): boolean {
        return this.sessions.has(String(id));
    }

    /**
     * Clears a session: empties its jar, bumps its generation, releases its profile and assigns a fresh one
     * (different from the cleared one when there is more than one). With `renewal`, renews it at once, ahead of
     * the queue; until the renewal is done, requests bound to the session wait. Resolves when the session is
     * usable again; rejects with {@link SessionRenewalError} when the renewal failed after every retry.
     *
     * - Single flight: while a renewal is pending, further `clear` calls join it.
     * - Called from a handler for a response that was sent before the session was last cleared, it does not clear
     *   again: it waits for the renewal already under way (the response was stale, not the session).
     * - When it resolves, no request can still be transmitted with the cleared cookies.
     *
     * `id` defaults to the current request's session inside a handler, else to the default session.
     */
    async clear(id?: string | number, options: ClearOptions = {}): Promise<void> {
        const session = this.resolve(id);
        const attempt = attemptStorage.getStore();
        const staleCaller =
            attempt?.sessionId === session.id &&
            attempt.sentGeneration !== undefined &&
            attempt.sentGeneration < session.generation;
        if (staleCaller || session.renewal) {
            await this.whenUsable(session);
            return;
        }
        this.reset(session);
        const renewal = options.renewal ?? this.renewalOf(session.id);
        const pending: Promise<void> = this.settle(session, renewal).finally(() => {
            if (session.renewal === pending) session.renewal = undefined;
            session.touch(); // the write-behind holds a renewing session back: write it now
        });
        pending.catch(() => undefined); // waiters receive the error; an unobserved failure is logged, not thrown
        session.renewal = pending;
        await this.whenUsable(session);
    }

    /**
     * Renews a session through its login (`bindRenewal`, else the `login` option): the same single-flight,
     * ahead-of-the-queue renewal as `clear`. Rejects when the session has no login to renew with.
     */
    async renew(id?: string | number): Promise<void> {
        const session = this.resolve(id);
        if (!this.renewalOf(session.id)) {
            throw new TypeError(
                `Session "${session.id}" has no login to renew with: pass { login } or { loginFor } to Sessions.open(), or call sessions.bindRenewal("${session.id}", renewal).`,
            );
        }
        await this.clear(session.id);
    }

    /**
     * Ties a session to the renewal (a login recipe's `loginRenewal(recipe)`, a request or a function) used when it
     * is cleared without an explicit one. Pass undefined to untie it.
     */
    bindRenewal(id: string | number, renewal: Renewal | undefined): void {
        const sessionId = parseSessionId(id);
        if (renewal) this.boundRenewals.set(sessionId, renewal);
        else this.boundRenewals.delete(sessionId);
    }

    private renewalOf(sessionId: string): Renewal | undefined {
        return this.boundRenewals.get(sessionId) ?? this.loginFor?.(sessionId) ?? this.login;
    }

    /**
     * Waits until the session has no pending renewal. Rejects with the renewal's error if the renewal this call
     * waited for failed.
     * @internal
     */
    async whenUsable(session: BoundSession): Promise<void> {
        while (session.renewal) {
            await session.renewal;
        }
    }

    /**
     * Closes the sessions: awaits pending renewals (bounded by their retry policy), writes every pending change
     * (retrying for up to `persistence.closeTimeoutMs` if the store is unreachable) and closes the store. Rejects
     * if changes could not be written.
     */
    async close(): Promise<void> {
        if (this.closed) return;
        this.closed = true;
        this.closeHeaders();
        clearTimeout(this.syncTimer);
        process.off('SIGINT', this.signalHandler);
        process.off('SIGTERM', this.signalHandler);
        process.off('beforeExit', this.exitHandler);
        await Promise.allSettled([...this.sessions.values()].map((session) => session.renewal));
        try {
            await this.writeBehind.close();
        } catch (error) {
            const failure = new Error(
                `${this.writeBehind.pendingSessions} session(s) could not be written to the session ${this.store.description}: ` +
                    describeCause(error),
            );
            this.log.error(failure.message);
            throw failure;
        } finally {
            await this.store.close().catch(() => undefined);
        }
    }

    /**
     * The session with this id, created (with a profile) on first use. `undefined` means the current request's
     * session inside a handler, else the default session.
     * @internal
     */
    resolve(id?: string | number): BoundSession {
        if (this.closed) throw new SessionsClosedError();
        const sessionId =
            id === undefined ? (attemptStorage.getStore()?.sessionId ?? this.defaultSessionId) : parseSessionId(id);
        let session = this.sessions.get(sessionId);
        if (!session) {
            if (this.writeBehind.inOutage && this.writeBehind.pendingSessions >= this.persistence.maxPendingSessions) {
                throw new StoreBacklogError(this.store.description, this.writeBehind.pendingSessions);
            }
            session = this.createSession(sessionId);
            session.profileIndex = this.profilePool.acquire();
            this.identityOf(session);
            session.touch();
        }
        return session;
    }

    private createSession(id: string): BoundSession {
        const session = new BoundSession(id, (changed) => this.writeBehind.markDirty(changed));
        this.sessions.set(id, session);
        return session;
    }

    /** Creates a session from its stored record (at open, or when another process created it). */
    private load(record: SessionRecord): BoundSession {
        const session = this.createSession(record.id);
        this.assign(session, record);
        Object.assign(session.counters, record.counters, { lastUsedAt: record.lastUsedAt ?? undefined });
        session.lastRenewalError = record.lastRenewalError ?? undefined;
        return session;
    }

    /** Gives a session the generation, profile, identity, auth and cookies of a stored record. */
    private assign(session: BoundSession, record: SessionRecord): void {
        if (session.profileIndex !== undefined) this.profilePool.release(session.profileIndex);
        const index = record.profileIndex ?? undefined;
        session.profileIndex = index !== undefined && this.profilePool.restore(index) ? index : this.profilePool.acquire();
        session.generation = record.generation;
        session.identity = record.identity ?? undefined;
        session.auth = record.auth ?? undefined;
        session.headerToken = {};
        loadStoredCookies(session, record.cookies);
    }

    /**
     * Brings a session up to date with what the store returned or reported: a newer generation (renewed by
     * another process) is adopted whole; the same generation merges other processes' cookie changes.
     */
    private reconcile(session: BoundSession, record: SessionRecord): void {
        if (!this.store.shared && record.generation <= session.generation) return;
        const pending = session.pending;
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

    /** Adopts a renewal made by another process: nothing of the old generation is sent from now on. */
    private adopt(session: BoundSession, record: SessionRecord): void {
        const holders = [...session.cookieHolders];
        session.emptyJar();
        session.cookieStore.takeDirty();
        session.resetPending = false;
        this.assign(session, record);
        session.lastRenewalError = record.lastRenewalError ?? undefined;
        void Promise.allSettled(holders.map((holder) => holder.clearCookies()));
        this.log.debug(`Session "${session.id}" was renewed by another process (generation ${record.generation}).`);
    }

    private scheduleSync(): void {
        if (this.closed || this.persistence.syncIntervalMs === 0) return;
        this.syncTimer = setTimeout(() => void this.syncOnce().finally(() => this.scheduleSync()), this.persistence.syncIntervalMs);
        this.syncTimer.unref();
    }

    /** Pulls the changes other processes made to a shared store. */
    private async syncOnce(): Promise<void> {
        if (this.syncing || this.closed) return;
        this.syncing = true;
        try {
            const { records, cursor } = await this.store.changes(this.syncCursor);
            this.syncCursor = cursor;
            for (const record of records) {
                const session = this.sessions.get(record.id);
                if (!session) this.load(record);
                else if (!session.renewal) this.reconcile(session, record);
            }
        } catch {
            // An outage is reported by the write-behind; pulling resumes when the store is back.
        } finally {
            this.syncing = false;
        }
    }

    /**
     * Flushes on SIGINT/SIGTERM, then lets the signal take its course. If the program (or a running crawler) has
     * its own handler, that handler decides what happens; otherwise the signal is raised again, so the process
     * ends as it would have without this handler: passive library listeners such as signal-exit only act when they
     * are alone, and this handler was not.
     */
    private async onSignal(signal: NodeJS.Signals): Promise<void> {
        const programHandles = process
            .listeners(signal)
            .some((listener) => listener !== this.signalHandler && !this.listenersBefore.has(listener as (...args: unknown[]) => void));
        process.off('SIGINT', this.signalHandler);
        process.off('SIGTERM', this.signalHandler);
        const limit = new AbortController();
        try {
            await Promise.race([this.flush(), sleep(this.persistence.closeTimeoutMs, undefined, { signal: limit.signal })]);
        } catch (error) {
            this.log.error(`Pending session changes could not be written on ${signal}: ${describeCause(error)}`);
        } finally {
            limit.abort();
        }
        if (!programHandles) process.kill(process.pid, signal);
    }

    /** @internal The profile of a session's current generation. */
    profileOf(session: BoundSession): Profile | undefined {
        return session.profileIndex === undefined ? undefined : this.profilePool.get(session.profileIndex);
    }

    /** @internal The identity the session's current generation presents. */
    identityOf(session: BoundSession): SessionIdentity {
        if (!session.identity) {
            session.identity = createIdentity(this.profileOf(session));
            session.touch();
        }
        return session.identity;
    }

    /** @internal The proxy the session's traffic goes through, if its profile has one. */
    proxyUrlOf(session: BoundSession): string | undefined {
        return this.profileOf(session)?.proxy;
    }

    /** @internal An HTTP client bound to the session's jar, proxy and identity. */
    httpClientOf(session: BoundSession): SessionHttpClient {
        const jar = session.jar;
        return createSessionHttpClient({
            jar,
            identity: this.identityOf(session),
            proxyUrl: this.proxyUrlOf(session),
            headerToken: session.headerToken,
            // Logins and checks get the same header rules and session headers as the crawl's requests.
            decorateHeaders: {
                ready: () => this.headersReady(),
                apply: (headers, url, method) => {
                    this.headerPipeline.apply(headers, { url, method: method.toUpperCase(), sessionId: session.id });
                },
            },
            storeCookies: (url, setCookie) =>
                this.tokenTracker.observeSetCookie(session.id, jar, url.href, setCookie, () => storeSetCookieHeaders(jar, setCookie, url)),
        });
    }

    /** Synchronous part of a clear: from here on, nothing can read the old cookies, profile or identity. */
    private reset(session: BoundSession): void {
        const previous = session.profileIndex;
        session.generation++;
        session.emptyJar();
        if (previous !== undefined) this.profilePool.release(previous);
        session.profileIndex = this.profilePool.acquire({ avoid: previous });
        session.identity = undefined;
        session.auth = undefined;
        session.headerToken = {};
        session.lastRenewalError = undefined;
        session.resetPending = true;
        session.renewalErrorPending = true;
        this.identityOf(session);
    }

    /** Everything a clear does after its synchronous part: flush, wipe browser contexts, renew with retries. */
    private async settle(session: BoundSession, renewal: Renewal | undefined): Promise<void> {
        // Requests validated against the old generation reach Node's HTTP layer within the current macrotask;
        // then wait (bounded) until the server has answered them, so that the renewal reaches it after all of them.
        await nextMacrotask();
        const limit = new AbortController();
        await Promise.race([
            Promise.allSettled([...session.inTransit]),
            sleep(FLUSH_WAIT_LIMIT_MS, undefined, { signal: limit.signal }).catch(() => undefined),
        ]);
        limit.abort(); // a pending timer would keep the process alive for up to the limit
        await Promise.allSettled([...session.cookieHolders].map((holder) => holder.clearCookies()));
        if (this.store.shared) await this.settleShared(session, renewal);
        else if (renewal) await this.runRenewal(session, renewal);
    }

    /**
     * A clear in a store shared with other processes: exactly one process renews a generation. It takes the
     * session's renewal lease; a process that cannot, waits for the holder and adopts its result, or takes over
     * once the lease expires (its holder died). Without the store (outage), the process renews alone.
     */
    private async settleShared(session: BoundSession, renewal: Renewal | undefined): Promise<void> {
        const fromGeneration = session.generation - 1;
        const pollMs = Math.min(500, Math.max(50, Math.round(this.persistence.leaseMs / 10)));
        for (;;) {
            let lease: RenewalLease;
            try {
                lease = await this.store.beginRenewal(session.id, fromGeneration, PROCESS_OWNER, this.persistence.leaseMs);
            } catch (error) {
                this.log.warning(
                    `Cannot coordinate the renewal of session "${session.id}" through the session ${this.store.description} ` +
                        `(${describeCause(error)}); renewing in this process alone.`,
                );
                if (renewal) await this.runRenewal(session, renewal);
                return;
            }
            if (lease.granted) break;
            if (lease.reason === 'advanced') {
                this.adopt(session, lease.record);
                return;
            }
            await sleep(pollMs);
        }

        const heartbeat = setInterval(() => {
            this.store.extendRenewal(session.id, PROCESS_OWNER, this.persistence.leaseMs).catch(() => undefined);
        }, Math.max(50, Math.round(this.persistence.leaseMs / 3)));
        heartbeat.unref();
        try {
            if (renewal) await this.runRenewal(session, renewal);
        } catch (error) {
            await this.revertToStored(session);
            await this.store.abandonRenewal(session.id, PROCESS_OWNER).catch(() => undefined);
            throw error;
        } finally {
            clearInterval(heartbeat);
        }
        const taken = takeDelta(session);
        try {
            const record = await this.store.completeRenewal(PROCESS_OWNER, taken.delta);
            if (record.generation > session.generation || !sameAssignment(session, record)) this.adopt(session, record);
            else this.reconcile(session, record);
        } catch (error) {
            taken.restore(); // written by the write-behind once the store is back
            this.log.warning(`Renewal of session "${session.id}" could not be saved yet: ${describeCause(error)}`);
        }
    }

    /**
     * After a renewal failed for good in a shared store: the stored session (maybe still good for other processes,
     * or refreshed by a maintainer) must not be overwritten by this process's emptied one, so the session goes back
     * to the stored state and keeps only the failure.
     */
    private async revertToStored(session: BoundSession): Promise<void> {
        const record = await this.store.read(session.id).catch(() => undefined);
        if (!record) return; // nothing good is stored: the emptied session may be written
        const failure = session.lastRenewalError;
        session.emptyJar();
        session.cookieStore.takeDirty();
        session.resetPending = false;
        this.assign(session, record);
        session.lastRenewalError = failure;
        session.renewalErrorPending = true;
    }

    /** Runs a renewal with retries and backoff. */
    private async runRenewal(session: BoundSession, renewal: Renewal): Promise<void> {
        const generation = session.generation;
        for (let attempt = 1; ; attempt++) {
            try {
                await runRenewalAttempt(renewal, {
                    sessionId: session.id,
                    generation,
                    profile: this.profileOf(session),
                    identity: this.identityOf(session),
                    http: this.httpClientOf(session),
                    jar: session.jar,
                    attempt,
                    setAuth: (auth) => {
                        if (session.generation !== generation) return;
                        session.auth = auth;
                        session.touch();
                    },
                });
                session.count('renewals');
                this.log.debug(`Session "${session.id}" renewed (generation ${generation}).`);
                return;
            } catch (error) {
                session.emptyJar();
                if (attempt >= this.retry.maxAttempts) {
                    const failure = new SessionRenewalError(session.id, attempt, error);
                    session.lastRenewalError = describeCause(error);
                    session.renewalErrorPending = true;
                    this.log.warning(failure.message);
                    throw failure;
                }
                const delay = backoffDelay(attempt, this.retry);
                this.log.debug(`Renewal of session "${session.id}" failed (${describeCause(error)}); retrying in ${delay} ms.`);
                await sleep(delay);
            }
        }
    }

    // --- Header rules, session headers and tokens ---
    // Header rules and session headers live in the store's entries (collections `header-rules`, `session-headers`),
    // so every process sharing the store applies the same ones; token tracking is per process.

    /**
     * Options of the header pipeline and of token tracking (`Sessions.open({ headers, tokens })`); read when they
     * are first used.
     */
    private headerSettings: { headers?: HeaderPipelineOptions; tokens?: SessionTokensOptions } = {};
    private headerPipelineInstance: HeaderPipeline | undefined;
    private tokenTrackerInstance: SessionTokens | undefined;

    /**
     * Persistent header rules, shared through the store: `add`, `update`, `enable`, `disable`, `remove`, `list`,
     * `get`, `refresh`. They apply to every request of every session they match (see {@link HeaderPipeline} for the
     * order in which headers are computed).
     */
    get headerRules(): HeaderRules {
        return this.headerPipeline.rules;
    }

    /**
     * OWASP ZAP-style token tracking: which cookies are session tokens per site (`tokenTracker.names.add(site,
     * name)`, `.remove(site, name)`), rotation events (`tokenTracker.on('rotation', …)`), per-site activity
     * (`tokenTracker.activityOf(id)`).
     */
    get tokenTracker(): SessionTokens {
        this.tokenTrackerInstance ??= new SessionTokens(
            { ids: () => this.sessions.keys(), jarOf: (id) => this.sessions.get(id)?.jar },
            this.headerSettings.tokens,
        );
        return this.tokenTrackerInstance;
    }

    /**
     * Attaches a header to a session for `ttl` seconds (60–86400, default 3600), or updates the session's header of
     * that name (same id, `updatedAt` bumped, expiry re-armed). Applies from the session's next request on.
     * `id` defaults to the current request's session inside a handler.
     */
    async setHeader(id: string | number | undefined, header: SessionHeaderInput): Promise<SessionHeader> {
        return this.headerPipeline.sessionHeaders.set(this.headerSessionId(id), header);
    }

    /** {@link setHeader} for several headers: all are validated before any is set. */
    async setHeaders(id: string | number | undefined, headers: readonly SessionHeaderInput[]): Promise<SessionHeader[]> {
        return this.headerPipeline.sessionHeaders.setMany(this.headerSessionId(id), headers);
    }

    /** Changes some fields of a session's header; a `ttl` re-arms its expiry from now. */
    async updateHeader(id: string | number | undefined, name: string, patch: SessionHeaderPatch): Promise<SessionHeader> {
        return this.headerPipeline.sessionHeaders.update(this.headerSessionId(id), name, patch);
    }

    /**
     * A session's headers, values included: the active, unexpired ones, or with `{ all: true }` every one (expired
     * and inactive too, until the cleanup deletes them). For display, pass each through `describeSessionHeader()`.
     */
    async getHeaders(id?: string | number, options: GetSessionHeadersOptions = {}): Promise<SessionHeader[]> {
        return this.headerPipeline.sessionHeaders.get(this.headerSessionId(id), options);
    }

    /** Removes one header of a session; returns whether it existed. */
    async removeHeader(id: string | number | undefined, name: string): Promise<boolean> {
        return this.headerPipeline.sessionHeaders.remove(this.headerSessionId(id), name);
    }

    /** Removes every header of a session; returns how many there were. */
    async clearHeaders(id?: string | number): Promise<number> {
        return this.headerPipeline.sessionHeaders.clear(this.headerSessionId(id));
    }

    /**
     * A session's token values (secrets: keep them out of logs) on a site (`host:port` or a URL): cookie name →
     * value; without a site, per site for every site the session sent requests to or is active on.
     */
    tokens(id: string | number | undefined, site: string): Record<string, string>;
    tokens(id?: string | number): Record<string, Record<string, string>>;
    tokens(id?: string | number, site?: string): Record<string, string> | Record<string, Record<string, string>> {
        const sessionId = this.headerSessionId(id);
        return site === undefined ? this.tokenTracker.tokensOf(sessionId) : this.tokenTracker.tokensOf(sessionId, site);
    }

    /**
     * The session whose token values on `site` match a cookie set (OWASP ZAP's algorithm: equal values, or both
     * absent, for every token of the site; the most equal values wins), e.g. to adopt cookies captured elsewhere.
     * Undefined when no session matches.
     */
    match(cookies: CookieSet, site: string): string | undefined {
        return this.tokenTracker.match(cookies, site);
    }

    /** Makes a session the active session of a site: requests to the site that name no session use it. */
    activate(site: string, id: string | number): void {
        this.tokenTracker.activate(site, parseSessionId(id));
    }

    /** Removes a site's active session (its requests that name no session use the default session again). */
    deactivate(site: string): boolean {
        return this.tokenTracker.deactivate(site);
    }

    /** The active session of a site, if any. */
    activeSession(site: string): string | undefined {
        return this.tokenTracker.activeSession(site);
    }

    /** The session id a header/token method means (without creating the session): the current request's by default. */
    private headerSessionId(id: string | number | undefined): string {
        if (this.closed) throw new SessionsClosedError();
        return id === undefined ? (attemptStorage.getStore()?.sessionId ?? this.defaultSessionId) : parseSessionId(id);
    }

    /** @internal The header pipeline (rules and session headers on the sessions' store), created on first use. */
    get headerPipeline(): HeaderPipeline {
        this.headerPipelineInstance ??= new HeaderPipeline(this.store, {
            ...this.headerSettings.headers,
            isClosed: () => this.closed,
        });
        return this.headerPipelineInstance;
    }

    /** @internal The session of a request to `url` that names none: the site's active session, else the default. */
    sessionIdForUrl(url: string | undefined): string {
        if (!url || !this.tokenTrackerInstance) return this.defaultSessionId;
        try {
            return this.tokenTrackerInstance.activeSession(url) ?? this.defaultSessionId;
        } catch {
            return this.defaultSessionId; // not an http(s) URL
        }
    }

    /** @internal Resolves once rules and session headers have been loaded from the store. */
    headersReady(): Promise<void> {
        return this.headerPipeline.ready();
    }

    /**
     * @internal Applies rules and session headers to a request's headers at transmission (after the identity, before
     * the cookies); `previous` is what the previous redirect hop returned. Counts the message for the site.
     */
    applyRequestHeaders(
        session: BoundSession,
        headers: Record<string, string | string[] | undefined>,
        url: URL,
        method: string,
        previous?: AppliedHeaders,
    ): AppliedHeaders {
        this.tokenTracker.countMessage(session.id, url);
        return this.headerPipeline.apply(headers, { url, method: method.toUpperCase(), sessionId: session.id }, previous);
    }

    /** @internal Stores a response's Set-Cookie headers through `store`, recording token rotations. */
    storeResponseCookies(session: BoundSession, url: string, setCookie: string | string[] | undefined, store: () => void): void {
        this.tokenTracker.observeSetCookie(session.id, session.jar, url, setCookie, store);
    }

    /** @internal Stops the header reload and cleanup timers (they also stop by themselves once closed). */
    closeHeaders(): void {
        this.headerPipelineInstance?.close();
    }
}

function sameAssignment(session: BoundSession, record: SessionRecord): boolean {
    return (
        record.generation === session.generation &&
        (record.profileIndex ?? undefined) === session.profileIndex &&
        record.identity?.userAgent === session.identity?.userAgent
    );
}

