/**
 * Identity by browser family on the request path: a session whose profile names a Chrome, Firefox, Safari or Android
 * Chrome User-Agent sends, in its renewal and in the crawl alike, the headers that browser sends — client hints only
 * for Chromium browsers, consistent with the UA — identical from one request to the next.
 */
import http from 'node:http';

import { CheerioCrawler, Configuration, log } from 'crawlee';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Sessions, defineProfiles, withSessions } from '../src/index.js';
import { listenOnLoopback, type LoopbackListener } from './support/loopback.js';

log.setLevel(log.LEVELS.OFF);

const USER_AGENTS = {
    chrome: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
    firefox: 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
    safari: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
    android: 'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36',
} as const;

type Browser = keyof typeof USER_AGENTS;

interface Seen {
    path: string;
    session: string;
    headers: Array<[string, string]>;
}

let server: LoopbackListener;
const seen: Seen[] = [];

beforeAll(async () => {
    server = await listenOnLoopback(
        http.createServer((req, res) => {
            const url = new URL(req.url ?? '/', 'http://site.invalid');
            const session = url.searchParams.get('s') ?? '';
            const headers: Array<[string, string]> = [];
            for (let i = 0; i < req.rawHeaders.length; i += 2) headers.push([req.rawHeaders[i]!.toLowerCase(), req.rawHeaders[i + 1]!]);
            seen.push({ path: url.pathname, session, headers });
            if (url.pathname === '/login') {
                res.writeHead(200, { 'set-cookie': `sid-${session}=1; Path=/`, 'content-type': 'text/html' });
                return void res.end('<p>welcome</p>');
            }
            res.writeHead(200, { 'content-type': 'text/html' });
            res.end('<p>page</p>');
        }),
    );
});
afterAll(async () => {
    await server?.close();
});

/** The headers that make up the identity: everything but the per-request ones. */
function identityHeaders(request: Seen): Array<[string, string]> {
    return request.headers.filter(([name]) => !['host', 'cookie', 'connection', 'content-length', 'content-type'].includes(name));
}

describe('identity by browser family, in the renewal and the crawl', () => {
    it('each session presents its browser: hints only for Chromium, the same headers in renewal and crawl, stable', async () => {
        const browsers = Object.keys(USER_AGENTS) as Browser[];
        const sessions = await Sessions.open({
            store: 'memory',
            profiles: defineProfiles(browsers.map((browser) => ({ userAgent: USER_AGENTS[browser], name: browser }))),
            loginFor: (id) => ({ url: `${server.url}/login?s=${id}` }),
        });
        try {
            // A renewal moves a session to a fresh profile: which browser each session presents is its profile's.
            const ids = ['s1', 's2', 's3', 's4', 's5', 's6', 's7', 's8'];
            for (const id of ids) sessions.getProfile(id); // created first: two sessions per profile
            for (const id of ids) await sessions.renew(id);
            const browserOf = new Map(ids.map((id) => [id, sessions.getProfile(id)!.name as Browser]));
            expect(new Set(browserOf.values()), 'every browser is presented by some session').toEqual(new Set(browsers));
            const crawler = new CheerioCrawler(withSessions(sessions, { maxConcurrency: 4, async requestHandler() {} }), new Configuration({ persistStorage: false }));
            await crawler.run(
                ids.flatMap((id) => [1, 2, 3].map((n) => ({ url: `${server.url}/page/${n}?s=${id}`, userData: { sessionId: id } }))),
            );

            for (const [id, browser] of browserOf) {
                const ua = USER_AGENTS[browser];
                const renewal = seen.find((request) => request.path === '/login' && request.session === id)!;
                const pages = seen.filter((request) => request.path.startsWith('/page/') && request.session === id);
                expect(renewal, browser).toBeDefined();
                expect(pages, browser).toHaveLength(3);
                for (const request of [renewal, ...pages]) {
                    const headers = new Map(identityHeaders(request));
                    expect(headers.get('user-agent'), browser).toBe(ua);
                    expect(headers.get('accept-language'), browser).toBeTruthy();
                    const hints = [...headers.keys()].filter((name) => name.startsWith('sec-ch-'));
                    if (browser === 'firefox' || browser === 'safari') {
                        expect(hints, `${browser} sends no client hints`).toEqual([]);
                    } else {
                        expect(headers.get('sec-ch-ua'), browser).toMatch(/"Chromium";v="124"/);
                        expect(headers.get('sec-ch-ua-mobile'), browser).toBe(browser === 'android' ? '?1' : '?0');
                        expect(headers.get('sec-ch-ua-platform'), browser).toBe(browser === 'android' ? '"Android"' : '"Windows"');
                    }
                }
                // The renewal and every crawl request present the same identity: same headers, same values, same order.
                const reference = identityHeaders(renewal);
                for (const page of pages) expect(identityHeaders(page), `${browser} ${page.path}`).toEqual(reference);
            }
            // Browsers differ from one another: the family decides, not one generated set for all.
            const accepts = new Set(ids.map((id) => new Map(identityHeaders(seen.find((r) => r.session === id)!)).get('accept')));
            expect(accepts.size).toBeGreaterThan(1);
        } finally {
            await sessions.close();
        }
    });

    it('a session that is only crawled (never renewed) presents its browser too', async () => {
        const browsers = Object.keys(USER_AGENTS) as Browser[];
        const sessions = await Sessions.open({
            store: 'memory',
            profiles: defineProfiles(browsers.map((browser) => ({ userAgent: USER_AGENTS[browser], name: browser }))),
        });
        try {
            const ids = browsers.map((browser) => `crawl-${browser}`);
            const crawler = new CheerioCrawler(withSessions(sessions, { maxConcurrency: 4, async requestHandler() {} }), new Configuration({ persistStorage: false }));
            await crawler.run(ids.flatMap((id) => [1, 2].map((n) => ({ url: `${server.url}/only/${n}?s=${id}`, userData: { sessionId: id } }))));
            for (const id of ids) {
                const browser = sessions.getProfile(id)!.name as Browser;
                const pages = seen.filter((request) => request.path.startsWith('/only/') && request.session === id);
                expect(pages, id).toHaveLength(2);
                const headers = new Map(identityHeaders(pages[0]!));
                expect(headers.get('user-agent'), id).toBe(USER_AGENTS[browser]);
                const hints = [...headers.keys()].filter((name) => name.startsWith('sec-ch-'));
                if (browser === 'firefox' || browser === 'safari') expect(hints, id).toEqual([]);
                else expect(headers.get('sec-ch-ua-mobile'), id).toBe(browser === 'android' ? '?1' : '?0');
                expect(identityHeaders(pages[1]!), id).toEqual(identityHeaders(pages[0]!));
            }
        } finally {
            await sessions.close();
        }
    });
});
