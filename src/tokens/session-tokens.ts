import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';

import { Cookie, domainMatch, type CookieJar } from 'tough-cookie';
import { z } from 'zod';

import { allCookies, parseCookieHeader } from '../shared/cookies.js';
import { hostOfSite, normalizeSite, siteOf, TokenNames, type TokenNamesOptions } from './token-names.js';

/**
 * A session token rotated: a `Set-Cookie` received by a session replaced a token's value with a different one.
 * Carries no token values (they are secrets), only short fingerprints to tell values apart.
 */
export interface TokenRotation {
    sessionId: string;
    /** `host:port` of the response. */
    site: string;
    /** The cookie name as the site spelled it, e.g. `PHPSESSID`. */
    token: string;
    /** The response URL without its query (a query may carry secrets). */
    url: string;
    /** How many rotations this session has seen on this site, this one included. */
    rotations: number;
    /** First 12 hex digits of the SHA-256 of the old and of the new value. */
    previousFingerprint: string;
    fingerprint: string;
}

/** Per-site activity of one session. */
export interface SiteActivity {
    site: string;
    /** Requests transmitted to the site (every redirect hop counts). */
    messages: number;
    /** Token rotations seen on the site. */
    rotations: number;
}

/** Options of {@link SessionTokens} (`Sessions.open({ tokens })`). */
export interface SessionTokensOptions extends TokenNamesOptions {
    /** Called for every token rotation (also emitted as the `rotation` event). @default undefined */
    onRotation?: (rotation: TokenRotation) => void;
}

/** Zod schema of {@link SessionTokensOptions}, for `Sessions.open()`'s option validation. */
export const sessionTokensOptionsSchema = z.strictObject({
    defaults: z.array(z.string().min(1).max(200)).max(1000).optional(),
    sites: z
        .record(
            z.string(),
            z.strictObject({
                add: z.array(z.string().min(1).max(200)).max(1000).optional(),
                remove: z.array(z.string().min(1).max(200)).max(1000).optional(),
            }),
        )
        .superRefine((sites, ctx) => {
            for (const site of Object.keys(sites)) {
                if (!isSite(site)) ctx.addIssue({ code: 'custom', path: [site], message: 'is not a site: write "host:port" or a URL' });
            }
        })
        .optional(),
    onRotation: z.custom<(rotation: TokenRotation) => void>((value) => typeof value === 'function', 'must be a function').optional(),
});

/** Cookies to match against sessions: a `Cookie` header, a name → value record, tough-cookie Cookies or pairs. */
export type CookieSet =
    | string
    | Record<string, string>
    | ReadonlyArray<Cookie | { name: string; value: string } | readonly [string, string]>;

/** What the tracker needs from the sessions: their ids and their current cookie jars. */
export interface TokenSource {
    /** Every session id, in creation order. */
    ids(): Iterable<string>;
    /** The current jar of a session, or undefined when there is no such session. */
    jarOf(id: string): CookieJar | undefined;
}

interface Activity {
    messages: number;
    rotations: number;
}

/**
 * Session tokens tracked the way OWASP ZAP's HttpSessions does: which cookies identify a session on each site, what
 * values each session holds for them, which session a cookie set belongs to, rotations of token values, the active
 * session of a site, and per-site message counts.
 *
 * Token values are read from the session's cookie jar (the cookies a request to the site's host would carry,
 * whatever their path), so they are never out of date. Emits `rotation` ({@link TokenRotation}).
 */
export class SessionTokens extends EventEmitter<{ rotation: [TokenRotation] }> {
    /** Which cookie names are tokens on which site; change it with `add(site, name)` / `remove(site, name)`. */
    readonly names: TokenNames;
    private readonly activity = new Map<string, Map<string, Activity>>();
    private readonly activeSessions = new Map<string, string>();
    private readonly onRotation: ((rotation: TokenRotation) => void) | undefined;

    constructor(
        private readonly source: TokenSource,
        options: SessionTokensOptions = {},
    ) {
        super();
        this.names = new TokenNames(options);
        this.onRotation = options.onRotation;
    }

