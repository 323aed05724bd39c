import { GotScrapingHttpClient, type BaseHttpClient, type IRequestManager } from '@crawlee/core';

import { internalsOf, type SessionsInternals } from '../core/internals.js';
import { attemptStorage, pinAttempt, sessionIdOf, unpinAttempt, type RequestAttempt } from '../session/attempt.js';
import type { Sessions } from '../core/sessions.js';
import { ConfigValidationError } from '../shared/validation.js';
import { SessionCheck } from '../acquisition/check.js';
import { withSessionCheck } from './check-handler.js';
import { chromiumLaunchArgs, findChromiumExecutable } from '../browser/executable.js';
import { attemptOf, runInAttempt } from './attempts.js';
import { recordAnswer, recordFailure } from './failures.js';
import { SessionView } from './session-view.js';
import { addSessionsToFinalStatistics, statusWithSessions } from './status.js';
import { BrowserBinding } from './browser-hooks.js';
import { SessionBoundHttpClient } from './http-client.js';
import { createHttpPreNavigationHook } from './http-hooks.js';
import { cooldownOf, paceCrawlRequest, PacingRetryError, refuseLogout } from './pacing-gate.js';
import { isSessionRequestManager, SessionRequestManager } from './request-manager.js';

/** Which kind of crawler the options are for. */
export type CrawlerKind = 'http' | 'browser';

/** Settings of {@link withSessions}. */
export interface WithSessionsSettings {
    /**
     * `'http'` for HttpCrawler/CheerioCrawler (and other got-scraping based crawlers), `'browser'` for
     * PlaywrightCrawler. Default: `'browser'` when the options contain `launchContext`, `browserPoolOptions`,
     * `headless` or `launcher`, else `'http'`.
     */
    crawler?: CrawlerKind;
    /** Chromium to launch (PlaywrightCrawler). Default: see the README's "Finding the browser". */
    executablePath?: string;
    /**
     * A validity check run on every response before the request handler (throttled per its `every`): when it
     * finds the session logged out, the session is renewed through the check's renewal and the request retried
     * without counting against `maxRequestRetries`. Create it with `createSessionCheck(check, { renewal })` or
     * `loginCheck(recipe)`. Default: none.
     */
    check?: SessionCheck;
}

type AnyOptions = Record<string, any>;
type Handler = (context: any, ...rest: any[]) => unknown;

const BROWSER_OPTION_KEYS = ['launchContext', 'browserPoolOptions', 'headless', 'launcher'];

/**
 * Returns crawler options with everything bound sessions need merged in, keeping the user's own hooks, handlers
 * and options: works for `HttpCrawler`, `CheerioCrawler` and `PlaywrightCrawler`.
 *
 * ```ts
 * const crawler = new CheerioCrawler(withSessions(sessions, {
 *     async requestHandler({ request, $, sessions }) { … },
 * }));
 * ```
 *
 * What it sets: Crawlee's own SessionPool off (its random sessions, silent retirement and second cookie store
 * would undermine the binding); a pre-navigation hook that binds each request to `request.userData.sessionId`
 * and exposes `context.sessions`; the HTTP client that applies cookies, identity and proxy at transmission
 * (HTTP crawlers); per-page browser contexts with the session's proxy and user agent (PlaywrightCrawler);
 * wrappers around `requestHandler`, `errorHandler` and `failedRequestHandler` that count successes and failures
 * and make `sessions.clear()` aware of the request it is called for; and, from the crawler's first request on, a request
 * manager around its queue that hands out only requests whose session can send now (renewing, paced and cooling
 * sessions hold no slot), skips URLs that would log a session out and gives enqueued links their session.
 */
