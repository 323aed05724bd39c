import type { Browser, BrowserContext, Page } from 'playwright';
import type { CookieJar } from 'tough-cookie';
import { describeCause } from '../shared/describe.js';

import { chromiumLaunchArgs, findChromiumExecutable } from '../browser/executable.js';
import { fromPlaywrightCookies, type PlaywrightCookie } from '../browser/cookies.js';
import type { SessionIdentity } from '../profiles/identity.js';
import { TrafficCapture } from './capture.js';
import type { Redactor } from './credentials.js';
import { LoginError, isNetworkError } from './errors.js';
import type { CapturedExchange } from './extract.js';
import type { BrowserCredentials, LoginRecipe } from './recipe.js';

/** A browser's storage state as Playwright reads and restores it: cookies plus localStorage per origin. */
export interface BrowserStorageState {
    cookies: PlaywrightCookie[];
    origins: Array<{ origin: string; localStorage: Array<{ name: string; value: string }> }>;
}

/** What a browser-mode login runs with. */
export interface BrowserLoginRun {
    recipe: LoginRecipe;
    /** Resolved credentials (and `totp()`), handed to the login function. */
    credentials: BrowserCredentials;
    /** The session's identity: its user agent and Accept-Language go to the browser context. */
    identity: SessionIdentity;
    /** The session's proxy, if any (credentials included). */
    proxyUrl?: string;
    /** The session's jar: the context's cookies are put into it after the login. */
    jar: CookieJar;
    /** Scrubs credentials from error messages. */
    redactor: Redactor;
    /** A running Chromium to open the login's context in. Default: one is launched for this login and closed after. */
    browser?: Browser;
    /** Chromium to launch when no `browser` is given. Default: see `findChromiumExecutable()`. */
    executablePath?: string;
    /** The URL the page opens before the login function runs, instead of the recipe's `startUrl`. Default: the recipe's. */
    startUrl?: string;
    /**
     * An OAuth2 redirect URI: the browser's requests to it (redirects included) are answered with a blank page,
     * never sent, and handed to `capture`; after the login function, the login waits for one (up to
     * `collectTimeoutSecs`). Default none.
     */
    redirectUri?: { url: URL; capture(target: URL): void };
}

/** What a browser-mode login observed. */
export interface BrowserLoginOutcome {
    /** Requests matching the recipe's collection URLs, with their answers. */
    exchanges: CapturedExchange[];
    /** origin → key → value, after the login. */
    localStorage: Record<string, Record<string, string>>;
    /** origin → key → value, read from the pages still open after the login. */
    sessionStorage: Record<string, Record<string, string>>;
    /** The context's storage state after the login (cookies + localStorage), for quick login. */
    state: BrowserStorageState;
}

/**
 * Runs a browser-mode login: opens a Chromium context with the session's proxy and identity, runs the recipe's
 * login function while capturing the collection URLs' traffic, then reads the context's cookies (they are put
 * into the session's jar), localStorage and sessionStorage.
 * @throws LoginError (`browser`, `network`), with secrets scrubbed from its message.
 */
export async function runBrowserLogin(run: BrowserLoginRun): Promise<BrowserLoginOutcome> {
    const { recipe } = run;
    let browser = run.browser;
    const launched = !browser;
    if (!browser) {
        try {
            const { chromium } = await import('playwright');
            browser = await chromium.launch({
                executablePath: findChromiumExecutable({ executablePath: run.executablePath }).path,
                args: [...chromiumLaunchArgs],
                headless: recipe.browser.headless,
            });
        } catch (error) {
            throw new LoginError('browser', recipe.name, `Chromium could not be started: ${describeCause(error)}`);
        }
    }
    let context: BrowserContext | undefined;
    let capture: TrafficCapture | undefined;
    try {
        context = await browser.newContext(contextOptions(run));
        capture = new TrafficCapture(context, recipe.collect).attach();
        let cameBack: Promise<void> | undefined;
        let back: (target: URL) => void = () => undefined;
        if (run.redirectUri) {
            const { url, capture: onCapture } = run.redirectUri;
            let resolve: () => void = () => undefined;
            cameBack = new Promise<void>((settle) => (resolve = settle));
            back = (target) => {
                onCapture(target);
                resolve();
            };
            context.on('page', (opened) => void interceptRedirectUri(context!, opened, url, back).catch(() => undefined));
        }
        const page = await context.newPage();
        // The page's interception is in place before it opens anything (a popup's as soon as it exists).
        if (run.redirectUri) await interceptRedirectUri(context, page, run.redirectUri.url, back);
        const startUrl = run.startUrl ?? recipe.startUrl;
        await guarded(run, 'opening the start URL', async () => {
            if (startUrl) await page.goto(startUrl);
        });
        await guarded(run, 'the login function', () =>
            withTimeout(recipe.login!({ page, context: context!, credentials: run.credentials }), recipe.browser.timeoutSecs * 1000),
        );
        if (cameBack) {
            await guarded(run, 'waiting for the redirect to redirect_uri', () => withTimeout(cameBack!, recipe.browser.collectTimeoutSecs * 1000));
        }
        await capture.waitForAll(recipe.browser.collectTimeoutSecs * 1000);
        await capture.settle();

        const state = (await context.storageState()) as BrowserStorageState;
        const cookies = fromPlaywrightCookies((await context.cookies()) as PlaywrightCookie[]);
        for (const cookie of cookies) {
            run.jar.setCookieSync(cookie, `https://${cookie.domain}${cookie.path ?? '/'}`, { ignoreError: true });
        }
        const localStorage: Record<string, Record<string, string>> = {};
        for (const origin of state.origins) {
            localStorage[origin.origin] = Object.fromEntries(origin.localStorage.map((entry) => [entry.name, entry.value]));
        }
        const sessionStorage: Record<string, Record<string, string>> = {};
        for (const open of context.pages()) {
            if (open.isClosed() || !/^https?:/.test(open.url())) continue;
            const entries = await open
                .evaluate(() => Object.fromEntries(Object.entries(window.sessionStorage)) as Record<string, string>)
                .catch(() => ({}));
            const origin = new URL(open.url()).origin;
            sessionStorage[origin] = { ...sessionStorage[origin], ...entries };
        }
        return {
            exchanges: [...capture.exchanges],
            localStorage,
            sessionStorage,
            state: { cookies: state.cookies, origins: state.origins.map(({ origin, localStorage: items }) => ({ origin, localStorage: items })) },
        };
    } finally {
        capture?.detach();
        await context?.close().catch(() => undefined);
        if (launched) await browser.close().catch(() => undefined);
    }
}

