import { setImmediate as nextMacrotask, setTimeout as sleep } from 'node:timers/promises';

import { log as crawleeLog } from 'crawlee';
import type { Cookie } from 'tough-cookie';
import { z } from 'zod';

import { createIdentity, type SessionIdentity } from '../profiles/identity.js';
import { defineProfiles, type Profile } from '../profiles/profile.js';
import { ProfilePool } from '../profiles/profile-pool.js';
import { describeProfile } from '../profiles/redact.js';
import {
    backoffDelay,
    runRenewalAttempt,
    type Renewal,
    type RenewalRetryOptions,
} from '../renewal/renewal.js';
import { createSessionHttpClient, type SessionHttpClient } from '../renewal/session-http.js';
import { parseWithZod } from '../validation.js';
import { attemptStorage } from './attempt.js';
import {
    addCookiesToJar,
    allCookies,
    cookiesToDict,
    type CookieFormat,
    type CookieInput,
} from './cookies.js';
import { SessionRenewalError, SessionsClosedError, describeCause } from './errors.js';
import { BoundSession, type SessionCounters } from './session.js';

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

const sessionIdSchema = z.union([z.string().min(1).max(200), z.number().finite()]).transform(String);

const optionsSchema = z.strictObject({
    profiles: z.array(z.unknown()).optional(),
    defaultSessionId: z.string().min(1).max(200).optional(),
    renewal: z
        .strictObject({
            maxAttempts: z.number().int().min(1).max(100).optional(),
            backoffMs: z.number().min(0).max(600_000).optional(),
            maxBackoffMs: z.number().min(0).max(3_600_000).optional(),
        })
        .optional(),
});

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

    /** The session of requests that name none. */
    readonly defaultSessionId: string;
    /** The profiles the sessions are paired with (validated, frozen). */
    readonly profiles: readonly Profile[];

    private constructor(options: SessionsOptions) {
        this.profiles = options.profiles ?? [];
        this.profilePool = new ProfilePool(this.profiles);
        this.defaultSessionId = options.defaultSessionId ?? 'default';
        this.retry = { maxAttempts: 3, backoffMs: 250, maxBackoffMs: 5000, ...options.renewal };
    }

    /** Validates the options and opens the sessions. */
    static async open(options: SessionsOptions = {}): Promise<Sessions> {
        const parsed = parseWithZod(optionsSchema, options, 'options');
        const profiles = parsed.profiles ? defineProfiles(parsed.profiles as Profile[]) : undefined;
        return new Sessions({ ...parsed, profiles });
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
        const pending: Promise<void> = this.settle(session, options.renewal).finally(() => {
            if (session.renewal === pending) session.renewal = undefined;
        });
        pending.catch(() => undefined); // waiters receive the error; an unobserved failure is logged, not thrown
        session.renewal = pending;
        await this.whenUsable(session);
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

    /** Closes the sessions. Pending renewals are awaited (they are bounded by their retry policy). */
    async close(): Promise<void> {
        if (this.closed) return;
        this.closed = true;
        await Promise.allSettled([...this.sessions.values()].map((session) => session.renewal));
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
            session = new BoundSession(sessionId);
            session.profileIndex = this.profilePool.acquire();
            this.sessions.set(sessionId, session);
        }
        return session;
    }

    /** @internal The profile of a session's current generation. */
    profileOf(session: BoundSession): Profile | undefined {
        return session.profileIndex === undefined ? undefined : this.profilePool.get(session.profileIndex);
    }

    /** @internal The identity the session's current generation presents. */
    identityOf(session: BoundSession): SessionIdentity {
        session.identity ??= createIdentity(this.profileOf(session));
        return session.identity;
    }

    /** @internal The proxy the session's traffic goes through, if its profile has one. */
    proxyUrlOf(session: BoundSession): string | undefined {
        return this.profileOf(session)?.proxy;
    }

    /** @internal An HTTP client bound to the session's jar, proxy and identity. */
    httpClientOf(session: BoundSession): SessionHttpClient {
        return createSessionHttpClient({
            jar: session.jar,
            identity: this.identityOf(session),
            proxyUrl: this.proxyUrlOf(session),
            headerToken: session.headerToken,
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
        session.headerToken = {};
        session.lastRenewalError = undefined;
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
        if (!renewal) return;

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
                    this.log.warning(failure.message);
                    throw failure;
                }
                const delay = backoffDelay(attempt, this.retry);
                this.log.debug(`Renewal of session "${session.id}" failed (${describeCause(error)}); retrying in ${delay} ms.`);
                await sleep(delay);
            }
        }
    }
}

function parseSessionId(id: string | number): string {
    const parsed = sessionIdSchema.safeParse(id);
    if (!parsed.success) {
        throw new TypeError('A session id must be a non-empty string of at most 200 characters or a finite number.');
    }
    return parsed.data;
}
