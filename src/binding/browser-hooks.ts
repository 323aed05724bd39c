import { ProxyConfiguration, RetryRequestError } from '@crawlee/core';
import type { BrowserContext, Cookie as PlaywrightCookie, Page } from 'playwright';
import type { Cookie } from 'tough-cookie';

import { internalsOf, type SessionsInternals } from '../core/internals.js';
import { authHasEffect } from '../model/auth.js';
import { pinAttempt, sessionIdOf, type RequestAttempt } from '../session/attempt.js';
import { allCookies } from '../shared/cookies.js';
import type { BoundSession } from '../session/bound-session.js';
import type { Sessions } from '../core/sessions.js';
import { fromPlaywrightCookies, toPlaywrightCookies } from '../browser/cookies.js';
import { attemptOf, beginAttempt, proxyInfoFor, type BindableContext } from './attempts.js';
import { routeThroughPipeline } from './browser-route.js';

/**
 * The host of the placeholder proxy URL that carries a request's session id from Crawlee's proxy configuration
 * (which sees the request) to browser-pool's pre-page-create hook (which only sees the page options). The
 * placeholder is replaced by the session's real proxy before any page exists; nothing is ever sent to it.
 */
const BINDING_HOST = 'session-binding.crawlee-sessions.invalid';

interface PageBinding {
    sessionId: string;
    generation: number;
}

interface BrowserBindableContext extends BindableContext {
    id: string;
    page: Page;
}

/** A snapshot key: what identifies one cookie in a jar. */
function cookieKey(cookie: Cookie): string {
    return `${cookie.hostOnly ? 'host' : 'domain'}|${cookie.domain}|${cookie.path}|${cookie.key}`;
}

/**
 * Binding of PlaywrightCrawler pages to sessions. One browser context per page (incognito pages), created with the
 * session's proxy and identity; the session's cookies are put into the context before navigation and the
 * context's changes are saved back after the handler.
 */
export class BrowserBinding {
    private readonly pages = new Map<string, PageBinding>();
    private readonly snapshots = new WeakMap<RequestAttempt, Map<string, string>>();
    private readonly internals: SessionsInternals;

    constructor(private readonly sessions: Sessions) {
        this.internals = internalsOf(sessions);
    }

    /** A proxy configuration whose URLs carry the request's session to {@link prePageCreateHook}. */
    proxyConfiguration(): ProxyConfiguration {
        return new ProxyConfiguration({
            newUrlFunction: (_crawleeSessionId, options) => {
                const userData = options?.request?.userData as Record<string, unknown> | undefined;
                const sessionId = sessionIdOf(userData, this.internals.sessionIdForUrl(options?.request?.url));
                return `http://${encodeURIComponent(sessionId)}@${BINDING_HOST}:9`;
            },
        });
    }

    /**
     * browser-pool `preLaunchHooks` entry (after Crawlee's own): the browser is launched without a proxy — Crawlee
     * would give it the placeholder of some session — so that every context has exactly its session's proxy, and a
     * session without one goes direct, its page and the requests its route sends alike. Chromium on Linux and macOS
     * needs no browser-level proxy for per-context proxies.
     */
    readonly preLaunchHook = (_pageId: string, launchContext: { proxyUrl?: string }): void => {
        launchContext.proxyUrl = undefined;
    };

    /** browser-pool `prePageCreateHooks` entry: gives the page's context the session's proxy and identity. */
    readonly prePageCreateHook = async (
        pageId: string,
        _browserController: unknown,
        pageOptions: Record<string, any> | undefined,
    ): Promise<void> => {
        if (!pageOptions) {
            throw new Error(
                'crawlee-sessions needs one browser context per page: keep launchContext.useIncognitoPages set to true ' +
                    '(withSessions() sets it).',
            );
        }
        const proxy = pageOptions.proxy as { server?: string; username?: string } | undefined;
        if (!proxy?.server || new URL(proxy.server).hostname !== BINDING_HOST) return;
        const { registry, coordinator, resolveLive } = this.internals;
        const session = await resolveLive(proxy.username || this.sessions.defaultSessionId);
        await coordinator.whenUsable(session);

        const proxyUrl = registry.proxyUrlOf(session);
        if (proxyUrl) {
            const url = new URL(proxyUrl);
            pageOptions.proxy = {
                server: `${url.protocol}//${url.host}`,
                username: decodeURIComponent(url.username),
                password: decodeURIComponent(url.password),
                // Chromium never proxies loopback traffic unless told to: the session's traffic all goes through it.
                bypass: '<-loopback>',
            };
        } else {
            delete pageOptions.proxy;
        }
        const identity = registry.identityOf(session);
        pageOptions.userAgent = identity.userAgent;
        const acceptLanguage = identity.headers['accept-language'];
        if (acceptLanguage) pageOptions.extraHTTPHeaders = { ...pageOptions.extraHTTPHeaders, 'accept-language': acceptLanguage };
        // What a login applies besides cookies (Authorization: Bearer …) is added per request by the page's route, on
        // the login's origins only: context-wide extra headers would go to every host the page talks to.
        this.pages.set(pageId, { sessionId: session.id, generation: session.generation });
    };

