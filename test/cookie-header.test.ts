import { CookieJar } from 'tough-cookie';
import { describe, expect, it } from 'vitest';

import { cookieHeaderOf } from '../src/session/cookie-header.js';
import { storeSetCookieHeaders } from '../src/shared/cookies.js';
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
    'http://shop.example.com/caf%C3%A9/menu',
    'http://shop.example.com/a%2541/b',
    'http://shop.example.com/a%41/b',
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
    'deflt=d1',
    ' spaced = s{n} ;Path=/ ; HttpOnly',
    'lax=l{n}; path=/; samesite=lax; max-age=30',
    '__Host-h=h{n}; Path=/; Secure',
    '__Secure-s=s{n}; Path=/',
    'away=a{n}; Domain=other.test; Path=/',
    'big=' + 'x'.repeat(4100) + '{n}; Path=/',
    'big=b{n}; Path=/',
    'ctl=c{n}\r\nX-Injected: 1; Path=/',
    'noeq{n}; Path=/',
];

/** Everything of a jar a later read can depend on: every cookie with its value, times and attributes. */
function contents(jar: CookieJar): unknown {
    return jar.serializeSync()!.cookies.map((cookie) => ({ ...cookie })).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

/** Runs `action` with the clock (`Date.now()` and `new Date()`) stopped at `now`: both jars see the same instants. */
function atInstant<T>(now: number, action: () => T): T {
    const realNow = Date.now;
    const RealDate = globalThis.Date;
    Date.now = () => now;
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
        return action();
    } finally {
        globalThis.Date = RealDate;
        Date.now = realNow;
    }
}

describe('the cached Cookie header and the repeated Set-Cookie path', () => {
    it('are what tough-cookie sends and stores, with the same effects on the jar, through any sequence of sets, reads and expiries', () => {
        for (let seed = 1; seed <= 40; seed++) {
            const next = random(seed);
            let now = Date.UTC(2026, 0, 1);
            // The reference: tough-cookie's own setCookie and read, on the jar's store without change tracking.
            const plain = new CookieJar(new BoundedCookieStore(), { looseMode: true });
            const cached = new CookieJar(new TrackingCookieStore(), { looseMode: true });
            for (let step = 0; step < 300; step++) {
                const url = URLS[Math.floor(next() * URLS.length)]!;
                const action = next();
                if (action < 0.3) {
                    const count = 1 + Math.floor(next() * 3);
                    const texts = Array.from({ length: count }, () => SET_COOKIES[Math.floor(next() * SET_COOKIES.length)]!.replace('{n}', String(step)));
                    atInstant(now, () => {
                        for (const text of texts) plain.setCookieSync(text, url, { ignoreError: true, loose: true });
                        storeSetCookieHeaders(cached, texts, next() < 0.5 ? url : new URL(url));
                    });
                } else if (action < 0.35) {
                    now += Math.floor(next() * 3000);
                } else {
                    const [expected, actual] = atInstant(now, () => [plain.getCookieStringSync(url), cookieHeaderOf(cached, new URL(url))]);
                    expect(actual, `seed ${seed}, step ${step}, ${url}`).toBe(expected);
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
