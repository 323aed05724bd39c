import { z } from 'zod';

import { renameDeprecated } from '../shared/deprecation.js';
import { ConfigValidationError, parseWithZod } from '../shared/validation.js';
import { sessionIdSchema, sessionIdStringSchema } from '../shared/ids.js';

/**
 * How a header rule or session header changes a request header:
 *
 * | strategy | header absent | header present, empty | header present, non-empty |
 * | --- | --- | --- | --- |
 * | `REPLACE` | nothing | replaced | replaced |
 * | `APPEND` | set | set | `current + separator + value` |
 * | `PREPEND` | set | set | `value + separator + current` |
 * | `CONDITIONAL` | set | set | replaced only if `pattern` matches the current value |
 * | `UPSERT` | set | set | replaced |
 */
export type ReplaceStrategy = 'REPLACE' | 'APPEND' | 'PREPEND' | 'CONDITIONAL' | 'UPSERT';

/** Every {@link ReplaceStrategy}, in documentation order. */
export const REPLACE_STRATEGIES = ['REPLACE', 'APPEND', 'PREPEND', 'CONDITIONAL', 'UPSERT'] as const;

/** Longest header name accepted (characters). */
export const MAX_HEADER_NAME_LENGTH = 200;
/** Longest header value accepted (characters). */
export const MAX_HEADER_VALUE_LENGTH = 2000;
/** Shortest and longest session header TTL, in seconds. */
export const SESSION_HEADER_TTL_RANGE = { min: 60, max: 86_400 } as const;
/** Default priority of rules and session headers (0–100; higher is applied later and wins). */
export const DEFAULT_PRIORITY = 50;
/** Default TTL of a session header, in seconds. */
export const DEFAULT_SESSION_HEADER_TTL = 3600;
/** Default separator of `APPEND` and `PREPEND`. */
export const DEFAULT_SEPARATOR = ', ';

/**
 * Headers no rule may set: cookies belong in the session's jar (`sessions.addCookies`), and the framing and
 * hop-by-hop headers are managed by Node's HTTP layer (a rule setting them could desynchronise the request).
 */
export const FORBIDDEN_HEADER_NAMES: Readonly<Record<string, string>> = {
    cookie: 'cookies belong in the session\'s cookie jar: use sessions.addCookies()',
    'set-cookie': 'Set-Cookie is a response header',
    'content-length': 'request framing is managed by the HTTP client',
    'transfer-encoding': 'request framing is managed by the HTTP client',
    connection: 'hop-by-hop headers are managed by the HTTP client',
    'keep-alive': 'hop-by-hop headers are managed by the HTTP client',
    'proxy-connection': 'hop-by-hop headers are managed by the HTTP client',
    upgrade: 'hop-by-hop headers are managed by the HTTP client',
    te: 'hop-by-hop headers are managed by the HTTP client',
    trailer: 'hop-by-hop headers are managed by the HTTP client',
};

/**
 * Which requests a rule applies to. Every condition given must hold; an empty condition matches every request.
 */
export interface MatchCondition {
    /**
     * Glob matched against the whole request URL (query included), as Crawlee's `globs` (minimatch, case-insensitive):
     * `*` matches within one path segment (not across `/`), `**` across segments, `?` exactly one character, e.g.
     * `https://api.example.com/**`.
     * @default undefined (any URL)
     */
    urlGlob?: string;
    /**
     * Regular expression (JavaScript syntax, no delimiters) searched in the whole request URL, e.g.
     * `^https://[^/]+/api/v\d+/`.
     * @default undefined (any URL)
     */
    urlRegex?: string;
    /**
     * Host the request goes to, case-insensitive: `example.com` (that host only), `*.example.com` (its
     * subdomains, not the apex), or with a port `example.com:8443` (that host and port only).
     * @default undefined (any host)
     */
    host?: string;
    /**
     * HTTP methods, case-insensitive, e.g. `['GET', 'HEAD']`.
     * @default undefined (any method)
     */
    methods?: string[];
    /**
     * Sessions whose requests the rule applies to.
     * @default undefined (every session)
     */
    sessionIds?: string[];
}