/** Pages intercepting, or about to (the context's 'page' event and the first page's own call meet). */
const intercepting = new WeakMap<Page, Promise<void>>();

/**
 * Answers the page's requests to the redirect URI with a blank page, unsent (CDP's Fetch domain pauses redirected
 * requests too, which Playwright's routes do not see), and hands their URL to `capture`.
 */
function interceptRedirectUri(context: BrowserContext, page: Page, redirectUri: URL, capture: (target: URL) => void): Promise<void> {
    let started = intercepting.get(page);
    if (!started) {
        started = startInterception(context, page, redirectUri, capture);
        intercepting.set(page, started);
    }
    return started;
}

async function startInterception(context: BrowserContext, page: Page, redirectUri: URL, capture: (target: URL) => void): Promise<void> {
    const cdp = await context.newCDPSession(page);
    const pattern = `${redirectUri.origin}${redirectUri.pathname}`.replace(/[*?\\]/g, (char) => `\\${char}`) + '*';
    cdp.on('Fetch.requestPaused', (event: { requestId: string; request: { url: string } }) => {
        let target: URL | undefined;
        try {
            target = new URL(event.request.url);
        } catch {
            target = undefined;
        }
        const ours = target && target.protocol === redirectUri.protocol && target.host === redirectUri.host && target.pathname === redirectUri.pathname;
        if (ours) {
            capture(target!);
            void cdp
                .send('Fetch.fulfillRequest', {
                    requestId: event.requestId,
                    responseCode: 200,
                    responseHeaders: [{ name: 'content-type', value: 'text/html' }],
                    // An icon of its own: Chromium would fetch the redirect URI's /favicon.ico otherwise.
                    body: Buffer.from('<!doctype html><title>Signed in</title><link rel="icon" href="data:,">').toString('base64'),
                })
                .catch(() => undefined);
        } else {
            void cdp.send('Fetch.continueRequest', { requestId: event.requestId }).catch(() => undefined);
        }
    });
    await cdp.send('Fetch.enable', { patterns: [{ urlPattern: pattern, requestStage: 'Request' }] });
}

/** Context options: the session's user agent, Accept-Language and proxy (loopback traffic included). */
function contextOptions(run: BrowserLoginRun): Parameters<Browser['newContext']>[0] {
    const options: NonNullable<Parameters<Browser['newContext']>[0]> = { userAgent: run.identity.userAgent };
    const acceptLanguage = run.identity.headers['accept-language'];
    if (acceptLanguage) options.extraHTTPHeaders = { 'accept-language': acceptLanguage };
    if (run.proxyUrl) {
        const url = new URL(run.proxyUrl);
        options.proxy = {
            server: `${url.protocol}//${url.host}`,
            username: decodeURIComponent(url.username),
            password: decodeURIComponent(url.password),
            // Chromium never proxies loopback traffic unless told to: the session's traffic all goes through it.
            bypass: '<-loopback>',
        };
    }
    return options;
}

/** Runs a part of the login, turning its errors into scrubbed {@link LoginError}s. */
async function guarded(run: BrowserLoginRun, what: string, work: () => Promise<void>): Promise<void> {
    try {
        await work();
    } catch (error) {
        if (error instanceof LoginError) throw error;
        const kind = isNetworkError(error) ? 'network' : 'browser';
        throw new LoginError(kind, run.recipe.name, run.redactor.scrub(`${what} failed: ${describeCause(error)}`));
    }
}

async function withTimeout(work: Promise<void>, timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    work.catch(() => undefined); // it may reject after the timeout, when the context closes
    try {
        await Promise.race([
            work,
            new Promise<never>((_resolve, reject) => {
                timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs / 1000} s`)), timeoutMs);
            }),
        ]);
    } finally {
        clearTimeout(timer);
    }
}
