import type { BrowserContext, Page } from 'playwright';
import { z } from 'zod';

import { originPatternProblem } from '../request/origin-scope.js';
import { ConfigValidationError, parseWithZod } from '../shared/validation.js';
import {
    accountIssues,
    accountsIssues,
    TOTP_FIELD,
    toAccount,
    toAccountBook,
    type AccountBook,
    type AccountInput,
    type AccountsInput,
} from './accounts.js';
import { checkSchema, markValidated, type ValidityCheck, type ValidityCheckInput } from './check.js';
import { credentialInputProblem, type CredentialInput, type CredentialSource } from './credentials.js';
import { oauth2Schema, toOAuth2Settings, type OAuth2Options, type OAuth2Settings } from './oauth2.js';
import { extractRuleSchema, sourcesOf, type ExtractRule } from './extract.js';
import { refineOneBody, requestTemplateShape, templateUses, type RequestTemplate } from './request-template.js';
import { templateNames } from './template.js';
import type { TotpSettings } from './totp.js';

/**
 * The credentials a browser login function receives: every credential of the session's account, read, and
 * `totp()`, which returns a fresh code of the account's second factor at each call (waiting for the next period
 * when the current code was already used). Never log them.
 */
export type BrowserCredentials<C extends string = string> = Readonly<Record<Exclude<C, typeof TOTP_FIELD>, string>> & {
    /** A fresh TOTP code of the account's second factor; rejects with a `credentials` LoginError when it has none. */
    readonly totp: () => Promise<string>;
};

/** What a browser-mode login function receives. */
export interface BrowserLoginArgs<C extends string = string> {
    /** A fresh page in a context with the session's proxy and user agent (already at `startUrl` if one is set). */
    page: Page;
    /** The page's browser context. */
    context: BrowserContext;
    /** The session's account, read (see {@link BrowserCredentials}), with `totp()` for its second factor. */
    credentials: BrowserCredentials<C>;
}

/** A browser-mode login: the kind of code `playwright codegen` records, made into a function. */
export type BrowserLoginFunction<C extends string = string> = (args: BrowserLoginArgs<C>) => Promise<void>;

/** One request of an HTTP-mode login. */
export interface HttpLoginStep extends RequestTemplate {
    /** Values to extract from this step's answer; later steps (and `apply`) may use them as `{{name}}`. */
    extract?: ExtractRule[];
    /** Final status codes (after redirects) that count as success. Default: any status below 400. */
    expectStatus?: number[];
}

/** A cookie a recipe sets in the session from extracted values. */
export interface CookieRule {
    /** The cookie's name. */
    name: string;
    /** Its value; usually a template such as `{{token}}`. */
    value: string;
    /** The URL the cookie is set for (its host and default path). */
    url: string;
    /** Cookie path. Default: the URL's default path. */
    path?: string;
}

/**
 * How extracted values are applied to every later request of the session. Templates name extracted values
 * (never credentials: they would travel with every request and be stored).
 */
export interface ApplyRules {
    /** Headers, e.g. `{ Authorization: 'Bearer {{token}}' }`. Default none. */
    headers?: Record<string, string>;
    /** Query parameters, e.g. `{ api_key: '{{key}}' }`. Default none. */
    query?: Record<string, string>;
    /** Cookies put into the session's jar. Default none. */
    cookies?: CookieRule[];
    /**
     * Where `headers` and `query` go besides the login's own origins (those of its steps, its check, and in browser
     * mode its start and collection URLs): origins (`https://api.shop.example`), hosts (`cdn.shop.example`), host
     * globs (`*.shop.example`), or `'*'` for every host. Requests to any other origin never carry them, redirects
     * included.
     * @default none: the login's own origins only
     */
    origins?: string[];
}

/** Browser-mode settings. */
export interface BrowserLoginSettings {
    /** Run Chromium without a window. Default true. */
    headless?: boolean;
    /** Time the login function may take, in seconds. Default 60. */
    timeoutSecs?: number;
    /**
     * After the login function returns, how long to wait for requests to every collection URL (`collect`) that
     * has not been seen yet, in seconds. Default 10.
     */
    collectTimeoutSecs?: number;
}

