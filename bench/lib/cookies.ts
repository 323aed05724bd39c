/**
 * The cookies the store and memory scenarios give every session: five realistic cookies with values unique to
 * the session (no string is shared between sessions, as in a real crawl).
 */

/** The URL every session's cookies are received from. */
export const COOKIE_URL = 'https://shop.example.com/account/orders';

/** Pseudo-random hex of `length` characters, a pure function of `seed`. */
function hex(seed: number, length: number): string {
    let out = '';
    let x = (seed * 2654435761) >>> 0;
    while (out.length < length) {
        x = (x * 1103515245 + 12345) >>> 0;
        out += x.toString(16).padStart(8, '0');
    }
    return out.slice(0, length);
}

/** Five Set-Cookie headers for session number `i`: a session id, a CSRF token, preferences, analytics, a cart. */
export function cookiesFor(i: number): string[] {
    return [
        `sid=${hex(i, 32)}; Path=/; HttpOnly; Secure; SameSite=Lax`,
        `csrftoken=${hex(i + 7, 40)}; Path=/; Secure`,
        `prefs=lang%3Den%7Ccur%3DEUR%7Cv${i}; Path=/; Max-Age=31536000`,
        `_ga=GA1.2.${(i * 7919) % 1e9}.${1_700_000_000 + i}; Domain=example.com; Path=/; Max-Age=63072000`,
        `cart=${hex(i + 13, 12)}; Path=/account; Max-Age=86400`,
    ];
}
