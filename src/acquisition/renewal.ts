import { log as crawleeLog } from '@crawlee/core';
import type { Browser } from 'playwright';
import type { Cookie, CookieJar } from 'tough-cookie';

import type { SessionIdentity } from '../model/identity.js';
import type { SessionAuth } from '../model/types.js';
import { createIdentity } from '../profiles/identity.js';
import type { Profile } from '../profiles/profile.js';
import { scopedAuth, withTraits, type RenewalContext, type RenewalFunction } from '../renewal/renewal.js';
import { createDetachedSession } from '../request/detached-session.js';
import { originsOf } from '../request/origin-scope.js';
import { RequestPipeline } from '../request/pipeline.js';
import { createSessionClient } from '../request/session-client.js';
import { allCookies } from '../shared/cookies.js';
import { describeCause } from '../shared/describe.js';
import { DEFAULT_RETRY_POLICY, RetriesExhaustedError, isNetworkError, isRetryableUnder, retryWithBackoff, type RetryPolicy } from '../shared/retry.js';
import { ConfigValidationError } from '../shared/validation.js';
import { applyCookies, buildAuth } from './apply.js';
import { runBrowserLogin } from './browser-login.js';
import { SessionCheck, type SessionCheckOptions } from './check.js';
import { accountIssues, resolveAccount, toAccount, type AccountInput } from './accounts.js';
import { Redactor } from './credentials.js';
import { LoginError } from './errors.js';
import { describeMissing, extractAll, type ExtractedValue, type ExtractionEvidence } from './extract.js';
import { runHttpLogin } from './http-login.js';
import { runOAuth2Login } from './oauth2.js';
import { runAuthorization } from './oauth2-pkce.js';
import { runBrowserAuthorization } from './oauth2-browser.js';
import {
    loadLoginState,
    loginStateFromJar,
    loginStateKey,
    restoreCookies,
    saveLoginState,
    type LoginState,
    type QuickLoginOptions,
} from './quick-login.js';
import type { BrowserCredentials, LoginRecipe } from './recipe.js';
import { totpCodes } from './totp.js';
import type { TotpStepStore } from './totp-ledger.js';

/** Options of {@link loginRenewal} (and {@link acquire}). */
export interface LoginOptions {
    /**
     * Credentials that replace fields of the account the session logs in with (see `AccountInput`: literals,
     * `{ env }`, `{ file }`, functions, and `totp`). Precedence, lowest first: the recipe's `credentials`, the
     * session's account in `accounts`, these. They apply to **every** session this renewal serves: to log several
     * users in, give the recipe `accounts` instead. With `accounts`, a session still needs its own account.
     * @default none: the session's account, or the recipe's credentials
     */
    credentials?: AccountInput;
    /**
     * A store shared with other processes: the TOTP time step an account used is recorded there before its code is
     * sent, so that no other process replays it. Renewals of a `Sessions` and the maintainer use their own store
     * without this option.
     * @default the renewal's store (`RenewalContext.store`), else `quickLogin.store`, else none: no code is used
     * twice within this process
     */
    store?: TotpStepStore;
    /**
     * Quick login: the state of the last good login is kept in this store; a login first restores it and runs the
     * recipe's check, and logs in for real only when the check fails. Needs a recipe whose check has a request.
     * @default off
     */
    quickLogin?: QuickLoginOptions;
    /**
     * Browser mode: a running Chromium to open login contexts in.
     * @default one is launched per login
     */
    browser?: Browser;
    /**
     * Browser mode: the Chromium to launch.
     * @default see `findChromiumExecutable()`
     */
    executablePath?: string;
}

/** What one login produced. */
export interface LoginOutcome {
    /** True when a stored quick-login state was restored and verified instead of logging in. */
    quick: boolean;
    /** The headers and query parameters to apply to the session's requests (with their origins), and the extracted values. */
    auth: SessionAuth;
    /** The extracted values with their sources (the same as `auth.values`). */
    values: Record<string, ExtractedValue>;
}

/** What a login fills: the context of a renewal attempt (a crawler's, a maintainer's or `acquire()`'s). */
export type LoginTarget = RenewalContext;

/** The logger, taken at use time so that the level set by the application applies. */
const log = {
    info: (message: string) => crawleeLog.child({ prefix: 'Login' }).info(message),
    debug: (message: string) => crawleeLog.child({ prefix: 'Login' }).debug(message),
    warning: (message: string) => crawleeLog.child({ prefix: 'Login' }).warning(message),
};

/**
 * Makes a recipe a renewal: `sessions.clear(id, { renewal: loginRenewal(recipe) })` renews the session by running
 * the recipe with the session's own account (`accounts`; without them, the recipe's `credentials`) through the
 * session's new profile and identity (single flight, ahead of the queue, retried by the
 * retry policy: network failures and 5xx only, unless `renewal.retryRefused`). Cookies land in the session's jar;
 * extracted headers and query parameters go on the session's later requests to the login's origins.
 *
 * A failed attempt throws a {@link LoginError} whose message contains no credential or extracted value.
 */
