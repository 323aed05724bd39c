import { setTimeout as sleep } from 'node:timers/promises';

import { log as crawleeLog } from 'crawlee';
import { describeCause } from '../shared/describe.js';
import type { Browser } from 'playwright';
import { CookieJar, type Cookie } from 'tough-cookie';

import { allCookies } from '../shared/cookies.js';
import { createIdentity, type SessionIdentity } from '../profiles/identity.js';
import type { Profile } from '../profiles/profile.js';
import { backoffDelay, type RenewalContext, type RenewalFunction, type RenewalRetryOptions } from '../renewal/renewal.js';
import { createSessionHttpClient } from '../request/session-client.js';
import type { SessionAuth } from '../model/types.js';
import { ConfigValidationError } from '../shared/validation.js';
import { applyCookies, authHasEffect, buildAuth } from './apply.js';
import { runBrowserLogin } from './browser-login.js';
import { SessionCheck, type SessionCheckOptions } from './check.js';
import { Redactor, resolveCredentials, toCredentialSource, type CredentialInput } from './credentials.js';
import { LoginError, isNetworkError } from './errors.js';
import { describeMissing, extractAll, type ExtractedValue, type ExtractionEvidence } from './extract.js';
import { runHttpLogin } from './http-login.js';
import {
    loadLoginState,
    loginStateFromJar,
    loginStateKey,
    restoreCookies,
    saveLoginState,
    type LoginState,
    type QuickLoginOptions,
} from './quick-login.js';
import type { LoginRecipe } from './recipe.js';

/** Options of {@link loginRenewal} (and {@link acquire}). */
export interface LoginOptions {
    /**
     * Credentials to use instead of (or besides) the recipe's: literal strings or `{ env: 'VARIABLE' }`, e.g. one
     * recipe for several users. Default: the recipe's own.
     */
    credentials?: Record<string, CredentialInput>;
    /**
     * Quick login: the state of the last good login is kept in this store; a login first restores it and runs the
     * recipe's check, and logs in for real only when the check fails. Needs a recipe whose check has a request.
     * Default: off.
     */
    quickLogin?: QuickLoginOptions;
    /** Browser mode: a running Chromium to open login contexts in. Default: one is launched per login. */
    browser?: Browser;
    /** Browser mode: the Chromium to launch. Default: see `findChromiumExecutable()`. */
    executablePath?: string;
}

/** What one login produced. */
export interface LoginOutcome {
    /** True when a stored quick-login state was restored and verified instead of logging in. */
    quick: boolean;
    /** The headers and query parameters to apply to the session's requests, and the extracted values. */
    auth: SessionAuth;
    /** The extracted values with their sources (the same as `auth.values`). */
    values: Record<string, ExtractedValue>;
}

/**
 * What a login fills: a renewal context, plus `setAuth`, through which the session receives the extracted
 * headers and query parameters (`RenewalContext.setAuth` of the core).
 */
export type LoginTarget = RenewalContext & { setAuth?: (auth: SessionAuth) => void };

/** The logger, taken at use time so that the level set by the application applies. */
const log = {
    info: (message: string) => crawleeLog.child({ prefix: 'Login' }).info(message),
    debug: (message: string) => crawleeLog.child({ prefix: 'Login' }).debug(message),
    warning: (message: string) => crawleeLog.child({ prefix: 'Login' }).warning(message),
};

/**
 * Makes a recipe a renewal: `sessions.clear(id, { renewal: loginRenewal(recipe) })` renews the session by running
 * the recipe through the session's new profile and identity (single flight, ahead of the queue, retried with
 * backoff by the core). Cookies land in the session's jar; extracted headers and query parameters are applied to
 * the session's later requests.
 *
 * A failed attempt throws a {@link LoginError} whose message contains no credential or extracted value.
 */
export function loginRenewal(recipe: LoginRecipe, options: LoginOptions = {}): RenewalFunction {
    validateOptions(recipe, options);
    return async (context) => {
        await performLogin(recipe, context, options);
    };
}

/**
 * A {@link SessionCheck} for the recipe's check that renews sessions through the recipe: pass it to
 * `withSessions(sessions, options, { check: loginCheck(recipe) })`.
 * @throws TypeError when the recipe has no check.
 */
export function loginCheck(recipe: LoginRecipe, options: LoginOptions & Omit<SessionCheckOptions, 'renewal'> = {}): SessionCheck {
    if (!recipe.check) throw new TypeError(`Login recipe "${recipe.name}" has no check.`);
    return new SessionCheck(recipe.check, loginRenewal(recipe, options));
}