/** What a header change does, shared by persistent rules and session headers. */
export interface HeaderChange {
    /** The value to set, join or substitute: 1–2000 characters, no CR, LF, NUL or other control characters. */
    value: string;
    /** @default 'UPSERT' */
    strategy: ReplaceStrategy;
    /** Joins the values for `APPEND` and `PREPEND` (ignored by the other strategies). @default ', ' */
    separator: string;
    /**
     * `CONDITIONAL` only: a regular expression searched in the current value; the header is replaced when it
     * matches (or when the header is absent or empty). Without a pattern, `CONDITIONAL` only fills absent or
     * empty headers.
     * @default undefined
     */
    pattern?: string;
    /** 0–100: higher is applied later, so it wins. @default 50 */
    priority: number;
    /** Inactive entries are kept but never applied. @default true */
    active: boolean;
    /**
     * Treat the value as a secret: hidden in logs, errors and `list`/`describe` output, and sealed at rest when the
     * store has a secret. `Authorization`, `Proxy-Authorization` and headers whose name suggests a credential
     * (`…token…`, `…api-key…`, `…secret…`, …) are secret whatever this says.
     * @default false
     */
    secret: boolean;
}

/** A persistent header rule, as stored and returned by {@link HeaderRules.get}. */
export interface HeaderRule extends HeaderChange {
    /** Unique name of the rule (1–100 characters), e.g. `api-key`. */
    name: string;
    /** The request header it changes (an RFC 9110 token of 1–200 characters), e.g. `X-Api-Key`. */
    header: string;
    /** Which requests it applies to. @default {} (every request) */
    match: MatchCondition;
    /** ms since the epoch. */
    createdAt: number;
    /** ms since the epoch; bumped by every update. */
    updatedAt: number;
}

/** What {@link HeaderRules.add} accepts: a rule without timestamps; every field with a default is optional. */
export interface HeaderRuleInput extends Partial<Omit<HeaderChange, 'strategy'>> {
    name: string;
    header: string;
    value: string;
    /** @default 'UPSERT' (case-insensitive) */
    strategy?: ReplaceStrategy | Lowercase<ReplaceStrategy>;
    match?: MatchConditionInput;
}

/** A match condition as given by users: `methods` may be one string, `sessionIds` may hold numbers. */
export interface MatchConditionInput extends Omit<MatchCondition, 'methods' | 'sessionIds'> {
    methods?: string | string[];
    sessionIds?: Array<string | number>;
}

/** What {@link HeaderRules.update} accepts: any subset of the rule's fields (`name` renames it). */
export type HeaderRulePatch = Partial<HeaderRuleInput>;

/** Where a session header applies, besides its session. Both given: both must hold. */
export interface HeaderScope {
    /** As {@link MatchCondition.host}. */
    host?: string;
    /** As {@link MatchCondition.urlGlob}. */
    urlGlob?: string;
    /** As {@link MatchCondition.urlRegex}. */
    urlRegex?: string;
}

/** A header attached to one session for a limited time, as returned by `sessions.getHeaders()`. */
export interface SessionHeader extends HeaderChange {
    /** Stable id, kept by updates. */
    id: string;
    /** The session it belongs to. */
    sessionId: string;
    /** The header name (an RFC 9110 token of 1–200 characters); one entry per name and session. */
    name: string;
    /** Where it applies. @default undefined (every request of the session) */
    scope?: HeaderScope;
    /** Lifetime it was given, in seconds (60–86400). */
    ttlSecs: number;
    /** ms since the epoch; after it the header is never applied, and the cleanup deletes it. */
    expiresAt: number;
    /** ms since the epoch. */
    createdAt: number;
    /** ms since the epoch; bumped by every update. */
    updatedAt: number;
}

/** What `sessions.setHeader()` accepts. */
export interface SessionHeaderInput extends Partial<Omit<HeaderChange, 'strategy'>> {
    name: string;
    value: string;
    strategy?: ReplaceStrategy | Lowercase<ReplaceStrategy>;
    /** Lifetime in seconds, 60–86400. @default 3600 */
    ttlSecs?: number;
    /** @deprecated Use `ttlSecs` (same value, in seconds); accepted with a warning for one more version. */
    ttl?: number;
    scope?: HeaderScope;
}

