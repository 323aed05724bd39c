import type { z } from 'zod';

import { CrawleeSessionsError, ERROR_CODES } from './errors.js';
import { INVALID_PROXY_URL_PLACEHOLDER, maskCredentialsInValue, redactProxyUrl } from './redact.js';

/**
 * One problem found while validating user configuration.
 */
export interface ConfigValidationIssue {
    /**
     * Where the problem is, relative to the validated value, written the way you would in code:
     * `[2].proxy`, `maxConcurrency`, `sessions[0].cookies`. An empty string means the value itself.
     */
    path: string;
    /**
     * What is wrong, in plain words, e.g. `must be a URL like http://user:pass@host:port (got "ftp://x")`.
     * The offending value is only quoted when it is safe to show (see {@link parseWithZod}).
     */
    message: string;
}

/**
 * Options of {@link ConfigValidationError}.
 */
export interface ConfigValidationErrorOptions {
    /**
     * Where the configuration came from, e.g. the path of the file it was loaded from.
     * When set, the message reads `Invalid profiles in /path/to/profiles.ts: …`.
     * @default undefined
     */
    source?: string;
}

/**
 * How many issues are spelled out in {@link ConfigValidationError.message}; the rest are only counted
 * (all of them are always available in {@link ConfigValidationError.issues}).
 */
const MAX_ISSUES_IN_MESSAGE = 10;

/** Longest quoted value shown after `got` in an issue message; longer values are cut off with `…`. */
const MAX_SHOWN_VALUE_LENGTH = 80;

/**
 * Path segments naming fields whose values are never shown in error messages at all.
 */
const HIDDEN_VALUE_SEGMENT = /pass|secret|token|cookie/i;

/**
 * Path segments naming proxy fields: their values are shown only when they parse as a URL with a host,
 * with the password replaced by `***` (see `redactProxyUrl`); anything else is shown as `<redacted>`,
 * since a malformed proxy URL cannot be told apart from its credentials.
 */
const PROXY_SEGMENT = /proxy/i;

/**
 * Segments that can be written as `.name` in a path; anything else is written as `["some key"]`.
 */
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * Thrown when user-supplied configuration (options, profiles, …) does not match what is expected.
 *
 * The message names what was being validated and, for every problem, the path of the bad field and what
 * is wrong with it, e.g.
 *
 * ```text
 * Invalid profiles: profiles[2].proxy: must be a URL like http://user:pass@host:port (got "ftp://x")
 * ```
 *
 * Secret values (passwords, tokens, cookies, proxy credentials) never appear in the message.
 */
export class ConfigValidationError extends CrawleeSessionsError {
    override readonly name = 'ConfigValidationError';

    /** What was being validated, e.g. `profiles` or `options`; the root of every path in the message. */
    readonly subject: string;

    /** Every problem found, with paths relative to the validated value. */
    readonly issues: ConfigValidationIssue[];

    /** Where the configuration came from, if known (see {@link ConfigValidationErrorOptions.source}). */
    readonly source?: string;

    /**
     * @param subject What was being validated, e.g. `profiles`; used as the root of every path in the message.
     * @param issues The problems found; paths relative to the validated value.
     * @param options See {@link ConfigValidationErrorOptions}.
     */
    constructor(subject: string, issues: ConfigValidationIssue[], options: ConfigValidationErrorOptions = {}) {
        super(ERROR_CODES.configInvalid, formatValidationMessage(subject, issues, options.source));
        this.subject = subject;
        this.issues = issues;
        if (options.source !== undefined) this.source = options.source;
    }
}

/**
 * Validates `input` against a zod schema and returns the parsed value, or throws a
 * {@link ConfigValidationError} that explains every problem in plain words.
 *
 * - Each issue's path is written like code (`[2].proxy`, `options.maxConcurrency`) and, in the message,
 *   prefixed with `what`: `Invalid profiles: profiles[2].proxy: …`.
 * - Zod's default wording is replaced with plain phrases (`is required`, `must be a string`,
 *   `must be at least 1 characters long` …); messages set on the schema itself are kept as written.
 * - The offending value is appended as `(got "…")` when it is a primitive, except:
 *   - under a path segment matching `/pass|secret|token|cookie/i` (or when `what` matches it), the value is
 *     shown as `<redacted>`;
 *   - under a segment matching `/proxy/i`, the value is shown only if it parses as a URL with a host, and
 *     then with its password replaced by `***` (`http://bob:***@host`); otherwise as `<redacted>`;
 *   - in every other string, any `user:password@` is shown as `user:***@`.
 *
 * Only synchronous schemas are supported.
 *
 * ```ts
 * const options = parseWithZod(z.object({ maxConcurrency: z.int().positive() }), userOptions, 'options');
 * ```
 *
 * @param schema The zod schema to validate with.
 * @param input The untrusted value.
 * @param what What is being validated, in the user's terms (`profiles`, `options`, `sessionOptions`).
 */
