import { intern, type BoundedCookieStore, type CookieRecord } from './bounded-cookie-store.js';

/**
 * Storing a `Set-Cookie` header that repeats one already stored, without tough-cookie.
 *
 * Sites set the same cookies on every response (a visit counter, a timestamp, a rolling session id), with the same
 * attributes each time, and tough-cookie parses and checks each one anew: the attributes, the canonical domain, the
 * public suffix, the secure-origin and prefix rules, the lookup. All of that depends only on the cookie's name, the
 * header's attributes (everything from its first `;`) and the scheme, host and, for a cookie without a `Path`, the
 * directory of the URL it came from. So when a stored cookie was last set by a header with the same name and
 * attributes from the same origin (`CookieRecord.setBy`), tough-cookie would reach that cookie and keep everything of
 * it but the value and the access time. The store takes those two in place (`BoundedCookieStore.replaceValue`).
 * A cookie changed any other way loses its `setBy` and takes tough-cookie's path again.
 */

/** A `Set-Cookie` header split as tough-cookie's loose parser splits it. */
export interface SplitSetCookie {
    name: string;
    value: string;
    /** Everything from the first `;` (empty without attributes), byte for byte. */
    attributes: string;
}

/** What makes tough-cookie's parser cut or refuse a header: those go its way. */
const CONTROL_CHARACTERS = /[\x00-\x1f\x7f]/;

/**
 * Splits a header into name, value and attributes the way tough-cookie's loose `Cookie.parse` does (both trimmed, the
 * name up to the first `=`), or undefined for any header it treats specially: control characters, no `=`, an empty
 * name.
 */
export function splitSetCookie(header: string): SplitSetCookie | undefined {
    if (CONTROL_CHARACTERS.test(header)) return undefined;
    const text = header.trim();
    const semicolon = text.indexOf(';');
    const pair = semicolon === -1 ? text : text.slice(0, semicolon);
    const equals = pair.indexOf('=');
    if (equals <= 0) return undefined;
    const name = pair.slice(0, equals).trim();
    if (!name) return undefined;
    return { name, value: pair.slice(equals + 1).trim(), attributes: semicolon === -1 ? '' : text.slice(semicolon) };
}

/** The origin part of a {@link CookieRecord.setBy}: scheme and host (a cookie knows no port). */
export function setCookieOriginOf(url: URL): string {
    return `${url.protocol}//${url.hostname}`;
}

/** RFC 6265 §5.1.4's default path of a URL, as tough-cookie computes it (from the percent-decoded path). */
function defaultPathOf(url: URL): string {
    let pathname = url.pathname;
    try {
        pathname = decodeURI(pathname);
    } catch {
        // tough-cookie keeps a path it cannot decode as it is
    }
    if (!pathname.startsWith('/')) return '/';
    const slash = pathname.lastIndexOf('/');
    return slash === 0 ? '/' : pathname.slice(0, slash);
}

/**
 * Stores `header` (split from the text `source`), received from `url` (whose origin is `origin`), in place when it repeats how a stored cookie was
 * last set. Returns false when it does not (tough-cookie must store it) or when the store refused the new value
 * (tough-cookie then refuses it too).
 */
export function storeRepeatedSetCookie(
    store: BoundedCookieStore,
    header: SplitSetCookie,
    origin: string,
    url: URL,
    now: number,
    source: string,
): boolean {
    const setBy = origin + header.attributes;
    let directory: string | undefined;
    for (const record of store.allRecords()) {
        if (record.setBy !== setBy || record.key !== header.name) continue;
        if (record.pathIsDefault && record.path !== (directory ??= defaultPathOf(url))) continue;
        return store.replaceValue(record, header.value, now, source);
    }
    return false;
}

/** Notes on the cookie tough-cookie just stored from `header` how it was set, for {@link storeRepeatedSetCookie}. */
export function rememberSetCookie(
    store: BoundedCookieStore,
    stored: { domain: string | null; path: string | null; key: string; value: string },
    header: SplitSetCookie,
    origin: string,
): void {
    if (stored.domain == null || stored.path == null || stored.key !== header.name) return;
    const record: CookieRecord | undefined = store.recordFor(stored.domain, stored.path, stored.key);
    // A refused value (too large) left the old cookie as it was: that one was not set by this header.
    if (record && record.value === stored.value) record.setBy = intern(origin + header.attributes);
}
