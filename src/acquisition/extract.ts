import { load } from 'cheerio';
import type { Cookie } from 'tough-cookie';
import { z } from 'zod';

import { parseCookieHeader } from '../shared/cookies.js';
import { regexInput } from '../shared/regex-input.js';
import { findKeyRecursively, parseJsonPath, scalarText, valueAtJsonPath } from './json-path.js';

/**
 * Where one value may be found. Name exactly one source key; the modifiers (`group`, `flags`, `in`, `attribute`,
 * `origin`) refine the source they belong to.
 *
 * ```ts
 * { json: '$.data.token' }              // response body, by JSON path
 * { jsonKey: 'access_token' }           // response body, the shallowest key of that name at any depth
 * { header: 'x-csrf-token' }            // response header
 * { requestHeader: 'authorization' }    // header of a captured request (browser mode)
 * { cookie: 'sid' }                     // a cookie of the session
 * { query: 'api_key' }                  // query parameter of a request or final URL
 * { formField: 'csrf' }                 // value of <input name="csrf"> in an HTML body
 * { css: 'meta[name=csrf-token]', attribute: 'content' }   // CSS selector: attribute, or text without one
 * { regex: 'token=([\\w-]+)', in: 'body' }                  // regex group (default: group 1, or the match)
 * { localStorage: 'token' }             // browser storage after the login (any origin unless `origin` is set)
 * ```
 */
export interface ExtractSource {
    /** A query parameter of the exchange's request URL or final URL. */
    query?: string;
    /** A response header (case-insensitive). */
    header?: string;
    /** A request header (case-insensitive): what the browser or the step sent. */
    requestHeader?: string;
    /** A cookie of the session by name (the jar after the login, then Cookie request headers). */
    cookie?: string;
    /** A JSON path into the response body: `$.a.b[0]`, `$['x-y']`. */
    json?: string;
    /** A key searched for at any depth of the JSON response body, breadth first. */
    jsonKey?: string;
    /** The `value` of the `<input>` with this `name` in an HTML response body (hidden CSRF fields). */
    formField?: string;
    /**
     * A regular expression (JavaScript syntax, as a string) searched in the place given by `in`: in its first 1 MiB
     * (`MAX_REGEX_INPUT_LENGTH`).
     * @default none
     */
    regex?: string;
    /**
     * With `regex`: the group to take, by number or name.
     * @default 1 when the pattern has groups, else the match
     */
    group?: number | string;
    /**
     * With `regex`: flags such as `i`.
     * @default none
     */
    flags?: string;
    /** With `regex`: `body` (default), `headers` (response headers as `name: value` lines) or `url`. */
    in?: 'body' | 'headers' | 'url';
    /** A CSS selector into an HTML response body (first match). */
    css?: string;
    /**
     * With `css`: the attribute to read.
     * @default the element's trimmed text
     */
    attribute?: string;
    /** A localStorage key (browser mode). */
    localStorage?: string;
    /** A sessionStorage key (browser mode). */
    sessionStorage?: string;
    /**
     * With `localStorage`/`sessionStorage`: only this origin (`http://host:port`).
     * @default any origin
     */
    origin?: string;
}

/** One value to extract: its name (usable as `{{name}}`) and where to look, in order (the first hit wins). */
export interface ExtractRule {
    /** The value's name: letters, digits, `_`, `.` and `-`, starting with a letter or `_`. */
    name: string;
    /** One source, or several tried in order. */
    from: ExtractSource | ExtractSource[];
    /**
     * When true, a missing value does not fail the login.
     * @default false
     */
    optional?: boolean;
}

/** An extracted value and where it was found, e.g. `{ value: '…', source: 'body:$.token @ POST /api/login' }`. */
export interface ExtractedValue {
    value: string;
    source: string;
}

/** A request seen during a login (an HTTP step, or a browser request matching a collection URL) and its answer. */
export interface CapturedExchange {
    request: { method: string; url: string; headers: Record<string, string> };
    response?: { statusCode: number; url: string; headers: Record<string, string | string[] | undefined>; body: string };
}