/**
 * How to obtain a session for one application. Give `steps` (HTTP mode) or `login` (browser mode).
 *
 * ```ts
 * const recipe = defineLogin({
 *     name: 'shop',
 *     credentials: { user: 'alice', password: { env: 'SHOP_PASSWORD' } },
 *     steps: [
 *         { url: 'https://shop.example/login', extract: [{ name: 'csrf', from: { formField: 'csrf' } }] },
 *         { url: 'https://shop.example/login', method: 'POST',
 *           form: { user: '{{user}}', password: '{{password}}', csrf: '{{csrf}}' } },
 *     ],
 *     check: { request: { url: 'https://shop.example/account' },
 *              indicators: [{ in: 'body', text: 'Log out', means: 'valid' }] },
 * });
 * ```
 */
export interface LoginRecipeInput<C extends string = string> {
    /** The application's name: identifies the recipe in logs, stored login states and the maintainer. */
    name: string;
    /**
     * The one account **every session of this recipe shares**, by credential name: usable as `{{name}}` in steps
     * and as `credentials.name` in a browser login; each a literal, `{ env }`, `{ file }` or a function, read when
     * the login runs (see `CredentialInput`), plus an optional `totp` second factor. They never appear in logs,
     * errors or stored state.
     *
     * With `accounts`, these are the fields every account shares (a tenant, a client id): each session logs in with
     * its account's fields plus these. A field may not be in both, and `totp` belongs in the accounts.
     * @default none
     */
    credentials?: Record<C, CredentialInput> | AccountInput;
    /**
     * One account per session, for recipes that log in several users: session id → account (see `AccountInput`),
     * or a function `(sessionId) => account | undefined` called at each login. The session with that id logs in with
     * that account — through `loginRenewal`, `loginCheck`, `sessions.renew`, the maintainer and the CLI; a session
     * without one fails its login with a `credentials` LoginError, before any request, and never borrows another
     * account.
     * @default none: every session uses `credentials`
     */
    accounts?: AccountsInput;
    /**
     * HTTP mode: the requests of the login, in order. With `oauth2.grant: 'authorization_code_pkce'`: the
     * authorization server's login form, sent when the authorization request lands on a login page instead of
     * coming back (the values of `oauth2.loginPage.extract` usable as `{{name}}`); the login ends at the redirect
     * to `redirectUri`, remaining steps unsent.
     * @default none
     */
    steps?: HttpLoginStep[];
    /**
     * OAuth2 mode (instead of `steps`): the access token of a token endpoint, applied as `Authorization: Bearer`
     * (see {@link OAuth2Options}); the extracted value `access_token` can be used in `apply` instead.
     * @default none
     */
    oauth2?: OAuth2Options;
    /**
     * Browser mode: the login function (Playwright). With `oauth2.grant: 'authorization_code_pkce'`, it signs in on
     * the authorization server's pages: the page opens at the authorization request, and the login ends when the
     * browser is sent to `redirectUri` (captured, never fetched).
     */
    login?: BrowserLoginFunction<C>;
    /** Browser mode: a URL the page opens before the login function runs. Default: none (about:blank). */
    startUrl?: string;
    /**
     * Browser mode: collection URLs. Requests whose URL matches one (host and path equal, trailing slash ignored,
     * the collection URL's query a subset of the request's) are captured with their answers, for extraction.
     * Default none.
     */
    collect?: string[];
    /**
     * Values to extract once the login has run: from every step's answer (HTTP mode, newest first), from the
     * captured requests (browser mode), from the session's cookies, and from localStorage/sessionStorage (browser
     * mode). Default none.
     */
    extract?: ExtractRule[];
    /** How extracted values go on the session's later requests. Default: nothing beyond the cookies. */
    apply?: ApplyRules;
    /**
     * The session's validity check: verifies a login, a restored quick-login state, and (with `withSessions`'
     * `check` setting or the maintainer) the session later on. Default none.
     */
    check?: ValidityCheckInput;
    /**
     * Run the check (it needs a `request`) right after every login and fail the login when it says logged out.
     * Default: true when the check has a request.
     */
    verify?: boolean;
    /** Browser-mode settings. */
    browser?: BrowserLoginSettings;
    /** When the site's logins end, besides what it announces itself (see {@link LoginExpiry}). */
    expiry?: LoginExpiry;
}

/**
 * When a recipe's logins end. What the site announces is read anyway: the `Expires`/`Max-Age` of its session-token
 * cookies (the names `sessions.tokens` knows), a JWT `exp` in a login value or token cookie, an OAuth2 `expires_in`.
 */
