import { Cookie, CookieJar, type SerializedCookieJar } from 'tough-cookie';

import type { StoredCookie } from '../../model/types.js';

/** What replaces a secret value in the CLI's output. */
export const HIDDEN = '<hidden>';

/** Stored cookies (tough-cookie JSON) as tough-cookie Cookies; entries that do not parse are left out. */
export function fromStoredCookies(stored: readonly StoredCookie[]): Cookie[] {
    const cookies: Cookie[] = [];
    for (const json of stored) {
        const cookie = Cookie.fromJSON(json);
        if (cookie) cookies.push(cookie);
    }
    return cookies;
}

/** When a cookie expires (ms since the epoch), or `'session'` for a cookie that lives as long as the session. */
export function expiryOf(cookie: Cookie): number | 'session' {
    if (cookie.maxAge == null && (cookie.expires === 'Infinity' || cookie.expires == null)) return 'session';
    const expiry = cookie.expiryTime(); // Max-Age wins over Expires
    if (expiry === undefined || expiry === Infinity) return 'session';
    return expiry === -Infinity ? 0 : expiry;
}

/** Whether a cookie has expired at `now`. */
export function isExpired(cookie: Cookie, now = Date.now()): boolean {
    const expiry = expiryOf(cookie);
    return expiry !== 'session' && expiry <= now;
}

/** The cookies that have not expired, in their order. */
export function liveCookies(cookies: readonly Cookie[], now = Date.now()): Cookie[] {
    return cookies.filter((cookie) => !isExpired(cookie, now));
}

/** A synchronous in-memory jar holding these cookies as they are (no URL checks). */
export function jarOf(cookies: readonly Cookie[]): CookieJar {
    // The other fields of a serialized jar are optional in practice: tough-cookie defaults them.
    return CookieJar.deserializeSync({ cookies: cookies.map((cookie) => cookie.toJSON()) } as unknown as SerializedCookieJar);
}

/**
 * The cookies a request to `url` would send (tough-cookie's domain, path, Secure and expiry rules), in the order
 * of the Cookie header. The given objects are returned untouched (reading them through a jar would move their
 * `lastAccessed`, from which tough-cookie computes a Max-Age expiry).
 */
export function cookiesForUrl(cookies: readonly Cookie[], url: string): Cookie[] {
    const byKey = new Map(cookies.map((cookie) => [keyOf(cookie), cookie]));
    return jarOf(cookies)
        .getCookiesSync(url)
        .map((cookie) => byKey.get(keyOf(cookie)))
        .filter((cookie): cookie is Cookie => cookie !== undefined);
}

function keyOf(cookie: Cookie): string {
    return `${cookie.domain ?? ''}\t${cookie.path ?? ''}\t${cookie.key}`;
}

/** The domain as browsers show it: `.example.com` for a domain cookie, `example.com` for a host-only one. */
export function displayDomain(cookie: Cookie): string {
    const domain = cookie.domain ?? '';
    return cookie.hostOnly === false && domain !== '' ? `.${domain}` : domain;
}

/** One cookie as `show` prints it; `value` is {@link HIDDEN} unless revealed. */
export interface CookieDescription {
    name: string;
    /** `.example.com` (domain cookie, subdomains included) or `example.com` (host-only). */
    domain: string;
    path: string;
    /** ISO instant, or `session`. */
    expires: string;
    /** Whether it has expired (expired cookies are kept until the next write, but never sent). */
    expired: boolean;
    httpOnly: boolean;
    secure: boolean;
    /** `Strict`, `Lax`, `None`, or null when unset. */
    sameSite: string | null;
    value: string;
}

/** Describes cookies for `show`: names, domains, paths, expiry and flags; values hidden unless `reveal`. */
export function describeCookies(cookies: readonly Cookie[], reveal: boolean, now = Date.now()): CookieDescription[] {
    return cookies.map((cookie) => {
        const expiry = expiryOf(cookie);
        const sameSite = cookie.sameSite;
        return {
            name: cookie.key,
            domain: displayDomain(cookie),
            path: cookie.path ?? '/',
            expires: expiry === 'session' ? 'session' : new Date(expiry).toISOString(),
            expired: expiry !== 'session' && expiry <= now,
            httpOnly: cookie.httpOnly,
            secure: cookie.secure,
            sameSite: sameSite ? sameSite[0]!.toUpperCase() + sameSite.slice(1).toLowerCase() : null,
            value: reveal ? cookie.value : HIDDEN,
        };
    });
}

/** A cookie's flags in words: `HttpOnly Secure SameSite=Lax`, or `-`. */
export function describeFlags(cookie: CookieDescription): string {
    const flags = [cookie.httpOnly && 'HttpOnly', cookie.secure && 'Secure', cookie.sameSite && `SameSite=${cookie.sameSite}`].filter(Boolean);
    return flags.length > 0 ? flags.join(' ') : '-';
}
