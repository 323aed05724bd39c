import { Buffer } from 'node:buffer';

import { Cookie, MemoryCookieStore, getPublicSuffix, pathMatch, permuteDomain } from 'tough-cookie';

/**
 * Largest cookie accepted, in bytes of its name plus its value (UTF-8): larger ones are refused, as Chromium
 * (`ParsedCookie::kMaxCookieNamePlusValueSize`) and Firefox do, and RFC 6265bis recommends.
 */
export const MAX_COOKIE_BYTES = 4096;

/**
 * Most cookies kept for one site — a registrable domain (eTLD+1) with all its subdomains, or an IP address — as
 * Chromium's `kDomainMaxCookies`. Above it the site's cookies are purged down to
 * {@link MAX_COOKIES_PER_DOMAIN} − {@link DOMAIN_PURGE_COOKIES} (150), see {@link BoundedCookieStore}.
 */
export const MAX_COOKIES_PER_DOMAIN = 180;

/** How many cookies a site's purge removes beyond the limit (Chromium's `kDomainPurgeCookies`). */
export const DOMAIN_PURGE_COOKIES = 30;

/**
 * Cookies of a site a purge keeps in any case, even the non-secure least recently used ones (Chromium's quota for
 * medium-priority cookies, `kDomainCookiesQuotaMedium`; tough-cookie knows no priorities, so every cookie is medium).
 */
export const DOMAIN_PROTECTED_COOKIES = 50;

/**
 * Most cookies kept in one jar, all sites together (Chromium's `kMaxCookies`). Above it the jar is purged down to
 * {@link MAX_COOKIES_PER_JAR} − {@link JAR_PURGE_COOKIES} (3000), least recently used first. Unlike Chromium, which
 * never purges cookies used in the last 30 days, the bound always holds: a crawler's session is not a person's
 * browser profile, and the bound is what keeps a jar's memory and store row bounded.
 */
export const MAX_COOKIES_PER_JAR = 3300;

/** How many cookies a jar-wide purge removes beyond the limit (Chromium's `kPurgeCookies`). */
export const JAR_PURGE_COOKIES = 300;

/** Sites whose registrable domain is remembered (computing it parses the public suffix list). */
const MAX_CACHED_SITES = 10_000;
const siteOfDomain = new Map<string, string>();

/** Hosts whose domain permutations are remembered (tough-cookie recomputes them, public suffix list included, per read). */
const MAX_CACHED_HOSTS = 10_000;
const permutationsOfHost = new Map<string, readonly string[]>();

type Callback = (error: Error | null, result?: unknown) => void;

/** The domains whose cookies a request to `host` may receive (`a.b.example.com` → `example.com`, `b.example.com`, …). */
function domainPermutations(host: string, allowSpecialUseDomain: boolean): readonly string[] {
    const cacheKey = allowSpecialUseDomain ? host : `\0${host}`;
    let domains = permutationsOfHost.get(cacheKey);
    if (domains === undefined) {
        domains = permuteDomain(host, allowSpecialUseDomain) ?? [host];
        if (permutationsOfHost.size >= MAX_CACHED_HOSTS) permutationsOfHost.clear();
        permutationsOfHost.set(cacheKey, domains);
    }
    return domains;
}

/** Whether a cookie's name and value fit in {@link MAX_COOKIE_BYTES}. */
export function fitsCookieSize(name: string, value: string): boolean {
    // Cheap bound first: a UTF-16 code unit is at most 3 UTF-8 bytes.
    if ((name.length + value.length) * 3 <= MAX_COOKIE_BYTES) return true;
    return Buffer.byteLength(name) + Buffer.byteLength(value) <= MAX_COOKIE_BYTES;
}

/** The size of a cookie's name and value, in UTF-8 bytes. */
export function cookieBytes(name: string, value: string): number {
    return Buffer.byteLength(name) + Buffer.byteLength(value);
}

/**
 * The site a cookie domain belongs to, as browsers count cookies: its registrable domain (`a.shop.example.co.uk` →
 * `example.co.uk`), or the domain itself for IP addresses and hosts without a public suffix (`127.0.0.1`, `localhost`).
 */
export function cookieSiteOf(domain: string): string {
    let site = siteOfDomain.get(domain);
    if (site === undefined) {
        site = getPublicSuffix(domain, { allowSpecialUseDomain: true, ignoreError: true }) ?? domain;
        if (siteOfDomain.size >= MAX_CACHED_SITES) siteOfDomain.clear();
        siteOfDomain.set(domain, site);
    }
    return site;
}

