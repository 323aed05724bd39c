/**
 * Cookie names that identify a server-side session, case-insensitive. OWASP ZAP's defaults, the random suffix
 * IIS adds to `ASPSESSIONID` (`ASPSESSIONIDQQGQGQAB`), and the defaults of today's common frameworks. A name with
 * `*` (any run of characters) or `?` (one character) is a pattern.
 */
export const DEFAULT_TOKEN_NAMES: readonly string[] = Object.freeze([
    // OWASP ZAP
    'asp.net_sessionid',
    'aspsessionid',
    'aspsessionid????????', // IIS: ASPSESSIONID + 8 random letters
    'siteserver',
    'cfid',
    'cftoken',
    'jsessionid',
    'phpsessid',
    'sessid',
    'sid',
    'viewstate',
    'zenid',
    // Frameworks
    'connect.sid', // Express (express-session)
    'express.sid',
    'sails.sid',
    'koa.sess',
    'koa:sess',
    'laravel_session',
    '*_session', // Laravel (<app>_session), Rails (_<app>_session), CodeIgniter (ci_session)
    '_session_id',
    'ci_session',
    'sessionid', // Django
    'session', // Flask
    'rack.session',
    'play_session',
    'cakephp',
    '.aspnetcore.session',
    '__session',
]);

/** Per-site changes to the token names, as given to {@link TokenNames}. */
export interface SiteTokenConfig {
    /** Extra token names (or patterns) for the site. @default [] */
    add?: string[];
    /** Names that are not tokens on this site even though a default (or pattern) says so. @default [] */
    remove?: string[];
}

/** Options of {@link TokenNames}. */
export interface TokenNamesOptions {
    /** Replaces {@link DEFAULT_TOKEN_NAMES}. @default DEFAULT_TOKEN_NAMES */
    defaults?: readonly string[];
    /** Per-site additions and removals, keyed by site (`host:port` or a URL). @default {} */
    sites?: Record<string, SiteTokenConfig>;
}

/**
 * A site as OWASP ZAP has it: `host:port`, lower-case, the scheme's default port made explicit.
 * Accepts `host:port`, `[v6]:port` or a URL (`https://example.com/x` → `example.com:443`).
 * @throws TypeError for anything else (a bare host is refused: its port would be a guess).
 */
export function normalizeSite(site: string | URL): string {
    if (site instanceof URL || /^[a-z][a-z0-9+.-]*:\/\//i.test(site)) {
        const url = site instanceof URL ? site : new URL(site);
        return siteOf(url);
    }
    const match = /^(\[[0-9a-f:.]+\]|[a-z0-9_.-]+):(\d{1,5})$/i.exec(site.trim());
    if (!match || Number(match[2]) > 65_535) {
        throw new TypeError(`A site is "host:port" (e.g. example.com:443) or a URL; got ${JSON.stringify(site)}.`);
    }
    return `${match[1]!.toLowerCase()}:${Number(match[2])}`;
}

/** The site (`host:port`) of a URL. */
export function siteOf(url: URL | string): string {
    if (typeof url === 'string') return siteOfText(url);
    return siteOfUrl(url);
}