    /**
     * A session's token values on a site (cookie name as the site spelled it → value), or, without a site, on
     * every site the session has sent requests to or is active on. Contains secrets: keep it out of logs.
     */
    tokensOf(id: string, site: string): Record<string, string>;
    tokensOf(id: string): Record<string, Record<string, string>>;
    tokensOf(id: string, site?: string): Record<string, string> | Record<string, Record<string, string>> {
        const jar = this.source.jarOf(id);
        if (site !== undefined) return jar ? this.valuesIn(jar, normalizeSite(site)) : {};
        const sites = new Set(this.activity.get(id)?.keys());
        for (const [activeSite, activeId] of this.activeSessions) if (activeId === id) sites.add(activeSite);
        const result: Record<string, Record<string, string>> = {};
        for (const each of sites) result[each] = jar ? this.valuesIn(jar, each) : {};
        return result;
    }

    /**
     * The session a cookie set belongs to on a site (OWASP ZAP's matching): for every token of the site, the
     * session's value must equal the cookie's, or both must be absent; among the sessions that qualify, the one
     * with the most equal values wins, then the oldest session (under this rule qualifying sessions agree on every
     * token, so in practice several sessions holding the same tokens resolve to the oldest). Undefined when none
     * qualifies, or when the cookies carry no token of the site (ZAP would then pick any session without tokens;
     * adopting cookies into an arbitrary empty session is never what a caller wants).
     */
    match(cookies: CookieSet, site: string): string | undefined {
        const key = normalizeSite(site);
        const wanted = new Map<string, string>();
        for (const [name, value] of cookiePairs(cookies)) {
            const lower = name.toLowerCase();
            if (this.names.isToken(key, name) && !wanted.has(lower)) wanted.set(lower, value);
        }
        if (wanted.size === 0) return undefined;
        let best: { id: string; score: number } | undefined;
        for (const id of this.source.ids()) {
            const jar = this.source.jarOf(id);
            if (!jar) continue;
            const held = lowerKeys(this.valuesIn(jar, key));
            const score = matchScore(wanted, held);
            if (score !== undefined && score > 0 && (!best || score > best.score)) best = { id, score };
        }
        return best?.id;
    }

    /** Makes `id` the active session of a site: requests to the site that name no session use it. */
    activate(site: string, id: string): void {
        this.activeSessions.set(normalizeSite(site), id);
    }

    /** Removes a site's active session; returns whether there was one. */
    deactivate(site: string): boolean {
        return this.activeSessions.delete(normalizeSite(site));
    }

    /** The active session of a site (given as `host:port` or a URL), if any. */
    activeSession(site: string | URL): string | undefined {
        if (this.activeSessions.size === 0) return undefined;
        return this.activeSessions.get(normalizeSite(site));
    }

    /** Every site's active session. */
    activeSessionsBySite(): Record<string, string> {
        return Object.fromEntries(this.activeSessions);
    }

    /** Per-site message and rotation counts of a session. */
    activityOf(id: string): SiteActivity[] {
        return [...(this.activity.get(id) ?? [])].map(([site, counts]) => ({ site, ...counts }));
    }

    /** Counts one request of a session to a URL. */
    countMessage(id: string, url: URL | string): void {
        this.counts(id, siteOf(url)).messages++;
    }

    /**
     * Stores a response's `Set-Cookie` headers into a session's jar through `store`, and records a rotation for
     * every token whose value the response replaced with a different one.
     */
    observeSetCookie(id: string, jar: CookieJar, url: URL | string, setCookie: string | string[] | undefined, store: () => void): void {
        const values = setCookie === undefined ? [] : Array.isArray(setCookie) ? setCookie : [setCookie];
        if (values.length === 0) return store();
        const site = siteOf(url);
        let tokens: Map<string, string> | undefined; // lower-case name → the name as the site wrote it
        for (const value of values) {
            const name = value.slice(0, Math.max(0, value.indexOf('='))).trim();
            const lower = name.toLowerCase();
            if (name && this.names.isTokenOfSite(site, lower) && !tokens?.has(lower)) (tokens ??= new Map()).set(lower, name);
        }
        if (!tokens) return store();
        const before = this.tokenValuesIn(jar, site, tokens);
        store();
        const after = this.tokenValuesIn(jar, site, tokens);
        for (const [lower, token] of tokens) {
            const previous = before.get(lower);
            const current = after.get(lower);
            if (previous === undefined || current === undefined || previous === current) continue;
            const counts = this.counts(id, site);
            counts.rotations++;
            const parsed = new URL(url);
            const rotation: TokenRotation = {
                sessionId: id,
                site,
                token,
                url: `${parsed.origin}${parsed.pathname}`,
                rotations: counts.rotations,
                previousFingerprint: fingerprint(previous),
                fingerprint: fingerprint(current),
            };
            this.onRotation?.(rotation);
            this.emit('rotation', rotation);
        }
    }

