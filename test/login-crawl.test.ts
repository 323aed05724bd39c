import { CheerioCrawler, Configuration, log } from 'crawlee';
import { afterEach, describe, expect, it } from 'vitest';

import {
    createSessionCheck,
    defineLogin,
    loginCheck,
    loginRenewal,
    type Indicator,
} from '../src/acquisition/index.js';
import { ConfigValidationError, Sessions, withSessions } from '../src/index.js';
import { startLoginSite, type LoginSite } from './support/login-site.js';

log.setLevel(log.LEVELS.OFF);

const PASSWORD = 'hunter2-Login-Pass';

function freshConfig(): Configuration {
    return new Configuration({ persistStorage: false, purgeOnStart: true });
}

const sites: LoginSite[] = [];
async function site(options: Parameters<typeof startLoginSite>[0] = {}): Promise<LoginSite> {
    const started = await startLoginSite(options);
    sites.push(started);
    return started;
}

afterEach(async () => {
    await Promise.all(sites.splice(0).map((started) => started.close()));
});

function apiRecipe(site: LoginSite) {
    return defineLogin({
        name: 'api',
        credentials: { user: 'alice', password: PASSWORD },
        steps: [{ url: `${site.url}/api/login`, json: { username: '{{user}}', password: '{{password}}' } }],
        extract: [{ name: 'token', from: { json: '$.data.token' } }],
        apply: { headers: { Authorization: 'Bearer {{token}}' } },
        check: { indicators: [{ in: 'status', status: [401], means: 'invalid' }] },
    });
}

function formRecipe(site: LoginSite, indicator: Indicator) {
    return defineLogin({
        name: 'form',
        credentials: { user: 'alice', password: PASSWORD },
        steps: [
            { url: `${site.url}/login`, extract: [{ name: 'csrf', from: { formField: 'csrf' } }] },
            { url: `${site.url}/login`, method: 'POST', form: { user: '{{user}}', password: '{{password}}', csrf: '{{csrf}}' } },
        ],
        check: { indicators: [indicator] },
    });
}

/** Crawls `paths` with one session and the check; returns what the handler saw and the crawl's statistics. */
async function crawl(sessions: Sessions, siteUrl: string, paths: string[], settings: Parameters<typeof withSessions>[2], maxConcurrency = 5) {
    const seen: Array<{ path: string; loggedIn: boolean; login?: string }> = [];
    const failed: string[] = [];
    const crawler = new CheerioCrawler(
        withSessions(
            sessions,
            {
                maxConcurrency,
                maxRequestRetries: 0,
                async requestHandler({ request, $, json }) {
                    const path = new URL(request.url).pathname;
                    const state = json ? (json as { state?: string }).state : $('#state').text();
                    seen.push({ path, loggedIn: state === 'logged-in', login: json ? String((json as { login?: number }).login) : $('#login').text() });
                },
                failedRequestHandler({ request }, error) {
                    failed.push(`${request.url}: ${error.message}`);
                },
            },
            settings,
        ),
        freshConfig(),
    );
    const stats = await crawler.run(paths.map((path) => ({ url: `${siteUrl}${path}`, userData: { sessionId: 'user' } })));
    return { seen, failed, stats };
}

