import http from 'node:http';

import { Configuration, HttpCrawler, log } from 'crawlee';
import { Cookie, CookieJar } from 'tough-cookie';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Sessions, withSessions } from '../src/index.js';
import type { SessionDelta } from '../src/model/types.js';
import {
    DOMAIN_PROTECTED_COOKIES,
    DOMAIN_PURGE_COOKIES,
    JAR_PURGE_COOKIES,
    MAX_COOKIE_BYTES,
    MAX_COOKIES_PER_DOMAIN,
    MAX_COOKIES_PER_JAR,
} from '../src/shared/bounded-cookie-store.js';
import { addCookiesToJar, allCookies, createJar, storeSetCookieHeaders } from '../src/shared/cookies.js';
import { ConfigValidationError } from '../src/shared/validation.js';
import { MemorySessionStore } from '../src/stores/memory-store.js';
import { listenOnLoopback, type LoopbackListener } from './support/loopback.js';

log.setLevel(log.LEVELS.OFF);

const SECRET = 'S3cr3t-cookie-value';

/**
 * How many of `added` cookies of one site a jar keeps when they arrive one by one, never re-set, each used less
 * recently than the next: Chromium's rule — above 180, purge to 150.
 */
function keptAfter(added: number): number {
    let kept = 0;
    for (let n = 0; n < added; n++) {
        kept++;
        if (kept > MAX_COOKIES_PER_DOMAIN) kept = MAX_COOKIES_PER_DOMAIN - DOMAIN_PURGE_COOKIES;
    }
    return kept;
}

