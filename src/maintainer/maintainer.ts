import { log as crawleeLog } from '@crawlee/core';
import { Cookie, type CookieJar } from 'tough-cookie';

import { SessionCheck, type CheckOutcome } from '../acquisition/check.js';
import { LoginError } from '../acquisition/errors.js';
import { performLogin, type LoginOptions, type LoginTarget } from '../acquisition/renewal.js';
import { HeaderPipeline } from '../headers/pipeline.js';
import { completeUnderLease, processLeaseOwner, requestLease, underLease, type LeaseRequest } from '../renewal/lease.js';
import { credentialTest, renewalDueAt, sessionExpiry, type SessionExpiry } from '../renewal/expiry.js';
import { scopedAuth } from '../renewal/renewal.js';
import { createDetachedSession } from '../request/detached-session.js';
import { RequestPipeline } from '../request/pipeline.js';
import { allCookies, createJar } from '../shared/cookies.js';
import { describeCause } from '../shared/describe.js';
import { createIdentity, type SessionIdentity } from '../profiles/identity.js';
import type { Profile } from '../profiles/profile.js';
import { createSessionClient } from '../request/session-client.js';
import { cookieKeyOf, zeroCounters } from '../model/merge.js';
import { openStore } from '../stores/open-store.js';
import type { CookieKey, SessionAuth, SessionDelta, SessionRecord, SessionStore, StoredCookie } from '../model/types.js';
import { RetriesExhaustedError, isNetworkError, isRetryableUnder, retryWithBackoff, type RetryPolicy } from '../shared/retry.js';
import { defineMaintainerConfig, type MaintainedRecipe, type MaintainerConfig, type MaintainerConfigInput } from './config.js';
import { ConcurrencyQueue, LoginQueues } from './login-queues.js';
import { BEFORE_EXPIRY_DEFAULTS, ScheduledJob, type BeforeExpirySchedule } from './schedule.js';
import { TokenNames } from '../tokens/token-names.js';
import { MAINTAINER_STATUS_COLLECTION, statusKey, type MaintainerStatusRow } from './status.js';

/** The soonest a `beforeExpiry` refresh that stored nothing is tried again, in ms. */
const BEFORE_EXPIRY_RETRY_MILLIS = 5_000;

/** Identifies this maintainer in renewal leases of a shared store. */
const LEASE_OWNER = processLeaseOwner('maintainer');

/** One configured recipe at run time. */
interface Entry {
    readonly config: MaintainedRecipe;
    readonly job: ScheduledJob;
    readonly rows: Map<string, MaintainerStatusRow>;
    /** Runs of this recipe, one after the other: a scheduled run and `runNow()` never overlap. */
    chain: Promise<void>;
}

/** A successful login, ready to be stored. */
interface Acquired {
    jar: CookieJar;
    auth: SessionAuth | undefined;
    identity: SessionIdentity;
    quick: boolean;
}

/**
 * Keeps the sessions of every configured recipe fresh in a session store, so that crawler processes elsewhere only
 * read them (Session-Maintainer, without a message broker).
 *
 * On each run of a recipe's schedule, every session of the recipe is checked with the recipe's check, and only the
 * sessions that fail it (or have nothing stored) are re-acquired; recipes without a check re-acquire every session
 * on every run. A refresh:
 *
 * - logs in into a fresh cookie jar, through the session's profile, in the queue of the recipe's mode (browser
 *   logins and HTTP logins have separate concurrency limits);
 * - retries logins that could not reach the site with exponential backoff and jitter, and gives up after
 *   `retry.maxAttempts`;
 * - stores the result as the session's next generation only when the login succeeded and left cookies or
 *   extracted values: a failed or empty refresh never replaces what is stored (it only records the error);
 * - takes the session's renewal lease, so that it never races a crawler process renewing the same session.
 *
 * Each check and refresh is reported in one log line (no secrets), and {@link Maintainer.status} (also kept in the
 * store, for `crawlee-sessions status`) tells where every session stands.
 *
 * ```ts
 * const maintainer = await Maintainer.open({
 *     store: { mysql: 'mysql://user:pass@db:3306/sessions' },
 *     recipes: [{ recipe: shopLogin, sessions: ['alice', 'bob'], schedule: { kind: 'interval', everyMillis: 900_000 } }],
 * });
 * maintainer.start();
 * // … later
 * await maintainer.stop();
 * ```
 */
