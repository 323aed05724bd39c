import { z } from 'zod';

import { regexInput } from '../shared/regex-input.js';

/** Options of the logout guard (`Sessions.open({ logoutGuard })`). */
export interface LogoutGuardOptions {
    /**
     * Whether bound requests to URLs that would log their session out are skipped.
     * @default true
     */
    enabled?: boolean;
    /**
     * More URLs that log a session out, added to the defaults (case-insensitive):
     * - `'/account/close'` or `'quit'`: a path segment (or consecutive segments), ignoring a file extension
     *   (`/quit.php`, `/x/quit/`) — never part of a longer word;
     * - `'name=value'`: a query parameter with that name and value;
     * - a `RegExp`: tested on the whole URL (its first 1 MiB); flags `g` and `y` are ignored.
     * @default none: only {@link DEFAULT_LOGOUT_PATTERNS}
     */
    patterns?: ReadonlyArray<string | RegExp>;
    /**
     * Whether {@link DEFAULT_LOGOUT_PATTERNS} apply besides `patterns`.
     * @default true
     */
    defaults?: boolean;
}

/** Path segments that log a session out on most sites (case-insensitive, any file extension). */
const DEFAULT_SEGMENTS = ['logout', 'log-out', 'log_out', 'signout', 'sign-out', 'sign_out', 'logoff', 'log-off', 'log_off'];
/** Query parameters whose values name an action (WordPress `action=logout`, DokuWiki `do=logout`, …). */
const ACTION_PARAMETERS = ['action', 'do', 'cmd', 'mode', 'task', 'op', 'event'];

/** The patterns the guard applies unless `defaults: false`. */
export const DEFAULT_LOGOUT_PATTERNS: readonly string[] = Object.freeze([
    ...DEFAULT_SEGMENTS.map((segment) => `/${segment}`),
    ...ACTION_PARAMETERS.flatMap((name) => DEFAULT_SEGMENTS.map((segment) => `${name}=${segment}`)),
]);

const MAX_PATTERNS = 200;
const MAX_PATTERN_LENGTH = 500;

export const logoutGuardOptionsSchema = z.strictObject({
    enabled: z.boolean().optional(),
    defaults: z.boolean().optional(),
    patterns: z
        .array(
            z.union([
                z
                    .string()
                    .min(1)
                    .max(MAX_PATTERN_LENGTH)
                    .refine((value) => !/[\u0000-\u001f\u007f]/.test(value), 'must not contain control characters')
                    .refine((value) => value.replace(/\//g, '') !== '', 'must name a path segment or name=value'),
                z.instanceof(RegExp).refine((value) => value.source.length <= MAX_PATTERN_LENGTH, `must be at most ${MAX_PATTERN_LENGTH} characters`),
            ]),
        )
        .max(MAX_PATTERNS)
        .optional(),
});

/** Returns what it matched (for the log line), or undefined. */
type Matcher = (url: URL, href: string) => string | undefined;

/** Removes a file extension from a path segment (`logout.php` → `logout`). */
function withoutExtension(segment: string): string {
    const dot = segment.lastIndexOf('.');
    return dot > 0 ? segment.slice(0, dot) : segment;
}

/** A URL's path segments, decoded, lower case, without file extensions. */
function segmentsOf(url: URL): string[] {
    return url.pathname
        .split('/')
        .filter(Boolean)
        .map((segment) => {
            let text = segment;
            try {
                text = decodeURIComponent(segment);
            } catch {
                // not percent-encoded UTF-8: compared as it is
            }
            // `;jsessionid=…` and other matrix parameters are not part of the segment's name.
            return withoutExtension(text.split(';')[0]!.toLowerCase());
        });
}

/** Single segments are looked up in a set (one pass over the path); consecutive segments are searched for. */
function segmentMatchers(patterns: readonly string[]): Matcher[] {
    const single = new Set<string>();
    const sequences: string[][] = [];
    for (const pattern of patterns) {
        const parts = pattern.toLowerCase().split('/').filter(Boolean).map(withoutExtension);
        if (parts.length === 1) single.add(parts[0]!);
        else sequences.push(parts);
    }
    const matchers: Matcher[] = [];
    if (single.size) {
        matchers.push((url) => {
            const found = segmentsOf(url).find((segment) => single.has(segment));
            return found === undefined ? undefined : `/${found}`;
        });
    }
    for (const wanted of sequences) {
        matchers.push((url) => {
            const segments = segmentsOf(url);
            for (let start = 0; start + wanted.length <= segments.length; start++) {
                if (wanted.every((each, index) => segments[start + index] === each)) return `/${wanted.join('/')}`;
            }
            return undefined;
        });
    }
    return matchers;
}

/** Every `name=value` pattern in one map: one pass over the URL's query, none without a query. */
function parametersMatcher(patterns: readonly string[]): Matcher[] {
    const valuesOf = new Map<string, Set<string>>();
    for (const pattern of patterns) {
        const eq = pattern.indexOf('=');
        const name = pattern.slice(0, eq).toLowerCase();
        let values = valuesOf.get(name);
        if (!values) valuesOf.set(name, (values = new Set()));
        values.add(pattern.slice(eq + 1).toLowerCase());
    }
    if (valuesOf.size === 0) return [];
    return [
        (url) => {
            if (url.search.length <= 1) return undefined;
            for (const [key, each] of url.searchParams) {
                const name = key.toLowerCase();
                const value = each.toLowerCase();
                if (valuesOf.get(name)?.has(value)) return `${name}=${value}`;
            }
            return undefined;
        },
    ];
}

function regexMatcher(pattern: RegExp): Matcher {
    // g and y make test() stateful (lastIndex): the same URL would match every other time.
    const regex = new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''));
    return (_url, href) => (regex.test(regexInput(href)) ? `/${regex.source}/${regex.flags}` : undefined);
}