export interface LoginExpiry {
    /**
     * A login lasts this many seconds from when it was obtained, for sites that announce nothing.
     * @default none
     */
    afterSecs?: number;
    /**
     * More cookie names (case-insensitive) whose `Expires`/`Max-Age` or JWT `exp` end the login, besides the session
     * tokens.
     * @default none
     */
    cookies?: string[];
    /**
     * Learn how long the site's logins last, for sites that announce nothing: each time a session of the recipe is
     * found logged out by a validity check, the login's age is recorded (in the store, collection
     * `learned-lifetimes`, shared by every process); from the third observation on, a new login is taken to last the
     * median of the last seven ages, and renewal ahead of expiry renews it before that. An announced end that comes
     * sooner still wins.
     * @default false
     */
    learn?: boolean;
}

/** A validated recipe (see {@link defineLogin}). */
export interface LoginRecipe<C extends string = string> {
    readonly name: string;
    /** `browser` when the recipe has a login function (an OAuth2 one's included), else `http` (steps, or `oauth2`). */
    readonly mode: 'http' | 'browser';
    /** The one shared account's fields (with `accounts`: the fields every account shares). */
    readonly credentials: Readonly<Record<C, CredentialSource>>;
    /** The second factor of the one shared account (without `accounts`). */
    readonly totp: TotpSettings | undefined;
    /** One account per session, if given. */
    readonly accounts: AccountBook | undefined;
    /** The credentials the steps use as `{{name}}` (every account must have them). */
    readonly credentialNames: readonly string[];
    /** Whether a step uses `{{totp}}`. */
    readonly usesTotp: boolean;
    readonly steps: readonly HttpLoginStep[];
    /** OAuth2 mode's settings (an HTTP-mode recipe without steps). */
    readonly oauth2: OAuth2Settings | undefined;
    readonly login: BrowserLoginFunction<C> | undefined;
    readonly startUrl: string | undefined;
    readonly collect: readonly string[];
    readonly extract: readonly ExtractRule[];
    readonly apply: Readonly<ApplyRules>;
    readonly check: ValidityCheck | undefined;
    readonly verify: boolean;
    readonly browser: Readonly<Required<BrowserLoginSettings>>;
    readonly expiry: Readonly<{ afterSecs?: number; cookies: readonly string[]; learn: boolean }>;
}

/** The value an OAuth2 recipe extracts: its access token (`{{access_token}}` in `apply`). */
const OAUTH2_ACCESS_TOKEN = 'access_token';

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an absolute http: or https: URL' });

const stepSchema = z
    .strictObject({
        ...requestTemplateShape,
        extract: z.array(extractRuleSchema).optional(),
        expectStatus: z.array(z.number().int().min(100).max(599)).min(1).optional(),
    })
    .superRefine(refineOneBody);

