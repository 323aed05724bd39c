import { z } from 'zod';

import type { Renewal } from '../renewal/renewal.js';
import type { SessionHttpClient } from '../request/session-client.js';
import type { SessionAuth } from '../model/types.js';
import { regexInput } from '../shared/regex-input.js';
import { renameDeprecated } from '../shared/deprecation.js';
import { parseWithZod } from '../shared/validation.js';
import { renderRequest, requestTemplateSchema, type RequestTemplate } from './request-template.js';

/**
 * One pattern that tells whether a response is logged in: where to look, what to look for (literal text, a
 * regular expression, or status codes) and what a match means.
 *
 * ```ts
 * { in: 'body', text: 'Please sign in', means: 'invalid' }
 * { in: 'status', status: [401, 403], means: 'invalid' }
 * { in: 'url', regex: '/login(\\?|$)', means: 'invalid' }     // the final URL after redirects
 * { in: 'body', text: 'Log out', means: 'valid' }
 * { in: 'header', header: 'x-session-state', text: 'logged-in', means: 'valid' }
 * ```
 */
export interface Indicator {
    /** Where to look: the status code, response headers, body, or the final URL after redirects. */
    in: 'status' | 'header' | 'body' | 'url';
    /**
     * With `in: 'header'`: the header to look at.
     * @default every header, as `name: value` lines
     */
    header?: string;
    /** Literal text to find (for `status`: the whole code, e.g. `'401'`). */
    text?: string;
    /**
     * A regular expression (JavaScript syntax, as a string). It runs on the first 1 MiB of what it looks at
     * (`MAX_REGEX_INPUT_LENGTH`).
     * @default none
     */
    regex?: string;
    /**
     * Flags of `regex`, e.g. `i`.
     * @default none
     */
    flags?: string;
    /** With `in: 'status'`: the status codes that match. */
    status?: number[];
    /**
     * With `text`: compare without regard to case.
     * @default false
     */
    ignoreCase?: boolean;
    /** `valid`: a match proves the session is logged in; `invalid`: a match proves it is not. */
    means: 'valid' | 'invalid';
}

/**
 * A validity check (ZAP's authentication verification, Burp's "check session is valid").
 *
 * Verdict: the session is invalid when an `invalid` indicator matches; otherwise, when there are `valid`
 * indicators, it is valid only if one of them matches; otherwise it is valid.
 */
export interface ValidityCheckInput {
    /**
     * A request to send with the session to check it (a poll). Without it the check judges the response the crawler
     * just received (Burp's "issue the current request"). Strings may use `{{name}}` templates of values the login
     * extracted. The session's cookies and extracted headers/query are applied.
     * @default none
     */
    request?: RequestTemplate;
    /** The patterns to look for; at least one. */
    indicators: Indicator[];
    /**
     * Throttle, per session (ZAP's poll frequency): check again only after `requests` requests or `intervalSecs`
     * seconds since the last check, whichever comes first, and assume the session valid in between.
     * @default check every time
     */
    every?: {
        requests?: number;
        intervalSecs?: number;
        /** @deprecated Renamed to `intervalSecs` (Crawlee's unit names); still accepted, with a warning. */
        seconds?: number;
    };
}

/** A validated check (see {@link defineCheck}). */
export type ValidityCheck = Readonly<ValidityCheckInput>;

/** What a check looks at. Header names may be in any case. */
export interface CheckResponse {
    statusCode: number;
    /** The final URL after redirects. */
    url: string;
    headers: Record<string, string | string[] | undefined>;
    body: string;
}

/** The result of judging one response. */
export interface CheckOutcome {
    valid: boolean;
    /** Why, in words that contain no response content, e.g. `logged-out indicator matched: status 401`. */
    reason: string;
}

/** The result of {@link SessionCheck.verdict}: `checked` is false when the throttle assumed the session valid. */
export interface Verdict extends CheckOutcome {
    checked: boolean;
}

const indicatorSchema = z
    .strictObject({
        in: z.enum(['status', 'header', 'body', 'url']),
        header: z.string().min(1).optional(),
        text: z.string().min(1).optional(),
        regex: z.string().min(1).optional(),
        flags: z.string().regex(/^[imsu]*$/, { error: 'may only contain the flags i, m, s and u' }).optional(),
        status: z.array(z.number().int().min(100).max(599)).min(1).optional(),
        ignoreCase: z.boolean().optional(),
        means: z.enum(['valid', 'invalid']),
    })
    .superRefine((indicator, ctx) => {
        const given = (['text', 'regex', 'status'] as const).filter((key) => indicator[key] !== undefined);
        if (given.length !== 1) {
            ctx.addIssue({
                code: 'custom',
                message: given.length ? `give only one of ${given.join(', ')}` : 'needs text, regex or status to look for',
            });
        }
        if (indicator.status !== undefined && indicator.in !== 'status') {
            ctx.addIssue({ code: 'custom', path: ['status'], message: "only applies with in: 'status'" });
        }
        if (indicator.header !== undefined && indicator.in !== 'header') {
            ctx.addIssue({ code: 'custom', path: ['header'], message: "only applies with in: 'header'" });
        }
        if (indicator.flags !== undefined && indicator.regex === undefined) {
            ctx.addIssue({ code: 'custom', path: ['flags'], message: 'only applies with regex' });
        }
        if (indicator.regex !== undefined) {
            try {
                new RegExp(indicator.regex, indicator.flags);
            } catch (error) {
                ctx.addIssue({ code: 'custom', path: ['regex'], message: `is not a valid regular expression: ${(error as Error).message}` });
            }
        }
    });

