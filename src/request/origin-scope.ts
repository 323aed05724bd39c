/**
 * Where a login's values (its `apply` headers and query parameters) may go: deny by default. An entry is one of
 *
 * - `'*'`: every host (an explicit opt-in);
 * - an origin, `scheme://host[:port]` (`https://shop.example`, `http://127.0.0.1:8080`): exactly that origin;
 * - a host, `shop.example`: that host on any scheme and port;
 * - a host glob, `*.shop.example`: every subdomain of `shop.example` at any depth (not `shop.example` itself).
 *
 * Matching costs a Set lookup and one suffix test per glob: nothing is compiled from user text into a regular
 * expression.
 */
export interface OriginScope {
    /** Whether a request to `url` may carry the values. */
    allows(url: URL): boolean;
}

/** Why an entry is not a usable origin pattern, or undefined when it is one. */
export function originPatternProblem(entry: unknown): string | undefined {
    if (typeof entry !== 'string' || entry.length === 0) return 'must be a non-empty string';
    if (entry.length > 300) return 'must be at most 300 characters long';
    if (entry === '*') return undefined;
    if (entry.includes('://')) {
        let url: URL;
        try {
            url = new URL(entry);
        } catch {
            return 'must be an origin like https://shop.example or a host like shop.example';
        }
        if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be an http: or https: origin';
        if (url.origin !== entry.replace(/\/$/, '')) return `must be an origin only (scheme, host, port), like ${url.origin}`;
        return undefined;
    }
    const host = entry.startsWith('*.') ? entry.slice(2) : entry;
    if (!/^[a-z0-9.-]+$/i.test(host) && !/^\[[0-9a-f:.]+\]$/i.test(host)) return 'must be a host name, *.host or an origin';
    return undefined;
}

const ALL: OriginScope = { allows: () => true };
const NONE: OriginScope = { allows: () => false };

const compiled = new WeakMap<readonly string[], OriginScope>();

/** The scope of a list of entries (compiled once per list). An absent or empty list allows nothing. */
export function originScopeOf(entries: readonly string[] | undefined): OriginScope {
    if (!entries || entries.length === 0) return NONE;
    let scope = compiled.get(entries);
    if (!scope) {
        scope = compile(entries);
        compiled.set(entries, scope);
    }
    return scope;
}

function compile(entries: readonly string[]): OriginScope {
    if (entries.includes('*')) return ALL;
    const origins = new Set<string>();
    const hosts = new Set<string>();
    const suffixes: string[] = [];
    for (const entry of entries) {
        if (entry.includes('://')) origins.add(safeOrigin(entry));
        else if (entry.startsWith('*.')) suffixes.push(`.${entry.slice(2).toLowerCase()}`);
        else hosts.add(entry.toLowerCase());
    }
    return {
        allows(url) {
            if (origins.has(url.origin)) return true;
            const host = url.hostname;
            if (hosts.has(host)) return true;
            for (const suffix of suffixes) if (host.endsWith(suffix)) return true;
            return false;
        },
    };
}

function safeOrigin(entry: string): string {
    try {
        return new URL(entry).origin;
    } catch {
        return entry;
    }
}

/** The origins of URLs, deduplicated, in first-seen order (what a login's requests define as its scope). */
export function originsOf(urls: Iterable<string | URL>): string[] {
    const seen = new Set<string>();
    for (const url of urls) {
        try {
            seen.add(new URL(url).origin);
        } catch {
            // not a URL: no origin
        }
    }
    return [...seen];
}
