import { Buffer } from 'node:buffer';

import { Cookie, Store, getPublicSuffix, pathMatch, permuteDomain } from 'tough-cookie';

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

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tough-cookie's Store overloads take callbacks of many result types
type Callback = (error: any, result?: any) => void;

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

/** Strings (domains, paths, cookie names) shared by every jar: 100 000 sessions of one site hold one `example.com`. */
const MAX_INTERNED = 10_000;
const interned = new Map<string, string>();

/** The one copy of `text` every record uses (bounded: past the bound, new strings are kept as they are). */
export function intern(text: string): string {
    const known = interned.get(text);
    if (known !== undefined) return known;
    if (interned.size >= MAX_INTERNED || text.length > 256) return text;
    interned.set(text, text);
    return text;
}

/** Up to this many cookies, the records array is kept at its exact size. */
const SMALL_JAR = 16;

const SECURE = 1;
const HTTP_ONLY = 2;
const HOST_ONLY_KNOWN = 4;
const HOST_ONLY = 8;
const PATH_DEFAULT_KNOWN = 16;
const PATH_DEFAULT = 32;

/**
 * One cookie as the store holds it: flat fields, times as milliseconds (`Infinity` for tough-cookie's `'Infinity'`,
 * `NaN` for null), flags in one number, interned domain, path and name. No tough-cookie `Cookie` (with its Dates) is
 * kept: one is made when tough-cookie or a caller asks for it (see {@link BoundedCookieStore}).
 */
export class CookieRecord {
    constructor(
        public key: string,
        public value: string,
        public domain: string,
        public path: string,
        public expires: number,
        public maxAge: Cookie['maxAge'],
        public flags: number,
        public sameSite: string | undefined,
        public extensions: string[] | null,
        public creation: number,
        public lastAccessed: number,
        public creationIndex: number,
        /**
         * Where the cookie was last stored from: the origin (`scheme://host`) of the response followed by the
         * attributes of its Set-Cookie header (everything from the first `;`). A header that repeats both is stored
         * without tough-cookie (see `storeSetCookieHeaders`). Undefined when the cookie was stored any other way.
         */
        public setBy: string | undefined = undefined,
    ) {}

    /** `Cookie.expiryTime()` of the cookie (Max-Age counted from the last access, as tough-cookie does). */
    expiryTime(): number | undefined {
        const { maxAge } = this;
        if (maxAge != null) {
            if (maxAge === 'Infinity') return Infinity;
            const relativeTo = Number.isNaN(this.lastAccessed) ? Date.now() : this.lastAccessed;
            if (relativeTo === Infinity) return Infinity;
            return relativeTo + (typeof maxAge === 'number' && maxAge > 0 ? maxAge * 1e3 : -Infinity);
        }
        if (this.expires === Infinity) return Infinity;
        return Number.isNaN(this.expires) ? undefined : this.expires;
    }

    get secure(): boolean {
        return (this.flags & SECURE) !== 0;
    }

    get httpOnly(): boolean {
        return (this.flags & HTTP_ONLY) !== 0;
    }

    /** tough-cookie's `hostOnly`: null until a jar decided it. */
    get hostOnly(): boolean | null {
        return this.flags & HOST_ONLY_KNOWN ? (this.flags & HOST_ONLY) !== 0 : null;
    }

    /** tough-cookie's `pathIsDefault`: null until a jar decided it. */
    get pathIsDefault(): boolean | null {
        return this.flags & PATH_DEFAULT_KNOWN ? (this.flags & PATH_DEFAULT) !== 0 : null;
    }
}

/** Bytes of its source a cookie value may keep alive rather than be copied (see {@link BoundedCookieStore.replaceValue}). */
const MAX_RETAINED_SOURCE_BYTES = 64;

/**
 * `text` as a string of its own: a value parsed from a Set-Cookie header is a slice of it (V8 slices strings of 13
 * characters and more), and would keep the whole header in memory as long as the cookie lives.
 */
