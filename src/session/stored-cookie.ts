import type { Cookie } from 'tough-cookie';

import type { StoredCookie } from '../model/types.js';
import type { CookieRecord } from '../shared/bounded-cookie-store.js';

/**
 * A cookie as stores keep it: the same object as tough-cookie's `cookie.toJSON()` (same properties, same values,
 * same order), built field by field. `toJSON()` walks `Cookie.serializableProperties` generically and was the largest
 * cost of writing sessions; this runs once per changed cookie per flush.
 */
export function storedCookieOf(cookie: Cookie): StoredCookie {
    const out: Record<string, unknown> = {};
    const { key, value, expires, maxAge, domain, path, extensions, hostOnly, pathIsDefault, creation, lastAccessed, sameSite } = cookie;
    if (key !== '' && typeof key === 'string') out.key = key;
    if (value !== '' && typeof value === 'string') out.value = value;
    setDate(out, 'expires', expires, 'Infinity');
    if (maxAge !== null && (typeof maxAge === 'number' || maxAge === 'Infinity' || maxAge === '-Infinity')) out.maxAge = maxAge;
    if (domain !== null && typeof domain === 'string') out.domain = domain;
    if (path !== null && typeof path === 'string') out.path = path;
    if (cookie.secure !== false && typeof cookie.secure === 'boolean') out.secure = cookie.secure;
    if (cookie.httpOnly !== false && typeof cookie.httpOnly === 'boolean') out.httpOnly = cookie.httpOnly;
    if (extensions !== null && Array.isArray(extensions)) out.extensions = extensions;
    if (hostOnly !== null && typeof hostOnly === 'boolean') out.hostOnly = hostOnly;
    if (pathIsDefault !== null && typeof pathIsDefault === 'boolean') out.pathIsDefault = pathIsDefault;
    setDate(out, 'creation', creation, null);
    setDate(out, 'lastAccessed', lastAccessed, null);
    if (sameSite !== undefined && typeof sameSite === 'string') out.sameSite = sameSite;
    return out as StoredCookie;
}

/**
 * {@link storedCookieOf} of the Cookie a jar's store would make of `record` (the same object, property for property),
 * without making that Cookie and its Dates: what a flush writes of each changed cookie.
 */
export function storedCookieOfRecord(record: CookieRecord): StoredCookie {
    const out: Record<string, unknown> = {};
    const { key, value, expires, maxAge, extensions, hostOnly, pathIsDefault, creation, lastAccessed, sameSite } = record;
    if (key !== '') out.key = key;
    if (value !== '') out.value = value;
    // Records keep times as milliseconds: Infinity is tough-cookie's 'Infinity', NaN its null.
    if (expires !== Infinity) out.expires = Number.isNaN(expires) ? null : isoOf(expires);
    if (maxAge !== null && (typeof maxAge === 'number' || maxAge === 'Infinity' || maxAge === '-Infinity')) out.maxAge = maxAge;
    out.domain = record.domain;
    out.path = record.path;
    if (record.secure) out.secure = true;
    if (record.httpOnly) out.httpOnly = true;
    if (extensions !== null && Array.isArray(extensions)) out.extensions = extensions;
    if (hostOnly !== null) out.hostOnly = hostOnly;
    if (pathIsDefault !== null) out.pathIsDefault = pathIsDefault;
    if (!Number.isNaN(creation)) out.creation = creation === Infinity ? 'Infinity' : isoOf(creation);
    if (!Number.isNaN(lastAccessed)) out.lastAccessed = lastAccessed === Infinity ? 'Infinity' : isoOf(lastAccessed);
    if (sameSite !== undefined && typeof sameSite === 'string') out.sameSite = sameSite;
    return out as StoredCookie;
}

/** tough-cookie's rule for its date properties (left out when equal to the default). */
function setDate(out: Record<string, unknown>, name: string, value: unknown, fallback: unknown): void {
    if (value === fallback) return;
    if (value instanceof Date) {
        out[name] = isoOf(value.getTime());
    } else if (typeof value === 'number' || typeof value === 'string') {
        // eslint-disable-next-line eqeqeq -- tough-cookie compares loosely ("Infinity" and Infinity alike)
        out[name] = value == 'Infinity' ? 'Infinity' : new Date(value).toISOString();
    } else if (value === null) {
        out[name] = null;
    }
}

// The cookies of one response, and a cookie's creation and last access, mostly share one millisecond.
let lastMillis = Number.NaN;
let lastIso = '';

/** `new Date(millis).toISOString()`, remembering the last one (it throws on an invalid date, as toJSON does). */
function isoOf(millis: number): string {
    if (millis !== lastMillis) {
        lastIso = new Date(millis).toISOString();
        lastMillis = millis;
    }
    return lastIso;
}