describe('validity checks in a crawl', () => {
    it('renews a bearer session that expires mid-crawl, with no failed request and one login per expiry', async () => {
        const app = await site({ sessionLifetimeRequests: 7 });
        const sessions = await Sessions.open({ store: 'memory' });
        const recipe = apiRecipe(app);
        const paths = Array.from({ length: 40 }, (_, n) => `/api/items/${n}`);
        const { seen, failed, stats } = await crawl(sessions, app.url, paths, { check: loginCheck(recipe) });

        expect(failed).toEqual([]);
        expect(stats.requestsFailed).toBe(0);
        expect(seen).toHaveLength(40);
        expect(seen.every((page) => page.loggedIn)).toBe(true);
        expect(new Set(seen.map((page) => page.path)).size).toBe(40);
        // The session starts empty and each login serves 7 requests: ceil(40 / 7) logins. Logged-out answers to
        // requests sent before the latest login joined it instead of logging in again.
        expect(app.apiLoginPosts).toBe(Math.ceil(40 / 7));
        const loggedOut = app.protectedRequests.filter((r) => !r.loggedIn).length;
        expect(loggedOut).toBeGreaterThanOrEqual(Math.ceil(40 / 7));
        await sessions.close();
    });

    const indicatorCases: Array<{ where: string; prefix: string; indicator: Indicator }> = [
        { where: 'a body marker', prefix: '/page/', indicator: { in: 'body', text: 'Please sign in', means: 'invalid' } },
        { where: 'status 401', prefix: '/strict/', indicator: { in: 'status', status: [401, 403], means: 'invalid' } },
        { where: 'a redirect to the login page', prefix: '/members/', indicator: { in: 'url', regex: '/login(\\?|$)', means: 'invalid' } },
    ];

    it.each(indicatorCases)('renews a cookie session whose logout shows as $where', async ({ prefix, indicator }) => {
        const app = await site({ sessionLifetimeRequests: 6 });
        const sessions = await Sessions.open({ store: 'memory' });
        const recipe = formRecipe(app, indicator);
        const paths = Array.from({ length: 24 }, (_, n) => `${prefix}${n}`);
        const { seen, failed, stats } = await crawl(sessions, app.url, paths, { check: loginCheck(recipe) }, 4);

        expect(failed).toEqual([]);
        expect(stats.requestsFailed).toBe(0);
        expect(seen.map((page) => page.loggedIn)).toEqual(Array(24).fill(true));
        // The login's redirect to /account spends one of the 6 requests a login lives: 5 pages per login.
        expect(app.formLoginPosts).toBe(Math.ceil(24 / 5));
        await sessions.close();
    });

    it('logs in once when many requests of an empty session come back logged out at once', async () => {
        const app = await site();
        const sessions = await Sessions.open({ store: 'memory' });
        const paths = Array.from({ length: 12 }, (_, n) => `/api/items/${n}`);
        const { seen, failed } = await crawl(sessions, app.url, paths, { check: loginCheck(apiRecipe(app)) }, 12);
        expect(failed).toEqual([]);
        expect(seen.every((page) => page.loggedIn && page.login === '1')).toBe(true);
        expect(app.apiLoginPosts).toBe(1);
        await sessions.close();
    });

    it('never logs in again for a logged-out answer to a request sent before the last login (ZAP guard)', async () => {
        const app = await site();
        const sessions = await Sessions.open({ store: 'memory' });
        // Both requests leave with the empty session; the fast one triggers the login, the slow one's "logged
        // out" body arrives only after that login finished.
        const { seen, failed } = await crawl(sessions, app.url, ['/api/items/1', '/api/items/2?delay=500'], { check: loginCheck(apiRecipe(app)) }, 2);
        expect(failed).toEqual([]);
        expect(seen.map((page) => page.loggedIn)).toEqual([true, true]);
        expect(app.protectedRequests.filter((r) => !r.loggedIn).map((r) => r.path).sort()).toEqual(['/api/items/1', '/api/items/2']);
        expect(app.apiLoginPosts).toBe(1);
        await sessions.close();
    });

    it('polls a check URL every N requests and assumes the session valid in between', async () => {
        const app = await site();
        const sessions = await Sessions.open({ store: 'memory' });
        const recipe = formRecipe(app, { in: 'body', text: 'Please sign in', means: 'invalid' });
        await sessions.clear('user', { renewal: loginRenewal(recipe) });
        app.reset();
        const check = createSessionCheck(
            { request: { url: `${app.url}/account` }, indicators: [{ in: 'body', text: 'Log out', means: 'valid' }], every: { requests: 5 } },
            { renewal: loginRenewal(recipe) },
        );
        const paths = Array.from({ length: 20 }, (_, n) => `/page/${n}`);
        const { seen, failed } = await crawl(sessions, app.url, paths, { check }, 1);
        expect(failed).toEqual([]);
        expect(seen.every((page) => page.loggedIn)).toBe(true);
        // Verdicts 1, 6, 11 and 16 poll; the 15 in between are assumed valid.
        expect(app.protectedRequests.filter((r) => r.path === '/account')).toHaveLength(4);
        expect(app.formLoginPosts).toBe(0);
        await sessions.close();
    });

    it('fails a request whose session stays logged out after renewals, instead of looping', async () => {
        const app = await site();
        const sessions = await Sessions.open({ store: 'memory' });
        let renewals = 0;
        const check = createSessionCheck(
            { indicators: [{ in: 'status', status: [401], means: 'invalid' }] },
            {
                renewal: () => {
                    renewals++; // "succeeds" without logging in
                },
            },
        );
        const { seen, failed } = await crawl(sessions, app.url, ['/api/items/1'], { check }, 1);
        expect(seen).toEqual([]);
        expect(failed).toHaveLength(1);
        expect(failed[0]).toContain('still logged out after 3 renewals');
        expect(renewals).toBe(3);
        await sessions.close();
    });

    it('refuses a check setting that is not a SessionCheck', async () => {
        const sessions = await Sessions.open({ store: 'memory' });
        expect(() => withSessions(sessions, {}, { check: { indicators: [] } as never })).toThrow(ConfigValidationError);
        await sessions.close();
    });
});
