import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { CheerioCrawler, Configuration, HttpCrawler, PlaywrightCrawler, log } from 'crawlee';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Sessions, withSessions } from '../src/index.js';
import { HeaderRules } from '../src/headers/header-rules.js';
import type { TokenRotation } from '../src/tokens/session-tokens.js';

log.setLevel(log.LEVELS.OFF);

function freshConfig(): Configuration {
    return new Configuration({ persistStorage: false, purgeOnStart: true });
}

interface Seen {
    path: string;
    headers: http.IncomingHttpHeaders;
    cookies: Record<string, string>;
}

interface EchoSite {
    url: string;
    site: string;
    log: Seen[];
    /** Per client (the `who` query parameter): how many times the server rotated its PHPSESSID. */
    rotations: Map<string, number>;
    /** Per client: the PHPSESSID the server issued last. */
    lastIssued: Map<string, string>;
    close(): Promise<void>;
}

function parseCookies(header: string | undefined): Record<string, string> {
    const cookies: Record<string, string> = {};
    for (const part of (header ?? '').split(';')) {
        const eq = part.indexOf('=');
        if (eq > 0) cookies[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
    }
    return cookies;
}

/**
 * A loopback site that logs every request's headers and cookies, and:
 * - `/echo`: answers them as JSON;
 * - `/hop/<n>?to=<url>`: redirects to `/hop/<n-1>`, and from `/hop/0` to `to` (or `/echo`);
 * - `/rotate?who=x`: issues a PHPSESSID, and replaces it on every third request that presents it (a site that
 *   rotates its session id), counting its rotations per `who`;
 * - `/page`: an HTML page that loads `/pixel` (a subresource) and shows `#ok`.
 */
async function startEchoSite(): Promise<EchoSite> {
    const seen: Seen[] = [];
    const rotations = new Map<string, number>();
    const uses = new Map<string, number>();
    const lastIssued = new Map<string, string>();
    const server = http.createServer((req, res) => {
        const url = new URL(req.url ?? '/', 'http://x.invalid');
        const cookies = parseCookies(req.headers.cookie);
        seen.push({ path: url.pathname + url.search, headers: req.headers, cookies });
        if (url.pathname === '/echo' || url.pathname === '/pixel') {
            res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ headers: req.headers, cookies }));
            return;
        }
        const hop = /^\/hop\/(\d+)$/.exec(url.pathname);
        if (hop) {
            const n = Number(hop[1]);
            const to = url.searchParams.get('to');
            const location = n > 0 ? `/hop/${n - 1}${url.search}` : (to ?? '/echo');
            res.writeHead(302, { location }).end();
            return;
        }
        if (url.pathname === '/rotate') {
            const who = url.searchParams.get('who') ?? '?';
            const sid = cookies.PHPSESSID;
            const headers: http.OutgoingHttpHeaders = { 'content-type': 'text/html' };
            const count = sid ? (uses.get(sid) ?? 0) + 1 : 0;
            if (sid) uses.set(sid, count);
            if (!sid || count % 3 === 0) {
                const issued = randomBytes(8).toString('hex');
                lastIssued.set(who, issued);
                headers['set-cookie'] = [`PHPSESSID=${issued}; Path=/; HttpOnly`, 'theme=dark; Path=/'];
                if (sid) rotations.set(who, (rotations.get(who) ?? 0) + 1);
            }
            res.writeHead(200, headers).end('<html><body><p id="ok">ok</p></body></html>');
            return;
        }
        if (url.pathname === '/page') {
            res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body><p id="ok">ok</p><img src="/pixel"></body></html>');
            return;
        }
        res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return {
        url: `http://127.0.0.1:${port}`,
        site: `127.0.0.1:${port}`,
        log: seen,
        rotations,
        lastIssued,
        async close() {
            server.closeAllConnections();
            await new Promise<void>((resolve) => server.close(() => resolve()));
        },
    };
}

let site: EchoSite;
let other: EchoSite;

beforeAll(async () => {
    site = await startEchoSite();
    other = await startEchoSite();
});

afterAll(async () => {
    await site?.close();
    await other?.close();
});

function echoed(path: string, from = site): Seen[] {
    return from.log.filter((entry) => entry.path === path);
}