    /** Forgets a session's counts and active-site assignments (e.g. when it is deleted). */
    forget(id: string): void {
        this.activity.delete(id);
        for (const [site, activeId] of this.activeSessions) if (activeId === id) this.activeSessions.delete(site);
    }

    private counts(id: string, site: string): Activity {
        let sites = this.activity.get(id);
        if (!sites) this.activity.set(id, (sites = new Map()));
        let counts = sites.get(site);
        if (!counts) sites.set(site, (counts = { messages: 0, rotations: 0 }));
        return counts;
    }

    /** Token cookies of the jar a request to the site's host would carry (any path); the most specific first. */
    /**
     * The values the site would receive for some token names (lower case → value): {@link valuesIn} narrowed to
     * `names`, reading the stored cookies in place (no copy of the jar), as the request path needs it per response.
     */
    private tokenValuesIn(jar: CookieJar, site: string, names: ReadonlyMap<string, string>): Map<string, string> {
        const host = hostOfSite(site);
        const now = Date.now();
        const values = new Map<string, string>();
        const longestPath = new Map<string, number>();
        jar.store.getAllCookies((_error: Error | null, cookies?: Cookie[]) => {
            for (const cookie of cookies ?? []) {
                const lower = cookie.key.toLowerCase();
                if (!names.has(lower) || cookie.TTL(now) <= 0) continue;
                const domain = cookie.domain ?? '';
                if (!(cookie.hostOnly ? domain === host : domainMatch(host, domain) === true)) continue;
                // The most specific path is what a request would carry first (as valuesIn orders them).
                const pathLength = cookie.path?.length ?? 0;
                if ((longestPath.get(lower) ?? -1) >= pathLength) continue;
                longestPath.set(lower, pathLength);
                values.set(lower, cookie.value);
            }
        });
        return values;
    }

    private valuesIn(jar: CookieJar, site: string): Record<string, string> {
        const host = hostOfSite(site);
        const values: Record<string, string> = {};
        const seen = new Set<string>();
        const cookies = allCookies(jar).sort((a, b) => (b.path?.length ?? 0) - (a.path?.length ?? 0));
        for (const cookie of cookies) {
            const domain = cookie.domain ?? '';
            const sent = cookie.hostOnly ? domain === host : domainMatch(host, domain) === true;
            const lower = cookie.key.toLowerCase();
            if (!sent || seen.has(lower) || !this.names.isToken(site, cookie.key)) continue;
            seen.add(lower);
            values[cookie.key] = cookie.value;
        }
        return values;
    }
}

/** undefined when the session does not qualify, else how many token values are equal. */
function matchScore(wanted: ReadonlyMap<string, string>, held: ReadonlyMap<string, string>): number | undefined {
    let score = 0;
    for (const name of new Set([...wanted.keys(), ...held.keys()])) {
        const want = wanted.get(name);
        const have = held.get(name);
        if (want === undefined || have === undefined) {
            if (want !== have) return undefined;
            continue;
        }
        if (want !== have) return undefined;
        score++;
    }
    return score;
}

function cookiePairs(cookies: CookieSet): Array<[string, string]> {
    if (typeof cookies === 'string') return parseCookieHeader(cookies);
    if (Array.isArray(cookies)) {
        return cookies.map((cookie): [string, string] => {
            if (cookie instanceof Cookie) return [cookie.key, cookie.value];
            if (Array.isArray(cookie)) return [String(cookie[0]), String(cookie[1])];
            const { name, value } = cookie as { name: string; value: string };
            return [name, value];
        });
    }
    return Object.entries(cookies as Record<string, string>);
}

function isSite(value: string): boolean {
    try {
        normalizeSite(value);
        return true;
    } catch {
        return false;
    }
}

function lowerKeys(values: Record<string, string>): Map<string, string> {
    return new Map(Object.entries(values).map(([name, value]) => [name.toLowerCase(), value]));
}

function fingerprint(value: string): string {
    return createHash('sha256').update(value).digest('hex').slice(0, 12);
}
