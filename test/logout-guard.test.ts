/**
 * The logout guard and sessions following their links: real crawlers against a site that logs what it sees.
 */
import { CheerioCrawler, Configuration, HttpCrawler, PlaywrightCrawler, log } from 'crawlee';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { ConfigValidationError, Sessions, withSessions } from '../src/index.js';
import { LogoutGuard } from '../src/pacing/logout-guard.js';
import { startTimingSite, type TimingSite } from './support/timing-site.js';

log.setLevel(log.LEVELS.OFF);
vi.setConfig({ testTimeout: 120_000 });

function freshConfig(): Configuration {
    return new Configuration({ persistStorage: false, purgeOnStart: true });
}

describe('LogoutGuard', () => {
    const guard = new LogoutGuard();

    it('decides as its patterns do when its quick test (no parse for URLs without any pattern word) applies', () => {
        // A RegExp pattern that never matches turns the quick test off: the same patterns, always applied in full.
        const options = { patterns: ['/account/close', 'op=quit', 'do=end now'] };
        const quick = new LogoutGuard(options);
        const full = new LogoutGuard({ patterns: [...options.patterns, /(?!)/] });
        const paths = [
            '/logout', '/LOGOUT.php', '/log%6Fut', '/log%6fut/', '/%4C%4F%47%4F%55%54', '/log\tout', '/log\nout', '/a\\logout',
            '/sign-out;jsessionid=1', '/x/logout/..', '/logout/../x', '/account/close', '/ACCOUNT/Close.aspx', '/account/%63lose',
            '/accounts/close', '/catalogue', '/blog/outlook', '/\u006cogout', '/ｌｏｇｏｕｔ', '/loġout', '/item?op=QUIT', '/item?op=qu%69t',
            '/item?op=quit+', '/item?x=', '/item?x=1', '/item?do=end%20now', '/item?do=end+now', '/item?action=log%2Dout',
            '/item?action=log-out#frag', '/item#logout', '/item?next=/logout', 'LOGOUT',
        ];
        for (const path of paths) {
            for (const base of ['https://shop.example', 'http://LOGOUT.example', 'https://[::1]:8443']) {
                const href = `${base}${path}`;
                let url: URL | undefined;
                try {
                    url = new URL(href);
                } catch {
                    url = undefined;
                }
                expect(quick.match(href), href).toBe(full.match(href));
                if (url) expect(quick.match(url), href).toBe(full.match(url));
            }
        }
        expect(quick.match('https://shop.example/log%6Fut')).toBe('/logout');
        expect(quick.match('https://shop.example/account/%63lose')).toBe('/account/close');
        expect(quick.match('https://shop.example/item?do=end+now')).toBe('do=end now');
        expect(new LogoutGuard({ patterns: ['x='] }).match('https://shop.example/item?x=')).toBe('x=');
    });

    it.each([
        'https://shop.example/logout',
        'https://shop.example/LogOut',
        'https://shop.example/account/log-out/',
        'https://shop.example/users/sign_out',
        'https://shop.example/signout.aspx',
        'https://shop.example/logoff.jsp;jsessionid=ABC',
        'https://shop.example/admin/logout/?next=/admin/',
        'https://shop.example/wp-login.php?action=logout&_wpnonce=abc',
        'https://shop.example/doku.php?id=start&do=Logout',
        'https://shop.example/%6Cogout',
    ])('stops %s', (url) => {
        expect(guard.match(url)).toBeDefined();
    });

    it.each([
        'https://shop.example/catalogue',
        'https://shop.example/blog/logout-tips',
        'https://shop.example/logouts',
        'https://shop.example/search?q=logout',
        'https://shop.example/page?next=/logout',
        'https://shop.example/login',
        'not a url',
    ])('lets %s through', (url) => {
        expect(guard.match(url)).toBeUndefined();
    });

    it('adds the patterns given: segments, consecutive segments, name=value and regular expressions (g ignored)', () => {
        const custom = new LogoutGuard({ patterns: ['quit', '/account/close', 'op=bye', /\/session\/end\b/gi] });
        expect(custom.match('https://a.example/x/quit.php')).toBe('/quit');
        expect(custom.match('https://a.example/account/close')).toBe('/account/close');
        expect(custom.match('https://a.example/account/closed')).toBeUndefined();
        expect(custom.match('https://a.example/close')).toBeUndefined();
        expect(custom.match('https://a.example/?OP=Bye')).toBe('op=bye');
        // The g flag would make every other test() fail (lastIndex): it is ignored.
        for (let n = 0; n < 3; n++) expect(custom.match('https://a.example/Session/End')).toBeDefined();
        expect(custom.match('https://a.example/logout')).toBe('/logout');
        expect(new LogoutGuard({ patterns: ['quit'], defaults: false }).match('https://a.example/logout')).toBeUndefined();
        expect(new LogoutGuard({ enabled: false }).match('https://a.example/logout')).toBeUndefined();
    });

    it('runs a pattern on the first 1 MiB of a huge URL only', () => {
        const custom = new LogoutGuard({ patterns: [/marker$/], defaults: false });
        expect(custom.match(`https://a.example/?q=${'a'.repeat(2 * 1024 * 1024)}marker`)).toBeUndefined();
    });

    it('refuses hostile options with errors naming the field', async () => {
        const cases: Array<[unknown, string]> = [
            [{ patterns: ['x\nSet-Cookie: a=b'] }, 'logoutGuard.patterns[0]'],
            [{ patterns: ['///'] }, 'logoutGuard.patterns[0]'],
            [{ patterns: [''] }, 'logoutGuard.patterns[0]'],
            [{ patterns: ['a'.repeat(501)] }, 'logoutGuard.patterns[0]'],
            [{ patterns: Array(201).fill('x') }, 'logoutGuard.patterns'],
            [{ patterns: [42] }, 'logoutGuard.patterns[0]'],
            [{ enabled: 'yes' }, 'logoutGuard.enabled'],
            [{ pattern: ['x'] }, 'logoutGuard'],
        ];
        for (const [logoutGuard, path] of cases) {
            const error = await Sessions.open({ store: 'memory', logoutGuard: logoutGuard as never }).catch((caught: unknown) => caught);
            expect(error, JSON.stringify(logoutGuard).slice(0, 60)).toBeInstanceOf(ConfigValidationError);
            expect((error as Error).message).toContain(path);
        }
    });
});