const recipeSchema = z
    .strictObject({
        name: z.string().min(1).max(200),
        // Validated by accountIssues/accountsIssues, whose messages never quote a credential.
        credentials: z.unknown().optional(),
        accounts: z.unknown().optional(),
        steps: z.array(stepSchema).min(1, { error: 'needs at least one step' }).optional(),
        oauth2: oauth2Schema.optional(),
        login: z.custom<BrowserLoginFunction>((value) => typeof value === 'function', { error: 'must be an async function ({ page, context, credentials }) => …' }).optional(),
        startUrl: httpUrl.optional(),
        collect: z.array(httpUrl).optional(),
        extract: z.array(extractRuleSchema).optional(),
        apply: z
            .strictObject({
                headers: requestTemplateShape.headers,
                query: z.record(z.string().min(1), z.string()).optional(),
                cookies: z
                    .array(
                        z.strictObject({
                            name: z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { error: 'is not a valid cookie name' }),
                            value: z.string(),
                            url: httpUrl,
                            path: z.string().startsWith('/').optional(),
                        }),
                    )
                    .optional(),
                origins: z
                    .array(
                        z.string().superRefine((entry, ctx) => {
                            const problem = originPatternProblem(entry);
                            if (problem) ctx.addIssue({ code: 'custom', message: problem });
                        }),
                    )
                    .max(100)
                    .optional(),
            })
            .optional(),
        check: checkSchema.optional(),
        verify: z.boolean().optional(),
        expiry: z
            .strictObject({
                afterSecs: z.number().positive().max(365 * 24 * 3600).optional(),
                learn: z.boolean().optional(),
                cookies: z
                    .array(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { error: 'is not a valid cookie name' }))
                    .max(100)
                    .optional(),
            })
            .optional(),
        browser: z
            .strictObject({
                headless: z.boolean().optional(),
                timeoutSecs: z.number().positive().max(3600).optional(),
                collectTimeoutSecs: z.number().min(0).max(600).optional(),
            })
            .optional(),
    })
    .superRefine((recipe, ctx) => {
        if (recipe.oauth2 && recipe.steps && recipe.oauth2.grant !== 'authorization_code_pkce') {
            ctx.addIssue({ code: 'custom', path: ['oauth2'], message: 'cannot be combined with steps: the token endpoint is the login' });
        }
        if (recipe.oauth2?.clientSecret !== undefined) {
            const problem = credentialInputProblem(recipe.oauth2.clientSecret);
            if (problem) ctx.addIssue({ code: 'custom', path: ['oauth2', 'clientSecret'], message: problem });
        }
        const http = recipe.steps !== undefined || (recipe.oauth2 !== undefined && recipe.login === undefined);
        const browser = recipe.login !== undefined;
        if (recipe.oauth2 && browser) {
            // A login function signs in on the authorization server's pages; the authorization request is the start.
            if (recipe.oauth2.grant !== 'authorization_code_pkce') {
                ctx.addIssue({ code: 'custom', path: ['login'], message: 'goes with oauth2 only for the authorization_code_pkce grant' });
            }
            if (recipe.startUrl !== undefined) ctx.addIssue({ code: 'custom', path: ['startUrl'], message: 'is the authorization request with oauth2' });
            if (recipe.oauth2.loginPage !== undefined) ctx.addIssue({ code: 'custom', path: ['oauth2', 'loginPage'], message: 'only applies to steps (HTTP mode)' });
            const redirect = recipe.oauth2.redirectUri;
            if (redirect !== undefined && !/^https?:/i.test(redirect)) {
                ctx.addIssue({ code: 'custom', path: ['oauth2', 'redirectUri'], message: 'must be an http: or https: URL with a login function (a browser cannot capture another scheme)' });
            }
        }
        if (http === browser) {
            ctx.addIssue({
                code: 'custom',
                path: [http ? 'login' : 'steps'],
                message: http
                    ? 'cannot be combined with steps: a recipe is either HTTP mode (steps) or browser mode (login)'
                    : 'is required: give steps (HTTP mode) or a login function (browser mode)',
            });
        }
        if (http) {
            for (const key of ['startUrl', 'collect', 'browser'] as const) {
                if (recipe[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: 'only applies to browser mode (login)' });
            }
        }
        const names = credentialNamesOf(recipe.credentials, recipe.accounts);
        const isCredential = (name: string, extracted: ReadonlySet<string>) =>
            names.fields.has(name) || (name === TOTP_FIELD && names.totp) || (names.any && !extracted.has(name));
        /** Per credential used by the steps, the first place it is used (for the per-account check). */
        const usedCredentials = new Map<string, PropertyKey[]>();

        // Templates: steps may use credentials and values extracted by earlier steps.
        const extracted = new Set<string>(recipe.oauth2 ? [OAUTH2_ACCESS_TOKEN] : []);
        const claim = (name: string, path: PropertyKey[]) => {
            if (name === TOTP_FIELD) ctx.addIssue({ code: 'custom', path, message: '"totp" is the second factor\'s code: name the value otherwise' });
            else if (names.fields.has(name)) ctx.addIssue({ code: 'custom', path, message: `"${name}" is already a credential's name` });
        };
        recipe.oauth2?.loginPage?.extract?.forEach((rule, ruleIndex) => {
            claim(rule.name, ['oauth2', 'loginPage', 'extract', ruleIndex, 'name']);
            extracted.add(rule.name);
        });
        recipe.steps?.forEach((step, index) => {
            for (const use of templateUses(step as RequestTemplate)) {
                if (extracted.has(use.name)) continue;
                if (isCredential(use.name, extracted)) {
                    if (!usedCredentials.has(use.name)) usedCredentials.set(use.name, ['steps', index, ...use.path]);
                    continue;
                }
                ctx.addIssue({
                    code: 'custom',
                    path: ['steps', index, ...use.path],
                    message:
                        use.name === TOTP_FIELD
                            ? 'uses {{totp}}, the second factor\'s code, but no account has a totp'
                            : `uses {{${use.name}}}, which is neither a credential nor a value extracted by an earlier step`,
                });
            }
            step.extract?.forEach((rule, ruleIndex) => {
                claim(rule.name, ['steps', index, 'extract', ruleIndex, 'name']);
                extracted.add(rule.name);
            });
        });
        recipe.extract?.forEach((rule, ruleIndex) => {
            claim(rule.name, ['extract', ruleIndex, 'name']);
            extracted.add(rule.name);
            if (http) {
                sourcesOf(rule).forEach((source, sourceIndex) => {
                    const key = source.localStorage !== undefined ? 'localStorage' : source.sessionStorage !== undefined ? 'sessionStorage' : undefined;
                    if (key) {
                        const path = Array.isArray(rule.from) ? ['extract', ruleIndex, 'from', sourceIndex, key] : ['extract', ruleIndex, 'from', key];
                        ctx.addIssue({ code: 'custom', path, message: 'only exists in browser mode (login)' });
                    }
                });
            }
        });

        // apply and check templates may use extracted values only.
        const onlyExtracted = (text: string, path: PropertyKey[]) => {
            for (const name of templateNames(text)) {
                if (extracted.has(name)) continue;
                ctx.addIssue({
                    code: 'custom',
                    path,
                    message:
                        names.fields.has(name) || name === TOTP_FIELD
                            ? `uses the credential {{${name}}}: credentials are never put on the session's requests (they would be stored)`
                            : `uses {{${name}}}, which no extraction rule defines`,
                });
            }
        };
        for (const key of ['headers', 'query'] as const) {
            for (const [name, value] of Object.entries(recipe.apply?.[key] ?? {})) onlyExtracted(value, ['apply', key, name]);
        }
        recipe.apply?.cookies?.forEach((cookie, index) => onlyExtracted(cookie.value, ['apply', 'cookies', index, 'value']));
        if (recipe.check?.request) {
            for (const use of templateUses(recipe.check.request as RequestTemplate)) {
                onlyExtracted(`{{${use.name}}}`, ['check', 'request', ...use.path]);
            }
        }
        if (recipe.verify === true && !recipe.check?.request) {
            ctx.addIssue({ code: 'custom', path: ['verify'], message: 'needs check.request: a login is verified by sending it' });
        }

        // Every account needs what the steps use (record accounts; a function's are checked when it answers).
        for (const [sessionId, account] of names.records) {
            const has = (name: string) => Object.hasOwn(account, name) || names.shared.has(name);
            for (const [name, path] of usedCredentials) {
                const missing = name === TOTP_FIELD ? account.totp === undefined : !has(name);
                if (missing) {
                    ctx.addIssue({
                        code: 'custom',
                        path: ['accounts', sessionId],
                        message: `has no ${name === TOTP_FIELD ? 'totp' : `"${name}"`}, which ${formatSteps(path)} uses`,
                    });
                }
            }
            if (http && account.totp !== undefined && !usedCredentials.has(TOTP_FIELD)) {
                ctx.addIssue({ code: 'custom', path: ['accounts', sessionId, TOTP_FIELD], message: 'is never sent: no step uses {{totp}}' });
            }
        }
        if (!recipe.accounts && http && names.totp && !usedCredentials.has(TOTP_FIELD)) {
            ctx.addIssue({ code: 'custom', path: ['credentials', TOTP_FIELD], message: 'is never sent: no step uses {{totp}}' });
        }
    });