export class Maintainer {
    private readonly log = crawleeLog.child({ prefix: 'Maintainer' });
    private readonly entries: Entry[];
    private readonly queues: LoginQueues;
    private readonly checks: ConcurrencyQueue;
    private readonly abort = new AbortController();
    /** The request path of the maintainer's logins and checks: the store's header rules apply to them as to crawls. */
    private readonly headerPipeline: HeaderPipeline;
    private readonly pipeline: RequestPipeline;
    private nextProfile = 0;
    private started = false;
    private stopped = false;

    private constructor(
        /** The validated configuration. */
        readonly config: MaintainerConfig,
        /** The store the sessions are kept in. */
        readonly store: SessionStore,
        private readonly ownsStore: boolean,
    ) {
        this.queues = new LoginQueues({ browser: config.concurrency.browserLogins, http: config.concurrency.httpLogins });
        this.headerPipeline = new HeaderPipeline(store, { isClosed: () => this.stopped });
        this.pipeline = new RequestPipeline({ headers: this.headerPipeline });
        this.checks = new ConcurrencyQueue('checks', config.concurrency.checks);
        this.entries = config.recipes.map((recipe) => {
            const entry: Entry = {
                config: recipe,
                rows: new Map(),
                chain: Promise.resolve(),
                job: new ScheduledJob(recipe.schedule, () => this.runEntry(entry), {
                    runOnStart: recipe.runOnStart,
                    onError: (error) => this.log.error(`Run of recipe "${recipe.recipe.name}" failed: ${describeCause(error)}`),
                    onScheduled: (nextRunAt) => this.onScheduled(entry, nextRunAt),
                }),
            };
            for (const session of recipe.sessions) entry.rows.set(session, initialRow(recipe, session, entry.job.description));
            return entry;
        });
    }

    /**
     * Validates the configuration (see `defineMaintainerConfig`), opens its store and returns a maintainer that is
     * not running yet: call {@link start}, or {@link runNow} for a single pass.
     */
    static async open(config: MaintainerConfigInput | MaintainerConfig): Promise<Maintainer> {
        const validated = defineMaintainerConfig(config as MaintainerConfigInput);
        const given = validated.store;
        const isInstance = typeof given === 'object' && given !== null && typeof (given as SessionStore).write === 'function';
        const store = await openStore(given, validated.secret);
        const maintainer = new Maintainer(validated, store, !isInstance);
        maintainer.warnAboutSharedAccounts();
        await maintainer.restoreRows();
        return maintainer;
    }

    /** Several sessions of a recipe without accounts all log in as its one account: say so, it is rarely meant. */
    private warnAboutSharedAccounts(): void {
        for (const { config } of this.entries) {
            if (config.recipe.accounts || config.sessions.length < 2) continue;
            this.log.warning(
                `Recipe "${config.recipe.name}" has no accounts: its ${config.sessions.length} sessions (${config.sessions.join(', ')}) all log in ` +
                    "with the recipe's one set of credentials. To log each in as its own user, give the recipe accounts.",
            );
        }
    }

    /** The recipes' sessions, in configuration order. */
    get sessions(): Array<{ recipe: string; session: string }> {
        return this.entries.flatMap((entry) => entry.config.sessions.map((session) => ({ recipe: entry.config.recipe.name, session })));
    }

    /** The most logins that ran at once so far, per queue. */
    get peakLogins(): { browser: number; http: number } {
        return { browser: this.queues.browser.peak, http: this.queues.http.peak };
    }

    /**
     * Starts every recipe's schedule. The schedule's timers do not keep the process alive by themselves (a run under
     * way does): a program that only maintains sessions keeps itself alive until it calls {@link stop}, as
     * `crawlee-sessions maintain` does.
     */
    start(): void {
        if (this.stopped) throw new Error('This maintainer was stopped; open a new one.');
        if (this.started) return;
        this.started = true;
        for (const entry of this.entries) entry.job.start();
        const summary = this.entries.map((entry) => `${entry.config.recipe.name} (${entry.config.sessions.length} session(s), ${entry.job.description})`);
        this.log.info(`Maintaining ${summary.join(', ')} in the session ${this.store.description}.`);
    }