function ownString(text: string): string {
    return text.length < 13 ? text : (JSON.parse(JSON.stringify(text)) as string);
}

function millisOf(value: unknown): number {
    if (value instanceof Date) return value.getTime();
    if (value === 'Infinity' || value === Infinity) return Infinity;
    if (typeof value === 'number') return value;
    if (typeof value === 'string') return new Date(value).getTime();
    return Number.NaN;
}

function dateOf(millis: number): Date | 'Infinity' | null {
    if (millis === Infinity) return 'Infinity';
    return Number.isNaN(millis) ? null : new Date(millis);
}

function recordOfCookie(cookie: Cookie, domain: string, path: string): CookieRecord {
    const flags =
        (cookie.secure ? SECURE : 0) |
        (cookie.httpOnly ? HTTP_ONLY : 0) |
        (cookie.hostOnly != null ? HOST_ONLY_KNOWN | (cookie.hostOnly ? HOST_ONLY : 0) : 0) |
        (cookie.pathIsDefault != null ? PATH_DEFAULT_KNOWN | (cookie.pathIsDefault ? PATH_DEFAULT : 0) : 0);
    return new CookieRecord(
        intern(cookie.key),
        ownString(cookie.value),
        intern(domain),
        intern(path),
        cookie.expires == null ? Number.NaN : millisOf(cookie.expires),
        cookie.maxAge,
        flags,
        cookie.sameSite,
        cookie.extensions ?? null,
        millisOf(cookie.creation),
        millisOf(cookie.lastAccessed),
        cookie.creationIndex ?? 0,
    );
}

/** Copies a record's fields into `target`, in the order tough-cookie's constructor sets them (one hidden class). */
function fill(target: Cookie, record: CookieRecord): Cookie {
    const { flags } = record;
    target.key = record.key;
    target.value = record.value;
    target.expires = dateOf(record.expires);
    target.maxAge = record.maxAge;
    target.domain = record.domain;
    target.path = record.path;
    target.secure = (flags & SECURE) !== 0;
    target.httpOnly = (flags & HTTP_ONLY) !== 0;
    target.extensions = record.extensions;
    target.creation = dateOf(record.creation);
    target.hostOnly = record.hostOnly;
    target.pathIsDefault = record.pathIsDefault;
    return target;
}

/** A detached tough-cookie Cookie with the record's values (what `sessions.get()` hands out). */
export function cookieOfRecord(record: CookieRecord): Cookie {
    const cookie = fill(Object.create(Cookie.prototype) as Cookie, record);
    cookie.lastAccessed = dateOf(record.lastAccessed);
    cookie.sameSite = record.sameSite;
    return cookie;
}

/** Returns the object it is given: lets {@link RecordLink} put a private field on an object it did not make. */
class ReturnsTarget {
    constructor(target: object) {
        // eslint-disable-next-line no-constructor-return -- the point: `super(target)` makes `this` the target
        return target;
    }
}

/**
 * The link from a Cookie the store handed out to its record: a private field, invisible to `Object.keys`, copies,
 * spreads and deep equality, and about ten times cheaper to add than a non-enumerable property.
 */
class RecordLink extends ReturnsTarget {
    #record: CookieRecord;

    private constructor(target: object, record: CookieRecord) {
        super(target);
        this.#record = record;
    }

    static link(target: object, record: CookieRecord): void {
        new RecordLink(target, record);
    }

    static of(target: object): CookieRecord | undefined {
        return #record in target ? (target as RecordLink).#record : undefined;
    }
}

function linked(cookie: object): CookieRecord {
    return RecordLink.of(cookie)!;
}

/**
 * The prototype of the Cookies the store hands to tough-cookie: a Cookie whose `lastAccessed` (and `creationIndex`)
 * live in the record, so that tough-cookie refreshing the access time of the cookies it returns — and the Cookie
 * header cache doing the same — reaches the store (the purges and Max-Age count from it), as with MemoryCookieStore,
 * whose Cookies are the stored objects.
 */