/** Zod schema of a {@link ValidityCheckInput}. */
export const checkSchema = z.preprocess(
    (value) => renameDeprecated(value, 'check', { 'every.seconds': 'every.intervalSecs' }),
    z.strictObject({
    request: requestTemplateSchema.optional(),
    indicators: z.array(indicatorSchema).min(1, { error: 'needs at least one indicator' }),
    every: z
        .strictObject({
            requests: z.number().int().min(1).optional(),
            intervalSecs: z.number().positive().optional(),
        })
        .optional(),
    }),
);

/** Checks that went through {@link defineCheck} (or a recipe's validation). */
const validated = new WeakSet<object>();

/** Marks an already validated check, so that it is not validated again. @internal */
export function markValidated<T extends object>(check: T): T {
    validated.add(check);
    return check;
}

/**
 * Validates a check; a bad one is refused with a {@link ConfigValidationError} naming the field, e.g.
 * `Invalid check: check.indicators[0].means: must be one of "valid", "invalid"`.
 */
export function defineCheck(input: ValidityCheckInput): ValidityCheck {
    if (validated.has(input)) return input;
    return markValidated(Object.freeze(parseWithZod(checkSchema, input, 'check') as ValidityCheckInput));
}

/** Judges a response with a check's indicators (no throttle). */
export function evaluateCheck(check: ValidityCheck, response: CheckResponse): CheckOutcome {
    const hits = check.indicators.filter((indicator) => indicatorMatches(indicator, response));
    const invalid = hits.find((indicator) => indicator.means === 'invalid');
    if (invalid) return { valid: false, reason: `logged-out indicator matched: ${describeIndicator(invalid)}` };
    const validIndicators = check.indicators.filter((indicator) => indicator.means === 'valid');
    if (validIndicators.length === 0) return { valid: true, reason: 'no logged-out indicator matched' };
    const valid = hits.find((indicator) => indicator.means === 'valid');
    return valid
        ? { valid: true, reason: `logged-in indicator matched: ${describeIndicator(valid)}` }
        : { valid: false, reason: `no logged-in indicator matched (${validIndicators.map(describeIndicator).join('; ')})` };
}

/** A readable form of an indicator, e.g. `body contains "Log out"`, `status 401|403`. */
export function describeIndicator(indicator: Indicator): string {
    const where = indicator.in === 'header' ? `header ${indicator.header ?? '(any)'}` : indicator.in;
    if (indicator.status) return `status ${indicator.status.join('|')}`;
    if (indicator.regex !== undefined) return `${where} matches /${indicator.regex}/${indicator.flags ?? ''}`;
    return `${where} ${indicator.in === 'status' ? 'is' : 'contains'} ${JSON.stringify(indicator.text)}`;
}

function indicatorMatches(indicator: Indicator, response: CheckResponse): boolean {
    let subject: string;
    switch (indicator.in) {
        case 'status':
            if (indicator.status) return indicator.status.includes(response.statusCode);
            if (indicator.text !== undefined) return String(response.statusCode) === indicator.text.trim();
            subject = String(response.statusCode);
            break;
        case 'url':
            subject = response.url;
            break;
        case 'body':
            subject = response.body;
            break;
        case 'header':
            subject = headerText(response.headers, indicator.header);
            break;
    }
    if (indicator.regex !== undefined) return new RegExp(indicator.regex, indicator.flags).test(regexInput(subject));
    const text = indicator.text ?? '';
    return indicator.ignoreCase ? subject.toLowerCase().includes(text.toLowerCase()) : subject.includes(text);
}

function headerText(headers: CheckResponse['headers'], only: string | undefined): string {
    const lines: string[] = [];
    for (const [name, value] of Object.entries(headers)) {
        if (value === undefined || (only && name.toLowerCase() !== only.toLowerCase())) continue;
        for (const item of Array.isArray(value) ? value : [value]) lines.push(only ? item : `${name}: ${item}`);
    }
    return lines.join('\n');
}

/** Options of {@link createSessionCheck}. */
export interface SessionCheckOptions {
    /**
     * How to renew a session the check finds logged out, e.g. `loginRenewal(recipe)`. `withSessions(…, { check })`
     * clears the session with it and retries the request.
     * @default none (the session is only cleared)
     */
    renewal?: Renewal;
}

/** What {@link SessionCheck.verdict} judges. */
export interface VerdictInput {
    /** The session, for the throttle. */
    sessionId: string;
    /** The response the crawler received (used when the check has no request). */
    response?: CheckResponse;
    /** A client bound to the session (used to send the check's request). */
    http?: SessionHttpClient;
    /** The session's login values: they fill the check's templates (the request path adds its headers and query). */
    auth?: SessionAuth;
}