    /**
     * Runs one recipe now (or every recipe, without a name), outside its schedule, and resolves when it is done. A
     * run of the same recipe already under way finishes first: runs of one recipe never overlap.
     */
    async runNow(recipe?: string): Promise<void> {
        const entries = recipe === undefined ? this.entries : this.entries.filter((entry) => entry.config.recipe.name === recipe);
        if (entries.length === 0) throw new Error(`No recipe named "${recipe}" is maintained.`);
        await Promise.all(entries.map((entry) => this.runEntry(entry)));
    }

    /** Which cookies are session tokens: the defaults (ZAP's), as crawlers know them without site additions. */
    private readonly tokenNames = new TokenNames();

    /** One row per maintained session: recipe, session, last check, state, last refresh, next run, failures. */
    status(): MaintainerStatusRow[] {
        return this.entries.flatMap((entry) =>
            [...entry.rows.values()].map((row) => ({ ...row, nextRunAt: this.stopped ? null : (entry.job.nextRunAt ?? null) })),
        );
    }

    /**
     * Stops the schedules, cuts short the waits between login retries, waits for the checks and logins under way,
     * records the final status and closes the store (if the maintainer opened it).
     */
    async stop(): Promise<void> {
        if (this.stopped) return;
        this.stopped = true;
        this.abort.abort();
        await Promise.all(this.entries.map((entry) => entry.job.stop()));
        await Promise.all(this.entries.map((entry) => entry.chain));
        await Promise.all(this.entries.flatMap((entry) => [...entry.rows.values()].map((row) => this.saveRow(entry, row))));
        this.headerPipeline.close();
        if (this.ownsStore) await this.store.close();
        this.log.info('Stopped.');
    }

    private runEntry(entry: Entry): Promise<number | undefined> {
        const run = entry.chain.then(() => this.maintainRecipe(entry));
        entry.chain = run.then(
            () => undefined,
            () => undefined,
        );
        return run;
    }

    /** One run of a recipe's schedule; resolves with when it wants to run next (`beforeExpiry`), if sooner. */
    private async maintainRecipe(entry: Entry): Promise<number | undefined> {
        if (this.stopped) return undefined;
        const { schedule } = entry.config;
        if (schedule.kind === 'beforeExpiry') return this.maintainBeforeExpiry(entry, schedule);
        await Promise.all(entry.config.sessions.map((session) => this.maintainSession(entry, session)));
        return undefined;
    }

    /**
     * A `beforeExpiry` run: refreshes the sessions whose stored login is due to end (or has nothing stored), checks
     * those whose login announces no end once per `checkEveryMillis`, and returns when the next login is due.
     */
    private async maintainBeforeExpiry(entry: Entry, schedule: BeforeExpirySchedule): Promise<number | undefined> {
        const margin = { ...BEFORE_EXPIRY_DEFAULTS, ...schedule };
        const dues = await Promise.all(
            entry.config.sessions.map(async (session): Promise<number | undefined> => {
                const row = entry.rows.get(session)!;
                const record = await this.readForMaintenance(entry, row);
                if (record === null) return undefined;
                const expiry = record && !isEmpty(record) ? this.expiryOf(entry, record) : undefined;
                if (record && !isEmpty(record) && !expiry) {
                    // No announced end: checked as an interval schedule would, once per checkEveryMillis.
                    const checkedAgo = row.lastCheckAt === null ? Infinity : Date.now() - row.lastCheckAt;
                    if (checkedAgo >= margin.checkEveryMillis / 2) await this.checkOrRefresh(entry, row, record);
                    return undefined;
                }
                if (expiry && renewalDueAt(expiry, margin) > Date.now()) {
                    this.update(entry, row, { state: 'valid', generation: record!.generation });
                    return renewalDueAt(expiry, margin);
                }
                const reason = expiry
                    ? `its login ${expiry.at <= Date.now() ? 'ended' : 'ends'} at ${new Date(expiry.at).toISOString()} (${expiry.source})`
                    : 'nothing stored';
                const stored = await this.refresh(entry, row, record, reason);
                if (!stored) {
                    // Failed, or another process is renewing it: look again halfway to the end (as renewal ahead retries).
                    const left = expiry ? expiry.at - Date.now() : margin.checkEveryMillis;
                    return Date.now() + Math.min(margin.checkEveryMillis, Math.max(BEFORE_EXPIRY_RETRY_MILLIS, left / 2));
                }
                const next = this.expiryOf(entry, stored);
                return next ? renewalDueAt(next, margin) : undefined;
            }),
        );
        const soonest = Math.min(...dues.filter((due): due is number => due !== undefined));
        return Number.isFinite(soonest) ? soonest : undefined;
    }