/** The credential names a recipe's accounts and credentials define, read from its unvalidated input. */
function credentialNamesOf(credentials: unknown, accounts: unknown) {
    const keysOf = (value: unknown) => (value && typeof value === 'object' && !Array.isArray(value) ? Object.keys(value) : []);
    const shared = new Set(keysOf(credentials).filter((name) => name !== TOTP_FIELD));
    const records: Array<[string, Record<string, unknown>]> =
        accounts && typeof accounts === 'object' && !Array.isArray(accounts)
            ? Object.entries(accounts as Record<string, unknown>).filter(
                  (entry): entry is [string, Record<string, unknown>] => !!entry[1] && typeof entry[1] === 'object',
              )
            : [];
    const fields = new Set(shared);
    for (const [, account] of records) for (const name of Object.keys(account)) if (name !== TOTP_FIELD) fields.add(name);
    const totp =
        typeof accounts === 'function' ||
        records.some(([, account]) => account.totp !== undefined) ||
        (!accounts && keysOf(credentials).includes(TOTP_FIELD));
    /** A function's accounts are unknown until it answers: any name that is not an extracted value may be theirs. */
    return { shared, fields, records, totp, any: typeof accounts === 'function' };
}

/** `steps[1].form.password` */
function formatSteps(path: readonly PropertyKey[]): string {
    return path.map((segment, index) => (typeof segment === 'number' ? `[${segment}]` : index === 0 ? String(segment) : `.${String(segment)}`)).join('');
}