describe('header rules and session headers in a CheerioCrawler crawl', () => {
    it('applies identity, rules, session headers and cookies in that order, as the server sees them', async () => {
        const sessions = await Sessions.open({ store: 'memory' });
        try {
            await sessions.headers.rules.add({ name: 'all', header: 'X-Crawl', value: 'yes' });
            await sessions.headers.rules.add({ name: 'ua-suffix', header: 'User-Agent', value: 'crawlee-sessions-test/1', strategy: 'APPEND', separator: ' ' });
            await sessions.headers.rules.add({ name: 'tags', header: 'X-Tags', value: 'rule', strategy: 'APPEND' });
            await sessions.headers.rules.add({
                name: 'auth', header: 'Authorization', value: 'Bearer rule-token', match: { host: site.site, sessionIds: ['alice', 'bob'] },
            });
            await sessions.headers.rules.add({ name: 'off', header: 'X-Off', value: '1', active: false });
            await sessions.headers.set('alice', { name: 'X-Tags', value: 'alice', strategy: 'APPEND', ttlSecs: 600 });
            await sessions.headers.set('alice', { name: 'Authorization', value: 'Bearer alice-token', ttlSecs: 600 });
            sessions.addCookies('alice', ['sid=a1; Path=/'], site.url);
            sessions.addCookies('bob', ['sid=b1; Path=/'], site.url);

            const crawler = new HttpCrawler(withSessions(sessions, { maxConcurrency: 4, async requestHandler() {} }), freshConfig());
            await crawler.run(
                ['alice', 'bob', 'carol'].map((sessionId) => ({
                    url: `${site.url}/echo?who=${sessionId}`,
                    headers: { 'X-Tags': 'request' },
                    userData: { sessionId },
                })),
            );

            const of = (who: string) => echoed(`/echo?who=${who}`)[0]!;
            const alice = of('alice');
            const bob = of('bob');
            const carol = of('carol');
            for (const [id, seen] of [['alice', alice], ['bob', bob], ['carol', carol]] as const) {
                expect(seen.headers['x-crawl'], id).toBe('yes');
                expect(seen.headers['x-off'], id).toBeUndefined();
                // The rule appends to the session's identity User-Agent (generated per session: no profiles here).
                const sessionUa = sessions.getIdentity(id).userAgent;
                expect(seen.headers['user-agent'], id).toBe(`${sessionUa} crawlee-sessions-test/1`);
            }
            // alice's session headers override the rules on X-Tags and Authorization; bob gets the rules.
            expect(alice.headers['x-tags']).toBe('request, alice');
            expect(alice.headers.authorization).toBe('Bearer alice-token');
            expect(bob.headers['x-tags']).toBe('request, rule');
            expect(bob.headers.authorization).toBe('Bearer rule-token');
            expect(carol.headers.authorization).toBeUndefined(); // not in the rule's sessionIds
            // Cookies come from each session's jar, after the headers.
            expect(alice.cookies).toEqual({ sid: 'a1' });
            expect(bob.cookies).toEqual({ sid: 'b1' });
            expect(carol.cookies).toEqual({});

            // Per-session, per-site message counts.
            expect(sessions.tokens.activity('alice')).toEqual([{ site: site.site, messages: 1, rotations: 0 }]);
        } finally {
            await sessions.close();
        }
    });

    it('evaluates rules per redirect hop: APPEND is not repeated and a host-scoped rule stays on its host', async () => {
        const sessions = await Sessions.open({ store: 'memory' });
        try {
            await sessions.headers.rules.add({ name: 'tags', header: 'X-Tags', value: 'r', strategy: 'APPEND' });
            await sessions.headers.rules.add({ name: 'only-site', header: 'X-Site', value: 'first', match: { host: site.site } });
            await sessions.headers.rules.add({ name: 'only-other', header: 'X-Other', value: 'second', match: { host: other.site } });
            const start = `/hop/2?to=${encodeURIComponent(`${other.url}/echo`)}`;
            const crawler = new HttpCrawler(withSessions(sessions, { async requestHandler() {} }), freshConfig());
            await crawler.run([{ url: `${site.url}${start}`, headers: { 'X-Tags': 'req' }, userData: { sessionId: 'hops' } }]);

            const hops = site.log.filter((entry) => entry.path.startsWith('/hop/') && entry.path.includes(encodeURIComponent(other.url)));
            expect(hops.map((entry) => entry.path.split('?')[0])).toEqual(['/hop/2', '/hop/1', '/hop/0']);
            for (const hop of hops) {
                expect(hop.headers['x-tags']).toBe('req, r');
                expect(hop.headers['x-site']).toBe('first');
                expect(hop.headers['x-other']).toBeUndefined();
            }
            const last = echoed('/echo', other).at(-1)!;
            expect(last.headers['x-tags']).toBe('req, r');
            expect(last.headers['x-site']).toBeUndefined();
            expect(last.headers['x-other']).toBe('second');
            expect(sessions.tokens.activity('hops')).toEqual([
                { site: site.site, messages: 3, rotations: 0 },
                { site: other.site, messages: 1, rotations: 0 },
            ]);
        } finally {
            await sessions.close();
        }
    });

    it('picks up a rule another process added to the store', async () => {
        const sessions = await Sessions.open({ store: 'memory' });
        try {
            const crawl = async (who: string) => {
                const crawler = new CheerioCrawler(withSessions(sessions, { async requestHandler() {} }), freshConfig());
                await crawler.run([{ url: `${site.url}/echo?who=${who}`, userData: { sessionId: 'p' } }]);
                return echoed(`/echo?who=${who}`)[0]!.headers;
            };
            expect((await crawl('before'))['x-from-cli']).toBeUndefined();
            // The CLI (or another crawler) writes to the same store through its own HeaderRules.
            const cli = new HeaderRules(sessions.store, { refreshIntervalMillis: 0 });
            await cli.add({ name: 'from-cli', header: 'X-From-Cli', value: 'hello' });
            expect((await crawl('not-yet'))['x-from-cli']).toBeUndefined(); // until the next reload
            await sessions.headers.rules.refresh();
            expect((await crawl('after'))['x-from-cli']).toBe('hello');
            await cli.disable('from-cli');
            await sessions.headers.rules.refresh();
            expect((await crawl('disabled'))['x-from-cli']).toBeUndefined();
        } finally {
            await sessions.close();
        }
    });
});