/** What `sessions.updateHeader()` accepts: any subset of the fields; a `ttlSecs` re-arms the expiry from now. */
export type SessionHeaderPatch = Partial<Omit<SessionHeaderInput, 'name'>>;

// ---------------------------------------------------------------------------------------------------------------
// Schemas

/** RFC 9110 `token`: the characters allowed in a field name. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Control characters (HTAB excepted): CR and LF would inject headers, NUL and the rest break the request. */
const CONTROL_CHARACTERS = /[\x00-\x08\x0a-\x1f\x7f]/;
/** Rule names: printable, no control characters. */
const NAME_CONTROL = /[\x00-\x1f\x7f]/;

const headerNameSchema = z
    .string()
    .min(1)
    .max(MAX_HEADER_NAME_LENGTH)
    .superRefine((name, ctx) => {
        if (!TOKEN.test(name)) {
            ctx.addIssue({
                code: 'custom',
                message: "must be a header name (letters, digits and !#$%&'*+-.^_`|~ only: no spaces, colons or line breaks)",
            });
            return;
        }
        const forbidden = FORBIDDEN_HEADER_NAMES[name.toLowerCase()];
        if (forbidden) ctx.addIssue({ code: 'custom', message: `cannot be set by a rule: ${forbidden}` });
    });

/** A single-line value: the error names the field, never the value (it may be a secret). */
function singleLine(max: number, min = 1) {
    return z
        .string()
        .min(min)
        .max(max)
        .refine((value) => !CONTROL_CHARACTERS.test(value), {
            message: 'must not contain CR, LF, NUL or other control characters (header injection refused)',
        });
}

const regexSchema = z.string().min(1).max(1000).superRefine((source, ctx) => {
    try {
        new RegExp(source);
    } catch (error) {
        ctx.addIssue({ code: 'custom', message: `is not a valid regular expression (${(error as Error).message})` });
    }
});

const hostSchema = z
    .string()
    .min(1)
    .max(300)
    .regex(/^(\*\.)?[A-Za-z0-9_.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/, {
        message: 'must be a host like example.com, *.example.com or example.com:8443',
    });

const globSchema = singleLine(2000);

const strategySchema = z.preprocess(
    (value) => (typeof value === 'string' ? value.toUpperCase() : value),
    z.enum(REPLACE_STRATEGIES),
);

const prioritySchema = z.number().int().min(0).max(100);

const methodSchema = z
    .string()
    .min(1)
    .max(20)
    .regex(TOKEN, { message: 'must be an HTTP method like GET' })
    .transform((method) => method.toUpperCase());

const matchSchema = z.strictObject({
    urlGlob: globSchema.optional(),
    urlRegex: regexSchema.optional(),
    host: hostSchema.optional(),
    methods: z.union([methodSchema.transform((method) => [method]), z.array(methodSchema).max(20)]).optional(),
    sessionIds: z.array(sessionIdSchema).max(10_000).optional(),
});

const scopeSchema = z.strictObject({
    host: hostSchema.optional(),
    urlGlob: globSchema.optional(),
    urlRegex: regexSchema.optional(),
});

const changeFields = {
    value: singleLine(MAX_HEADER_VALUE_LENGTH),
    strategy: strategySchema,
    separator: singleLine(20, 0),
    pattern: regexSchema,
    priority: prioritySchema,
    active: z.boolean(),
    secret: z.boolean(),
};

const ruleNameSchema = z
    .string()
    .trim()
    .min(1)
    .max(100)
    .refine((name) => !NAME_CONTROL.test(name), { message: 'must not contain control characters' });

const ruleInputSchema = z.strictObject({
    name: ruleNameSchema,
    header: headerNameSchema,
    value: changeFields.value,
    strategy: changeFields.strategy.default('UPSERT'),
    separator: changeFields.separator.default(DEFAULT_SEPARATOR),
    pattern: changeFields.pattern.optional(),
    match: matchSchema.default({}),
    priority: changeFields.priority.default(DEFAULT_PRIORITY),
    active: changeFields.active.default(true),
    secret: changeFields.secret.default(false),
});

const timestampSchema = z.number().int().nonnegative();

const storedRuleSchema = ruleInputSchema.extend({ createdAt: timestampSchema, updatedAt: timestampSchema });

const sessionHeaderInputSchema = z.strictObject({
    name: headerNameSchema,
    value: changeFields.value,
    strategy: changeFields.strategy.default('UPSERT'),
    separator: changeFields.separator.default(DEFAULT_SEPARATOR),
    pattern: changeFields.pattern.optional(),
    priority: changeFields.priority.default(DEFAULT_PRIORITY),
    active: changeFields.active.default(true),
    secret: changeFields.secret.default(false),
    ttlSecs: z.number().int().min(SESSION_HEADER_TTL_RANGE.min).max(SESSION_HEADER_TTL_RANGE.max).default(DEFAULT_SESSION_HEADER_TTL),
    scope: scopeSchema.optional(),
});

/** Session headers stored by earlier versions name their lifetime `ttl`. */
const fromEarlierVersions = (value: unknown) => {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, 'ttl') || Object.hasOwn(value, 'ttlSecs')) return value;
    const { ttl, ...rest } = value as Record<string, unknown>;
    return { ...rest, ttlSecs: ttl };
};