export function withSessions<Options extends object | undefined>(
    sessions: Sessions,
    // NoInfer: Options comes from the crawler constructor's parameter, so handlers get their context types.
    options: NoInfer<Options>,
    settings: WithSessionsSettings = {},
): Options {
    const user = (options ?? {}) as AnyOptions;
    refuseConflicts(user);
    if (settings.check !== undefined && !(settings.check instanceof SessionCheck)) {
        throw new ConfigValidationError('withSessions settings', [
            { path: 'check', message: 'must be a SessionCheck: createSessionCheck(check, { renewal }) or loginCheck(recipe)' },
        ]);
    }
    const requestHandler = settings.check ? withSessionCheck(sessions, settings.check, user.requestHandler) : user.requestHandler;
    const kind = settings.crawler ?? (BROWSER_OPTION_KEYS.some((key) => key in user) ? 'browser' : 'http');
    const internals = internalsOf(sessions);
    const adopt = (crawler: unknown) => adoptRequestManager(sessions, crawler);
    const merged: AnyOptions = {
        ...user,
        useSessionPool: false,
        persistCookiesPerSession: false,
        httpClient: new SessionBoundHttpClient(sessions, (user.httpClient as BaseHttpClient) ?? new GotScrapingHttpClient()),
        errorHandler: countingFailures(sessions, user.errorHandler, true),
        failedRequestHandler: countingFailures(sessions, user.failedRequestHandler, false),
        statusMessageCallback: statusWithSessions(internalsOf(sessions), user.statusMessageCallback),
    };

    if (kind === 'browser') {
        const binding = new BrowserBinding(sessions);
        const launchContext = (user.launchContext ?? {}) as AnyOptions;
        const launchOptions = (launchContext.launchOptions ?? {}) as AnyOptions;
        const executablePath = launchOptions.executablePath ?? findChromiumExecutable({ executablePath: settings.executablePath }).path;
        merged.launchContext = {
            ...launchContext,
            useIncognitoPages: true,
            launchOptions: {
                ...launchOptions,
                ...(executablePath ? { executablePath } : {}),
                args: [...chromiumLaunchArgs, ...(launchOptions.args ?? [])],
            },
        };
        const browserPoolOptions = (user.browserPoolOptions ?? {}) as AnyOptions;
        merged.browserPoolOptions = {
            ...browserPoolOptions,
            useFingerprints: false,
            preLaunchHooks: [binding.preLaunchHook, ...(browserPoolOptions.preLaunchHooks ?? [])],
            prePageCreateHooks: [binding.prePageCreateHook, ...(browserPoolOptions.prePageCreateHooks ?? [])],
        };
        merged.proxyConfiguration = binding.proxyConfiguration();
        merged.preNavigationHooks = [
            async (context: AnyOptions) => {
                adopt(context.crawler);
                const sessionId = requestSessionId(internals, context.request);
                if (sessionId !== undefined) {
                    refuseLogout(internals, sessionId, context.request.url);
                    await paceCrawlRequest(internals, sessionId);
                }
                await binding.preNavigationHook(context as never);
            },
            ...(user.preNavigationHooks ?? []),
        ];
        merged.postNavigationHooks = [
            (context: AnyOptions) => {
                const attempt = attemptOf(context);
                const response = context.response as { status(): number; headers(): Record<string, string> } | null | undefined;
                if (!attempt || !response) return;
                const cooldown = cooldownOf(internals, attempt.sessionId, response.status(), response.headers()['retry-after']);
                if (cooldown) throw cooldown;
            },
            ...(user.postNavigationHooks ?? []),
        ];
        merged.requestHandler = bindingHandler(sessions, requestHandler, (context) => binding.saveCookies(context));
    } else {
        const httpHook = createHttpPreNavigationHook(sessions);
        merged.preNavigationHooks = [
            async (context: AnyOptions, gotOptions: AnyOptions) => {
                if (context.page) {
                    throw new Error(
                        'withSessions() prepared these options for an HTTP crawler, but the crawler has pages: pass ' +
                            "withSessions(sessions, options, { crawler: 'browser' }) for PlaywrightCrawler.",
                    );
                }
                adopt(context.crawler);
                await httpHook(context as never, gotOptions);
            },
            ...(user.preNavigationHooks ?? []),
        ];
        merged.requestHandler = bindingHandler(sessions, requestHandler);
    }
    return merged as Options;
}

/** The manager each crawler was given last. */
const adopted = new WeakMap<object, SessionRequestManager>();

interface ManagedCrawler {
    requestManager?: IRequestManager;
    requestQueue?: IRequestManager;
    autoscaledPool?: { notify(): unknown };
}

/**
 * Puts a {@link SessionRequestManager} between the crawler and its request manager, the first time the binding sees the
 * crawler (its first request's hook), and again whenever Crawlee replaced it (a second `crawler.run()` opens a new
 * default queue; a `RequestList` gets a queue once requests are added). Crawlee 3.18 offers no earlier hook: its
 * `requestManager` option is refused by its own validation, and the crawler's queue is opened with a configuration
 * the options cannot see. The requests fetched before are guarded at transmission instead.
 */
function adoptRequestManager(sessions: Sessions, candidate: unknown): void {
    const crawler = candidate as ManagedCrawler | undefined;
    const current = crawler?.requestManager;
    if (!crawler || !current || isSessionRequestManager(current)) return;
    const pool = () => crawler.autoscaledPool;
    const manager = new SessionRequestManager(sessions, current, pool);
    adopted.get(crawler)?.release(); // what the replaced manager kept aside goes back to its queue or list
    adopted.set(crawler, manager);
    crawler.requestManager = manager;
    const queue = crawler.requestQueue;
    // enqueueLinks adds through the crawler's queue: it inherits sessions too (with a list, the queue is not the manager).
    if (queue === current) crawler.requestQueue = manager;
    else if (queue && !isSessionRequestManager(queue)) crawler.requestQueue = new SessionRequestManager(sessions, queue, pool);
}

/** The session a crawl request names (or its site's active one, or the default); undefined when the id is invalid. */
function requestSessionId(internals: ReturnType<typeof internalsOf>, request: { userData?: Record<string, unknown>; url?: string }) {
    try {
        return sessionIdOf(request.userData, internals.sessionIdForUrl(request.url));
    } catch {
        return undefined; // the binding's hook fails the request, naming the field
    }
}