    /** When a stored session's login ends, as announced (see `sessionExpiry`); undefined: nothing announced. */
    private expiryOf(entry: Entry, record: SessionRecord): SessionExpiry | undefined {
        const now = Date.now();
        const { expiry } = entry.config.recipe;
        const cookies = record.cookies.flatMap((json) => {
            const cookie = Cookie.fromJSON(json);
            return cookie ? [cookie] : [];
        });
        return sessionExpiry({
            cookies,
            auth: record.auth ?? undefined,
            isCredential: credentialTest(expiry.cookies, this.tokenNames),
            now,
        });
    }

    /** Reads a session for a run; null when the store cannot be read (recorded in its status row). */
    private async readForMaintenance(entry: Entry, row: MaintainerStatusRow): Promise<SessionRecord | undefined | null> {
        try {
            return await this.store.read(row.session);
        } catch (error) {
            this.update(entry, row, { state: 'check-error', lastCheckAt: Date.now(), lastCheck: `store unavailable: ${describeCause(error)}` });
            this.log.warning(
                `check ${entry.config.recipe.name}/${row.session}: the session ${this.store.description} cannot be read (${describeCause(error)}); left as it is.`,
            );
            return null;
        }
    }

    /** Checks one session and refreshes it if it needs it. */
    private async maintainSession(entry: Entry, session: string): Promise<void> {
        const row = entry.rows.get(session)!;
        const record = await this.readForMaintenance(entry, row);
        if (record !== null) await this.checkOrRefresh(entry, row, record);
    }

    /** Checks a stored session (unless the recipe refreshes always) and refreshes it when it fails or is empty. */
    private async checkOrRefresh(entry: Entry, row: MaintainerStatusRow, record: SessionRecord | undefined): Promise<void> {
        const { recipe } = entry.config;
        const label = `${recipe.name}/${row.session}`;
        let reason: string;
        if (!record || isEmpty(record)) {
            reason = 'nothing stored';
        } else if (entry.config.refresh === 'always') {
            reason = 'refreshed on every run';
        } else {
            this.update(entry, row, { state: 'checking' });
            let outcome: CheckOutcome;
            try {
                const stored = record;
                outcome = await this.checks.run(() => this.check(entry, stored));
            } catch (error) {
                this.update(entry, row, { state: 'check-error', lastCheckAt: Date.now(), lastCheck: `error: ${describeCause(error)}` });
                this.log.warning(`check ${label}: could not be sent (${describeCause(error)}); left as it is.`);
                return;
            }
            const verdict = outcome.valid ? 'valid' : 'invalid';
            this.update(entry, row, { lastCheckAt: Date.now(), lastCheck: `${verdict}: ${outcome.reason}`, generation: record.generation });
            this.log.info(`check ${label}: ${verdict} (${outcome.reason})${outcome.valid ? '' : '; refreshing'}.`);
            if (outcome.valid) {
                this.update(entry, row, { state: 'valid' });
                return;
            }
            reason = 'check failed';
        }
        await this.refresh(entry, row, record, reason);
    }

    /**
     * Sends the recipe's check with a stored session (its cookies, identity, proxy and auth). When the session is
     * valid, cookies the answer changed (a rotated session cookie) are written back.
     */
    private async check(entry: Entry, record: SessionRecord): Promise<CheckOutcome> {
        const profile = this.profileAt(record.profileIndex);
        const identity = record.identity ?? createIdentity(profile);
        const session = createDetachedSession(record.id, { jar: jarOf(record.cookies), auth: record.auth ?? undefined });
        const http = createSessionClient({ pipeline: this.pipeline, session, identity, proxyUrl: profile?.proxy, headerToken: {} });
        const outcome = await new SessionCheck(entry.config.recipe.check!).run(http, record.auth ?? undefined);
        if (outcome.valid) await this.writeBackCookies(record, session.jar);
        return outcome;
    }