    /** PlaywrightCrawler pre-navigation hook: puts the session's cookies into the page's context. */
    readonly preNavigationHook = async (context: BrowserBindableContext): Promise<void> => {
        const attempt = beginAttempt(this.sessions, context);
        const binding = this.pages.get(context.id);
        this.pages.delete(context.id);
        if (!binding || binding.sessionId !== attempt.sessionId) {
            throw new Error(
                'crawlee-sessions: this page was not opened for the request\'s session. Create the crawler with ' +
                    'withSessions() and do not replace its proxyConfiguration or prePageCreateHooks.',
            );
        }
        const { registry, coordinator, resolveLive, pipeline, headerPipeline, tokens } = this.internals;
        const session = await resolveLive(attempt.sessionId);
        pinAttempt(attempt, session);
        await coordinator.whenUsable(session);
        // A switch ahead of expiry keeps the page's identity and proxy, and the old generation valid: the page goes on
        // with the new login's cookies. A clear (new identity, maybe new proxy) retries it on a new page.
        if (binding.generation < session.validSince) {
            this.internals.stats.staleRetries++;
            throw new RetryRequestError(`Session "${session.id}" was renewed after this page was opened; retrying with its new identity.`);
        }
        let generation = session.generation;
        const proxyUrl = registry.proxyUrlOf(session);
        context.proxyInfo = proxyUrl ? proxyInfoFor(proxyUrl, session.id) : undefined;

        const browserContext = context.page.context();
        this.hold(session, browserContext, context.page);
        let cookies = allCookies(session.jar);
        await browserContext.addCookies(toPlaywrightCookies(cookies));
        // A switch ahead of expiry meanwhile: the new login's cookies replace those just added (the old login is still
        // valid, the identity the same).
        for (let tries = 0; session.generation !== generation && generation >= session.validSince && tries < 3; tries++) {
            generation = session.generation;
            cookies = allCookies(session.jar);
            await browserContext.clearCookies();
            await browserContext.addCookies(toPlaywrightCookies(cookies));
        }
        // clear() wipes every registered context; if it ran meanwhile, this page must not navigate.
        if (session.generation !== generation) {
            this.internals.stats.staleRetries++;
            throw new RetryRequestError(`Session "${session.id}" was cleared while its page was being prepared; retrying.`);
        }
        await pipeline.ready();
        // Plain crawls keep the browser's own network stack, cache and speed: the route is only there when the session
        // has login values to apply or header rules or session headers can apply to it.
        if (authHasEffect(session.auth) || !headerPipeline.isIdle(session.id)) {
            await routeThroughPipeline(context.page, pipeline, session, registry.identityOf(session));
        }
        tokens.countMessage(session.id, context.request.url ?? context.page.url());
        attempt.sentGeneration = session.generation;
        this.snapshots.set(attempt, new Map(cookies.map((cookie) => [cookieKey(cookie), cookieSignature(cookie)])));
        session.count('requests');
    };

    /**
     * Saves what the page changed in its context's cookies (navigation, clicks in the handler) back into the
     * session: new and changed cookies are stored, cookies the page deleted are removed. Nothing is saved when the
     * session was cleared after the page navigated: those cookies belong to the old session.
     */
    async saveCookies(context: object): Promise<void> {
        const attempt = attemptOf(context);
        const page = (context as Partial<BrowserBindableContext>).page;
        const snapshot = attempt && this.snapshots.get(attempt);
        if (!attempt || !page || !snapshot || page.isClosed()) return;
        const session = this.internals.resolve(attempt.sessionId);
        if (session.generation !== attempt.sentGeneration) return;
        const current = fromPlaywrightCookies((await page.context().cookies()) as PlaywrightCookie[]);
        if (session.generation !== attempt.sentGeneration) return;

        const seen = new Set<string>();
        for (const cookie of current) {
            const key = cookieKey(cookie);
            seen.add(key);
            if (snapshot.get(key) !== cookieSignature(cookie)) {
                session.jar.setCookieSync(cookie, `https://${cookie.domain}${cookie.path ?? '/'}`, { ignoreError: true });
            }
        }
        for (const cookie of allCookies(session.jar)) {
            const key = cookieKey(cookie);
            if (snapshot.has(key) && !seen.has(key)) {
                await session.jar.store.removeCookie(cookie.domain, cookie.path, cookie.key);
            }
        }
        this.snapshots.delete(attempt);
    }

    private hold(session: BoundSession, browserContext: BrowserContext, page: Page): void {
        session.cookieHolders.add(browserContext);
        page.once('close', () => session.cookieHolders.delete(browserContext));
    }
}

function cookieSignature(cookie: Cookie): string {
    const expires = cookie.expires instanceof Date ? Math.floor(cookie.expires.getTime() / 1000) : 'session';
    return `${cookie.value}|${expires}|${cookie.secure}|${cookie.httpOnly}|${cookie.sameSite ?? ''}`;
}