const VIEW_PROTOTYPE: Cookie = Object.create(Cookie.prototype, {
    lastAccessed: {
        get(this: Cookie) {
            return dateOf(linked(this).lastAccessed);
        },
        set(this: Cookie, value: unknown) {
            linked(this).lastAccessed = millisOf(value);
        },
        enumerable: false,
        configurable: true,
    },
    creationIndex: {
        get(this: Cookie) {
            return linked(this).creationIndex;
        },
        set(this: Cookie, value: number) {
            linked(this).creationIndex = value;
        },
        enumerable: false,
        configurable: true,
    },
    expiryTime: {
        value(this: Cookie, now?: Date) {
            return now ? Cookie.prototype.expiryTime.call(this, now) : linked(this).expiryTime();
        },
        enumerable: false,
        configurable: true,
        writable: true,
    },
});

/** The Cookie tough-cookie gets for a record (see {@link VIEW_PROTOTYPE}). */
function viewOf(record: CookieRecord): Cookie {
    const cookie = Object.create(VIEW_PROTOTYPE) as Cookie;
    RecordLink.link(cookie, record);
    fill(cookie, record);
    cookie.sameSite = record.sameSite;
    return cookie;
}

/** The record behind a Cookie the store handed out, if it is one. */
export function recordOf(cookie: Cookie): CookieRecord | undefined {
    return RecordLink.of(cookie);
}

/**
 * The cookie store of every jar of this package (session jars and the plain jars of logins and the maintainer): a
 * synchronous tough-cookie `Store` over compact {@link CookieRecord}s, with a browser's limits, so that a hostile site
 * cannot grow a jar (and every request's Cookie header) without bound:
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
 * It behaves as tough-cookie's MemoryCookieStore (same lookups, `getAllCookies` in creation order), but keeps no
 * `Cookie` objects: each cookie is a flat record (times as numbers, flags in one number, interned domain, path and
 * name — about a third of a Cookie's memory), and the Cookies tough-cookie asks for are made on demand. Their
 * `lastAccessed` is the record's (tough-cookie updates it on the Cookies it returns); their other fields are a
 * snapshot: a change goes through the jar (`setCookie`), as it must for any store.
 *
 * Subclasses learn about every stored and removed cookie — evictions included — through {@link stored} and
 * {@link removed}. The store stays synchronous.
 */
export class BoundedCookieStore extends Store {
    /** The cookies, in the order they were first stored (a replaced cookie keeps its place). */
    private records: CookieRecord[] = [];

    constructor() {
        super();
        this.synchronous = true;
    }

    /** How many cookies the store holds (expired ones included until they are purged). */
    get size(): number {
        return this.records.length;
    }

    /** Called after a cookie was stored, new or replacing one with the same domain, path and name. */
    protected stored(_cookie: CookieRecord): void {}

    /** Called after a cookie's value was replaced in place by {@link replaceValue} (nothing else of it changed). */
    protected valueReplaced(record: CookieRecord): void {
        this.stored(record);
    }

    /** Called after a cookie was removed; `evicted` is true when the limits removed it, not the jar or the site. */
    protected removed(_domain: string, _path: string, _key: string, _evicted: boolean): void {}

    /** The stored record of (domain, path, name), if any. */
    recordFor(domain: string, path: string, key: string): CookieRecord | undefined {
        const { records } = this;
        for (let i = 0; i < records.length; i++) {
            const record = records[i]!;
            if (record.key === key && record.domain === domain && record.path === path) return record;
        }
        return undefined;
    }