const storedSessionHeaderFields = sessionHeaderInputSchema.extend({
    id: z.string().min(1).max(100),
    sessionId: sessionIdStringSchema,
    expiresAt: timestampSchema,
    createdAt: timestampSchema,
    updatedAt: timestampSchema,
});

const storedSessionHeaderSchema = z.preprocess(fromEarlierVersions, storedSessionHeaderFields);

// ---------------------------------------------------------------------------------------------------------------
// Parsing

/** Field names whose values are never quoted in error messages. */
const VALUE_FIELDS = new Set(['value', 'separator']);

/**
 * {@link parseWithZod}, except that header values are never quoted in the error (they may be secrets):
 * `Invalid header rule: value: must not contain CR, LF, NUL … (header injection refused)`.
 */
function parseHiding<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
    try {
        return parseWithZod(schema, input, what);
    } catch (error) {
        if (!(error instanceof ConfigValidationError)) throw error;
        const issues = error.issues.map((issue) => {
            const last = issue.path.split(/[.[]/).pop()?.replace(/[\]"]/g, '') ?? '';
            return VALUE_FIELDS.has(last) ? { ...issue, message: issue.message.replace(/ \(got [\s\S]*\)$/, '') } : issue;
        });
        throw new ConfigValidationError(what, issues);
    }
}

/** Validates a new rule, applying defaults. Throws {@link ConfigValidationError} naming each bad field. */
export function parseRuleInput(input: unknown, what = 'headerRule'): Omit<HeaderRule, 'createdAt' | 'updatedAt'> {
    return parseHiding(ruleInputSchema, input, what) as Omit<HeaderRule, 'createdAt' | 'updatedAt'>;
}

/** Validates a rule read back from a store. */
export function parseStoredRule(input: unknown, what: string): HeaderRule {
    return parseHiding(storedRuleSchema, input, what) as HeaderRule;
}

/** Validates a new session header, applying defaults. */
export function parseSessionHeaderInput(input: unknown, what = 'sessionHeader'): z.output<typeof sessionHeaderInputSchema> {
    return parseHiding(sessionHeaderInputSchema, renameDeprecated(input, 'Session header', { ttl: 'ttlSecs' }), what);
}

/** Validates a session header read back from a store. */
export function parseStoredSessionHeader(input: unknown, what: string): SessionHeader {
    return parseHiding(storedSessionHeaderSchema, input, what) as SessionHeader;
}

/** Whether a header name may be set by rules (an RFC 9110 token, not a cookie, framing or hop-by-hop header). */
export function isSettableHeaderName(name: string): boolean {
    return headerNameSchema.safeParse(name).success;
}