describe('active sessions in a crawl', () => {
    it('sends requests that name no session with the site\'s active session', async () => {
        const sessions = await Sessions.open({ store: 'memory' });
        try {
            sessions.addCookies('alice', ['PHPSESSID=alice-sid; Path=/'], site.url);
            sessions.addCookies('bob', ['PHPSESSID=bob-sid; Path=/'], site.url);
            sessions.tokens.activate(site.site, 'alice');
            const handled: string[] = [];
            const crawler = new CheerioCrawler(
                withSessions(sessions, {
                    maxConcurrency: 5,
                    async requestHandler({ request }) {
                        handled.push(`${new URL(request.url).searchParams.get('n')}:${sessions.get(undefined, { format: 'dict' }).PHPSESSID}`);
                    },
                }),
                freshConfig(),
            );
            await crawler.run([
                ...Array.from({ length: 10 }, (_, n) => ({ url: `${site.url}/echo?active=${n}` })),
                { url: `${site.url}/echo?named=bob`, userData: { sessionId: 'bob' } },
                { url: `${other.url}/echo?active=other` }, // another site: no active session there
            ]);
            const unnamed = site.log.filter((entry) => entry.path.startsWith('/echo?active='));
            expect(unnamed).toHaveLength(10);
            for (const entry of unnamed) expect(entry.cookies).toEqual({ PHPSESSID: 'alice-sid' });
            expect(echoed('/echo?named=bob')[0]!.cookies).toEqual({ PHPSESSID: 'bob-sid' });
            expect(echoed('/echo?active=other', other)[0]!.cookies).toEqual({});
            expect(sessions.has('default')).toBe(true);
            expect(sessions.tokens.activity('alice')).toEqual([{ site: site.site, messages: 10, rotations: 0 }]);

            sessions.tokens.deactivate(site.site);
            site.log.length = 0;
            const again = new CheerioCrawler(withSessions(sessions, { async requestHandler() {} }), freshConfig());
            await again.run([{ url: `${site.url}/echo?after=1` }]);
            expect(echoed('/echo?after=1')[0]!.cookies).toEqual({});
        } finally {
            await sessions.close();
        }
    });
});