export function loginRenewal(recipe: LoginRecipe, options: LoginOptions = {}): RenewalFunction {
    validateOptions(recipe, options);
    const check = recipe.check?.request ? new SessionCheck(recipe.check) : undefined;
    return withTraits(
        async (context: RenewalContext) => {
            await performLogin(recipe, context, options);
        },
        {
            name: recipe.name,
            afterSecs: recipe.expiry.afterSecs,
            expiryCookies: recipe.expiry.cookies,
            learnLifetime: recipe.expiry.learn,
            check: check && (async (http, auth) => (await check.run(http, auth)).valid),
        },
    );
}

/**
 * A {@link SessionCheck} for the recipe's check that renews sessions through the recipe, each with its own account
 * (see `accounts`): pass it to `withSessions(sessions, options, { check: loginCheck(recipe) })`. A session with a login
 * of its own (`bindRenewal`, `loginFor`) is renewed through that one instead.
 * @throws TypeError when the recipe has no check.
 */
export function loginCheck(recipe: LoginRecipe, options: LoginOptions & Omit<SessionCheckOptions, 'renewal'> = {}): SessionCheck {
    if (!recipe.check) throw new TypeError(`Login recipe "${recipe.name}" has no check.`);
    return new SessionCheck(recipe.check, loginRenewal(recipe, options));
}

/** Options of {@link acquire}. */
export interface AcquireOptions extends LoginOptions {
    /**
     * Names the session in logs and in the default quick-login key.
     * @default the recipe's name
     */
    sessionId?: string;
    /**
     * The proxy and user agent to log in with.
     * @default none: direct, generated identity
     */
    profile?: Profile;
    /**
     * The identity to present.
     * @default generated from the profile
     */
    identity?: SessionIdentity;
    /** When a failed login is tried again: the project's retry policy (see `RetryPolicy` for each default). */
    retry?: Partial<RetryPolicy>;
}

/** A session obtained by {@link acquire}. */
export interface AcquiredSession extends LoginOutcome {
    /** The session's cookies after the login. */
    cookies: Cookie[];
    /** The jar holding them. */
    jar: CookieJar;
    /** The identity the session was obtained with (sites may bind the session to it). */
    identity: SessionIdentity;
    /** Attempts made (1 without retries). */
    attempts: number;
}

/**
 * Runs a recipe on its own, outside a crawl (the maintainer's way): returns the session's cookies, auth and
 * identity. A failed attempt is retried under the retry policy (network failures and 5xx answers; refusals only
 * with `retryRefused`); a failure for good rejects with the last attempt's {@link LoginError}.
 */
export async function acquire(recipe: LoginRecipe, options: AcquireOptions = {}): Promise<AcquiredSession> {
    validateOptions(recipe, options);
    const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    const identity = options.identity ?? createIdentity(options.profile);
    const sessionId = options.sessionId ?? recipe.name;
    try {
        const { value, attempts } = await retryWithBackoff(
            async (attempt) => {
                const session = createDetachedSession(sessionId);
                const http = createSessionClient({
                    pipeline: new RequestPipeline(),
                    session,
                    identity,
                    proxyUrl: options.profile?.proxy,
                    headerToken: {},
                });
                const context: LoginTarget = {
                    sessionId,
                    generation: 0,
                    profile: options.profile,
                    identity,
                    http,
                    jar: session.jar,
                    attempt,
                    signal: new AbortController().signal,
                    setAuth: (auth) => {
                        session.auth = auth && scopedAuth(auth, http.origins);
                    },
                };
                const outcome = await performLogin(recipe, context, options);
                return { ...outcome, auth: session.auth ?? outcome.auth, cookies: allCookies(session.jar), jar: session.jar, identity };
            },
            {
                ...policy,
                isRetryable: (error) => isRetryableUnder(policy, error),
                onRetry: (attempt, delay, error) =>
                    log.debug(`Login "${recipe.name}" failed (attempt ${attempt}: ${describeCause(error)}); retrying in ${delay} ms.`),
            },
        );
        return { ...value, attempts };
    } catch (error) {
        throw error instanceof RetriesExhaustedError ? error.cause : error;
    }
}