/** Everything values can be extracted from. */
export interface ExtractionEvidence {
    /** In the order they happened; searched newest first. */
    exchanges: readonly CapturedExchange[];
    /** The session's cookies after the login. */
    cookies: readonly Cookie[];
    /** origin → key → value. */
    localStorage?: Readonly<Record<string, Readonly<Record<string, string>>>>;
    /** origin → key → value. */
    sessionStorage?: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

/** The keys that name a source (exactly one per {@link ExtractSource}). */
export const SOURCE_KEYS = [
    'query',
    'header',
    'requestHeader',
    'cookie',
    'json',
    'jsonKey',
    'formField',
    'regex',
    'css',
    'localStorage',
    'sessionStorage',
] as const;
type SourceKey = (typeof SOURCE_KEYS)[number];

/** Which source each modifier belongs to. */
const MODIFIERS: Record<string, readonly SourceKey[]> = {
    group: ['regex'],
    flags: ['regex'],
    in: ['regex'],
    attribute: ['css'],
    origin: ['localStorage', 'sessionStorage'],
};

/** The name of an extracted value (and of a credential): usable inside `{{…}}`. */
export const valueNameSchema = z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, { error: 'must start with a letter or _ and contain only letters, digits, _, . and -' })
    .max(100);

const nonEmpty = z.string().min(1).max(2000);

/** Zod schema of {@link ExtractSource}. */
export const extractSourceSchema = z
    .strictObject({
        query: nonEmpty.optional(),
        header: nonEmpty.optional(),
        requestHeader: nonEmpty.optional(),
        cookie: nonEmpty.optional(),
        json: nonEmpty.optional(),
        jsonKey: nonEmpty.optional(),
        formField: nonEmpty.optional(),
        regex: nonEmpty.optional(),
        group: z.union([z.number().int().min(0), z.string().min(1)]).optional(),
        flags: z.string().regex(/^[dimsuy]*$/, { error: 'may only contain the flags d, i, m, s, u and y' }).optional(),
        in: z.enum(['body', 'headers', 'url']).optional(),
        css: nonEmpty.optional(),
        attribute: nonEmpty.optional(),
        localStorage: nonEmpty.optional(),
        sessionStorage: nonEmpty.optional(),
        origin: z.url().optional(),
    })
    .superRefine((source, ctx) => {
        const named = SOURCE_KEYS.filter((key) => source[key] !== undefined);
        if (named.length !== 1) {
            ctx.addIssue({
                code: 'custom',
                message:
                    named.length === 0
                        ? `must name one source: ${SOURCE_KEYS.join(', ')}`
                        : `names ${named.length} sources (${named.join(', ')}): give one per entry, or a list of entries tried in order`,
            });
            return;
        }
        for (const [modifier, owners] of Object.entries(MODIFIERS)) {
            if ((source as Record<string, unknown>)[modifier] !== undefined && !owners.includes(named[0]!)) {
                ctx.addIssue({ code: 'custom', path: [modifier], message: `only applies to ${owners.join(' or ')}` });
            }
        }
        if (source.json !== undefined) {
            try {
                parseJsonPath(source.json);
            } catch (error) {
                ctx.addIssue({ code: 'custom', path: ['json'], message: `is not a JSON path like $.data.token: ${(error as Error).message}` });
            }
        }
        if (source.regex !== undefined) {
            let pattern: RegExp | undefined;
            try {
                pattern = new RegExp(source.regex, source.flags);
            } catch (error) {
                ctx.addIssue({ code: 'custom', path: ['regex'], message: `is not a valid regular expression: ${(error as Error).message}` });
            }
            if (pattern && typeof source.group === 'string' && !source.regex.includes(`(?<${source.group}>`)) {
                ctx.addIssue({ code: 'custom', path: ['group'], message: `names a group the pattern does not define` });
            }
        }
        if (source.css !== undefined) {
            try {
                load('<p></p>')(source.css);
            } catch (error) {
                ctx.addIssue({ code: 'custom', path: ['css'], message: `is not a valid CSS selector: ${(error as Error).message}` });
            }
        }
    });

/** Zod schema of {@link ExtractRule}. */
export const extractRuleSchema = z.strictObject({
    name: valueNameSchema,
    from: z.union([extractSourceSchema, z.array(extractSourceSchema).min(1)]),
    optional: z.boolean().optional(),
});

