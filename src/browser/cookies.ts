import { isIP } from 'node:net';
import type { BrowserContext, Cookie as PlaywrightCookie } from 'playwright';
import { Cookie } from 'tough-cookie';

/** One element of the array accepted by Playwright's `BrowserContext.addCookies`. */
export type PlaywrightCookieParam = Parameters<BrowserContext['addCookies']>[0][number];

/** A cookie as returned by Playwright's `BrowserContext.cookies()`. */
export type { PlaywrightCookie };

/** Playwright's SameSite values. */
export type PlaywrightSameSite = PlaywrightCookie['sameSite'];

/**
 * Largest `expires` Playwright accepts (9999-12-31T23:59:59Z, in seconds). Chromium itself further caps
 * cookie lifetimes at 400 days from the time the cookie is set.
 */
const MAX_PLAYWRIGHT_EXPIRES = 253_402_300_799;

/** Strips brackets from an IPv6 literal so that `isIP` recognises it. */
function isIpLiteral(domain: string): boolean {
    return isIP(domain.replace(/^\[|\]$/g, '')) !== 0;
}

/**
 * Maps tough-cookie's SameSite value to Playwright's.
 *
 * `'none'` becomes `'None'` only for Secure cookies: Chromium silently drops a `SameSite=None` cookie that
 * lacks `Secure` (checked with Chromium 156 — `addCookies` succeeds but the cookie never appears), so such a
 * cookie is handed over as `'Lax'`, which is what Chromium would apply to a cookie without the attribute and
 * keeps it usable for same-site and top-level requests. Unknown/undefined values default to `'Lax'`.
 */
function toPlaywrightSameSite(sameSite: string | undefined, secure: boolean): PlaywrightSameSite {
    switch (sameSite?.toLowerCase()) {
        case 'strict':
            return 'Strict';
        case 'none':
            return secure ? 'None' : 'Lax';
        default:
            return 'Lax';
    }
}

/** Maps Playwright's SameSite value to tough-cookie's lower-case form. */
function fromPlaywrightSameSite(sameSite: string | undefined): 'strict' | 'lax' | 'none' {
    switch (sameSite?.toLowerCase()) {
        case 'strict':
            return 'strict';
        case 'none':
            return 'none';
        default:
            return 'lax';
    }
}

/**
 * Playwright `expires` (seconds since the epoch, `-1` for a session cookie) for a tough-cookie cookie, or
 * `null` when the cookie has already expired.
 */
function toPlaywrightExpires(cookie: Cookie, nowMs: number): number | null {
    if (cookie.maxAge == null && (cookie.expires === 'Infinity' || cookie.expires == null)) return -1;
    const expiry = cookie.expiryTime(); // Max-Age wins over Expires, relative to lastAccessed (or now)
    if (expiry === undefined) return -1;
    if (expiry === Infinity) return MAX_PLAYWRIGHT_EXPIRES;
    if (expiry <= nowMs) return null;
    return Math.min(expiry / 1000, MAX_PLAYWRIGHT_EXPIRES);
}

/**
 * Converts tough-cookie (v6) cookies into the shape accepted by Playwright's `BrowserContext.addCookies`.
 *
 * - `domain`: a host-only cookie (`hostOnly === true`) gets the bare host, which Chromium stores as host-only;
 *   any other cookie with a domain is a domain cookie and gets a leading dot (so it also matches subdomains).
 *   IP-address domains are always passed bare: Chromium treats them as host-only either way.
 * - `path`: the cookie's path, `'/'` when it has none.
 * - `expires`: seconds since the epoch (fractional, millisecond precision), computed with `Cookie.expiryTime()`
 *   so Max-Age is honoured; `-1` for session cookies. Cookies that have already expired are left out.
 * - `sameSite`: `'strict' → 'Strict'`, `'lax' → 'Lax'`, `'none' → 'None'` for Secure cookies; `'none'` without
 *   Secure and an unset value become `'Lax'` (Chromium rejects insecure `SameSite=None` cookies).
 *
 * Round-trips with {@link fromPlaywrightCookies} for name, value, domain, hostOnly, path, expires (within
 * Chromium's 400-day cap), secure, httpOnly and explicit sameSite values.
 *
 * @param cookies tough-cookie cookies, e.g. from `CookieJar.getCookiesSync(url)` or a jar's store.
 * @returns one entry per unexpired cookie, in input order.
 * @throws TypeError for a cookie without a domain (a cookie parsed but never stored in a `CookieJar`, which
 *   is what assigns the request host); store it with `CookieJar.setCookie(cookie, url)` first.
 */
export function toPlaywrightCookies(cookies: readonly Cookie[]): PlaywrightCookieParam[] {
    const nowMs = Date.now();
    const result: PlaywrightCookieParam[] = [];
    for (const cookie of cookies) {
        const domain = cookie.cdomain();
        if (!domain) {
            throw new TypeError(
                `Cookie "${cookie.key}" has no domain, so it cannot be given to the browser. ` +
                    'Store it in a tough-cookie CookieJar with setCookie(cookie, url) first, or set its domain.',
            );
        }
        const expires = toPlaywrightExpires(cookie, nowMs);
        if (expires === null) continue;
        const hostOnly = cookie.hostOnly === true || isIpLiteral(domain);
        result.push({
            name: cookie.key,
            value: cookie.value,
            domain: hostOnly ? domain : `.${domain}`,
            path: cookie.path || '/',
            expires,
            httpOnly: cookie.httpOnly,
            secure: cookie.secure,
            sameSite: toPlaywrightSameSite(cookie.sameSite, cookie.secure),
        });
    }
    return result;
}

/**
 * Converts cookies read with Playwright's `BrowserContext.cookies()` back into tough-cookie (v6) cookies,
 * ready for `CookieJar.setCookie(cookie, url)` / `setCookieSync`. The URL must domain-match the cookie, and
 * for a Secure cookie it must be `https:`: tough-cookie v6 (like Chromium) refuses to store a Secure cookie
 * from an insecure origin ("Cookie is Secure but this is not a secure connection").
 *
 * - `hostOnly` is derived from the domain: without a leading dot the cookie is host-only, with one it is a
 *   domain cookie; the stored `domain` never has the leading dot (tough-cookie's canonical form).
 * - `expires`: `-1` (or any negative value) gives a session cookie (`expires: 'Infinity'`), otherwise an
 *   absolute `Date` rounded to the millisecond; `maxAge` stays unset.
 * - `sameSite`: `'Strict'|'Lax'|'None'` → `'strict'|'lax'|'none'`.
 * - A CHIPS `partitionKey` is not representable in tough-cookie and is dropped.
 *
 * @param cookies the cookies returned by `context.cookies()`.
 * @returns new tough-cookie `Cookie` objects, in input order.
 */
export function fromPlaywrightCookies(cookies: readonly PlaywrightCookie[]): Cookie[] {
    return cookies.map((c) => {
        const hostOnly = !c.domain.startsWith('.');
        const domain = (hostOnly ? c.domain : c.domain.slice(1)).toLowerCase();
        return new Cookie({
            key: c.name,
            value: c.value,
            domain,
            hostOnly,
            path: c.path || '/',
            expires: c.expires < 0 ? 'Infinity' : new Date(Math.round(c.expires * 1000)),
            httpOnly: c.httpOnly,
            secure: c.secure,
            sameSite: fromPlaywrightSameSite(c.sameSite),
        });
    });
}