describe('token rotation in a crawl', () => {
    it('counts and reports every rotation of the session cookie the site performs', async () => {
        const sessions = await Sessions.open({ store: 'memory' });
        const events: TokenRotation[] = [];
        sessions.tokens.on('rotation', (rotation) => events.push(rotation));
        try {
            const crawler = new CheerioCrawler(
                withSessions(sessions, { maxConcurrency: 1, async requestHandler() {} }),
                freshConfig(),
            );
            const requests = ['alice', 'bob'].flatMap((who) =>
                Array.from({ length: 20 }, (_, n) => ({ url: `${site.url}/rotate?who=${who}&n=${n}`, userData: { sessionId: who } })),
            );
            await crawler.run(requests);

            // Server side: first request issues the cookie, then every third presenting it rotates it.
            expect(site.rotations.get('alice')).toBe(6);
            expect(site.rotations.get('bob')).toBe(6);
            for (const who of ['alice', 'bob']) {
                const mine = events.filter((event) => event.sessionId === who);
                expect(mine).toHaveLength(site.rotations.get(who)!);
                expect(mine.map((event) => event.rotations)).toEqual([1, 2, 3, 4, 5, 6]);
                expect(mine.every((event) => event.token === 'PHPSESSID' && event.site === site.site)).toBe(true);
                expect(sessions.tokens.activity(who)).toEqual([{ site: site.site, messages: 20, rotations: 6 }]);
                // The session holds the value the site issued last.
                expect(sessions.tokens.values(who, site.site)).toEqual({ PHPSESSID: site.lastIssued.get(who) });
                // Matching the session's current cookies finds the session again.
                expect(sessions.tokens.match(sessions.get(who, { format: 'header', url: site.url }), site.site)).toBe(who);
            }
            expect(JSON.stringify(events)).not.toContain(sessions.tokens.values('alice', site.site).PHPSESSID!);
        } finally {
            await sessions.close();
        }
    });
});

describe('header rules in a PlaywrightCrawler crawl', () => {
    it('applies rules and session headers to navigations and subresources, keeps the cookies, honours the active session', async () => {
        const sessions = await Sessions.open({ store: 'memory' });
        try {
            await sessions.headers.rules.add({ name: 'crawl', header: 'X-Crawl', value: 'browser' });
            await sessions.headers.rules.add({ name: 'tags', header: 'X-Tags', value: 'rule', strategy: 'APPEND' });
            await sessions.headers.set('alice', { name: 'X-Tags', value: 'alice', ttlSecs: 600 });
            sessions.addCookies('alice', ['PHPSESSID=alice-sid; Path=/'], site.url);
            sessions.addCookies('bob', ['PHPSESSID=bob-sid; Path=/'], site.url);
            sessions.tokens.activate(site.site, 'alice');
            const crawler = new PlaywrightCrawler(
                withSessions(sessions, {
                    headless: true,
                    maxConcurrency: 2,
                    async requestHandler({ page }) {
                        await page.waitForSelector('#ok');
                        await page.waitForLoadState('load');
                    },
                }),
                freshConfig(),
            );
            await crawler.run([
                { url: `${site.url}/page?who=active`, uniqueKey: 'active' },
                { url: `${site.url}/page?who=bob`, userData: { sessionId: 'bob' }, uniqueKey: 'bob' },
            ]);
            const active = echoed('/page?who=active')[0]!;
            const bob = echoed('/page?who=bob')[0]!;
            expect(active.headers['x-crawl']).toBe('browser');
            expect(active.headers['x-tags']).toBe('alice'); // alice's session header overrides the rule
            expect(active.cookies).toEqual({ PHPSESSID: 'alice-sid' });
            expect(bob.headers['x-crawl']).toBe('browser');
            expect(bob.headers['x-tags']).toBe('rule');
            expect(bob.cookies).toEqual({ PHPSESSID: 'bob-sid' });
            const pixels = echoed('/pixel');
            expect(pixels.length).toBeGreaterThanOrEqual(2);
            for (const pixel of pixels) {
                expect(pixel.headers['x-crawl']).toBe('browser');
                expect(['alice-sid', 'bob-sid']).toContain(pixel.cookies.PHPSESSID);
            }
        } finally {
            await sessions.close();
        }
    });
});
