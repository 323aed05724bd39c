import { Cookie, CookieJar } from 'tough-cookie';
import { describe, expect, it } from 'vitest';

import { TrackingCookieStore } from '../src/session/tracking-cookie-store.js';
import { BoundedCookieStore, recordOf } from '../src/shared/bounded-cookie-store.js';
import { cookieKeyOf } from '../src/model/merge.js';
import { allCookies, createJar, storeSetCookieHeaders } from '../src/shared/cookies.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The store's own access time of a cookie, read without touching it. */
function accessedAt(store: BoundedCookieStore, name: string): number {
    const record = store.allRecords().find((each) => each.key === name);
    if (!record) throw new Error(`no cookie ${name}`);
    return record.lastAccessed;
}

describe('compact cookie store', () => {
    it('behaves as tough-cookie with its MemoryCookieStore for sets, reads, replacements, removals and serialization', () => {
        const plain = new CookieJar(undefined, { looseMode: true });
        const compact = createJar();
        const url = 'https://a.shop.example.com/account/orders';
        const headers = [
            'sid=0123456789abcdef0123456789abcdef; Path=/; HttpOnly; Secure; SameSite=Lax',
            'prefs=x; Path=/; Max-Age=3600',
            'wide=1; Domain=example.com; Path=/',
            'deep=1; Path=/account',
            'other=1; Path=/elsewhere',
            'gone=1; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT',
            'odd=1; Path=/; Priority=High; Partitioned',
            'zero=1; Path=/; Max-Age=0',
            'past=1; Path=/; Max-Age=60; Expires=Thu, 01 Jan 1970 00:00:00 GMT',
            'sid=replaced; Path=/; HttpOnly; Secure; SameSite=Lax',
        ];
        for (const jar of [plain, compact]) storeSetCookieHeaders(jar, headers, url);
        for (const target of [url, 'https://shop.example.com/', 'http://a.shop.example.com/account/x', 'https://example.com/elsewhere']) {
            expect(compact.getCookieStringSync(target)).toBe(plain.getCookieStringSync(target));
            const sorted = (jar: CookieJar) => jar.getCookiesSync(target).map((cookie) => cookie.toString()).sort();
            expect(sorted(compact)).toEqual(sorted(plain));
        }
        const strip = (jar: CookieJar) =>
            jar.serializeSync()!.cookies.map(({ creation: _c, lastAccessed: _l, ...rest }) => rest);
        expect(strip(compact)).toEqual(strip(plain));
        for (const jar of [plain, compact]) {
            jar.store.removeCookie('a.shop.example.com', '/', 'prefs', () => undefined);
            jar.store.removeCookies('example.com', null, () => undefined);
        }
        expect(strip(compact)).toEqual(strip(plain));
        expect(allCookies(compact).map((cookie) => cookie.key)).toEqual(allCookies(plain).map((cookie) => cookie.key));
    });

    it('keeps the access time tough-cookie gives the cookies it returns (the purges and Max-Age count from it)', async () => {
        const store = new TrackingCookieStore();
        const jar = new CookieJar(store, { looseMode: true });
        storeSetCookieHeaders(jar, ['a=1; Path=/', 'b=1; Path=/b', 'm=1; Path=/; Max-Age=60'], 'https://example.com/');
        const before = accessedAt(store, 'a');
        const bBefore = accessedAt(store, 'b');
        const version = store.version;
        await sleep(5);
        expect(jar.getCookieStringSync('https://example.com/')).toBe('a=1; m=1');
        expect(accessedAt(store, 'a')).toBeGreaterThan(before);
        expect(accessedAt(store, 'b')).toBe(bBefore); // not sent, not used
        // Max-Age counts from the last access, as with tough-cookie's own store.
        const [m] = jar.getCookiesSync('https://example.com/').filter((cookie) => cookie.key === 'm');
        expect(m!.expiryTime()).toBe(accessedAt(store, 'm') + 60_000);
        // Reading is not a change: nothing to write, the Cookie header cache stays valid.
        expect(store.version).toBe(version);
        expect(store.isDirty).toBe(true); // from the sets above
        store.takeDirty();
        jar.getCookieStringSync('https://example.com/');
        expect(store.isDirty).toBe(false);
    });

    it('hands out Cookies (instances of tough-cookie Cookie) and, from sessions.get, copies detached from the store', () => {
        const jar = createJar();
        storeSetCookieHeaders(jar, 'a=1; Path=/', 'https://example.com/');
        const [view] = jar.getCookiesSync('https://example.com/');
        expect(view).toBeInstanceOf(Cookie);
        expect(recordOf(view!)).toBeDefined();
        expect(view!.clone()!.toJSON()).toEqual(view!.toJSON());
        const [copy] = allCookies(jar);
        expect(copy).toBeInstanceOf(Cookie);
        expect(recordOf(copy!)).toBeUndefined();
        copy!.value = 'changed';
        copy!.lastAccessed = new Date(0);
        expect(jar.getCookieStringSync('https://example.com/')).toBe('a=1');
        expect((jar.store as BoundedCookieStore).allRecords()[0]!.lastAccessed).not.toBe(0);
    });

    it('stores a value parsed from a long header without keeping the header, and hostile names as they are', () => {
        const jar = createJar();
        const value = 'v'.repeat(200);
        storeSetCookieHeaders(jar, [`long=${value}; Path=/; Secure`, '__proto__=1; Path=/', 'constructor=2; Path=/', '0=3; Path=/'], 'https://example.com/');
        expect(jar.getCookieStringSync('https://example.com/').split('; ').sort()).toEqual(['0=3', '__proto__=1', 'constructor=2', `long=${value}`]);
        expect(allCookies(jar).find((cookie) => cookie.key === 'long')!.secure).toBe(true);
    });
});

