import type { Cookie, CookieJar } from 'tough-cookie';
import { pathMatch } from 'tough-cookie';

import { type CookieRecord, recordOf } from '../shared/bounded-cookie-store.js';
import { TrackingCookieStore } from './tracking-cookie-store.js';

/** Origins (scheme and host) one jar remembers cookies for; more are rare and simply read again. */
const MAX_CACHED_ORIGINS = 16;

/** What one jar knows of one origin at one version of the jar. */
interface OriginCookies {
    /** The jar's `version` this entry describes. */
    version: number;
    /** The origin's cookies, every path, in the order tough-cookie sends them; read at the second request. */
    records?: CookieRecord[];
    /** Whether every one of {@link records} has the path `/` (the request path does not matter then). */
    allRootPaths?: boolean;
}

const cachesOfJars = new WeakMap<CookieJar, Map<string, OriginCookies>>();

/**
 * The Cookie header the jar sends to `url`: the same as `jar.getCookieStringSync(url)`, and it has the same effects
 * (`lastAccessed` of the cookies sent is refreshed; an expired one is removed). Sessions send their cookies on every
 * request while their jars change far less often, and tough-cookie's read (domain permutations, a scan of every path,
 * a filter, a sort and a string per cookie) was most of a request's cookie work. So the second read of an origin at
 * the same jar version keeps the origin's cookies (the store's records) of every path, and later reads only filter
 * them by path and join their current values until the jar changes (a stored or removed cookie changes its version;
 * a value replaced in place by a repeated Set-Cookie does not, see `set-cookie-memo.ts`). The first read after a
 * change is tough-cookie's own: a jar that changes on every response pays one map lookup more, no more.
 */
export function cookieHeaderOf(jar: CookieJar, url: URL): string {
    const store = jar.store;
    if (!(store instanceof TrackingCookieStore)) return jar.getCookieStringSync(url.href);
    let origins = cachesOfJars.get(jar);
    if (!origins) {
        origins = new Map();
        cachesOfJars.set(jar, origins);
    }
    const originKey = `${url.protocol}//${url.hostname}`;
    const entry = origins.get(originKey);
    if (!entry || entry.version !== store.version) {
        if (origins.size >= MAX_CACHED_ORIGINS) origins.clear();
        origins.set(originKey, { version: store.version });
        return jar.getCookieStringSync(url.href);
    }
    const path = requestPathOf(url);
    if (!entry.records) readOrigin(jar, store, url, path, entry);
    const records = entry.records!;
    if (records.length === 0) return '';
    const now = Date.now();
    const everyPath = entry.allRootPaths === true;
    let header = '';
    for (const record of records) {
        if (!everyPath && !pathMatch(path, record.path)) continue;
        const expiry = record.expiryTime();
        if (expiry !== undefined && expiry <= now) {
            origins.delete(originKey);
            return jar.getCookieStringSync(url.href);
        }
        const text = record.key ? `${record.key}=${record.value}` : record.value; // Cookie.cookieString()
        header = header ? `${header}; ${text}` : text;
    }
    for (const record of records) if (everyPath || pathMatch(path, record.path)) record.lastAccessed = now;
    return header;
}

/** The path cookies are matched against: the URL's path percent-decoded, as tough-cookie matches it. */
function requestPathOf(url: URL): string {
    const path = url.pathname || '/';
    if (!path.includes('%')) return path;
    try {
        return decodeURI(path);
    } catch {
        return path;
    }
}

/**
 * Fills `entry` with the origin's cookies of every path. tough-cookie's all-paths read refreshes `lastAccessed` of
 * every cookie it returns; the cookies of other paths than the request's were not sent, so theirs is put back.
 */
function readOrigin(jar: CookieJar, store: TrackingCookieStore, url: URL, path: string, entry: OriginCookies): void {
    const accessed = new Map<CookieRecord, number>();
    for (const record of store.allRecords()) accessed.set(record, record.lastAccessed);
    const cookies: Cookie[] = jar.getCookiesSync(url.href, { allPaths: true, sort: true });
    const records: CookieRecord[] = [];
    for (const cookie of cookies) {
        // The Cookies the store hands out are views of its records (see BoundedCookieStore).
        const record = recordOf(cookie)!;
        records.push(record);
        if (pathMatch(path, record.path)) continue;
        const before = accessed.get(record);
        if (before !== undefined) record.lastAccessed = before;
    }
    entry.records = records;
    entry.allRootPaths = records.every((record) => record.path === '/');
    // Expired cookies of other paths were removed by the read: that changed the jar, and nothing else did.
    entry.version = store.version;
}