    /**
     * Gives a stored cookie a new value, as tough-cookie's `setCookie` does for a cookie set again with the same
     * attributes from the same origin: the value and the access time change, its creation and everything else stay.
     * Returns false, changing nothing, when the value is larger than {@link MAX_COOKIE_BYTES} allows (as
     * {@link putCookie} refuses it).
     *
     * @param record one of this store's records ({@link allRecords})
     * @param source the text `value` was cut from: when it is not much longer, the value is kept as the slice it is
     *   (copying it costs more than the few bytes of the source it keeps alive)
     */
    replaceValue(record: CookieRecord, value: string, now: number, source = ''): boolean {
        if (!fitsCookieSize(record.key, value)) return false;
        record.lastAccessed = now;
        if (record.value !== value) {
            record.value = source.length - value.length > MAX_RETAINED_SOURCE_BYTES ? ownString(value) : value;
            this.valueReplaced(record);
        }
        return true;
    }

    /** Every record (expired ones included), in the store's order; not to be changed. */
    allRecords(): readonly CookieRecord[] {
        return this.records;
    }

    /** Detached Cookies of every unexpired cookie, in creation order (cheaper than `getAllCookies` and a copy). */
    unexpiredCookies(now = Date.now()): Cookie[] {
        const cookies: Cookie[] = [];
        for (const record of this.sortedRecords()) {
            // Cookie.TTL(now) > 0: a numeric Max-Age counts when positive, else Expires against now (none: not kept).
            const { maxAge, expires } = record;
            const live = typeof maxAge === 'number' ? maxAge > 0 : expires === Infinity || (!Number.isNaN(expires) && expires > now);
            if (live) cookies.push(cookieOfRecord(record));
        }
        return cookies;
    }

    override findCookie(domain: string | null, path: string | null, key: string | null, callback?: Callback): any {
        const record = domain == null || path == null || key == null ? undefined : this.recordFor(domain, path, key);
        return settle(callback, record ? viewOf(record) : undefined);
    }

