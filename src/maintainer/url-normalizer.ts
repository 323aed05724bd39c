import { createHash } from 'node:crypto';

import { z } from 'zod';

import { parseWithZod } from '../shared/validation.js';

/**
 * A URL normalizer rule (Session-Maintainer's `URL_NORMALIZER`): for URLs on `host` whose path matches, the
 * query parameters named in `keepKeys` identify the session (a gateway routing on `?tenant=…`, say) and are kept,
 * in that order; every other parameter is dropped. Give exactly one of `path`, `pathPrefix` and `pathRegex`.
 *
 * ```ts
 * { host: 'api.example.com', pathPrefix: '/v2/', keepKeys: ['tenant'] }
 * ```
 */
export interface UrlNormalizerRule {
    /**
     * The host the rule applies to, compared without regard to case: a host name (`example.com`, any port) or
     * `host:port`. Default: any host.
     */
    host?: string;
    /** The path must equal this one (a trailing slash on either side is ignored). */
    path?: string;
    /** The path must start with this. */
    pathPrefix?: string;
    /** The path must match this regular expression (a `RegExp`, or its source as a string). */
    pathRegex?: string | RegExp;
    /**
     * The query parameters to keep, in this order; the rule only applies when the URL has every one of them.
     * Parameter names are compared exactly (case matters).
     */
    keepKeys: string[];
}

/** A validated rule, its path test compiled. */
interface CompiledRule {
    host: string | undefined;
    matchesPath: (path: string) => boolean;
    keepKeys: readonly string[];
}

/** Rules validated once and compiled (see {@link defineUrlNormalizerRules}). */
export interface UrlNormalizerRules {
    readonly rules: readonly UrlNormalizerRule[];
    /** @internal */
    readonly compiled: readonly CompiledRule[];
}

const ruleSchema = z
    .strictObject({
        host: z.string().min(1).optional(),
        path: z.string().startsWith('/').optional(),
        pathPrefix: z.string().startsWith('/').optional(),
        pathRegex: z
            .union([
                z.instanceof(RegExp),
                z.string().min(1).refine(isValidRegex, { message: 'is not a valid regular expression' }),
            ])
            .optional(),
        keepKeys: z.array(z.string().min(1)).min(1, { message: 'needs at least one query parameter name' }),
    })
    .superRefine((rule, context) => {
        const given = (['path', 'pathPrefix', 'pathRegex'] as const).filter((key) => rule[key] !== undefined);
        if (given.length !== 1) {
            context.addIssue({
                code: 'custom',
                message: given.length === 0 ? 'needs one of path, pathPrefix or pathRegex' : `give only one of ${given.join(', ')}`,
            });
        }
    });

const rulesSchema = z.array(ruleSchema);

function isValidRegex(source: string): boolean {
    try {
        new RegExp(source);
        return true;
    } catch {
        return false;
    }
}

/**
 * Validates URL normalizer rules (a bad rule is refused with a `ConfigValidationError` naming it, e.g.
 * `urlNormalizer[1].keepKeys: needs at least one query parameter name`) and compiles them.
 */
export function defineUrlNormalizerRules(rules: readonly UrlNormalizerRule[], what = 'urlNormalizer'): UrlNormalizerRules {
    const parsed = parseWithZod(rulesSchema, rules, what);
    return {
        rules: parsed.map((rule) => ({ ...rule, keepKeys: [...rule.keepKeys] })),
        compiled: parsed.map((rule) => ({
            host: rule.host?.toLowerCase(),
            matchesPath: pathTest(rule),
            keepKeys: [...rule.keepKeys],
        })),
    };
}

function pathTest(rule: z.infer<typeof ruleSchema>): (path: string) => boolean {
    if (rule.path !== undefined) {
        const wanted = stripTrailingSlashes(rule.path);
        return (path) => stripTrailingSlashes(path) === wanted;
    }
    if (rule.pathPrefix !== undefined) {
        const prefix = rule.pathPrefix;
        return (path) => path.startsWith(prefix);
    }
    const regex = rule.pathRegex instanceof RegExp ? new RegExp(rule.pathRegex.source, rule.pathRegex.flags.replace(/[gy]/g, '')) : new RegExp(rule.pathRegex!);
    return (path) => regex.test(path);
}

/** `example.com:8080` or `[::1]:8080`, as opposed to a bare host name or `[::1]`. */
const HOST_WITH_PORT = /^[^[\]:]+:\d+$|\]:\d+$/;

function stripTrailingSlashes(path: string): string {
    return path.replace(/\/+$/, '');
}

/**
 * Normalises a URL so that every URL of one session gives the same text:
 *
 * - the scheme and host are lower-cased, a default port is dropped, and credentials (`user:pass@`) are dropped;
 * - the fragment is dropped, and trailing slashes of the path are stripped (`https://a.example/` →
 *   `https://a.example`);
 * - the first rule that matches (host, path, and every one of its `keepKeys` present in the query) keeps only
 *   those parameters, in the rule's order (each with all its values, as written); with no matching rule the
 *   whole query is dropped;
 * - the case of the path and of query names and values is **kept**: `?token=AbC` and `?token=abc` are different
 *   sessions (Session-Maintainer lower-cases the whole URL and merges them).
 *
 * @param url An absolute URL.
 * @param rules Rules from {@link defineUrlNormalizerRules}, or plain rules (validated on each call). Default none.
 */
export function normalizeUrl(url: string, rules: UrlNormalizerRules | readonly UrlNormalizerRule[] = []): string {
    const compiled = 'compiled' in rules ? rules.compiled : defineUrlNormalizerRules(rules).compiled;
    const parsed = new URL(url);
    const pairs = parsed.search.length > 1 ? parsed.search.slice(1).split('&').filter((pair) => pair !== '') : [];
    const named = pairs.map((pair) => ({ name: decodeName(pair), pair }));
    const present = new Set(named.map((entry) => entry.name));

    let kept: string[] = [];
    for (const rule of compiled) {
        if (rule.host !== undefined && rule.host !== (HOST_WITH_PORT.test(rule.host) ? parsed.host : parsed.hostname)) continue;
        if (!rule.matchesPath(parsed.pathname)) continue;
        if (!rule.keepKeys.every((key) => present.has(key))) continue;
        kept = rule.keepKeys.flatMap((key) => named.filter((entry) => entry.name === key).map((entry) => entry.pair));
        break;
    }
    const path = stripTrailingSlashes(parsed.pathname);
    const query = kept.length > 0 ? `?${kept.join('&')}` : '';
    return `${parsed.protocol}//${parsed.host}${path}${query}`;
}

/** The decoded name of a raw `name=value` query pair (`+` is a space, as in forms). */
function decodeName(pair: string): string {
    const equals = pair.indexOf('=');
    const raw = (equals < 0 ? pair : pair.slice(0, equals)).replace(/\+/g, ' ');
    try {
        return decodeURIComponent(raw);
    } catch {
        return raw;
    }
}

/**
 * A stable identifier of an application's session at a URL: the SHA-256 (hex) of `application + "\n" +
 * normalizeUrl(url, rules)`. Case-sensitive query values (tokens, tenant ids) give distinct hashes.
 */
export function sessionHash(application: string, url: string, rules: UrlNormalizerRules | readonly UrlNormalizerRule[] = []): string {
    return createHash('sha256').update(`${application}\n${normalizeUrl(url, rules)}`).digest('hex');
}
