import { Minimatch } from 'minimatch';

import type { HeaderScope, MatchCondition } from './rule.js';

/** The request a rule or session header is evaluated for. */
export interface HeaderTarget {
    /** The URL of this hop (redirect hops are evaluated one by one). */
    url: URL;
    /** Upper-case HTTP method. */
    method: string;
    /** The session the request is bound to. */
    sessionId: string;
}

/** A compiled condition: true when the target is in scope. */
export type TargetPredicate = (target: HeaderTarget) => boolean;

/** The longest URL a glob is matched against (far beyond any real URL; bounds the matcher's work). */
export const MAX_GLOB_INPUT_LENGTH = 1024 * 1024;

/**
 * Compiles a URL glob with Crawlee's semantics (its `globs` in `enqueueLinks`): minimatch with `nocase`, so `*`
 * matches within one path segment (never across `/`), `**` across segments, `?` one character, `{a,b}` either.
 * Matching a URL longer than {@link MAX_GLOB_INPUT_LENGTH} throws instead of working through it.
 */
export function compileUrlGlob(glob: string): (href: string) => boolean {
    const matcher = new Minimatch(glob, { nocase: true });
    return (href) => {
        if (href.length > MAX_GLOB_INPUT_LENGTH) {
            throw new RangeError(`A URL of ${href.length} characters is longer than ${MAX_GLOB_INPUT_LENGTH} (1 MiB): not matched against the URL glob ${JSON.stringify(glob.slice(0, 100))}`);
        }
        return matcher.match(href);
    };
}

/** The `host[:port]` of a URL with the scheme's default port made explicit. */
function hostWithPort(url: URL): string {
    const port = url.port || (url.protocol === 'https:' ? '443' : url.protocol === 'http:' ? '80' : '');
    return `${url.hostname.toLowerCase()}:${port}`;
}

/** Compiles a host condition: `example.com`, `*.example.com`, optionally with `:port`. */
function compileHost(pattern: string): TargetPredicate {
    const lower = pattern.toLowerCase();
    const portMatch = /:(\d{1,5})$/.exec(lower);
    const hostPart = portMatch && !lower.endsWith(']') ? lower.slice(0, portMatch.index) : lower;
    const port = portMatch && !lower.endsWith(']') ? portMatch[1] : undefined;
    const wildcard = hostPart.startsWith('*.');
    const base = wildcard ? hostPart.slice(1) : hostPart; // '.example.com' for wildcards
    return ({ url }) => {
        const hostname = url.hostname.toLowerCase();
        const hostOk = wildcard ? hostname.endsWith(base) && hostname.length > base.length : hostname === base;
        if (!hostOk) return false;
        return port === undefined || hostWithPort(url).endsWith(`:${port}`);
    };
}

/**
 * Compiles a match condition or scope into a predicate. Patterns were validated (and regexes compiled) when the
 * rule was accepted, so this does not throw for validated input.
 */
export function compileCondition(condition: MatchCondition | HeaderScope | undefined): TargetPredicate {
    if (!condition) return () => true;
    const checks: TargetPredicate[] = [];
    if (condition.urlGlob !== undefined) {
        const matches = compileUrlGlob(condition.urlGlob);
        checks.push(({ url }) => matches(url.href));
    }
    if (condition.urlRegex !== undefined) {
        const regex = new RegExp(condition.urlRegex);
        checks.push(({ url }) => regex.test(url.href));
    }
    if (condition.host !== undefined) checks.push(compileHost(condition.host));
    const { methods, sessionIds } = condition as MatchCondition;
    if (methods?.length) {
        const allowed = new Set(methods.map((method) => method.toUpperCase()));
        checks.push(({ method }) => allowed.has(method.toUpperCase()));
    }
    if (sessionIds?.length) {
        const allowed = new Set(sessionIds);
        checks.push(({ sessionId }) => allowed.has(sessionId));
    }
    return (target) => checks.every((check) => check(target));
}