/** Short description of a source, e.g. `body:$.token`, `form:csrf`, `localStorage:token`. */
export function describeSource(source: ExtractSource): string {
    if (source.query !== undefined) return `query:${source.query}`;
    if (source.header !== undefined) return `header:${source.header.toLowerCase()}`;
    if (source.requestHeader !== undefined) return `request-header:${source.requestHeader.toLowerCase()}`;
    if (source.cookie !== undefined) return `cookie:${source.cookie}`;
    if (source.json !== undefined) return `body:${source.json}`;
    if (source.jsonKey !== undefined) return `body-key:${source.jsonKey}`;
    if (source.formField !== undefined) return `form:${source.formField}`;
    if (source.regex !== undefined) return `regex(${source.in ?? 'body'}):/${source.regex}/${source.flags ?? ''}`;
    if (source.css !== undefined) return `css:${source.css}${source.attribute ? `@${source.attribute}` : ''}`;
    if (source.localStorage !== undefined) return `localStorage:${source.localStorage}`;
    return `sessionStorage:${source.sessionStorage}`;
}

/** The sources of a rule as a list. */
export function sourcesOf(rule: ExtractRule): ExtractSource[] {
    return Array.isArray(rule.from) ? rule.from : [rule.from];
}

/**
 * Extracts one value: tries the rule's sources in order, each over the exchanges newest first (or over the
 * cookies or storage it names); the first non-empty hit wins and records where it came from.
 */
export function extractValue(rule: ExtractRule, evidence: ExtractionEvidence): ExtractedValue | undefined {
    return extractWith(rule, evidence, new ParsedBodies());
}

function extractWith(rule: ExtractRule, evidence: ExtractionEvidence, parsed: ParsedBodies): ExtractedValue | undefined {
    for (const source of sourcesOf(rule)) {
        const found = extractFromSource(source, evidence, parsed);
        if (found) return found;
    }
    return undefined;
}

/**
 * Extracts every rule into `into` (existing names are replaced). Returns the names of required values that
 * were not found.
 */
export function extractAll(
    rules: readonly ExtractRule[],
    evidence: ExtractionEvidence,
    into: Record<string, ExtractedValue>,
): { missing: string[] } {
    const missing: string[] = [];
    const parsed = new ParsedBodies();
    for (const rule of rules) {
        const found = extractWith(rule, evidence, parsed);
        if (found) into[rule.name] = found;
        else if (!rule.optional) missing.push(rule.name);
    }
    return { missing };
}

/** Describes where a missing value was looked for: `"token" (body:$.token, header:x-token)`. */
export function describeMissing(rules: readonly ExtractRule[], names: readonly string[]): string {
    return names
        .map((name) => {
            const rule = rules.find((candidate) => candidate.name === name);
            return `"${name}" (looked in ${rule ? sourcesOf(rule).map(describeSource).join(', ') : '?'})`;
        })
        .join(', ');
}

/** Parsed forms of response bodies, computed once per extraction. @internal */
export class ParsedBodies {
    private readonly json = new Map<CapturedExchange, { value: unknown } | undefined>();
    private readonly html = new Map<CapturedExchange, ReturnType<typeof load>>();

    jsonOf(exchange: CapturedExchange): { value: unknown } | undefined {
        if (!this.json.has(exchange)) {
            let parsed: { value: unknown } | undefined;
            try {
                parsed = exchange.response ? { value: JSON.parse(exchange.response.body) as unknown } : undefined;
            } catch {
                parsed = undefined;
            }
            this.json.set(exchange, parsed);
        }
        return this.json.get(exchange);
    }

    htmlOf(exchange: CapturedExchange): ReturnType<typeof load> | undefined {
        if (!exchange.response) return undefined;
        let $ = this.html.get(exchange);
        if (!$) {
            $ = load(exchange.response.body);
            this.html.set(exchange, $);
        }
        return $;
    }
}

function label(exchange: CapturedExchange): string {
    let path: string;
    try {
        path = new URL(exchange.request.url).pathname;
    } catch {
        path = '?';
    }
    return ` @ ${exchange.request.method} ${path}`;
}

function nonEmptyText(value: string | undefined | null): string | undefined {
    return value === undefined || value === null || value === '' ? undefined : value;
}

function headerOf(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
    const wanted = name.toLowerCase();
    for (const [key, value] of Object.entries(headers)) {
        if (key.toLowerCase() === wanted && value !== undefined) return Array.isArray(value) ? value.join(', ') : value;
    }
    return undefined;
}