    /** Stores the cookies a check's answer set or removed, within the same generation. */
    private async writeBackCookies(record: SessionRecord, jar: CookieJar): Promise<void> {
        const before = new Map(record.cookies.map((cookie) => [cookieKeyOf(cookie), cookie]));
        const after = serializeJar(jar);
        const afterKeys = new Set(after.map(cookieKeyOf));
        const upserts = after.filter((cookie) => {
            const old = before.get(cookieKeyOf(cookie));
            return !old || old.value !== cookie.value || old.expires !== cookie.expires;
        });
        const removals: CookieKey[] = record.cookies
            .filter((cookie) => !afterKeys.has(cookieKeyOf(cookie)))
            .map((cookie) => ({ domain: cookie.domain ?? '', path: cookie.path ?? '/', key: cookie.key }));
        if (upserts.length === 0 && removals.length === 0) return;
        await this.store
            .write([{ ...sameGenerationDelta(record), upserts, removals }])
            .catch((error: unknown) => this.log.debug(`Cookies changed by the check of "${record.id}" could not be stored: ${describeCause(error)}`));
    }

    /** Re-acquires one session, and stores the result only if the login succeeded; resolves with what is stored then. */
    private async refresh(
        entry: Entry,
        row: MaintainerStatusRow,
        record: SessionRecord | undefined,
        reason: string,
    ): Promise<SessionRecord | undefined> {
        const { recipe } = entry.config;
        const session = row.session;
        const label = `${recipe.name}/${session}`;
        const fromGeneration = record?.generation ?? 0;
        this.update(entry, row, { state: 'refreshing' });

        const lease: LeaseRequest = { store: this.store, id: session, fromGeneration, owner: LEASE_OWNER, leaseMillis: this.config.leaseMillis };
        try {
            const answer = await requestLease(lease);
            if (!answer.granted) {
                const generation = answer.record?.generation ?? null;
                this.update(entry, row, { state: 'busy', generation });
                this.log.info(
                    `refresh ${label}: skipped, ${answer.reason === 'advanced' ? `another process renewed it meanwhile (generation ${generation})` : 'another process is renewing it'}.`,
                );
                return answer.reason === 'advanced' ? answer.record : undefined;
            }
        } catch (error) {
            this.fail(entry, row, `the session ${this.store.description} is unavailable: ${describeCause(error)}`, 1, record);
            return undefined;
        }

        let attempts = 0;
        try {
            const profileIndex = record?.profileIndex ?? this.pickProfileIndex();
            const profile = this.profileAt(profileIndex);
            // Sites may bind a login to the client's identity: keep the session's identity unless its profile changed.
            const identity = record?.identity && record.profileIndex === profileIndex ? record.identity : createIdentity(profile);
            const policy = this.retryPolicy();
            const { value: acquired, attempts: made } = await underLease(lease, () =>
                retryWithBackoff(
                    (attempt) => {
                        attempts = attempt;
                        return this.queues.of(recipe.mode).run(() => this.login(entry, session, profile, identity, fromGeneration + 1, attempt));
                    },
                    {
                        ...policy,
                        isRetryable: (error) => isRetryableUnder(policy, error),
                        signal: this.abort.signal,
                        onRetry: (attempt, delay, error) =>
                            this.log.info(
                                `refresh ${label}: attempt ${attempt} ${isNetworkError(error) ? 'could not reach the site' : 'failed'} (${describeCause(error)}); retrying in ${delay} ms.`,
                            ),
                    },
                ),
            );
            const delta = renewedDelta(session, fromGeneration + 1, profileIndex, acquired);
            const stored = await completeUnderLease(lease, delta);
            if (stored.generation !== delta.generation) {
                this.update(entry, row, { state: 'busy', generation: stored.generation });
                this.log.warning(`refresh ${label}: the lease was lost while logging in; the session another process stored is kept.`);
                return stored;
            }
            this.update(entry, row, {
                state: 'refreshed',
                lastRefreshAt: Date.now(),
                lastError: null,
                failures: 0,
                generation: stored.generation,
            });
            this.log.info(
                `refresh ${label}: ok (${reason}; ${recipe.mode} login${acquired.quick ? ' restored by quick login' : ''}, ` +
                    `${made} attempt(s), generation ${stored.generation}, ${stored.cookies.length} cookie(s)${describeAuth(acquired.auth)}).`,
            );
            return stored;
        } catch (error) {
            const cause = error instanceof RetriesExhaustedError ? error.cause : error;
            this.fail(entry, row, describeCause(cause), error instanceof RetriesExhaustedError ? error.attempts : Math.max(1, attempts), record);
            return undefined;
        }
    }