/**
 * tough-cookie's in-memory store with a browser's limits, for every jar of this package (session jars and the plain
 * jars of logins and the maintainer), so that a hostile site cannot grow a jar (and every request's Cookie header)
 * without bound:
 *
 * - a cookie whose name and value exceed {@link MAX_COOKIE_BYTES} is refused (a new one is not stored, an existing
 *   one keeps its old value), like Chromium;
 * - when a site has more than {@link MAX_COOKIES_PER_DOMAIN} cookies, its expired cookies are removed and, if it
 *   still has too many, it is purged to 150 exactly as Chromium's `CookieMonster::GarbageCollect` does for
 *   medium-priority cookies: least recently *used* first (tough-cookie's `lastAccessed`, set when a cookie is
 *   sent or stored; ties by creation time), non-secure cookies before secure ones, and never below
 *   {@link DOMAIN_PROTECTED_COOKIES}. A crawler sends its cookies on every request, so for cookies of one site this
 *   is the oldest first, which is what "oldest evicted first" means in practice;
 * - when the whole jar holds more than {@link MAX_COOKIES_PER_JAR}, it is purged to 3000 the same way (expired first,
 *   then least recently used, non-secure before secure).
 *
 * Subclasses learn about every stored and removed cookie — evictions included — through {@link stored} and
 * {@link removed}. The store stays synchronous.
 */
export class BoundedCookieStore extends MemoryCookieStore {
    /** Cookies per site (see {@link cookieSiteOf}). */
    private readonly perSite = new Map<string, number>();
    /** Cookies in the store. */
    private total = 0;

    /** How many cookies the store holds (expired ones included until they are purged). */
    get size(): number {
        return this.total;
    }

    /** Called after a cookie was stored, new or replacing one with the same domain, path and name. */
    protected stored(_cookie: Cookie): void {}

    /** Called after a cookie was removed; `evicted` is true when the limits removed it, not the jar or the site. */
    protected removed(_domain: string, _path: string, _key: string, _evicted: boolean): void {}

    override putCookie(cookie: Cookie, callback?: Callback): any {
        const { domain, path, key } = cookie;
        if (domain == null || path == null || key == null || !fitsCookieSize(key, cookie.value)) return settle(callback);
        const existed = this.idx[domain]?.[path]?.[key] !== undefined;
        (super.putCookie as any)(cookie, () => undefined);
        this.stored(cookie);
        if (!existed) {
            this.total++;
            const site = cookieSiteOf(domain);
            const count = (this.perSite.get(site) ?? 0) + 1;
            this.perSite.set(site, count);
            if (count > MAX_COOKIES_PER_DOMAIN) this.purgeSite(site);
            if (this.total > MAX_COOKIES_PER_JAR) this.purgeJar();
        }
        return settle(callback);
    }

    /**
     * MemoryCookieStore's lookup, with the domain permutations of a host computed once per host instead of on every
     * read (they are a pure function of the host and the public suffix list).
     */
    override findCookies(domain: string | null, path: string | null, allowSpecialUseDomain?: boolean | Callback, callback?: Callback): any {
        if (typeof allowSpecialUseDomain === 'function') {
            callback = allowSpecialUseDomain;
            allowSpecialUseDomain = true;
        }
        const results: Cookie[] = [];
        if (domain) {
            for (const candidate of domainPermutations(domain, allowSpecialUseDomain ?? false)) {
                const paths = this.idx[candidate];
                if (!paths) continue;
                for (const cookiePath in paths) {
                    if (path && !pathMatch(path, cookiePath)) continue;
                    const keys = paths[cookiePath]!;
                    for (const key in keys) {
                        const cookie = keys[key];
                        if (cookie) results.push(cookie);
                    }
                }
            }
        }
        if (callback) {
            callback(null, results);
            return undefined;
        }
        return Promise.resolve(results);
    }

    override updateCookie(_oldCookie: Cookie, newCookie: Cookie, callback?: Callback): any {
        return this.putCookie(newCookie, callback);
    }

    override removeCookie(domain: string | null, path: string | null, key: string | null, callback?: Callback): any {
        if (domain != null && path != null && key != null && this.idx[domain]?.[path]?.[key] !== undefined) {
            this.delete(domain, path, key, false);
        }
        return settle(callback);
    }

    override removeCookies(domain: string, path: string | null, callback?: Callback): any {
        const paths = this.idx[domain];
        for (const cookiePath of paths ? Object.keys(paths) : []) {
            if (path && cookiePath !== path) continue;
            for (const key of Object.keys(paths![cookiePath] ?? {})) this.delete(domain, cookiePath, key, false);
        }
        return settle(callback);
    }