export function parseWithZod<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
    const result = schema.safeParse(input, { error: describeIssuePlainly });
    if (result.success) return result.data;

    const issues = result.error.issues.map((issue): ConfigValidationIssue => {
        const message = issue.message;
        const shownValue = describeOffendingValue(what, issue.path, input);
        return {
            path: formatPath(issue.path),
            message: shownValue === undefined ? message : `${message} (got ${shownValue})`,
        };
    });
    throw new ConfigValidationError(what, issues);
}

/**
 * Writes a path as code would: `[2].proxy`, `maxConcurrency`, `headers["user-agent"]`.
 * An empty path gives an empty string.
 */
function formatPath(path: readonly PropertyKey[]): string {
    let formatted = '';
    for (const segment of path) {
        if (typeof segment === 'number') formatted += `[${segment}]`;
        else if (typeof segment === 'symbol') formatted += `[${segment.toString()}]`;
        else if (IDENTIFIER.test(segment)) formatted += formatted === '' ? segment : `.${segment}`;
        else formatted += `[${JSON.stringify(segment)}]`;
    }
    return formatted;
}

/** Joins the subject and a relative path: `profiles` + `[2].proxy` → `profiles[2].proxy`. */
function qualifyPath(subject: string, path: string): string {
    if (path === '') return subject;
    return path.startsWith('[') ? `${subject}${path}` : `${subject}.${path}`;
}

/** Builds the message of a {@link ConfigValidationError}. */
function formatValidationMessage(subject: string, issues: readonly ConfigValidationIssue[], source?: string): string {
    const heading = source === undefined ? `Invalid ${subject}` : `Invalid ${subject} in ${source}`;
    if (issues.length === 0) return heading;
    const shown = issues
        .slice(0, MAX_ISSUES_IN_MESSAGE)
        .map((issue) => `${qualifyPath(subject, issue.path)}: ${issue.message}`);
    const hiddenCount = issues.length - shown.length;
    if (hiddenCount > 0) shown.push(`… and ${hiddenCount} more problem${hiddenCount === 1 ? '' : 's'}`);
    return `${heading}: ${shown.join('; ')}`;
}

/**
 * Returns how the value at `path` inside `input` may be shown in a message (already quoted and redacted),
 * or `undefined` when it should not be shown: it is missing, or it is an object/array/function (the path
 * already points at it and printing it could reveal nested secrets).
 */
function describeOffendingValue(subject: string, path: readonly PropertyKey[], input: unknown): string | undefined {
    const lookup = valueAtPath(input, path);
    if (!lookup.found) return undefined;
    const { value } = lookup;
    if (value === undefined || typeof value === 'object' || typeof value === 'function') {
        return value === null ? 'null' : undefined;
    }

    const segments = [subject, ...path.map((segment) => String(segment))];
    if (segments.some((segment) => HIDDEN_VALUE_SEGMENT.test(segment))) return '<redacted>';

    if (typeof value === 'string') {
        let shown: string;
        if (segments.some((segment) => PROXY_SEGMENT.test(segment))) {
            shown = redactProxyUrl(value);
            if (shown === INVALID_PROXY_URL_PLACEHOLDER) return '<redacted>';
        } else {
            // A URL with a password can be pasted into any field: mask `user:password@` everywhere.
            shown = maskCredentialsInValue(value);
        }
        if (shown.length > MAX_SHOWN_VALUE_LENGTH) shown = `${shown.slice(0, MAX_SHOWN_VALUE_LENGTH)}…`;
        return JSON.stringify(shown);
    }
    if (typeof value === 'bigint') return `${value}n`;
    return String(value);
}

