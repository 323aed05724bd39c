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
    cookies?: Cookie[];
    /** `cookieString()` of each of {@link cookies}. */
    texts?: string[];
    /** The whole header when every cookie has the path `/` (the request path does not matter then). */
    header?: string;
}

const cachesOfJars = new WeakMap<CookieJar, Map<string, OriginCookies>>();

/**
 * The Cookie header the jar sends to `url`: the same as `jar.getCookieStringSync(url)`, and it has the same effects
 * (`lastAccessed` of the cookies sent is refreshed; an expired one is removed). Sessions send their cookies on every
 * request while their jars change far less often, and tough-cookie's read (domain permutations, a scan of every path,
 * a filter, a sort and a string per cookie) was most of a request's cookie work. So the second read of an origin at
 * the same jar version keeps the origin's cookies of every path, and later reads only filter them by path until the jar
 * changes (any stored or removed cookie changes its version). The first read after a change is tough-cookie's own:
 * a jar that changes on every response pays one map lookup more, no more.
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
    const path = url.pathname || '/';
    if (!entry.cookies) readOrigin(jar, store, url, path, entry);
    const cookies = entry.cookies!;
    if (cookies.length === 0) return '';
    const now = new Date();
    const nowMillis = now.getTime();
    const texts = entry.texts!;
    const parts: string[] | undefined = entry.header === undefined ? [] : undefined;
    for (let i = 0; i < cookies.length; i++) {
        const cookie = cookies[i]!;
        if (parts && !pathMatch(path, cookie.path ?? '/')) continue;
        const expiry = cookie.expiryTime();
        if (expiry !== undefined && expiry <= nowMillis) {
            origins.delete(originKey);
            return jar.getCookieStringSync(url.href);
        }
        parts?.push(texts[i]!);
    }
    for (const cookie of cookies) if (!parts || pathMatch(path, cookie.path ?? '/')) cookie.lastAccessed = now;
    return parts ? parts.join('; ') : entry.header!;
}

/**
 * Fills `entry` with the origin's cookies of every path. tough-cookie's all-paths read refreshes `lastAccessed` of
 * every cookie it returns; the cookies of other paths than the request's were not sent, so theirs is put back.
 */
function readOrigin(jar: CookieJar, store: TrackingCookieStore, url: URL, path: string, entry: OriginCookies): void {
    // By record: the Cookies the store hands out are made per read (see BoundedCookieStore).
    const accessed = new Map<CookieRecord, number>();
    for (const record of store.allRecords()) accessed.set(record, record.lastAccessed);
    const cookies = jar.getCookiesSync(url.href, { allPaths: true, sort: true });
    for (const cookie of cookies) {
        if (pathMatch(path, cookie.path ?? '/')) continue;
        const record = recordOf(cookie);
        const before = record && accessed.get(record);
        if (record && before !== undefined) record.lastAccessed = before;
    }
    const texts = cookies.map((cookie) => cookie.cookieString());
    entry.cookies = cookies;
    entry.texts = texts;
    entry.header = cookies.every((cookie) => cookie.path === '/') ? texts.join('; ') : undefined;
    // Expired cookies of other paths were removed by the read: that changed the jar, and nothing else did.
    entry.version = store.version;
}