describe('a repeated Set-Cookie', () => {
    it('replaces the value in place: the change is recorded for the next flush, the cached Cookie header shows it, the shape version stays', async () => {
        const { cookieHeaderOf } = await import('../src/session/cookie-header.js');
        let told = 0;
        const store = new TrackingCookieStore(() => told++);
        const jar = new CookieJar(store, { looseMode: true });
        const url = new URL('https://shop.example.com/catalog/page');
        storeSetCookieHeaders(jar, ['visits=1; Path=/; Max-Age=3600', 'sid=abc; Path=/; HttpOnly'], url);
        const record = store.allRecords().find((each) => each.key === 'visits')!;
        const created = record.creation;
        expect(cookieHeaderOf(jar, url)).toBe('visits=1; sid=abc');
        expect(cookieHeaderOf(jar, url)).toBe('visits=1; sid=abc'); // served from the cache from here on
        store.takeDirty();
        const version = store.version;
        told = 0;
        await sleep(3);

        storeSetCookieHeaders(jar, ['visits=2; Path=/; Max-Age=3600', 'sid=abc; Path=/; HttpOnly'], url);
        expect(store.allRecords().find((each) => each.key === 'visits')).toBe(record);
        expect(record.value).toBe('2');
        expect(record.creation).toBe(created);
        expect(record.lastAccessed).toBeGreaterThan(created);
        expect(store.version).toBe(version);
        expect(told).toBe(1);
        expect(store.takeDirty()).toEqual(new Set([cookieKeyOf(record)]));
        expect(cookieHeaderOf(jar, url)).toBe('visits=2; sid=abc');

        // Other attributes, another origin or a value too large: tough-cookie's path, as without the memo.
        storeSetCookieHeaders(jar, 'visits=3; Path=/; Max-Age=60', url);
        expect(store.version).toBeGreaterThan(version);
        expect(cookieHeaderOf(jar, url)).toBe('visits=3; sid=abc');
        storeSetCookieHeaders(jar, `visits=${'x'.repeat(5000)}; Path=/; Max-Age=60`, url);
        expect(cookieHeaderOf(jar, url)).toBe('visits=3; sid=abc');
        storeSetCookieHeaders(jar, 'sid=evil; Path=/; HttpOnly', new URL('http://shop.example.com/'));
        expect(jar.getCookiesSync(url).find((cookie) => cookie.key === 'sid')?.value).toBe('evil'); // from http:// (another origin for the memo) tough-cookie stored it
    });
});