    /** The maintainer's retry policy (the project's one retry policy; refused logins are not retried by default). */
    private retryPolicy(): RetryPolicy {
        const { retry } = this.config;
        return { maxAttempts: retry.maxAttempts, backoffMillis: retry.backoffMillis, maxBackoffMillis: retry.maxBackoffMillis, retryRefused: false };
    }

    /** One login attempt into a fresh jar. */
    private async login(
        entry: Entry,
        session: string,
        profile: Profile | undefined,
        identity: SessionIdentity,
        generation: number,
        attempt: number,
    ): Promise<Acquired> {
        const { recipe } = entry.config;
        const detached = createDetachedSession(session);
        const jar = detached.jar;
        const http = createSessionClient({ pipeline: this.pipeline, session: detached, identity, proxyUrl: profile?.proxy, headerToken: {} });
        const target: LoginTarget = {
            sessionId: session,
            generation,
            profile,
            identity,
            http,
            jar,
            attempt,
            signal: this.abort.signal,
            setAuth: (value) => {
                detached.auth = value && scopedAuth(value, http.origins);
            },
            // The TOTP time steps accounts used are recorded here, shared with crawlers and other maintainers.
            store: this.store,
        };
        const outcome = await performLogin(recipe, target, this.loginOptions(entry));
        const auth = detached.auth ?? outcome.auth;
        if (allCookies(jar).length === 0 && !hasValues(auth)) {
            throw new LoginError('extraction', recipe.name, 'the login left no cookies and extracted no values: there is nothing to store');
        }
        return { jar, auth, identity, quick: outcome.quick };
    }

    private loginOptions(entry: Entry): LoginOptions {
        return {
            ...(entry.config.credentials ? { credentials: { ...entry.config.credentials } } : {}),
            ...(entry.config.quickLogin ? { quickLogin: { store: this.store } } : {}),
            ...(this.config.executablePath ? { executablePath: this.config.executablePath } : {}),
        };
    }

    /** Records a failed refresh: the stored session (if any) keeps its values; only the error is stored with it. */
    private fail(entry: Entry, row: MaintainerStatusRow, message: string, attempts: number, record: SessionRecord | undefined): void {
        const label = `${entry.config.recipe.name}/${row.session}`;
        this.update(entry, row, { state: 'failed', lastError: message, failures: row.failures + 1, generation: record?.generation ?? null });
        this.log.warning(
            `refresh ${label}: failed after ${attempts} attempt(s): ${message}; ` +
                (record && !isEmpty(record) ? 'the stored session is kept.' : 'nothing is stored for it.'),
        );
        if (record) {
            void this.store
                .write([{ ...sameGenerationDelta(record), lastRenewalError: message }])
                .catch((error: unknown) => this.log.debug(`The refresh error of "${record.id}" could not be stored: ${describeCause(error)}`));
        }
    }

    private profileAt(index: number | null | undefined): Profile | undefined {
        return index === null || index === undefined ? undefined : this.config.profiles[index];
    }

    /** The next profile in turn for a session that has none yet; null without profiles. */
    private pickProfileIndex(): number | null {
        if (this.config.profiles.length === 0) return null;
        return this.nextProfile++ % this.config.profiles.length;
    }

    private update(entry: Entry, row: MaintainerStatusRow, changes: Partial<MaintainerStatusRow>): void {
        Object.assign(row, changes, { updatedAt: Date.now() });
        if (changes.state !== 'checking' && changes.state !== 'refreshing') void this.saveRow(entry, row);
    }

    private onScheduled(entry: Entry, nextRunAt: number | undefined): void {
        for (const row of entry.rows.values()) {
            row.nextRunAt = nextRunAt ?? null;
            void this.saveRow(entry, row);
        }
    }

    /** Writes a status row to the store, for `crawlee-sessions status`; failures are only logged. */
    private async saveRow(entry: Entry, row: MaintainerStatusRow): Promise<void> {
        const value: MaintainerStatusRow = { ...row, nextRunAt: this.stopped ? null : (entry.job.nextRunAt ?? null) };
        await this.store
            .putEntry(MAINTAINER_STATUS_COLLECTION, statusKey(row.recipe, row.session), value)
            .catch((error: unknown) => this.log.debug(`Status of ${row.recipe}/${row.session} could not be stored: ${describeCause(error)}`));
    }