    override removeAllCookies(callback?: Callback): any {
        this.perSite.clear();
        this.total = 0;
        return (super.removeAllCookies as any)(callback);
    }

    private delete(domain: string, path: string, key: string, evicted: boolean): void {
        (super.removeCookie as any)(domain, path, key, () => undefined);
        this.total--;
        const site = cookieSiteOf(domain);
        const count = (this.perSite.get(site) ?? 1) - 1;
        if (count > 0) this.perSite.set(site, count);
        else this.perSite.delete(site);
        this.removed(domain, path, key, evicted);
    }

    /** Chromium's per-site garbage collection (expired cookies, then least recently used, non-secure first). */
    private purgeSite(site: string): void {
        const cookies = this.removeExpired(this.cookiesWhere((domain) => cookieSiteOf(domain) === site));
        if (cookies.length <= MAX_COOKIES_PER_DOMAIN) return;
        let goal = cookies.length - (MAX_COOKIES_PER_DOMAIN - DOMAIN_PURGE_COOKIES);
        cookies.sort(leastRecentlyUsedFirst);
        // Round 1 ("medium-priority non-secure"): non-secure cookies only, protecting as many as Chromium does.
        const secure = cookies.filter((cookie) => cookie.secure).length;
        let deletable = cookies.length - Math.max(secure, DOMAIN_PROTECTED_COOKIES - secure);
        const remaining: Cookie[] = [];
        for (const cookie of cookies) {
            if (goal > 0 && deletable > 0 && !cookie.secure) {
                this.evict(cookie);
                goal--;
                deletable--;
            } else {
                remaining.push(cookie);
            }
        }
        // Round 2 ("medium-priority secure"): any cookie, still keeping the protected number.
        deletable = remaining.length - DOMAIN_PROTECTED_COOKIES;
        for (const cookie of remaining) {
            if (goal <= 0 || deletable <= 0) break;
            this.evict(cookie);
            goal--;
            deletable--;
        }
    }

    /** The jar-wide purge: expired cookies, then least recently used, non-secure before secure. */
    private purgeJar(): void {
        const cookies = this.removeExpired(this.cookiesWhere(() => true));
        if (cookies.length <= MAX_COOKIES_PER_JAR) return;
        let goal = cookies.length - (MAX_COOKIES_PER_JAR - JAR_PURGE_COOKIES);
        cookies.sort(leastRecentlyUsedFirst);
        for (const secure of [false, true]) {
            for (const cookie of cookies) {
                if (goal <= 0) return;
                if (cookie.secure === secure) {
                    this.evict(cookie);
                    goal--;
                }
            }
        }
    }

    private evict(cookie: Cookie): void {
        this.delete(cookie.domain!, cookie.path!, cookie.key, true);
    }

    /** Evicts the expired cookies of `cookies` and returns the others. */
    private removeExpired(cookies: Cookie[]): Cookie[] {
        const now = Date.now();
        return cookies.filter((cookie) => {
            const expiry = cookie.expiryTime();
            if (expiry === undefined || expiry > now) return true;
            this.evict(cookie);
            return false;
        });
    }

    private cookiesWhere(matches: (domain: string) => boolean): Cookie[] {
        const cookies: Cookie[] = [];
        for (const domain of Object.keys(this.idx)) {
            if (!matches(domain)) continue;
            const paths = this.idx[domain]!;
            for (const path of Object.keys(paths)) {
                for (const cookie of Object.values(paths[path] ?? {})) if (cookie) cookies.push(cookie);
            }
        }
        return cookies;
    }
}

/** Chromium's `LRACookieSorter`: least recently accessed first, ties by creation (then creation order). */
function leastRecentlyUsedFirst(a: Cookie, b: Cookie): number {
    return timeOf(a.lastAccessed) - timeOf(b.lastAccessed) || timeOf(a.creation) - timeOf(b.creation) || (a.creationIndex ?? 0) - (b.creationIndex ?? 0);
}

function timeOf(date: Date | 'Infinity' | null | undefined): number {
    return date instanceof Date ? date.getTime() : date === 'Infinity' ? Number.MAX_SAFE_INTEGER : 0;
}

/** Completes a store call the way MemoryCookieStore does: the callback if given, else a resolved promise. */
function settle(callback: Callback | undefined): Promise<void> | undefined {
    if (callback) {
        callback(null);
        return undefined;
    }
    return Promise.resolve();
}