function names(jar: CookieJar): string[] {
    return allCookies(jar).map((cookie) => cookie.key);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('cookie size', () => {
    it('refuses cookies over 4096 bytes (name and value, in UTF-8), from a site or added by hand', () => {
        const jar = createJar();
        const url = 'http://shop.example.com/';
        storeSetCookieHeaders(jar, [`big=${'x'.repeat(4500)}`, `edge=${'x'.repeat(MAX_COOKIE_BYTES - 4)}`, `over=${'x'.repeat(MAX_COOKIE_BYTES - 3)}`], url);
        // 1366 × "€" is 1366 UTF-16 units but 4098 bytes.
        storeSetCookieHeaders(jar, [`e=${'€'.repeat(1365)}`, `euro=${'€'.repeat(1366)}`], url);
        expect(names(jar).sort()).toEqual(['e', 'edge']);

        // Re-setting an existing cookie with an oversized value keeps the old value, as Chromium does.
        storeSetCookieHeaders(jar, ['sid=small', `sid=${'y'.repeat(4500)}`], url);
        expect(allCookies(jar).find((cookie) => cookie.key === 'sid')?.value).toBe('small');

        const error = (() => {
            try {
                addCookiesToJar(jar, [{ name: 'ok', value: '1' }, { name: 'huge', value: `${SECRET}${'z'.repeat(4500)}` }], url);
            } catch (caught) {
                return caught as ConfigValidationError;
            }
            throw new Error('expected a ConfigValidationError');
        })();
        expect(error).toBeInstanceOf(ConfigValidationError);
        expect(error.message).toBe(
            `Invalid cookies: cookies[1]: is ${4504 + SECRET.length} bytes long (name and value): browsers refuse cookies over 4096 bytes`,
        );
        // Nothing of the refused batch was added.
        expect(names(jar)).not.toContain('ok');
    });
});

describe('cookies per site and per jar', () => {
    it('keeps the newest cookies of a site when it sets more than 180, counting its subdomains together', () => {
        const jar = createJar();
        for (let n = 0; n < 400; n++) {
            const host = ['shop.example.com', 'www.example.com', 'example.com'][n % 3];
            storeSetCookieHeaders(jar, `c${n}=${n}; Domain=example.com; Path=/`, `http://${host}/`);
        }
        // Another site is not affected.
        storeSetCookieHeaders(jar, 'other=1', 'http://other.example.org/');
        const kept = keptAfter(400);
        expect(kept).toBeGreaterThanOrEqual(MAX_COOKIES_PER_DOMAIN - DOMAIN_PURGE_COOKIES);
        expect(kept).toBeLessThanOrEqual(MAX_COOKIES_PER_DOMAIN);
        const expected = Array.from({ length: kept }, (_, i) => `c${400 - kept + i}`);
        expect(names(jar).filter((name) => name !== 'other').sort()).toEqual(expected.sort());
        expect(names(jar)).toContain('other');
    });

    it('evicts the least recently used first: cookies the crawl keeps sending survive', async () => {
        const jar = createJar();
        const site = 'http://lru.example.com';
        for (let n = 0; n < 20; n++) storeSetCookieHeaders(jar, `hot${n}=1; Path=/hot`, `${site}/hot`);
        for (let n = 0; n < 160; n++) storeSetCookieHeaders(jar, `cold${n}=1; Path=/cold`, `${site}/cold`);
        await sleep(5);
        expect(jar.getCookieStringSync(`${site}/hot`)).toContain('hot0=1'); // sends (uses) the 20 oldest cookies
        storeSetCookieHeaders(jar, 'new=1; Path=/cold', `${site}/cold`);
        const kept = names(jar);
        expect(kept).toHaveLength(MAX_COOKIES_PER_DOMAIN - DOMAIN_PURGE_COOKIES);
        for (let n = 0; n < 20; n++) expect(kept).toContain(`hot${n}`);
        // The 31 evicted are the oldest unused ones.
        for (let n = 0; n < 31; n++) expect(kept).not.toContain(`cold${n}`);
        expect(kept).toContain('cold31');
        expect(kept).toContain('new');
    });

    it('evicts non-secure cookies before secure ones, protecting a quota as Chromium does', () => {
        const jar = createJar();
        for (let n = 0; n < 100; n++) storeSetCookieHeaders(jar, `s${n}=1; Secure`, 'https://secure.example.com/');
        for (let n = 0; n < 81; n++) storeSetCookieHeaders(jar, `p${n}=1`, 'https://secure.example.com/');
        const kept = names(jar);
        expect(kept).toHaveLength(MAX_COOKIES_PER_DOMAIN - DOMAIN_PURGE_COOKIES);
        // The secure cookies are older but survive; the 31 oldest non-secure ones went.
        expect(kept.filter((name) => name.startsWith('s'))).toHaveLength(100);
        expect(kept.filter((name) => name.startsWith('p')).sort()).toEqual(Array.from({ length: 50 }, (_, i) => `p${i + 31}`).sort());
        expect(DOMAIN_PROTECTED_COOKIES).toBe(50);
    });

    it('bounds the whole jar, evicting the least recently used across sites', () => {
        const jar = createJar();
        const sites = 40;
        for (let site = 0; site < sites; site++) {
            for (let n = 0; n < 100; n++) storeSetCookieHeaders(jar, `c${n}=1`, `http://www.site${site}.com/`);
        }
        const total = allCookies(jar).length;
        expect(total).toBeLessThanOrEqual(MAX_COOKIES_PER_JAR);
        expect(total).toBeGreaterThanOrEqual(MAX_COOKIES_PER_JAR - JAR_PURGE_COOKIES);
        // The newest site is whole, the oldest is gone.
        expect(jar.getCookiesSync(`http://www.site${sites - 1}.com/`)).toHaveLength(100);
        expect(jar.getCookiesSync('http://www.site0.com/')).toHaveLength(0);
    });

    it('applies the limits to addCookies too', () => {
        const jar = createJar();
        const cookies = Array.from({ length: 250 }, (_, n) => ({ name: `a${n}`, value: String(n) }));
        expect(addCookiesToJar(jar, cookies, 'http://add.example.com/')).toBe(250);
        const kept = keptAfter(250);
        expect(names(jar).sort()).toEqual(Array.from({ length: kept }, (_, i) => `a${250 - kept + i}`).sort());
    });
});

describe('addCookies validation', () => {
    const url = 'http://shop.example.com/';

    function refused(cookies: unknown[]): ConfigValidationError {
        const jar = createJar();
        try {
            addCookiesToJar(jar, cookies as never, url);
        } catch (error) {
            expect(error).toBeInstanceOf(ConfigValidationError);
            expect(allCookies(jar)).toEqual([]);
            return error as ConfigValidationError;
        }
        throw new Error('expected a ConfigValidationError');
    }

    it('refuses values that would split or inject on the wire, naming each field and never showing the value', () => {
        const error = refused([
            { name: 'sid', value: `${SECRET};admin=1` },
            { name: 'sid', value: `${SECRET}\r\nSet-Cookie: x=y` },
            { name: 'sid', value: `${SECRET}\u0000` },
            { name: 'sid', value: `${SECRET}\u0007` },
            { name: 'sid', value: `${SECRET}\u2026` },
            { name: 'a=b', value: SECRET },
            { name: 'a b', value: SECRET },
            { name: '', value: SECRET },
            { name: 'sid', value: 42 },
            `sid=${SECRET}\r\nX-Injected: 1`,
            `sid=${SECRET}\u00e9`,
            '',
            { name: 'sid', value: SECRET, path: '/;x' },
            null,
        ]);
        expect(error.issues).toEqual([
            { path: '[0].value', message: `must not contain ";" (at position ${SECRET.length}): it would end the value and start another cookie` },
            { path: '[1].value', message: `must not contain line breaks (CR or LF) (at position ${SECRET.length})` },
            { path: '[2].value', message: `must not contain NUL characters (at position ${SECRET.length})` },
            { path: '[3].value', message: `must not contain control characters (at position ${SECRET.length})` },
            {
                path: '[4].value',
                message: `must be printable ASCII (at position ${SECRET.length}): percent-encode other characters (e.g. with encodeURIComponent), as sites do`,
            },
            { path: '[5].name', message: 'must not contain "=" (at position 1): it would end the name' },
            { path: '[6].name', message: 'must not contain spaces (at position 1)' },
            { path: '[7].name', message: 'must not be empty' },
            { path: '[8].value', message: 'must be a string' },
            { path: '[9]', message: `must not contain line breaks (CR or LF) (at position ${4 + SECRET.length})` },
            { path: '[10]', message: `must be printable ASCII (at position ${4 + SECRET.length}): a non-ASCII character cannot be sent in an HTTP header` },
            { path: '[11]', message: 'is not a Set-Cookie string like "sid=abc; Path=/"' },
            { path: '[12].path', message: 'must not contain ";" (at position 1): it would end the value and start another cookie' },
            { path: '[13]', message: 'must be a Set-Cookie string, a { name, value } object or a tough-cookie Cookie' },
        ]);
        expect(error.message).toMatch(/^Invalid cookies: cookies\[0\]\.value: must not contain ";"/);
        expect(error.message).not.toContain(SECRET);
        expect(JSON.stringify(error.issues)).not.toContain(SECRET);
    });

    it('checks tough-cookie Cookies and parsed strings by the same rules, and accepts good ones', () => {
        const bad = refused([new Cookie({ key: 'sid', value: 'a;b' })]);
        expect(bad.issues).toEqual([{ path: '[0].value', message: 'must not contain ";" (at position 1): it would end the value and start another cookie' }]);

        const jar = createJar();
        const added = addCookiesToJar(
            jar,
            ['raw=1; Path=/; HttpOnly', { name: 'obj', value: 'a b,"c"=\\d' }, new Cookie({ key: 'tc', value: 'x' })],
            url,
        );
        expect(added).toBe(3);
        expect(jar.getCookieStringSync(url).split('; ').sort()).toEqual(['obj=a b,"c"=\\d', 'raw=1', 'tc=x']);
    });
});

describe('bounded jars in a crawl', () => {
    let server: LoopbackListener;
    const cookieHeaders: string[] = [];
    const PER_RESPONSE = 100;

    beforeAll(async () => {
        server = await listenOnLoopback(
            http.createServer((req, res) => {
                cookieHeaders.push(req.headers.cookie ?? '');
                const match = /^\/set\/(\d+)/.exec(req.url ?? '');
                if (match) {
                    const batch = Number(match[1]);
                    res.setHeader(
                        'set-cookie',
                        Array.from({ length: PER_RESPONSE }, (_, i) => `c${batch * PER_RESPONSE + i}=${'v'.repeat(20)}; Path=/`),
                    );
                }
                if (req.url === '/huge') res.setHeader('set-cookie', [`huge=${'h'.repeat(4500)}; Path=/`, 'small=1; Path=/']);
                res.end('ok');
            }),
        );
    });

    afterAll(async () => {
        await server?.close();
    });

    /** A memory store that keeps every delta it is asked to write. */
    class RecordingStore extends MemorySessionStore {
        readonly deltas: SessionDelta[] = [];
        override async write(deltas: readonly SessionDelta[]) {
            this.deltas.push(...structuredClone(deltas));
            return super.write(deltas);
        }
    }

    async function crawl(sessions: Sessions, urls: string[]): Promise<void> {
        const crawler = new HttpCrawler(
            withSessions(sessions, { maxConcurrency: 1, async requestHandler() {} }),
            new Configuration({ persistStorage: false, purgeOnStart: true }),
        );
        await crawler.run(urls.map((url, n) => ({ url, uniqueKey: `${url}#${n}`, userData: { sessionId: 'hostile' } })));
    }

    it('a site setting 800 cookies: the jar keeps the newest, the Cookie header stays bounded, the store follows', async () => {
        cookieHeaders.length = 0;
        const store = new RecordingStore();
        const sessions = await Sessions.open({ store, persistence: { flushIntervalMillis: 60_000 } });

        // 150 cookies, written to the store.
        await crawl(sessions, [`${server.url}/set/0`]);
        const first = Array.from({ length: 50 }, (_, i) => `c${100 + i}`);
        sessions.addCookies('hostile', first.map((name) => ({ name, value: 'v'.repeat(20) })), server.url);
        await sessions.flush();
        expect((await store.read('hostile'))!.cookies).toHaveLength(150);

        // 650 more over seven responses (c150 … c799: batches 1–7, the first 50 of batch 1 re-set c100 … c149).
        await crawl(sessions, Array.from({ length: 7 }, (_, n) => `${server.url}/set/${n + 1}`).concat(`${server.url}/last`));
        const kept = keptAfter(800);
        const expected = Array.from({ length: kept }, (_, i) => `c${800 - kept + i}`).sort();
        expect(sessions.get('hostile').map((cookie) => cookie.key).sort()).toEqual(expected);

        // What the site received stayed bounded: never more than 180 cookies (about 5 kB here).
        const counts = cookieHeaders.map((header) => (header ? header.split('; ').length : 0));
        expect(Math.max(...counts)).toBeLessThanOrEqual(MAX_COOKIES_PER_DOMAIN);
        expect(counts.at(-1)).toBe(kept);

        // The store holds exactly the jar, and the delta recorded the evictions of cookies it had been given.
        store.deltas.length = 0;
        await sessions.flush();
        const stored = (await store.read('hostile'))!.cookies.map((cookie) => cookie.key).sort();
        expect(stored).toEqual(expected);
        const removed = new Set(store.deltas.flatMap((delta) => delta.removals.map((removal) => removal.key)));
        for (let n = 0; n < 800 - kept; n++) if (n < 150) expect(removed.has(`c${n}`), `c${n} removed`).toBe(true);
        await sessions.close();
    });

    it('a 4.5 kB cookie from a site is refused, the rest of the response is kept', async () => {
        const sessions = await Sessions.open({ store: 'memory' });
        await crawl(sessions, [`${server.url}/huge`]);
        expect(sessions.get('hostile').map((cookie) => cookie.key)).toEqual(['small']);
        await sessions.close();
    });
});
