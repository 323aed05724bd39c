import { CookieJar } from 'tough-cookie';
import { describe, expect, it } from 'vitest';

import { cookieHeaderOf } from '../src/session/cookie-header.js';
import { TrackingCookieStore } from '../src/session/tracking-cookie-store.js';
import { BoundedCookieStore } from '../src/shared/bounded-cookie-store.js';

/** A small deterministic generator, so that a failing sequence can be replayed. */
function random(seed: number): () => number {
    let x = seed >>> 0;
    return () => {
        x = (x * 1664525 + 1013904223) >>> 0;
        return x / 2 ** 32;
    };
}

const URLS = [
    'http://shop.example.com/',
    'http://shop.example.com/account/orders',
    'https://shop.example.com/account',
    'https://www.shop.example.com/catalog/item-1',
    'http://example.com/account/',
    'http://127.0.0.1:8080/p/1',
    'http://127.0.0.1:9090/account/x',
    'http://[::1]:8080/account',
];

const SET_COOKIES = [
    'sid=v{n}; Path=/; HttpOnly',
    'sid=v1; Path=/; HttpOnly',
    'csrf=c{n}; Path=/; Secure',
    'cart=k{n}; Path=/account; Max-Age=60',
    'cart=k1; Path=/account; Max-Age=60',
    'prefs=p{n}; Domain=example.com; Path=/',
    'prefs=p1; Domain=example.com; Path=/',
    'short=s{n}; Path=/; Max-Age=1',
    'gone=x; Path=/; Max-Age=0',
    'old=o{n}; Path=/; Expires=Thu, 01 Jan 1970 00:00:01 GMT',
    'deflt=d{n}',
];

/** Everything of a jar a later read can depend on: every cookie with its value, times and attributes. */
function contents(jar: CookieJar): unknown {
    return jar.serializeSync()!.cookies.map((cookie) => ({ ...cookie })).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

describe('the cached Cookie header', () => {
    it('is what tough-cookie sends, with the same effects on the jar, through any sequence of sets, reads and expiries', () => {
        for (let seed = 1; seed <= 40; seed++) {
            const next = random(seed);
            let now = Date.UTC(2026, 0, 1);
            const clock = () => new Date(now);
            // The reference: the jar's store without change tracking (a cookie set again replaces the stored object).
            const plain = new CookieJar(new BoundedCookieStore(), { looseMode: true });
            const cached = new CookieJar(new TrackingCookieStore(), { looseMode: true });
            for (let step = 0; step < 300; step++) {
                const url = URLS[Math.floor(next() * URLS.length)]!;
                const action = next();
                if (action < 0.3) {
                    const text = SET_COOKIES[Math.floor(next() * SET_COOKIES.length)]!.replace('{n}', String(step));
                    for (const jar of [plain, cached]) jar.setCookieSync(text, url, { ignoreError: true, now: clock() });
                } else if (action < 0.35) {
                    now += Math.floor(next() * 3000);
                } else {
                    // Both reads at the same instant: tough-cookie takes `Date.now()` for expiry and `lastAccessed`.
                    const realNow = Date.now;
                    Date.now = () => now;
                    const RealDate = globalThis.Date;
                    globalThis.Date = class extends RealDate {
                        constructor(...args: unknown[]) {
                            if (args.length === 0) super(now);
                            else super(...(args as [number]));
                        }
                        static override now() {
                            return now;
                        }
                    } as DateConstructor;
                    try {
                        const expected = plain.getCookieStringSync(url);
                        const actual = cookieHeaderOf(cached, new URL(url));
                        expect(actual, `seed ${seed}, step ${step}, ${url}`).toBe(expected);
                    } finally {
                        globalThis.Date = RealDate;
                        Date.now = realNow;
                    }
                }
                if (step % 5 === 0) expect(contents(cached), `seed ${seed}, step ${step}`).toEqual(contents(plain));
            }
        }
    });

    it('is served from the cache while the jar does not change, and read again after any change', () => {
        const store = new TrackingCookieStore();
        const jar = new CookieJar(store, { looseMode: true });
        jar.setCookieSync('sid=1; Path=/', 'http://site.test/');
        jar.setCookieSync('cart=2; Path=/account', 'http://site.test/');
        const url = new URL('http://site.test/account/orders');
        expect(cookieHeaderOf(jar, url)).toBe('cart=2; sid=1');
        expect(cookieHeaderOf(jar, url)).toBe('cart=2; sid=1');
        // A cookie set again as it is changes nothing; a new value does.
        const version = store.version;
        jar.setCookieSync('sid=1; Path=/', 'http://site.test/');
        expect(store.version).toBe(version);
        jar.setCookieSync('sid=3; Path=/', 'http://site.test/');
        expect(store.version).toBeGreaterThan(version);
        expect(cookieHeaderOf(jar, url)).toBe('cart=2; sid=3');
        expect(cookieHeaderOf(jar, url)).toBe('cart=2; sid=3');
        expect(cookieHeaderOf(jar, new URL('http://site.test/catalog'))).toBe('sid=3');
        jar.removeAllCookiesSync();
        expect(cookieHeaderOf(jar, url)).toBe('');
    });
});