function extractFromSource(source: ExtractSource, evidence: ExtractionEvidence, parsed: ParsedBodies): ExtractedValue | undefined {
    const described = describeSource(source);
    const newestFirst = [...evidence.exchanges].reverse();
    const fromExchanges = (read: (exchange: CapturedExchange) => string | undefined): ExtractedValue | undefined => {
        for (const exchange of newestFirst) {
            const value = nonEmptyText(read(exchange));
            if (value !== undefined) return { value, source: described + label(exchange) };
        }
        return undefined;
    };

    if (source.query !== undefined) {
        const key = source.query;
        return fromExchanges((exchange) => {
            for (const url of [exchange.response?.url, exchange.request.url]) {
                if (!url) continue;
                const value = new URL(url).searchParams.get(key);
                if (value) return value;
            }
            return undefined;
        });
    }
    if (source.header !== undefined) {
        const name = source.header;
        return fromExchanges((exchange) => (exchange.response ? headerOf(exchange.response.headers, name) : undefined));
    }
    if (source.requestHeader !== undefined) {
        const name = source.requestHeader;
        return fromExchanges((exchange) => headerOf(exchange.request.headers, name));
    }
    if (source.cookie !== undefined) {
        const name = source.cookie;
        const cookie = evidence.cookies.find((candidate) => candidate.key === name && candidate.value !== '');
        if (cookie) return { value: cookie.value, source: described };
        return fromExchanges((exchange) => {
            const pair = parseCookieHeader(headerOf(exchange.request.headers, 'cookie')).find(([key]) => key === name);
            return pair?.[1];
        });
    }
    if (source.json !== undefined) {
        const segments = parseJsonPath(source.json);
        return fromExchanges((exchange) => {
            const json = parsed.jsonOf(exchange);
            return json ? scalarText(valueAtJsonPath(json.value, segments)) : undefined;
        });
    }
    if (source.jsonKey !== undefined) {
        const key = source.jsonKey;
        return fromExchanges((exchange) => {
            const json = parsed.jsonOf(exchange);
            return json ? scalarText(findKeyRecursively(json.value, key)) : undefined;
        });
    }
    if (source.formField !== undefined) {
        const name = source.formField;
        return fromExchanges((exchange) => {
            const $ = parsed.htmlOf(exchange);
            if (!$) return undefined;
            const input = $('input, textarea')
                .filter((_index, element) => $(element).attr('name') === name)
                .first();
            return input.length ? (input.attr('value') ?? input.text()) : undefined;
        });
    }
    if (source.regex !== undefined) {
        const pattern = new RegExp(source.regex, source.flags);
        const where = source.in ?? 'body';
        return fromExchanges((exchange) => {
            const texts =
                where === 'url'
                    ? [exchange.response?.url, exchange.request.url]
                    : where === 'headers'
                      ? [exchange.response && headerLines(exchange.response.headers)]
                      : [exchange.response?.body];
            for (const text of texts) {
                if (!text) continue;
                const match = pattern.exec(regexInput(text));
                if (!match) continue;
                const group = source.group ?? (match.length > 1 ? 1 : 0);
                const value = typeof group === 'number' ? match[group] : match.groups?.[group];
                if (value) return value;
            }
            return undefined;
        });
    }
    if (source.css !== undefined) {
        const selector = source.css;
        return fromExchanges((exchange) => {
            const $ = parsed.htmlOf(exchange);
            const element = $?.(selector).first();
            if (!element?.length) return undefined;
            return source.attribute ? element.attr(source.attribute) : element.text().trim();
        });
    }
    const storage = source.localStorage !== undefined ? evidence.localStorage : evidence.sessionStorage;
    const key = source.localStorage ?? source.sessionStorage;
    if (key === undefined || !storage) return undefined;
    const wantedOrigin = source.origin ? new URL(source.origin).origin : undefined;
    for (const [origin, entries] of Object.entries(storage)) {
        if (wantedOrigin && origin !== wantedOrigin) continue;
        const value = nonEmptyText(entries[key]);
        if (value !== undefined) return { value, source: `${described} @ ${origin}` };
    }
    return undefined;
}

function headerLines(headers: Record<string, string | string[] | undefined>): string {
    return Object.entries(headers)
        .flatMap(([name, value]) => (value === undefined ? [] : (Array.isArray(value) ? value : [value]).map((item) => `${name}: ${item}`)))
        .join('\n');
}