let site: TimingSite;

beforeAll(async () => {
    site = await startTimingSite();
});

afterAll(async () => {
    await site?.close();
});

const links = (...hrefs: string[]) => `links=${encodeURIComponent(hrefs.join(','))}`;

describe.each([
    ['HttpCrawler', HttpCrawler],
    ['CheerioCrawler', CheerioCrawler],
] as const)('a crawl with %s', (_name, Crawler) => {
    it('never requests a logout link, counts it, and its links carry the session that found them', async () => {
        const sessions = await Sessions.open({ store: 'memory' });
        const run = `${Crawler.name}-${Date.now()}`;
        const handled: Array<{ path: string; sessionId: unknown }> = [];
        const crawler = new Crawler(
            withSessions(sessions, {
                maxConcurrency: 4,
                async requestHandler({ request, enqueueLinks, addRequests, crawler: self, body }) {
                    handled.push({ path: new URL(request.url).pathname, sessionId: request.userData.sessionId });
                    if (request.userData.start) {
                        // HttpCrawler does not parse pages: it is given the links; CheerioCrawler finds them itself.
                        const urls = [...String(body).matchAll(/href="([^"]+)"/g)].map((match) => new URL(match[1]!.replace(/&amp;/g, '&'), request.url).href);
                        await enqueueLinks(Crawler === HttpCrawler ? { urls } : { strategy: 'same-origin' });
                        await addRequests([`${site.url}/s/${run}/added`]);
                        await self.addRequests([{ url: `${site.url}/s/${run}/crawler-added` }]);
                        // Naming another session, or none (null), is kept.
                        await addRequests([
                            { url: `${site.url}/s/${run}/named`, userData: { sessionId: 'bob' } },
                            { url: `${site.url}/s/${run}/opted-out`, userData: { sessionId: null } },
                        ]);
                    }
                },
            }),
            freshConfig(),
        );
        const start = `${site.url}/s/${run}/start?${links(`/s/${run}/logout`, `/s/${run}/catalogue`, `/s/${run}/Sign-Out.php?x=1`, `/wp-login.php?action=logout`)}`;
        const stats = await crawler.run([{ url: start, userData: { sessionId: 'alice', start: true } }]);

        const seen = (await site.log()).filter((entry) => entry.session === run || entry.path.startsWith('/wp-login'));
        const paths = seen.map((entry) => entry.path.split('?')[0]);
        expect(paths).not.toContain(`/s/${run}/logout`);
        expect(paths).not.toContain(`/s/${run}/Sign-Out.php`);
        expect(paths).not.toContain('/wp-login.php');
        expect(paths).toContain(`/s/${run}/catalogue`);
        expect(sessions.stats().logoutSkipped).toBe(3);
        expect(stats.requestsFailed).toBe(0);

        const sessionOf = Object.fromEntries(handled.map((entry) => [entry.path, entry.sessionId]));
        expect(sessionOf).toEqual({
            [`/s/${run}/start`]: 'alice',
            [`/s/${run}/catalogue`]: 'alice',
            [`/s/${run}/added`]: 'alice',
            [`/s/${run}/crawler-added`]: 'alice',
            [`/s/${run}/named`]: 'bob',
            [`/s/${run}/opted-out`]: null,
        });
        // The opted-out request used the default session, the others their own.
        expect(sessions.list().map((each) => each.id).sort()).toEqual(['alice', 'bob', 'default']);
        await sessions.close();
    });
});