/** Options that would undermine the binding are refused with a message that says what to do. */
function refuseConflicts(user: AnyOptions): void {
    const issues: Array<{ path: string; message: string }> = [];
    if (user.useSessionPool === true) {
        issues.push({ path: 'useSessionPool', message: "crawlee-sessions replaces Crawlee's SessionPool: remove this option" });
    }
    if (user.sessionPoolOptions !== undefined) {
        issues.push({ path: 'sessionPoolOptions', message: "crawlee-sessions replaces Crawlee's SessionPool: remove this option" });
    }
    if (user.persistCookiesPerSession === true) {
        issues.push({ path: 'persistCookiesPerSession', message: 'cookies are kept in each bound session: remove this option' });
    }
    if (user.proxyConfiguration !== undefined) {
        issues.push({ path: 'proxyConfiguration', message: 'proxies come from the session profiles (profiles.ts): move them there' });
    }
    if (user.launchContext?.useIncognitoPages === false) {
        issues.push({ path: 'launchContext.useIncognitoPages', message: "must stay true: every page gets its session's own browser context" });
    }
    if (user.browserPoolOptions?.useFingerprints === true) {
        issues.push({ path: 'browserPoolOptions.useFingerprints', message: "must be false: a fingerprint would override the profile's user agent" });
    }
    for (const name of ['requestHandler', 'errorHandler', 'failedRequestHandler']) {
        if (user[name] !== undefined && typeof user[name] !== 'function') issues.push({ path: name, message: 'must be a function' });
    }
    for (const name of ['preNavigationHooks', 'postNavigationHooks']) {
        if (user[name] !== undefined && !Array.isArray(user[name])) issues.push({ path: name, message: 'must be an array of functions' });
    }
    if (issues.length) throw new ConfigValidationError('crawler options', issues);
}

/** Wraps the request handler: runs it inside the request's attempt, then records the success. */
function bindingHandler(sessions: Sessions, userHandler: Handler | undefined, afterSuccess?: (context: object) => Promise<void>) {
    return async function sessionBoundRequestHandler(context: AnyOptions): Promise<void> {
        const handler: Handler = userHandler ?? context.crawler.router;
        const attempt = attemptOf(context);
        if (!attempt) {
            await handler(context);
            return;
        }
        const internals = internalsOf(sessions);
        adoptRequestManager(sessions, context.crawler);
        recordAnswer(internals, attempt); // the navigation got an answer: the session's transport works
        addSessionsToFinalStatistics(internals, context.crawler);
        const session = internals.resolve(attempt.sessionId);
        if (!session.userData) await internals.userData.load(session);
        context.session = new SessionView(internals, sessions, attempt);
        try {
            await attemptStorage.run(attempt, () => handler(context));
        } finally {
            // The view is the handler's. Crawlee's own markGood()/markBad() after it served the pool this replaces.
            context.session = undefined;
            void internals.userData.saveIfChanged(session);
        }
        if (afterSuccess) await afterSuccess(context);
        session.count('successes');
        unpinAttempt(attempt); // (a failed attempt is unpinned by the error handler, which still needs the session)
    };
}

/**
 * Wraps errorHandler/failedRequestHandler: records the failed attempt and acts on it (see `recordFailure`: a
 * deliberate `RetryRequestError` is not a failure; a transport failure counts against its profile; a blocked session
 * is renewed), then runs the user's handler in the attempt.
 */
function countingFailures(sessions: Sessions, userHandler: Handler | undefined, retrying: boolean) {
    return async function sessionCountingErrorHandler(context: AnyOptions, error: Error): Promise<void> {
        // Crawlee counts every retry, RetryRequestError included: a wait for the session's pace or cooldown does not.
        if (retrying && error instanceof PacingRetryError && !error.counts) context.request.retryCount--;
        const attempt = attemptOf(context);
        if (attempt) {
            const internals = internalsOf(sessions);
            pinAttempt(attempt, await internals.resolveLive(attempt.sessionId)); // (if its hook did not get to it)
            try {
                await failedAttempt(sessions, internals, context, attempt, error, userHandler);
            } finally {
                unpinAttempt(attempt);
            }
            return;
        }
        if (userHandler) await userHandler(context, error);
    };
}

/** What a failed attempt does once its session is in memory (see `countingFailures`). */
async function failedAttempt(
    sessions: Sessions,
    internals: SessionsInternals,
    context: AnyOptions,
    attempt: RequestAttempt,
    error: Error,
    userHandler: Handler | undefined,
): Promise<void> {
    await recordFailure(internals, context as never, attempt, error, (session) => runInAttempt(context, () => sessions.clear(session.id)));
    const session = internals.resolve(attempt.sessionId);
    await internals.userData.load(session);
    context.session = new SessionView(internals, sessions, attempt);
    try {
        if (userHandler) await runInAttempt(context, () => userHandler(context, error));
    } finally {
        context.session = undefined;
        void internals.userData.saveIfChanged(session);
    }
}