    /** Picks up the status rows a previous run stored, and deletes those of sessions no longer maintained. */
    private async restoreRows(): Promise<void> {
        let stored: MaintainerStatusRow[];
        try {
            stored = (await this.store.listEntries<MaintainerStatusRow>(MAINTAINER_STATUS_COLLECTION)).map((entry) => entry.value);
        } catch (error) {
            this.log.debug(`Stored status rows could not be read: ${describeCause(error)}`);
            return;
        }
        const current = new Map(this.entries.flatMap((entry) => [...entry.rows.values()].map((row) => [statusKey(row.recipe, row.session), row])));
        for (const old of stored) {
            const key = statusKey(old.recipe, old.session);
            const row = current.get(key);
            if (!row) {
                await this.store.deleteEntry(MAINTAINER_STATUS_COLLECTION, key).catch(() => undefined);
                continue;
            }
            Object.assign(row, {
                lastCheckAt: old.lastCheckAt ?? null,
                lastCheck: old.lastCheck ?? null,
                lastRefreshAt: old.lastRefreshAt ?? null,
                lastError: old.lastError ?? null,
                failures: old.failures ?? 0,
                generation: old.generation ?? null,
            });
        }
    }
}

function initialRow(recipe: MaintainedRecipe, session: string, schedule: string): MaintainerStatusRow {
    return {
        recipe: recipe.recipe.name,
        session,
        mode: recipe.recipe.mode,
        state: 'pending',
        lastCheckAt: null,
        lastCheck: null,
        lastRefreshAt: null,
        lastError: null,
        nextRunAt: null,
        failures: 0,
        generation: null,
        schedule,
        updatedAt: Date.now(),
    };
}

/** Whether a stored session holds nothing a request could use. */
function isEmpty(record: SessionRecord): boolean {
    return record.cookies.length === 0 && !hasValues(record.auth ?? undefined);
}

function hasValues(auth: SessionAuth | undefined): boolean {
    return !!auth && (Object.keys(auth.values).length > 0 || Object.keys(auth.headers).length > 0 || Object.keys(auth.query).length > 0);
}

/** The next generation of a session, as a successful login left it: a reset to exactly its cookies and auth. */
function renewedDelta(id: string, generation: number, profileIndex: number | null, acquired: Acquired): SessionDelta {
    return {
        id,
        generation,
        reset: true,
        assignment: { profileIndex, identity: acquired.identity, auth: acquired.auth ?? null },
        upserts: serializeJar(acquired.jar),
        removals: [],
        counters: { ...zeroCounters(), renewals: 1 },
        lastUsedAt: null,
        lastRenewalError: null,
    };
}

/** A delta that changes nothing by itself, at the record's generation (cookies and auth untouched). */
function sameGenerationDelta(record: SessionRecord): SessionDelta {
    return {
        id: record.id,
        generation: record.generation,
        reset: false,
        assignment: { profileIndex: record.profileIndex, identity: record.identity, auth: record.auth },
        upserts: [],
        removals: [],
        counters: zeroCounters(),
        lastUsedAt: null,
    };
}

/** A jar holding stored cookies. */
function jarOf(cookies: readonly StoredCookie[]): CookieJar {
    const jar = createJar();
    for (const json of cookies) {
        const cookie = Cookie.fromJSON(json);
        if (cookie) void jar.store.putCookie(cookie);
    }
    return jar;
}

function serializeJar(jar: CookieJar): StoredCookie[] {
    return (jar.serializeSync()?.cookies ?? []) as StoredCookie[];
}

/** `, auth: 1 header, 1 query parameter (token)` — names only. */
function describeAuth(auth: SessionAuth | undefined): string {
    if (!auth) return '';
    const parts: string[] = [];
    const headers = Object.keys(auth.headers);
    const query = Object.keys(auth.query);
    if (headers.length) parts.push(`header(s) ${headers.join(', ')}`);
    if (query.length) parts.push(`query parameter(s) ${query.join(', ')}`);
    const values = Object.keys(auth.values);
    if (values.length) parts.push(`value(s) ${values.join(', ')}`);
    return parts.length ? `, ${parts.join('; ')}` : '';
}