describe('a crawl with PlaywrightCrawler', () => {
    it('never opens a logout link and its links carry the session', async () => {
        const sessions = await Sessions.open({ store: 'memory' });
        const run = `pw-${Date.now()}`;
        const handled: Array<{ path: string; sessionId: unknown }> = [];
        const crawler = new PlaywrightCrawler(
            withSessions(sessions, {
                maxConcurrency: 2,
                launchContext: { launchOptions: { headless: true } },
                async requestHandler({ request, enqueueLinks }) {
                    handled.push({ path: new URL(request.url).pathname, sessionId: request.userData.sessionId });
                    if (request.userData.start) await enqueueLinks({ strategy: 'same-origin' });
                },
            }),
            freshConfig(),
        );
        await crawler.run([{ url: `${site.url}/s/${run}/start?${links(`/s/${run}/log-out`, `/s/${run}/next`)}`, userData: { sessionId: 'carol', start: true } }]);
        const paths = (await site.log()).filter((entry) => entry.session === run).map((entry) => entry.path.split('?')[0]);
        expect(paths).not.toContain(`/s/${run}/log-out`);
        expect(paths).toContain(`/s/${run}/next`);
        expect(handled.find((entry) => entry.path === `/s/${run}/next`)?.sessionId).toBe('carol');
        expect(sessions.stats().logoutSkipped).toBe(1);
        await sessions.close();
    });
});

describe('the first requests, fetched before the crawler was bound', () => {
    it('are refused at transmission when they would log out: never sent, counted, failed', async () => {
        const sessions = await Sessions.open({ store: 'memory' });
        const run = `first-${Date.now()}`;
        const crawler = new HttpCrawler(withSessions(sessions, { maxConcurrency: 1, async requestHandler() {} }), freshConfig());
        const stats = await crawler.run([{ url: `${site.url}/s/${run}/logout`, userData: { sessionId: 'dave' } }]);
        expect((await site.log()).filter((entry) => entry.session === run)).toEqual([]);
        expect(sessions.stats().logoutSkipped).toBe(1);
        expect(stats.requestsFailed).toBe(1);
        await sessions.close();
    });
});

describe('a redirect to a logout URL', () => {
    it('is not followed: the site never sees the logout URL, the request fails at once (no retries), counted', async () => {
        const sessions = await Sessions.open({ store: 'memory' });
        const run = `redirect-${Date.now()}`;
        const crawler = new HttpCrawler(withSessions(sessions, { maxRequestRetries: 3, async requestHandler() {} }), freshConfig());
        const stats = await crawler.run([
            { url: `${site.url}/s/${run}/account?redirect=${encodeURIComponent(`/s/${run}/logout`)}`, userData: { sessionId: 'heidi' } },
            { url: `${site.url}/s/${run}/ok?redirect=${encodeURIComponent(`/s/${run}/landing`)}`, userData: { sessionId: 'heidi' } },
        ]);
        const paths = (await site.log()).filter((entry) => entry.session === run).map((entry) => entry.path.split('?')[0]);
        expect(paths.sort()).toEqual([`/s/${run}/account`, `/s/${run}/landing`, `/s/${run}/ok`]);
        expect(stats.requestsFailed).toBe(1);
        expect(stats.requestsFinished).toBe(1);
        expect(sessions.stats().logoutSkipped).toBe(1);
        await sessions.close();
    });
});
