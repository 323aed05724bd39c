/**
 * storedCookieOf: the stores' form of a cookie, built field by field, is exactly tough-cookie's `toJSON()` (which it
 * replaces on the write path) for every kind of cookie a jar holds or a header makes.
 */
import { Cookie, CookieJar } from 'tough-cookie';
import { describe, expect, it } from 'vitest';

import { storedCookieOf, storedCookieOfRecord } from '../src/session/stored-cookie.js';
import { BoundedCookieStore } from '../src/shared/bounded-cookie-store.js';

const HEADERS = [
    'sid=abc',
    'sid=abc; Path=/; HttpOnly',
    'a=1; Domain=shop.example; Path=/cart; Secure; SameSite=Lax',
    'b=2; Max-Age=3600',
    'c=3; Max-Age=0',
    'd=4; Max-Age=-5',
    'e=5; Expires=Wed, 21 Oct 2037 07:28:00 GMT; SameSite=None; Secure',
    'f=; Path=/',
    '=novalue',
    'g=7; Partitioned; Priority=High; Foo=bar',
    'h=8; SameSite=Strict; Domain=.Example.COM',
    'i="quoted value"; Path=/a/b',
];

describe('storedCookieOf', () => {
    it('equals toJSON() for parsed cookies, property by property and in the same order', () => {
        for (const header of HEADERS) {
            const cookie = Cookie.parse(header, { loose: true })!;
            expect(cookie, header).toBeDefined();
            const expected = cookie.toJSON();
            expect(storedCookieOf(cookie), header).toEqual(expected);
            expect(JSON.stringify(storedCookieOf(cookie)), header).toBe(JSON.stringify(expected));
        }
    });

    it('equals toJSON() for cookies a jar set (hostOnly, pathIsDefault, creation, lastAccessed) and after they were read', async () => {
        const jar = new CookieJar();
        for (const header of HEADERS.filter((h) => !/Domain=\.Example|Domain=shop/.test(h))) {
            await jar.setCookie(header, 'https://www.example.com/x/y', { loose: true });
        }
        await jar.setCookie('z=1; Domain=example.com', 'https://www.example.com/');
        await jar.getCookies('https://www.example.com/x/y'); // updates lastAccessed
        const cookies = await jar.store.getAllCookies();
        expect(cookies.length).toBeGreaterThan(5);
        for (const cookie of cookies) {
            expect(JSON.stringify(storedCookieOf(cookie)), cookie.key).toBe(JSON.stringify(cookie.toJSON()));
        }
    });

    it('storedCookieOfRecord equals toJSON() of the Cookie the compact store makes of each record, and serializeSync()', async () => {
        const store = new BoundedCookieStore();
        const jar = new CookieJar(store, { looseMode: true });
        for (const header of HEADERS.filter((h) => !/Domain=\.Example|Domain=shop/.test(h))) {
            await jar.setCookie(header, 'https://www.example.com/x/y', { loose: true });
        }
        await jar.setCookie('z=1; Domain=example.com', 'https://www.example.com/');
        await jar.getCookies('https://www.example.com/x/y'); // updates lastAccessed
        const odd = new Cookie({ key: 'odd', value: 'v', domain: 'example.com', path: '/', maxAge: 'Infinity', extensions: [] });
        odd.creation = 'Infinity' as unknown as Date;
        odd.lastAccessed = null;
        await store.putCookie(odd);
        const records = store.sortedRecords();
        expect(records.length).toBeGreaterThan(5);
        const views = await store.getAllCookies();
        records.forEach((record, index) => {
            expect(JSON.stringify(storedCookieOfRecord(record)), record.key).toBe(JSON.stringify(views[index]!.toJSON()));
        });
        expect(JSON.stringify(records.map(storedCookieOfRecord))).toBe(JSON.stringify(jar.serializeSync()!.cookies));
    });

    it('equals toJSON() for odd property values set directly', () => {
        const cookie = new Cookie({ key: 'k', value: 'v' });
        cookie.expires = 'Infinity';
        cookie.maxAge = 'Infinity';
        cookie.creation = new Date(0);
        cookie.lastAccessed = null;
        cookie.extensions = [];
        cookie.hostOnly = false;
        cookie.pathIsDefault = true;
        expect(JSON.stringify(storedCookieOf(cookie))).toBe(JSON.stringify(cookie.toJSON()));
        cookie.expires = new Date(Date.UTC(2030, 0, 1));
        cookie.maxAge = '-Infinity';
        expect(JSON.stringify(storedCookieOf(cookie))).toBe(JSON.stringify(cookie.toJSON()));
        cookie.lastAccessed = new Date(Date.UTC(2030, 0, 1, 0, 0, 0, 1)); // a millisecond after expires
        cookie.creation = Date.UTC(2029, 0, 1) as unknown as Date; // numbers are dates too
        expect(JSON.stringify(storedCookieOf(cookie))).toBe(JSON.stringify(cookie.toJSON()));
        cookie.creation = new Date(Number.NaN);
        expect(() => storedCookieOf(cookie)).toThrow(RangeError);
        expect(() => cookie.toJSON()).toThrow(RangeError);
    });
});