    override putCookie(cookie: Cookie, callback?: Callback): any {
        const { domain, path, key } = cookie;
        if (domain == null || path == null || key == null || !fitsCookieSize(key, cookie.value)) return settle(callback);
        const record = recordOfCookie(cookie, domain, path);
        const existing = this.recordFor(domain, path, key);
        if (existing) {
            Object.assign(existing, record);
            this.stored(existing);
            return settle(callback);
        }
        // A small jar's array is copied at its exact size (a pushed-to or spread array reserves spare slots).
        if (this.records.length < SMALL_JAR) this.records = this.records.concat([record]);
        else this.records.push(record);
        this.stored(record);
        if (this.records.length > MAX_COOKIES_PER_DOMAIN) {
            const site = cookieSiteOf(record.domain);
            let count = 0;
            for (const each of this.records) if (cookieSiteOf(each.domain) === site) count++;
            if (count > MAX_COOKIES_PER_DOMAIN) this.purgeSite(site);
            if (this.records.length > MAX_COOKIES_PER_JAR) this.purgeJar();
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
        if (domain && this.records.length > 0) {
            for (const candidate of domainPermutations(domain, allowSpecialUseDomain ?? false)) {
                for (const record of this.records) {
                    if (record.domain !== candidate || (path && !pathMatch(path, record.path))) continue;
                    results.push(viewOf(record));
                }
            }
        }
        return settle(callback, results);
    }

    override updateCookie(_oldCookie: Cookie, newCookie: Cookie, callback?: Callback): any {
        return this.putCookie(newCookie, callback);
    }

    override removeCookie(domain: string | null, path: string | null, key: string | null, callback?: Callback): any {
        const record = domain == null || path == null || key == null ? undefined : this.recordFor(domain, path, key);
        if (record) this.delete([record], false);
        return settle(callback);
    }

    override removeCookies(domain: string, path: string | null, callback?: Callback): any {
        const matching = this.records.filter((record) => record.domain === domain && (!path || record.path === path));
        if (matching.length > 0) this.delete(matching, false);
        return settle(callback);
    }

    override removeAllCookies(callback?: Callback): any {
        this.records = [];
        return settle(callback);
    }

    override getAllCookies(callback?: Callback): any {
        return settle(callback, this.sortedRecords().map(viewOf));
    }

    /** The records by creation index, as MemoryCookieStore's `getAllCookies` orders its cookies; not to be changed. */
    sortedRecords(): readonly CookieRecord[] {
        const { records } = this;
        for (let i = 1; i < records.length; i++) {
            if (records[i - 1]!.creationIndex > records[i]!.creationIndex) return [...records].sort((a, b) => a.creationIndex - b.creationIndex);
        }
        return records;
    }

    /** Removes `victims` (records of this store) and tells the subclass, in their order. */
    private delete(victims: readonly CookieRecord[], evicted: boolean): void {
        const gone = victims.length === 1 ? undefined : new Set(victims);
        this.records = gone ? this.records.filter((record) => !gone.has(record)) : this.records.filter((record) => record !== victims[0]);
        for (const victim of victims) this.removed(victim.domain, victim.path, victim.key, evicted);
    }

    /** Chromium's per-site garbage collection (expired cookies, then least recently used, non-secure first). */
    private purgeSite(site: string): void {
        const cookies = this.removeExpired(this.records.filter((record) => cookieSiteOf(record.domain) === site));
        if (cookies.length <= MAX_COOKIES_PER_DOMAIN) return;
        let goal = cookies.length - (MAX_COOKIES_PER_DOMAIN - DOMAIN_PURGE_COOKIES);
        cookies.sort(leastRecentlyUsedFirst);
        const victims: CookieRecord[] = [];
        // Round 1 ("medium-priority non-secure"): non-secure cookies only, protecting as many as Chromium does.
        const secure = cookies.filter((cookie) => cookie.secure).length;
        let deletable = cookies.length - Math.max(secure, DOMAIN_PROTECTED_COOKIES - secure);
        const remaining: CookieRecord[] = [];
        for (const cookie of cookies) {
            if (goal > 0 && deletable > 0 && !cookie.secure) {
                victims.push(cookie);
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
            victims.push(cookie);
            goal--;
            deletable--;
        }
        if (victims.length > 0) this.delete(victims, true);
    }

    /** The jar-wide purge: expired cookies, then least recently used, non-secure before secure. */
    private purgeJar(): void {
        const cookies = this.removeExpired([...this.records]);
        if (cookies.length <= MAX_COOKIES_PER_JAR) return;
        let goal = cookies.length - (MAX_COOKIES_PER_JAR - JAR_PURGE_COOKIES);
        cookies.sort(leastRecentlyUsedFirst);
        const victims: CookieRecord[] = [];
        for (const secure of [false, true]) {
            for (const cookie of cookies) {
                if (goal <= 0) break;
                if (cookie.secure === secure) {
                    victims.push(cookie);
                    goal--;
                }
            }
        }
        if (victims.length > 0) this.delete(victims, true);
    }

    /** Evicts the expired records of `records` and returns the others. */
    private removeExpired(records: CookieRecord[]): CookieRecord[] {
        const now = Date.now();
        const expired: CookieRecord[] = [];
        const live = records.filter((record) => {
            const expiry = record.expiryTime();
            if (expiry === undefined || expiry > now) return true;
            expired.push(record);
            return false;
        });
        if (expired.length > 0) this.delete(expired, true);
        return live;
    }
}

/** Chromium's `LRACookieSorter`: least recently accessed first, ties by creation (then creation order). */
function leastRecentlyUsedFirst(a: CookieRecord, b: CookieRecord): number {
    return timeOf(a.lastAccessed) - timeOf(b.lastAccessed) || timeOf(a.creation) - timeOf(b.creation) || a.creationIndex - b.creationIndex;
}

function timeOf(millis: number): number {
    return millis === Infinity ? Number.MAX_SAFE_INTEGER : Number.isNaN(millis) ? 0 : millis;
}

/** Completes a store call the way MemoryCookieStore does: the callback if given, else a resolved promise. */
function settle(callback: Callback | undefined, result?: unknown): Promise<unknown> | undefined {
    if (callback) {
        callback(null, result);
        return undefined;
    }
    return Promise.resolve(result);
}