function validateOptions(recipe: LoginRecipe, options: LoginOptions): void {
    const issues: Array<{ path: string; message: string }> = [];
    if (options.quickLogin) {
        if (typeof options.quickLogin.store?.getEntry !== 'function' || typeof options.quickLogin.store.putEntry !== 'function') {
            issues.push({ path: 'quickLogin.store', message: 'must be a session store' });
        }
        if (!recipe.check?.request) {
            issues.push({ path: 'quickLogin', message: `needs a recipe whose check has a request: recipe "${recipe.name}" cannot verify a restored state` });
        }
    }
    if (options.credentials !== undefined) issues.push(...accountIssues(options.credentials, ['credentials'], { allowTotp: true, requireFields: false }));
    if (options.store !== undefined && (typeof options.store?.getEntry !== 'function' || typeof options.store.putEntry !== 'function')) {
        issues.push({ path: 'store', message: 'must be a session store' });
    }
    if (issues.length) throw new ConfigValidationError('login options', issues);
}

/**
 * Runs a recipe for one session: quick login first when configured, else (or when the restored state fails its
 * check) the full login; then extraction, `apply` (the login's values go on the session, scoped to the origins of
 * the login's requests and check plus `apply.origins`), verification, and saving the state for the next quick
 * login.
 */
export async function performLogin(recipe: LoginRecipe, context: LoginTarget, options: LoginOptions = {}): Promise<LoginOutcome> {
    const redactor = new Redactor();
    try {
        // The session's own account, read before any request: a session without one never sends anything.
        const account = await resolveAccount(recipe, context.sessionId, options.credentials ? toAccount(options.credentials) : undefined);
        redactor.add(...Object.values(account.fields), account.totp?.secret);
        const totp = account.totp
            ? totpCodes(account.totp, {
                  recipe: recipe.name,
                  owner: account.label,
                  redactor,
                  signal: context.signal,
                  store: options.store ?? context.store ?? options.quickLogin?.store,
              })
            : undefined;

        const stateKey = options.quickLogin ? loginStateKey(options.quickLogin, recipe, context.sessionId) : undefined;
        if (options.quickLogin && stateKey) {
            const restored = await tryQuickLogin(recipe, context, options.quickLogin, stateKey, redactor);
            if (restored) return restored;
        }

        /** What a login function receives: the account's fields and `totp()`. */
        const browserCredentials = () =>
            ({
                ...account.fields,
                totp:
                    totp ??
                    (() => Promise.reject(new LoginError('credentials', recipe.name, `the login function asked for a TOTP code, but ${account.label} has no totp`))),
            }) as unknown as BrowserCredentials;
        /** What a login in Chromium needs, for a browser recipe and a browser-mode PKCE authorization alike. */
        const inBrowser = () => ({
            recipe,
            credentials: browserCredentials(),
            identity: context.identity,
            proxyUrl: context.profile?.proxy,
            jar: context.jar,
            redactor,
            browser: options.browser,
            executablePath: options.executablePath,
        });
        const values: Record<string, ExtractedValue> = {};
        let evidence: ExtractionEvidence;
        let storage: LoginState['origins'] = [];
        let expiry: Pick<SessionAuth, 'expiresAt' | 'issuedAt' | 'expirySource'> = {};
        if (recipe.oauth2) {
            const outcome = await runOAuth2Login({
                recipe: recipe.name,
                settings: recipe.oauth2,
                fields: account.fields,
                owner: account.label,
                sessionId: context.sessionId,
                http: context.http,
                redactor,
                store: options.store ?? context.store,
                authorize: () => {
                    const settings = recipe.oauth2!;
                    const { authorizeUrl, redirectUri } = settings;
                    if (!authorizeUrl || !redirectUri) throw new LoginError('rejected', recipe.name, 'the authorization_code_pkce grant needs authorizeUrl and redirectUri');
                    if (recipe.mode === 'browser') {
                        return runBrowserAuthorization({ ...inBrowser(), settings: { ...settings, authorizeUrl, redirectUri } });
                    }
                    return runAuthorization({
                        recipe,
                        settings: { ...settings, authorizeUrl, redirectUri },
                        http: context.http,
                        jar: context.jar,
                        credentials: account.fields,
                        totp,
                        redactor,
                    });
                },
            });
            values.access_token = { value: outcome.accessToken, source: `oauth2:${outcome.via}` };
            if (outcome.expiresAt !== undefined) expiry = { expiresAt: outcome.expiresAt, issuedAt: outcome.issuedAt, expirySource: 'expires_in' };
            evidence = { exchanges: [], cookies: allCookies(context.jar) };
        } else if (recipe.mode === 'http') {
            const outcome = await runHttpLogin({ recipe, credentials: account.fields, totp, http: context.http, jar: context.jar, redactor });
            Object.assign(values, outcome.values);
            evidence = { exchanges: outcome.exchanges, cookies: allCookies(context.jar) };
        } else {
            const outcome = await runBrowserLogin(inBrowser());
            storage = outcome.state.origins;
            evidence = {
                exchanges: outcome.exchanges,
                cookies: allCookies(context.jar),
                localStorage: outcome.localStorage,
                sessionStorage: outcome.sessionStorage,
            };
        }
        const { missing } = extractAll(recipe.extract, evidence, values);
        redactor.add(...Object.values(values).map((entry) => entry.value));
        if (missing.length) throw new LoginError('extraction', recipe.name, `not found: ${describeMissing(recipe.extract, missing)}`);

        applyCookies(recipe.apply, values, context.jar);
        const auth: SessionAuth = { ...buildAuth(recipe.apply, values, loginOrigins(recipe, context, values)), ...expiry };
        context.setAuth(auth);
        if (recipe.verify && recipe.check) {
            const outcome = await runCheck(recipe, context, auth, redactor);
            if (!outcome.valid) throw new LoginError('verification', recipe.name, `the check after the login says: ${outcome.reason}`);
        }
        if (options.quickLogin && stateKey) {
            const state: LoginState = { ...loginStateFromJar(recipe, context.jar, values), origins: storage, scope: auth.origins };
            await saveLoginState(options.quickLogin.store, stateKey, state).catch((error: unknown) => {
                log.warning(`Login state of "${recipe.name}" could not be stored for quick login: ${redactor.scrub(describeCause(error))}`);
            });
        }
        log.info(`Session "${context.sessionId}" logged in with "${recipe.name}" (${recipe.mode} mode, ${account.label})${describeValues(values)}.`);
        return { quick: false, auth, values };
    } catch (error) {
        if (error instanceof LoginError) throw error;
        const kind = isNetworkError(error) ? 'network' : 'rejected';
        throw new LoginError(kind, recipe.name, redactor.scrub(describeCause(error)));
    }
}

