import type { BrowserContext, Page } from 'playwright';
import { z } from 'zod';

import { originPatternProblem } from '../request/origin-scope.js';
import { parseWithZod } from '../shared/validation.js';
import { checkSchema, markValidated, type ValidityCheck, type ValidityCheckInput } from './check.js';
import { toCredentialSource, type CredentialInput, type CredentialSource, SecretValue } from './credentials.js';
import { extractRuleSchema, sourcesOf, type ExtractRule } from './extract.js';
import { refineOneBody, requestTemplateShape, templateUses, type RequestTemplate } from './request-template.js';
import { templateNames } from './template.js';

/** What a browser-mode login function receives. */
export interface BrowserLoginArgs<C extends string = string> {
    /** A fresh page in a context with the session's proxy and user agent (already at `startUrl` if one is set). */
    page: Page;
    /** The page's browser context. */
    context: BrowserContext;
    /** The recipe's credentials, resolved (environment variables read). Never log them. */
    credentials: Readonly<Record<C, string>>;
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
     * Credentials by name, usable as `{{name}}` in steps and passed to the browser login function: literal
     * strings, or `{ env: 'VARIABLE' }` read when the login runs. They never appear in logs, errors or stored
     * state. Default none.
     */
    credentials?: Record<C, CredentialInput>;
    /** HTTP mode: the requests of the login, in order. */
    steps?: HttpLoginStep[];
    /** Browser mode: the login function (Playwright). */
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
}

/** A validated recipe (see {@link defineLogin}). */
export interface LoginRecipe<C extends string = string> {
    readonly name: string;
    /** `http` when the recipe has steps, `browser` when it has a login function. */
    readonly mode: 'http' | 'browser';
    readonly credentials: Readonly<Record<C, CredentialSource>>;
    readonly steps: readonly HttpLoginStep[];
    readonly login: BrowserLoginFunction<C> | undefined;
    readonly startUrl: string | undefined;
    readonly collect: readonly string[];
    readonly extract: readonly ExtractRule[];
    readonly apply: Readonly<ApplyRules>;
    readonly check: ValidityCheck | undefined;
    readonly verify: boolean;
    readonly browser: Readonly<Required<BrowserLoginSettings>>;
}

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an absolute http: or https: URL' });

const stepSchema = z
    .strictObject({
        ...requestTemplateShape,
        extract: z.array(extractRuleSchema).optional(),
        expectStatus: z.array(z.number().int().min(100).max(599)).min(1).optional(),
    })
    .superRefine(refineOneBody);

/** Credentials are validated as a whole, so that no error message ever quotes one of their values. */
const credentialsSchema = z.unknown().superRefine((value, ctx) => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        ctx.addIssue({ code: 'custom', message: 'must be an object of name → string or { env: "VARIABLE" }' });
        return;
    }
    for (const [name, entry] of Object.entries(value)) {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
            ctx.addIssue({ code: 'custom', message: `"${name}" is not a usable credential name (letters, digits and _)` });
        }
        const isEnv =
            entry !== null &&
            typeof entry === 'object' &&
            Object.keys(entry).length === 1 &&
            typeof (entry as { env?: unknown }).env === 'string' &&
            /^[A-Za-z_][A-Za-z0-9_]*$/.test((entry as { env: string }).env);
        if (!isEnv && !(typeof entry === 'string' && entry.length > 0) && !(entry instanceof SecretValue)) {
            ctx.addIssue({
                code: 'custom',
                message: `"${name}" must be a non-empty string or { env: "VARIABLE_NAME" } (its value is not shown)`,
            });
        }
    }
});

const recipeSchema = z
    .strictObject({
        name: z.string().min(1).max(200),
        credentials: credentialsSchema.optional(),
        steps: z.array(stepSchema).min(1, { error: 'needs at least one step' }).optional(),
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
        browser: z
            .strictObject({
                headless: z.boolean().optional(),
                timeoutSecs: z.number().positive().max(3600).optional(),
                collectTimeoutSecs: z.number().min(0).max(600).optional(),
            })
            .optional(),
    })
    .superRefine((recipe, ctx) => {
        const http = recipe.steps !== undefined;
        const browser = recipe.login !== undefined;
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
        const credentialNames = new Set(
            recipe.credentials && typeof recipe.credentials === 'object' ? Object.keys(recipe.credentials as object) : [],
        );

        // Templates: steps may use credentials and values extracted by earlier steps.
        const extracted = new Set<string>();
        const claim = (name: string, path: PropertyKey[]) => {
            if (credentialNames.has(name)) ctx.addIssue({ code: 'custom', path, message: `"${name}" is already a credential's name` });
        };
        recipe.steps?.forEach((step, index) => {
            for (const use of templateUses(step as RequestTemplate)) {
                if (!credentialNames.has(use.name) && !extracted.has(use.name)) {
                    ctx.addIssue({
                        code: 'custom',
                        path: ['steps', index, ...use.path],
                        message: `uses {{${use.name}}}, which is neither a credential nor a value extracted by an earlier step`,
                    });
                }
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
                    message: credentialNames.has(name)
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
    });

/**
 * Validates a login recipe and returns it ready to run (`loginRenewal(recipe)`, `acquire(recipe)`). A bad recipe
 * is refused with a {@link ConfigValidationError} naming every bad field, e.g.
 * `Invalid login recipe: recipe.steps[1].form.csrf: uses {{csrf}}, which is neither a credential nor …`.
 * Credential values are never quoted in errors.
 */
export function defineLogin<C extends string = string>(input: LoginRecipeInput<C>): LoginRecipe<C> {
    const parsed = parseWithZod(recipeSchema, input, 'recipe');
    const credentials = Object.fromEntries(
        Object.entries((parsed.credentials ?? {}) as Record<string, CredentialInput | SecretValue>).map(([name, value]) => [
            name,
            toCredentialSource(value),
        ]),
    ) as Record<C, CredentialSource>;
    const check = parsed.check ? markValidated(Object.freeze(parsed.check as ValidityCheckInput)) : undefined;
    return Object.freeze({
        name: parsed.name,
        mode: parsed.steps ? 'http' : 'browser',
        credentials: Object.freeze(credentials),
        steps: Object.freeze((parsed.steps ?? []) as HttpLoginStep[]),
        login: parsed.login as BrowserLoginFunction<C> | undefined,
        startUrl: parsed.startUrl,
        collect: Object.freeze(parsed.collect ?? []),
        extract: Object.freeze((parsed.extract ?? []) as ExtractRule[]),
        apply: Object.freeze(parsed.apply ?? {}),
        check,
        verify: parsed.verify ?? Boolean(check?.request),
        browser: Object.freeze({
            headless: parsed.browser?.headless ?? true,
            timeoutSecs: parsed.browser?.timeoutSecs ?? 60,
            collectTimeoutSecs: parsed.browser?.collectTimeoutSecs ?? 10,
        }),
    });
}