/** Options of {@link acquire}. */
export interface AcquireOptions extends LoginOptions {
    /** Names the session in logs and in the default quick-login key. Default: the recipe's name. */
    sessionId?: string;
    /** The proxy and user agent to log in with. Default: none (direct, generated identity). */
    profile?: Profile;
    /** The identity to present. Default: generated from the profile. */
    identity?: SessionIdentity;
    /**
     * Retries of network failures (connection refused or reset, timeouts), with exponential backoff and jitter;
     * other failures are not retried. Defaults: 3 attempts, 250 ms first backoff, 5 s at most.
     */
    retry?: Partial<RenewalRetryOptions>;
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
 * identity. Network failures are retried with backoff; a failure for good rejects with a {@link LoginError}.
 */
export async function acquire(recipe: LoginRecipe, options: AcquireOptions = {}): Promise<AcquiredSession> {
    validateOptions(recipe, options);
    const retry: RenewalRetryOptions = { maxAttempts: 3, backoffMs: 250, maxBackoffMs: 5000, ...options.retry };
    const identity = options.identity ?? createIdentity(options.profile);
    for (let attempt = 1; ; attempt++) {
        const jar = new CookieJar(undefined, { looseMode: true });
        let auth: SessionAuth | undefined;
        const context: LoginTarget = {
            sessionId: options.sessionId ?? recipe.name,
            generation: 0,
            profile: options.profile,
            identity,
            http: createSessionHttpClient({ jar, identity, proxyUrl: options.profile?.proxy, headerToken: {} }),
            jar,
            attempt,
            setAuth: (value) => {
                auth = value;
            },
        };
        try {
            const outcome = await performLogin(recipe, context, options);
            return { ...outcome, auth: auth ?? outcome.auth, cookies: allCookies(jar), jar, identity, attempts: attempt };
        } catch (error) {
            if (!isNetworkError(error) || attempt >= retry.maxAttempts) throw error;
            const delay = backoffDelay(attempt, retry);
            log.debug(`Login "${recipe.name}" could not reach the site (attempt ${attempt}); retrying in ${delay} ms.`);
            await sleep(delay);
        }
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
    for (const [name, value] of Object.entries(options.credentials ?? {})) {
        const ok = (typeof value === 'string' && value.length > 0) || (value && typeof value === 'object' && typeof value.env === 'string');
        if (!ok) issues.push({ path: 'credentials', message: `"${name}" must be a non-empty string or { env: "VARIABLE_NAME" } (its value is not shown)` });
    }
    if (issues.length) throw new ConfigValidationError('login options', issues);
}

/**
 * Runs a recipe for one session: quick login first when configured, else (or when the restored state fails its
 * check) the full login; then extraction, `apply`, verification, and saving the state for the next quick login.
 */
export async function performLogin(recipe: LoginRecipe, context: LoginTarget, options: LoginOptions = {}): Promise<LoginOutcome> {
    const redactor = new Redactor();
    try {
        const sources = { ...recipe.credentials };
        for (const [name, value] of Object.entries(options.credentials ?? {})) sources[name] = toCredentialSource(value);
        const credentials = resolveCredentials(recipe.name, sources);
        redactor.add(...Object.values(credentials));

        const stateKey = options.quickLogin ? loginStateKey(options.quickLogin, recipe, context.sessionId) : undefined;
        if (options.quickLogin && stateKey) {
            const restored = await tryQuickLogin(recipe, context, options.quickLogin, stateKey, redactor);
            if (restored) return restored;
        }

        const values: Record<string, ExtractedValue> = {};
        let evidence: ExtractionEvidence;
        let origins: LoginState['origins'] = [];
        if (recipe.mode === 'http') {
            const outcome = await runHttpLogin({ recipe, credentials, http: context.http, jar: context.jar, redactor });
            Object.assign(values, outcome.values);
            evidence = { exchanges: outcome.exchanges, cookies: allCookies(context.jar) };
        } else {
            const outcome = await runBrowserLogin({
                recipe,
                credentials,
                identity: context.identity,
                proxyUrl: context.profile?.proxy,
                jar: context.jar,
                redactor,
                browser: options.browser,
                executablePath: options.executablePath,
            });
            origins = outcome.state.origins;
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
        const auth = buildAuth(recipe.apply, values);
        if (recipe.verify && recipe.check) {
            const outcome = await runCheck(recipe, context, auth, redactor);
            if (!outcome.valid) throw new LoginError('verification', recipe.name, `the check after the login says: ${outcome.reason}`);
        }
        deliverAuth(recipe, context, auth);
        if (options.quickLogin && stateKey) {
            const state = { ...loginStateFromJar(recipe, context.jar, values), origins };
            await saveLoginState(options.quickLogin.store, stateKey, state).catch((error: unknown) => {
                log.warning(`Login state of "${recipe.name}" could not be stored for quick login: ${redactor.scrub(describeCause(error))}`);
            });
        }
        log.info(`Session "${context.sessionId}" logged in with "${recipe.name}" (${recipe.mode} mode)${describeValues(values)}.`);
        return { quick: false, auth, values };
    } catch (error) {
        if (error instanceof LoginError) throw error;
        const kind = isNetworkError(error) ? 'network' : 'rejected';
        throw new LoginError(kind, recipe.name, redactor.scrub(describeCause(error)));
    }
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
    const auth = buildAuth(recipe.apply, state.values);
    const outcome = await runCheck(recipe, context, auth, redactor);
    if (outcome.valid) {
        deliverAuth(recipe, context, auth);
        log.info(`Session "${context.sessionId}" restored from the last login of "${recipe.name}" (quick login; check passed).`);
        return { quick: true, auth, values: state.values };
    }
    log.info(`Quick login of "${recipe.name}" for session "${context.sessionId}": the stored state fails its check (${outcome.reason}); logging in.`);
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

function deliverAuth(recipe: LoginRecipe, context: LoginTarget, auth: SessionAuth): void {
    if (context.setAuth) context.setAuth(auth);
    else if (authHasEffect(auth)) {
        throw new LoginError(
            'rejected',
            recipe.name,
            'the recipe applies headers or query parameters, but this renewal context cannot carry them (no setAuth)',
        );
    }
}

/** `: token (body:$.token @ POST /api/login), csrf (form:csrf @ GET /login)` — names and sources, no values. */
function describeValues(values: Record<string, ExtractedValue>): string {
    const entries = Object.entries(values);
    return entries.length ? `: ${entries.map(([name, entry]) => `${name} (${entry.source})`).join(', ')}` : '';
}