/**
 * The origins a login's values belong to: those its requests went to (HTTP mode: every step; browser mode: the
 * start and collection URLs) and its check's, plus the recipe's `apply.origins` (added by `buildAuth`).
 */
function loginOrigins(recipe: LoginRecipe, context: LoginTarget, values: Record<string, ExtractedValue>): string[] {
    // OAuth2: the token's origin, not the authorization server's pages (nor its login form's).
    const urls: string[] = recipe.oauth2 ? [recipe.oauth2.tokenUrl] : [...context.http.origins];
    if (recipe.startUrl) urls.push(recipe.startUrl);
    urls.push(...recipe.collect);
    const check = recipe.check?.request;
    if (check) {
        const plain = Object.fromEntries(Object.entries(values).map(([name, entry]) => [name, entry.value]));
        urls.push(check.url.replace(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g, (whole, name: string) => plain[name] ?? whole));
    }
    return originsOf(urls);
}

/** Restores the stored state and verifies it; undefined when there is none or it no longer passes the check. */
async function tryQuickLogin(
    recipe: LoginRecipe,
    context: LoginTarget,
    quickLogin: QuickLoginOptions,
    key: string,
    redactor: Redactor,
): Promise<LoginOutcome | undefined> {
    let state: LoginState | undefined;
    try {
        state = await loadLoginState(quickLogin.store, key, recipe);
    } catch (error) {
        log.warning(`Quick login of "${recipe.name}": the stored state could not be read (${describeCause(error)}); logging in.`);
        return undefined;
    }
    if (!state) return undefined;
    redactor.add(...Object.values(state.values).map((entry) => entry.value));
    restoreCookies(state, context.jar);
    const auth = buildAuth(recipe.apply, state.values, state.scope ?? loginOrigins(recipe, context, state.values));
    context.setAuth(auth);
    const outcome = await runCheck(recipe, context, auth, redactor);
    if (outcome.valid) {
        log.info(`Session "${context.sessionId}" restored from the last login of "${recipe.name}" (quick login; check passed).`);
        return { quick: true, auth, values: state.values };
    }
    log.info(`Quick login of "${recipe.name}" for session "${context.sessionId}": the stored state fails its check (${outcome.reason}); logging in.`);
    context.setAuth(undefined);
    await context.jar.removeAllCookies();
    return undefined;
}

/** Sends the recipe's check with the session; network failures become `network` LoginErrors. */
async function runCheck(recipe: LoginRecipe, context: LoginTarget, auth: SessionAuth, redactor: Redactor) {
    try {
        return await new SessionCheck(recipe.check!).run(context.http, auth);
    } catch (error) {
        const kind = isNetworkError(error) ? 'network' : 'verification';
        throw new LoginError(kind, recipe.name, redactor.scrub(`the check request failed: ${describeCause(error)}`));
    }
}

/** `: token (body:$.token @ POST /api/login), csrf (form:csrf @ GET /login)` — names and sources, no values. */
function describeValues(values: Record<string, ExtractedValue>): string {
    const entries = Object.entries(values);
    return entries.length ? `: ${entries.map(([name, entry]) => `${name} (${entry.source})`).join(', ')}` : '';
}