interface ThrottleState {
    /** Verdicts since the last real check. */
    since: number;
    /** When the last real check ran (ms since the epoch). */
    checkedAt: number;
    /** A check request in flight; concurrent verdicts of the session join it. */
    pending?: Promise<CheckOutcome>;
}

/**
 * A validity check ready for a crawl: judges responses (or sends its request) for each session, throttled per
 * session like ZAP's poll, and knows the renewal to run when a session is found logged out.
 */
export class SessionCheck {
    private readonly state = new Map<string, ThrottleState>();

    constructor(
        /** The validated check. */
        readonly check: ValidityCheck,
        /** The renewal to run when a session is found logged out (see {@link SessionCheckOptions.renewal}). */
        readonly renewal?: Renewal,
    ) {}

    /** Judges a response (no throttle). */
    evaluate(response: CheckResponse): CheckOutcome {
        return evaluateCheck(this.check, response);
    }

    /**
     * Sends the check's request with the session (through `http`, the session's request path: its cookies, proxy,
     * identity and login values) and judges the answer; `auth.values` fill the check's templates. No throttle.
     * @throws TypeError when the check has no request.
     */
    async run(http: SessionHttpClient, auth?: SessionAuth): Promise<CheckOutcome> {
        if (!this.check.request) throw new TypeError('This check has no request to send: judge a response with evaluate().');
        const values = Object.fromEntries(Object.entries(auth?.values ?? {}).map(([name, entry]) => [name, entry.value]));
        const response = await http.request(renderRequest(this.check.request, values));
        return this.evaluate(response);
    }

    /**
     * The throttled verdict for one session: when a check is due (first time, or `every.requests` verdicts or
     * `every.intervalSecs` after the last check), sends the check's request when it has one and `http` is given, else
     * judges `response`; in between, assumes the session valid (`checked: false`).
     */
    async verdict(input: VerdictInput): Promise<Verdict> {
        const state = this.state.get(input.sessionId);
        if (state?.pending) return { ...(await state.pending), checked: true };
        if (state && !this.due(state)) {
            state.since++;
            return { valid: true, checked: false, reason: 'assumed valid between checks' };
        }
        const next: ThrottleState = { since: 0, checkedAt: Date.now() };
        this.state.set(input.sessionId, next);
        if (this.check.request && input.http) {
            next.pending = this.run(input.http, input.auth);
            try {
                return { ...(await next.pending), checked: true };
            } catch (error) {
                // The check could not be sent (e.g. a network error): check again next time.
                if (this.state.get(input.sessionId) === next) this.state.delete(input.sessionId);
                throw error;
            } finally {
                next.pending = undefined;
            }
        }
        if (!input.response) {
            throw new TypeError('SessionCheck.verdict() needs a response, or an http client for a check that has a request.');
        }
        return { ...this.evaluate(input.response), checked: true };
    }

    /** Forgets a session's throttle state: its next verdict checks (call it after the session was renewed). */
    forget(sessionId: string): void {
        this.state.delete(sessionId);
    }

    private due(state: ThrottleState): boolean {
        const every = this.check.every;
        if (!every || (every.requests === undefined && every.intervalSecs === undefined)) return true;
        if (every.requests !== undefined && state.since + 1 >= every.requests) return true;
        return every.intervalSecs !== undefined && Date.now() - state.checkedAt >= every.intervalSecs * 1000;
    }
}

/**
 * Creates a {@link SessionCheck} from a check definition (validated here when it is not already).
 *
 * ```ts
 * const check = createSessionCheck({ indicators: [{ in: 'status', status: [401], means: 'invalid' }] },
 *     { renewal: loginRenewal(recipe) });
 * new CheerioCrawler(withSessions(sessions, options, { check }));
 * ```
 */
export function createSessionCheck(check: ValidityCheckInput, options: SessionCheckOptions = {}): SessionCheck {
    return new SessionCheck(defineCheck(check), options.renewal);
}

/**
 * What a check judges, read from a crawling context: `response`/`body` of HTTP crawlers (Cheerio, Http), or
 * the page of a PlaywrightCrawler. Returns undefined when the context holds no response.
 */
export async function checkResponseOf(context: Record<string, any>): Promise<CheckResponse | undefined> {
    const response = context.response;
    if (!response) return undefined;
    if (typeof response.status === 'function') {
        const page = context.page;
        const headers = (typeof response.headers === 'function' ? response.headers() : {}) as Record<string, string>;
        return {
            statusCode: response.status() as number,
            url: (page?.url?.() as string | undefined) ?? (response.url() as string),
            headers,
            body: page ? ((await page.content()) as string) : '',
        };
    }
    const body = context.body;
    return {
        statusCode: Number(response.statusCode),
        url: String(context.request?.loadedUrl ?? response.url ?? context.request?.url ?? ''),
        headers: (response.headers ?? {}) as CheckResponse['headers'],
        body: typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString('utf8') : body === undefined ? '' : JSON.stringify(body),
    };
}