/** Origins (`scheme://authority`) whose site is remembered: responses of one crawl come from few of them. */
const MAX_REMEMBERED_ORIGINS = 1000;
const siteOfOrigin = new Map<string, string>();
/** `scheme://authority` at the start of an absolute URL, when nothing in it needs the URL parser's cleaning. */
const PLAIN_ORIGIN = /^[a-z][a-z0-9+.-]*:\/\/[\x21-\x22\x24-\x2e\x30-\x3e\x40-\x5b\x5d-\x7e]*(?=[/?#]|$)/i;

function siteOfText(text: string): string {
    const origin = PLAIN_ORIGIN.exec(text)?.[0];
    if (origin === undefined) return siteOfUrl(new URL(text));
    let site = siteOfOrigin.get(origin);
    if (site === undefined) {
        site = siteOfUrl(new URL(origin));
        if (siteOfOrigin.size >= MAX_REMEMBERED_ORIGINS) siteOfOrigin.clear();
        siteOfOrigin.set(origin, site);
    }
    return site;
}

function siteOfUrl(parsed: URL): string {
    const port = parsed.port || (parsed.protocol === 'https:' || parsed.protocol === 'wss:' ? '443' : '80');
    return `${parsed.hostname.toLowerCase()}:${port}`;
}

/** The host part of a site (`[::1]` for IPv6 becomes `::1`, as cookie domains have it). */
export function hostOfSite(site: string): string {
    const host = site.slice(0, site.lastIndexOf(':'));
    return host.startsWith('[') ? host.slice(1, -1) : host;
}

/** Cookie names whose pattern verdict one name list remembers. */
const MAX_REMEMBERED_NAMES = 1000;

/** A compiled name list: exact lower-case names plus patterns. */
class NameSet {
    private readonly exact = new Set<string>();
    private readonly patterns = new Map<string, RegExp>();
    /** What the patterns said of names seen (a site's cookie names repeat on every response); reset by any change. */
    private readonly matched = new Map<string, boolean>();

    constructor(names: Iterable<string> = []) {
        for (const name of names) this.add(name);
    }

    add(name: string): void {
        const lower = validName(name);
        if (/[*?]/.test(lower)) this.patterns.set(lower, patternOf(lower));
        else this.exact.add(lower);
        this.matched.clear();
    }

    delete(name: string): void {
        const lower = name.toLowerCase();
        this.exact.delete(lower);
        this.patterns.delete(lower);
        this.matched.clear();
    }

    has(lowerName: string): boolean {
        if (this.exact.has(lowerName)) return true;
        if (this.patterns.size === 0) return false;
        let matched = this.matched.get(lowerName);
        if (matched === undefined) {
            matched = [...this.patterns.values()].some((pattern) => pattern.test(lowerName));
            if (this.matched.size >= MAX_REMEMBERED_NAMES) this.matched.clear();
            this.matched.set(lowerName, matched);
        }
        return matched;
    }

    list(): string[] {
        return [...this.exact, ...this.patterns.keys()];
    }
}

/**
 * Which cookie names are session tokens on which site: the defaults, plus per-site additions, minus per-site
 * removals (ZAP's "site session tokens" and "overridden default tokens"). Names are case-insensitive.
 */
export class TokenNames {
    private readonly defaults: NameSet;
    private readonly added = new Map<string, NameSet>();
    private readonly removed = new Map<string, Set<string>>();

    constructor(options: TokenNamesOptions = {}) {
        this.defaults = new NameSet(options.defaults ?? DEFAULT_TOKEN_NAMES);
        for (const [site, config] of Object.entries(options.sites ?? {})) {
            for (const name of config.add ?? []) this.add(site, name);
            for (const name of config.remove ?? []) this.remove(site, name);
        }
    }

    /** Whether a cookie name is a default token (any site). */
    isDefault(name: string): boolean {
        return this.defaults.has(name.toLowerCase());
    }

    /** Whether a cookie name is a session token on a site. */
    isToken(site: string, name: string): boolean {
        return this.isTokenOfSite(normalizeSite(site), name.toLowerCase());
    }

    /** {@link isToken} for a site already normalized (`host:port`) and a lower-case name: the request path's form. */
    isTokenOfSite(key: string, lower: string): boolean {
        if (this.removed.get(key)?.has(lower)) return false;
        return this.defaults.has(lower) || (this.added.get(key)?.has(lower) ?? false);
    }

    /**
     * Whether a cookie of this domain (a cookie knows no port) is a token: a default, or added on a site of that host
     * and not removed there.
     */
    isTokenOnHost(host: string, lower: string): boolean {
        const bare = host.replace(/^\./, '').toLowerCase();
        for (const [key, names] of this.added) if (hostOfSite(key) === bare && names.has(lower)) return true;
        if (!this.defaults.has(lower)) return false;
        for (const [key, removed] of this.removed) if (hostOfSite(key) === bare && removed.has(lower)) return false;
        return true;
    }

    /** Makes a name (or pattern) a token on a site (undoing an earlier removal of it). */
    add(site: string, name: string): void {
        const key = normalizeSite(site);
        this.removed.get(key)?.delete(name.toLowerCase());
        let names = this.added.get(key);
        if (!names) this.added.set(key, (names = new NameSet()));
        names.add(name);
    }

    /** Makes a name no token on a site, even if a default or pattern says it is. */
    remove(site: string, name: string): void {
        const key = normalizeSite(site);
        const lower = validName(name);
        this.added.get(key)?.delete(lower);
        let names = this.removed.get(key);
        if (!names) this.removed.set(key, (names = new Set()));
        names.add(lower);
    }

    /** The token configuration of a site: the defaults, what was added and what was removed. */
    describe(site: string): { defaults: string[]; added: string[]; removed: string[] } {
        const key = normalizeSite(site);
        return {
            defaults: this.defaults.list(),
            added: this.added.get(key)?.list() ?? [],
            removed: [...(this.removed.get(key) ?? [])],
        };
    }
}

function validName(name: string): string {
    if (typeof name !== 'string' || name.length === 0 || name.length > 200 || /[\s;=,\x00-\x1f\x7f]/.test(name)) {
        throw new TypeError(`A session token name is a cookie name (1–200 characters, no spaces, ";", "=" or ","); got ${JSON.stringify(name)}.`);
    }
    return name.toLowerCase();
}

function patternOf(lowerPattern: string): RegExp {
    const source = [...lowerPattern]
        .map((char) => (char === '*' ? '.*' : char === '?' ? '.' : char.replace(/[\\^$.|+()[\]{}]/g, '\\$&')))
        .join('');
    return new RegExp(`^${source}$`);
}