/** What {@link LogoutGuard}'s quick test leaves to the patterns: escapes, spaces, controls, non-ASCII characters. */
const NOT_PLAIN_ASCII = /[^\x21-\x7e]|[%+]/;

/** One case-insensitive test for any of the words the string patterns need (matching nothing when there are none). */
function keywordsOf(segments: readonly string[], parameters: readonly string[]): RegExp {
    const words = new Set<string>();
    for (const pattern of segments) for (const part of pattern.toLowerCase().split('/').filter(Boolean)) words.add(withoutExtension(part));
    for (const pattern of parameters) words.add(pattern.slice(pattern.indexOf('=') + 1).toLowerCase());
    if (words.size === 0) return /(?!)/; // no patterns: nothing matches
    return new RegExp([...words].map((word) => word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'i');
}

/**
 * Tells whether a URL would log its session out: the default patterns (`/logout`, `/sign-out`, `action=logout`, …)
 * and the user's. A segment pattern matches whole path segments only (`/catalogue` is not `/logout`).
 */
export class LogoutGuard {
    readonly enabled: boolean;
    readonly #matchers: Matcher[];
    /** The words the string patterns need in a URL (see {@link cannotMatch}); undefined with a RegExp pattern. */
    readonly #keywords: RegExp | undefined;

    /** @param options already validated by {@link logoutGuardOptionsSchema} */
    constructor(options: LogoutGuardOptions = {}) {
        this.enabled = options.enabled ?? true;
        const patterns = [...(options.defaults === false ? [] : DEFAULT_LOGOUT_PATTERNS), ...(options.patterns ?? [])];
        const segments = patterns.filter((each): each is string => typeof each === 'string' && !each.includes('='));
        const parameters = patterns.filter((each): each is string => typeof each === 'string' && each.includes('='));
        this.#matchers = [
            ...segmentMatchers(segments),
            ...parametersMatcher(parameters),
            ...patterns.filter((each): each is RegExp => each instanceof RegExp).map(regexMatcher),
        ];
        this.#keywords = patterns.some((each) => each instanceof RegExp) ? undefined : keywordsOf(segments, parameters);
    }

    /**
     * Whether no pattern can match `href`, told without parsing it: a segment pattern's words and a parameter
     * pattern's value each appear in any URL they match, as they are, unless the URL hides them behind `%` or `+`
     * escapes or holds characters other than printable ASCII (then the patterns are applied).
     */
    #cannotMatch(href: string): boolean {
        return this.#keywords !== undefined && !NOT_PLAIN_ASCII.test(href) && !this.#keywords.test(href);
    }

    /** The pattern a URL matches (for the log line), or undefined when it is safe to request. */
    match(target: string | URL | undefined): string | undefined {
        if (!this.enabled || !target) return undefined;
        if (this.#cannotMatch(typeof target === 'string' ? target : target.href)) return undefined;
        let url: URL;
        try {
            url = typeof target === 'string' ? new URL(target) : target;
        } catch {
            return undefined;
        }
        const href = url.href;
        for (const matcher of this.#matchers) {
            const matched = matcher(url, href);
            if (matched !== undefined) return matched;
        }
        return undefined;
    }
}
