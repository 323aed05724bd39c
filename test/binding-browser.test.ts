import { CheerioCrawler, Configuration, PlaywrightCrawler, RetryRequestError, log } from 'crawlee';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Sessions, defineProfiles, withSessions } from '../src/index.js';
import { startProxies, type TestProxies } from './support/proxies.js';
import { startTestSite, type TestSite } from './support/site.js';

log.setLevel(log.LEVELS.OFF);

function freshConfig(): Configuration {
    return new Configuration({ persistStorage: false, purgeOnStart: true });
}

const USER_AGENTS = ['UA-Browser-A/1.0 (test)', 'UA-Browser-B/2.0 (test)'];

let site: TestSite;
let proxies: TestProxies;

beforeAll(async () => {
    site = await startTestSite();
    proxies = await startProxies(2, { auth: { username: 'bob', password: 'p@ss:word' } });
});

afterAll(async () => {
    await site?.close();
    await proxies?.close();
});

describe('binding in PlaywrightCrawler', () => {
    it('uses the profile proxy and user agent per session (header and navigator.userAgent) and the session cookies', async () => {
        site.reset();
        const sessions = await Sessions.open({
            store: 'memory',
            profiles: defineProfiles(proxies.urls.map((proxy, i) => ({ proxy, userAgent: USER_AGENTS[i] }))),
        });
        // Log both sessions in over HTTP; the browser must then present the same identity to stay logged in.
        await sessions.clear('a', { renewal: { url: `${site.url}/login`, form: { user: 'user1', password: 'secret' } } });
        await sessions.clear('b', { renewal: { url: `${site.url}/login`, form: { user: 'user2', password: 'secret' } } });

        const seen: Record<string, { state: string; navigatorUa: string }> = {};
        const crawler = new PlaywrightCrawler(
            withSessions(sessions, {
                headless: true,
                maxConcurrency: 2,
                async requestHandler({ page, request, sessions: fromContext }) {
                    expect(fromContext).toBe(sessions);
                    await page.waitForSelector('#nav-ua:not(:empty)');
                    const navigatorUa = await page.locator('#nav-ua').textContent();
                    const whoami = await page.evaluate(async () => (await fetch('/whoami')).text());
                    seen[request.userData.sessionId] = {
                        state: /id="state">([^<]+)</.exec(whoami)?.[1] ?? '',
                        navigatorUa: navigatorUa ?? '',
                    };
                },
            }),
            freshConfig(),
        );
        await crawler.run([
            { url: `${site.url}/browser-page`, userData: { sessionId: 'a' }, uniqueKey: 'a' },
            { url: `${site.url}/browser-page`, userData: { sessionId: 'b' }, uniqueKey: 'b' },
        ]);

        for (const id of ['a', 'b']) {
            const profileIndex = sessions.list().find((info) => info.id === id)!.profileIndex!;
            expect(seen[id]).toEqual({ state: 'logged-in', navigatorUa: USER_AGENTS[profileIndex] });
            const sid = sessions.get(id, { format: 'dict' }).sid;
            const requests = site.log.filter((entry) => entry.path === '/browser-page' && entry.sid === sid);
            expect(requests.length).toBe(1);
            expect(requests[0]!.ip).toBe(proxies.addresses[profileIndex]);
            expect(requests[0]!.userAgent).toBe(USER_AGENTS[profileIndex]);
        }
        expect(JSON.stringify(sessions.list())).not.toContain('p@ss:word');
        await sessions.close();
    });

    it('saves cookies the page sets (also from the handler) and hands the session to a CheerioCrawler', async () => {
        site.reset();
        const sessions = await Sessions.open({ store: 'memory' });
        const browser = new PlaywrightCrawler(
            withSessions(sessions, {
                headless: true,
                async requestHandler({ page }) {
                    // The page logs in through a form post, as a person would; then a click-like fetch sets a cookie.
                    await page.evaluate(async () => {
                        const body = new URLSearchParams({ user: 'alice', password: 'secret' });
                        await fetch('/login', { method: 'POST', body });
                        await fetch('/set?theme=dark');
                    });
                },
            }),
            freshConfig(),
        );
        await browser.run([{ url: `${site.url}/login`, userData: { sessionId: 'handover' } }]);
        expect(Object.keys(sessions.get('handover', { format: 'dict' })).sort()).toEqual(['sid', 'theme']);

        const states: string[] = [];
        const http = new CheerioCrawler(
            withSessions(sessions, {
                async requestHandler({ $ }) {
                    states.push($('#state').text());
                },
            }),
            freshConfig(),
        );
        await http.run([{ url: `${site.url}/page/1`, userData: { sessionId: 'handover' } }]);
        // Same generated identity in the browser and over HTTP: the site, which binds the login to the
        // User-Agent and Accept-Language, still recognises the session.
        expect(states).toEqual(['logged-in']);
        await sessions.close();
    });

    it('renews an expired session from a browser handler and retries the page with the renewed cookies', async () => {
        const expiring = await startTestSite({ sessionLifetimeRequests: 3 });
        const sessions = await Sessions.open({ store: 'memory' });
        const states: string[] = [];
        const crawler = new PlaywrightCrawler(
            withSessions(sessions, {
                headless: true,
                maxConcurrency: 2,
                async requestHandler({ page }) {
                    const state = await page.locator('#state').textContent();
                    if (state !== 'logged-in') {
                        await sessions.clear(undefined, {
                            renewal: { url: `${expiring.url}/login`, form: { user: 'alice', password: 'secret' } },
                        });
                        throw new RetryRequestError('session renewed');
                    }
                    states.push(state);
                },
            }),
            freshConfig(),
        );
        const stats = await crawler.run(Array.from({ length: 8 }, (_, n) => ({ url: `${expiring.url}/page/${n}`, userData: { sessionId: 'pw' } })));
        expect(stats.requestsFailed).toBe(0);
        expect(states).toHaveLength(8);
        expect(expiring.logins).toBeGreaterThanOrEqual(3);
        expect(expiring.staleRequests).toBe(0);
        await sessions.close();
        await expiring.close();
    });

    it("sends the login's auth headers from the page too", async () => {
        const sessions = await Sessions.open({ store: 'memory' });
        await sessions.clear('bearer', {
            // A renewal that sends no request names the origins its values belong to (deny by default).
            renewal: async ({ setAuth }) => setAuth({ headers: { authorization: 'Bearer page-token-1' }, query: {}, origins: [new URL(site.url).origin] }),
        });
        let echoed: Record<string, string> = {};
        const crawler = new PlaywrightCrawler(
            withSessions(sessions, {
                headless: true,
                async requestHandler({ page }) {
                    echoed = (JSON.parse((await page.locator('body').textContent()) ?? '{}') as { headers: Record<string, string> }).headers;
                },
            }),
            freshConfig(),
        );
        await crawler.run([{ url: `${site.url}/echo`, userData: { sessionId: 'bearer' } }]);
        expect(echoed.authorization).toBe('Bearer page-token-1');
        await sessions.close();
    });
});
