import type { Cookie } from 'tough-cookie';

import { toPlaywrightCookies, type PlaywrightCookieParam } from '../../browser/cookies.js';
import { expiryOf, jarOf } from './cookies.js';

/** The formats `export` writes and `import` reads. */
export const COOKIE_FILE_FORMATS = ['playwright', 'netscape', 'header'] as const;

/** One of {@link COOKIE_FILE_FORMATS}. */
export type CookieFileFormat = (typeof COOKIE_FILE_FORMATS)[number];

/** The first line of a Netscape cookie file, as curl and wget write and expect it. */
export const NETSCAPE_HEADER = '# Netscape HTTP Cookie File';

/** Prefix of the domain field of an HttpOnly cookie in a Netscape cookie file (curl's convention). */
export const NETSCAPE_HTTP_ONLY_PREFIX = '#HttpOnly_';

/** A Playwright storage state (`browser.newContext({ storageState })`, `context.storageState()`). */
export interface PlaywrightStorageState {
    cookies: PlaywrightCookieParam[];
    origins: Array<{ origin: string; localStorage: Array<{ name: string; value: string }> }>;
}

/**
 * Cookies as a Playwright storage state (cookies only: sessions keep no localStorage). Expired cookies are left out;
 * see `toPlaywrightCookies` for the mapping of domains, expiry and SameSite.
 */
export function toPlaywrightStorageState(cookies: readonly Cookie[]): PlaywrightStorageState {
    return { cookies: toPlaywrightCookies(cookies), origins: [] };
}

/**
 * Cookies as a Netscape cookie file for `curl -b FILE` / `wget --load-cookies FILE`: the header line, then one line
 * per cookie, `domain TAB include_subdomains TAB path TAB secure TAB expiry TAB name TAB value`, where
 * - `domain` has a leading dot and `include_subdomains` is `TRUE` for a domain cookie, none and `FALSE` for a
 *   host-only one, and is prefixed with `#HttpOnly_` for an HttpOnly cookie;
 * - `expiry` is in whole seconds since the epoch, `0` for a session cookie.
 * Expired cookies are left out.
 *
 * @param cookies The cookies.
 * @param comment One line said in a comment after the header (e.g. where the cookies come from). Default none.
 */
export function toNetscapeCookieFile(cookies: readonly Cookie[], comment?: string, now = Date.now()): string {
    const lines = [NETSCAPE_HEADER];
    if (comment) lines.push(`# ${comment.replace(/[\r\n]+/g, ' ')}`);
    lines.push('');
    for (const cookie of cookies) {
        const expiry = expiryOf(cookie);
        if (expiry !== 'session' && expiry <= now) continue;
        const hostOnly = cookie.hostOnly !== false;
        const domain = `${cookie.httpOnly ? NETSCAPE_HTTP_ONLY_PREFIX : ''}${hostOnly ? '' : '.'}${cookie.domain ?? ''}`;
        lines.push(
            [
                domain,
                hostOnly ? 'FALSE' : 'TRUE',
                cookie.path || '/',
                cookie.secure ? 'TRUE' : 'FALSE',
                expiry === 'session' ? '0' : String(Math.round(expiry / 1000)),
                cookie.key,
                cookie.value,
            ].join('\t'),
        );
    }
    return `${lines.join('\n')}\n`;
}

/**
 * The `Cookie` request header a request to `url` would send with these cookies (domain, path, Secure and expiry
 * rules applied by tough-cookie), without the `Cookie: ` prefix; empty when no cookie applies.
 */
export function toCookieHeaderValue(cookies: readonly Cookie[], url: string): string {
    return jarOf(cookies).getCookieStringSync(url);
}