/** Walks `path` into `input`; `found` is false when some step along the way is not an object. */
function valueAtPath(input: unknown, path: readonly PropertyKey[]): { found: true; value: unknown } | { found: false } {
    let current: unknown = input;
    for (const segment of path) {
        if (current === null || (typeof current !== 'object' && typeof current !== 'function')) return { found: false };
        current = (current as Record<PropertyKey, unknown>)[segment];
    }
    return { found: true, value: current };
}

/** Readable names of zod string formats whose identifier is not already plain English. */
const FORMAT_NAMES: Record<string, string> = {
    url: 'URL',
    email: 'email address',
    uuid: 'UUID',
    ipv4: 'IPv4 address',
    ipv6: 'IPv6 address',
    datetime: 'ISO date-time',
    date: 'ISO date',
    time: 'ISO time',
    duration: 'ISO duration',
};

/** `a string`, `an array`, `an object`, … */
function withArticle(noun: string): string {
    return /^[aeiou]/i.test(noun) ? `an ${noun}` : `a ${noun}`;
}

/** Plural-aware unit for size limits: `characters`, `items`, … */
function sizeUnit(origin: string, count: number | bigint): string {
    const one = Number(count) === 1;
    switch (origin) {
        case 'string':
            return one ? 'character' : 'characters';
        case 'array':
        case 'set':
            return one ? 'item' : 'items';
        case 'file':
            return one ? 'byte' : 'bytes';
        default:
            return '';
    }
}

/**
 * Zod error map giving plain-language messages for the common issue kinds.
 * It only replaces zod's default wording: messages set on a schema or check take precedence over it.
 * Returns `undefined` for anything it does not know, which falls back to zod's own message.
 */
function describeIssuePlainly(issue: z.core.$ZodRawIssue): string | undefined {
    switch (issue.code) {
        case 'invalid_type':
            if (issue.input === undefined) return `is required (expected ${withArticle(issue.expected)})`;
            return `must be ${withArticle(issue.expected)}, not ${describeType(issue.input)}`;
        case 'too_small': {
            const unit = sizeUnit(issue.origin, issue.minimum);
            if (issue.origin === 'string' && Number(issue.minimum) === 1 && issue.inclusive !== false) return 'must not be empty';
            if (unit === '') return `must be ${issue.inclusive === false ? 'greater than' : 'at least'} ${issue.minimum}`;
            if (issue.exact) return `must have exactly ${issue.minimum} ${unit}`;
            return `must have at least ${issue.minimum} ${unit}`;
        }
        case 'too_big': {
            const unit = sizeUnit(issue.origin, issue.maximum);
            if (unit === '') return `must be ${issue.inclusive === false ? 'less than' : 'at most'} ${issue.maximum}`;
            if (issue.exact) return `must have exactly ${issue.maximum} ${unit}`;
            return `must have at most ${issue.maximum} ${unit}`;
        }
        case 'invalid_format':
            switch (issue.format) {
                case 'starts_with':
                    return `must start with ${JSON.stringify(issue.prefix)}`;
                case 'ends_with':
                    return `must end with ${JSON.stringify(issue.suffix)}`;
                case 'includes':
                    return `must contain ${JSON.stringify(issue.includes)}`;
                case 'regex':
                    return `must match the pattern ${issue.pattern}`;
                default:
                    return `must be a valid ${FORMAT_NAMES[issue.format] ?? issue.format}`;
            }
        case 'not_multiple_of':
            return `must be a multiple of ${issue.divisor}`;
        case 'unrecognized_keys':
            return `has unknown ${issue.keys.length === 1 ? 'key' : 'keys'} ${issue.keys.map((key) => JSON.stringify(key)).join(', ')}`;
        case 'invalid_value':
            return issue.values.length === 1
                ? `must be ${formatPrimitive(issue.values[0])}`
                : `must be one of ${issue.values.map(formatPrimitive).join(', ')}`;
        case 'invalid_union':
            return 'does not match any of the accepted forms';
        default:
            return undefined;
    }
}

/** `a string`, `an array`, `null`, … for the actual type of a value. */
function describeType(value: unknown): string {
    if (value === null) return 'null';
    if (Array.isArray(value)) return 'an array';
    return withArticle(typeof value);
}

/** Literal-looking rendering of an allowed value (`"http:"`, `3`, `null`). */
function formatPrimitive(value: unknown): string {
    if (typeof value === 'string') return JSON.stringify(value);
    if (typeof value === 'bigint') return `${value}n`;
    return String(value);
}