/**
 * Validates a login recipe and returns it ready to run (`loginRenewal(recipe)`, `acquire(recipe)`). A bad recipe
 * is refused with a {@link ConfigValidationError} naming every bad field, e.g.
 * `Invalid login recipe: recipe.steps[1].form.csrf: uses {{csrf}}, which is neither a credential nor …`.
 * Credential values are never quoted in errors.
 */
export function defineLogin<C extends string = string>(input: LoginRecipeInput<C>): LoginRecipe<C> {
    const raw = (input ?? {}) as { credentials?: unknown; accounts?: unknown };
    const accountProblems = [
        ...(raw.credentials === undefined
            ? []
            : accountIssues(raw.credentials, ['credentials'], { allowTotp: raw.accounts === undefined, requireFields: false })),
        ...(raw.accounts === undefined ? [] : accountsIssues(raw.accounts, raw.credentials)),
    ];
    let parsed: z.infer<typeof recipeSchema>;
    try {
        parsed = parseWithZod(recipeSchema, input, 'recipe');
    } catch (error) {
        if (error instanceof ConfigValidationError && accountProblems.length) throw new ConfigValidationError('recipe', [...accountProblems, ...error.issues]);
        throw error;
    }
    if (accountProblems.length) throw new ConfigValidationError('recipe', accountProblems);
    const shared = toAccount((parsed.credentials ?? {}) as AccountInput);
    const accounts = parsed.accounts === undefined ? undefined : toAccountBook(parsed.accounts as AccountsInput);
    const usage = credentialUsage(parsed.steps ?? [], (parsed.oauth2?.loginPage?.extract ?? []).map((rule) => rule.name));
    const check = parsed.check ? markValidated(Object.freeze(parsed.check as ValidityCheckInput)) : undefined;
    return Object.freeze({
        name: parsed.name,
        mode: parsed.login ? 'browser' : 'http',
        credentials: shared.fields as Readonly<Record<C, CredentialSource>>,
        totp: shared.totp,
        accounts,
        credentialNames: Object.freeze(usage.names),
        usesTotp: usage.totp,
        steps: Object.freeze((parsed.steps ?? []) as HttpLoginStep[]),
        oauth2: parsed.oauth2 ? toOAuth2Settings(parsed.oauth2) : undefined,
        login: parsed.login as BrowserLoginFunction<C> | undefined,
        startUrl: parsed.startUrl,
        collect: Object.freeze(parsed.collect ?? []),
        extract: Object.freeze((parsed.extract ?? []) as ExtractRule[]),
        apply: Object.freeze(
            parsed.oauth2 && !parsed.apply?.headers && !parsed.apply?.query
                ? { ...parsed.apply, headers: { Authorization: `Bearer {{${OAUTH2_ACCESS_TOKEN}}}` } }
                : (parsed.apply ?? {}),
        ),
        check,
        verify: parsed.verify ?? Boolean(check?.request),
        browser: Object.freeze({
            headless: parsed.browser?.headless ?? true,
            timeoutSecs: parsed.browser?.timeoutSecs ?? 60,
            collectTimeoutSecs: parsed.browser?.collectTimeoutSecs ?? 10,
        }),
        expiry: Object.freeze({
            afterSecs: parsed.expiry?.afterSecs,
            cookies: Object.freeze((parsed.expiry?.cookies ?? []).map((name) => name.toLowerCase())),
            learn: parsed.expiry?.learn ?? false,
        }),
    });
}

/** The credentials the steps use (names not extracted by an earlier step), and whether one uses `{{totp}}`. */
function credentialUsage(steps: readonly HttpLoginStep[], known: readonly string[]): { names: string[]; totp: boolean } {
    const extracted = new Set<string>(known);
    const names = new Set<string>();
    let totp = false;
    for (const step of steps) {
        for (const use of templateUses(step)) {
            if (extracted.has(use.name)) continue;
            if (use.name === TOTP_FIELD) totp = true;
            else names.add(use.name);
        }
        for (const rule of step.extract ?? []) extracted.add(rule.name);
    }
    return { names: [...names], totp };
}
