import { stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';

import { z } from 'zod';

import { accountIssues, type AccountInput } from '../acquisition/accounts.js';
import { defineLogin, type LoginRecipe, type LoginRecipeInput } from '../acquisition/recipe.js';
import { defineProfiles, type Profile } from '../profiles/profile.js';
import { maskCredentials } from '../shared/redact.js';
import { renameDeprecated } from '../shared/deprecation.js';
import { importModuleFile } from '../shared/typescript-import.js';
/** How failed logins are retried (the maintainer's `retry` option). */
export interface RenewalRetryOptions {
    /** Attempts in all, the first included. @default 4 */
    maxAttempts: number;
    /** The first backoff, in ms; doubled (with jitter) for each further attempt. @default 1000 */
    backoffMillis: number;
    /** The longest backoff, in ms. @default 60000 */
    maxBackoffMillis: number;
}

/** {@link RenewalRetryOptions} as given: any subset, and the old names for one more version. */
export interface RenewalRetryInput extends Partial<RenewalRetryOptions> {
    /** @deprecated Renamed to `backoffMillis` (Crawlee's unit names); still accepted, with a warning. */
    backoffMs?: number;
    /** @deprecated Renamed to `maxBackoffMillis`; still accepted, with a warning. */
    maxBackoffMs?: number;
}
import type { StoreChoice } from '../stores/open-store.js';
import { ConfigValidationError, parseWithZod, type ConfigValidationIssue } from '../shared/validation.js';
import { scheduleSchema, type Schedule, type ScheduleInput } from './schedule.js';
import { sessionIdStringSchema } from '../shared/ids.js';

/** Options renamed to Crawlee's unit names: old → new. */
const DEPRECATED_OPTIONS = {
    'retry.backoffMs': 'retry.backoffMillis',
    'retry.maxBackoffMs': 'retry.maxBackoffMillis',
    leaseMs: 'leaseMillis',
} as const;

/** One recipe the maintainer keeps sessions fresh with. */
export interface MaintainedRecipeInput {
    /** The login recipe: made with `defineLogin({…})`, or its plain definition (validated here). */
    recipe: LoginRecipe | LoginRecipeInput;
    /**
     * The ids of the sessions to keep logged in with this recipe (the ids crawlers put in
     * `request.userData.sessionId`). Each id belongs to one recipe only. Each session logs in with its own account
     * when the recipe has `accounts` (every listed session must have one); without them, all share the recipe's
     * `credentials`. Default: `[recipe.name]`.
     */
    sessions?: string[];
    /** When to check the sessions and refresh the failing ones (see {@link Schedule}). */
    schedule: ScheduleInput;
    /**
     * Recurring schedules: also run once as soon as the maintainer starts (sessions missing from the store are
     * then acquired at once). Default true.
     */
    runOnStart?: boolean;
    /**
     * `when-invalid`: send the recipe's check with each session and re-acquire only those that fail it (needs a
     * check with a request); `always`: re-acquire every session on every run. Sessions with nothing stored are
     * always acquired. Default: `when-invalid` when the recipe's check has a request, else `always`.
     */
    refresh?: 'when-invalid' | 'always';
    /**
     * Quick login: restore the state of the last good login (stored in the store) and verify it before logging in
     * for real. Needs a check with a request. Default: true for browser-mode recipes whose check has a request.
     */
    quickLogin?: boolean;
    /**
     * Credentials replacing fields of the account each session of this entry logs in with, for **every** session of
     * the entry (the `credentials` option of `loginRenewal`; see `AccountInput`). For several users give the recipe
     * `accounts` instead. Default: none (each session's account, or the recipe's credentials).
     */
    credentials?: AccountInput;
}

/** Concurrency limits of the maintainer (see {@link MaintainerConfigInput.concurrency}). */
export interface MaintainerConcurrency {
    /** Browser-mode logins at once (each runs a Chromium). Default 1. */
    browserLogins: number;
    /** HTTP-mode logins at once. Default 4. */
    httpLogins: number;
    /** Validity checks at once. Default 8. */
    checks: number;
}

/** What `defineMaintainerConfig` accepts (and `Maintainer.open`). */
export interface MaintainerConfigInput {
    /**
     * Where the sessions are kept, as for `Sessions.open({ store })`: `{ mysql: url }` to share them with crawler
     * processes, `{ embedded: {} }`, `'memory'`, or a store instance. Default: MySQL when
     * `CRAWLEE_SESSIONS_MYSQL_URL` is set, else the embedded store.
     */
    store?: StoreChoice;
    /** Encrypts session values at rest (as for `Sessions.open`). Default: `CRAWLEE_SESSIONS_SECRET`, else none. */
    secret?: string;
    /**
     * The profiles (proxy and/or User-Agent) the crawler processes use, in the same order: a session's profile is
     * stored as an index into this list. A session keeps its profile across refreshes; a new one gets the next
     * profile in turn. Default: none (direct connections, generated identities).
     */
    profiles?: readonly Profile[];
    /** The recipes and the sessions each keeps fresh; at least one. */
    recipes: MaintainedRecipeInput[];
    /** Concurrency limits; see {@link MaintainerConcurrency} for each field and its default. */
    concurrency?: Partial<MaintainerConcurrency>;
    /**
     * Retries of logins that could not reach the site (connection refused or reset, timeouts), with exponential
     * backoff and jitter; other failures (credentials refused, values not found) are not retried. Defaults:
     * 4 attempts, 1000 ms first backoff, 60 000 ms at most.
     */
    retry?: RenewalRetryInput;
    /**
     * How long a refresh holds the session's renewal lease in a shared store before another process may take over
     * (it is extended while the login runs), in ms.
     * @default 60000
     */
    leaseMillis?: number;
    /** @deprecated Renamed to `leaseMillis` (Crawlee's unit names); still accepted, with a warning. */
    leaseMs?: number;
    /** Browser-mode logins: the Chromium to launch. Default: see `findChromiumExecutable()`. */
    executablePath?: string;
}

/** One validated recipe entry of a {@link MaintainerConfig}, defaults applied. */
export interface MaintainedRecipe {
    readonly recipe: LoginRecipe;
    readonly sessions: readonly string[];
    readonly schedule: Schedule;
    readonly runOnStart: boolean;
    readonly refresh: 'when-invalid' | 'always';
    readonly quickLogin: boolean;
    readonly credentials: Readonly<AccountInput> | undefined;
}

/** A validated maintainer configuration, defaults applied (see {@link defineMaintainerConfig}). */
export interface MaintainerConfig {
    readonly store: StoreChoice | undefined;
    readonly secret: string | undefined;
    readonly profiles: readonly Profile[];
    readonly recipes: readonly MaintainedRecipe[];
    readonly concurrency: Readonly<MaintainerConcurrency>;
    readonly retry: Readonly<RenewalRetryOptions>;
    readonly leaseMillis: number;
    readonly executablePath: string | undefined;
}

const entrySchema = z.strictObject({
    recipe: z.custom<object>((value) => typeof value === 'object' && value !== null, {
        message: 'must be a login recipe: defineLogin({ … }) or its definition',
    }),
    sessions: z.array(sessionIdStringSchema).min(1).optional(),
    schedule: scheduleSchema,
    runOnStart: z.boolean().optional(),
    refresh: z.enum(['when-invalid', 'always']).optional(),
    quickLogin: z.boolean().optional(),
    credentials: z.record(z.string(), z.unknown()).optional(),
});

const configSchema = z.strictObject({
    store: z.unknown().optional(),
    secret: z.string().min(8).optional(),
    profiles: z.array(z.unknown()).optional(),
    recipes: z.array(entrySchema).min(1, { message: 'needs at least one recipe' }),
    concurrency: z
        .strictObject({
            browserLogins: z.number().int().min(1).max(64).optional(),
            httpLogins: z.number().int().min(1).max(1000).optional(),
            checks: z.number().int().min(1).max(1000).optional(),
        })
        .optional(),
    retry: z
        .strictObject({
            maxAttempts: z.number().int().min(1).max(100).optional(),
            backoffMillis: z.number().min(0).max(3_600_000).optional(),
            maxBackoffMillis: z.number().min(0).max(86_400_000).optional(),
        })
        .optional(),
    leaseMillis: z.number().int().min(1000).max(3_600_000).optional(),
    executablePath: z.string().min(1).optional(),
});

/**
 * Marks configurations that went through {@link defineMaintainerConfig}. A registered symbol, so that a config
 * module which imported another copy of this package (a config file loaded by the CLI, say) is recognised too.
 */
const DEFINED = Symbol.for('crawlee-sessions.maintainer-config');

/** Whether a value is a recipe returned by `defineLogin` (frozen, with its mode resolved). */
function isDefinedRecipe(value: object): value is LoginRecipe {
    const recipe = value as Partial<LoginRecipe>;
    return Object.isFrozen(value) && (recipe.mode === 'http' || recipe.mode === 'browser') && typeof recipe.verify === 'boolean';
}

/**
 * Validates a maintainer configuration and applies its defaults. Every problem is reported with its path, e.g.
 * `Invalid maintainer config: config.recipes[1].schedule.at: must be a time of day written HH:MM …` or
 * `config.recipes[0].sessions[2]: session "alice" is already maintained by recipe "shop"`. Recipes given as plain
 * definitions are validated with `defineLogin` (their problems named under `config.recipes[i].recipe`).
 *
 * ```ts
 * // sessions.config.ts
 * export default defineMaintainerConfig({
 *     store: { mysql: process.env.SESSIONS_DB! },
 *     recipes: [{ recipe: shopLogin, sessions: ['alice', 'bob'], schedule: { kind: 'interval', everyMillis: 15 * 60_000 } }],
 * });
 * ```
 */
export function defineMaintainerConfig(input: MaintainerConfigInput): MaintainerConfig {
    if ((input as unknown as Record<symbol, unknown>)[DEFINED] === true) return input as unknown as MaintainerConfig;
    const parsed = parseWithZod(configSchema, renameDeprecated(input, 'defineMaintainerConfig()', DEPRECATED_OPTIONS), 'config');
    const issues: ConfigValidationIssue[] = [];
    const owners = new Map<string, string>();

    const recipes = parsed.recipes.map((entry, index): MaintainedRecipe | undefined => {
        let recipe: LoginRecipe;
        if (isDefinedRecipe(entry.recipe)) {
            recipe = entry.recipe;
        } else {
            try {
                recipe = defineLogin(entry.recipe as LoginRecipeInput);
            } catch (error) {
                if (!(error instanceof ConfigValidationError)) throw error;
                for (const issue of error.issues) {
                    issues.push({ path: joinPath(`recipes[${index}].recipe`, issue.path), message: issue.message });
                }
                return undefined;
            }
        }
        const sessions = entry.sessions ?? [recipe.name];
        sessions.forEach((session, sessionIndex) => {
            const owner = owners.get(session);
            if (owner !== undefined) {
                issues.push({
                    path: entry.sessions ? `recipes[${index}].sessions[${sessionIndex}]` : `recipes[${index}].sessions`,
                    message: `session "${session}" is already maintained by recipe "${owner}"`,
                });
            }
            owners.set(session, recipe.name);
        });
        const checkable = Boolean(recipe.check?.request);
        if (entry.refresh === 'when-invalid' && !checkable) {
            issues.push({
                path: `recipes[${index}].refresh`,
                message: `"when-invalid" needs a check with a request, and recipe "${recipe.name}" has none`,
            });
        }
        if (entry.quickLogin && !checkable) {
            issues.push({ path: `recipes[${index}].quickLogin`, message: `needs a check with a request, and recipe "${recipe.name}" has none` });
        }
        if (entry.credentials !== undefined) {
            for (const issue of accountIssues(entry.credentials, ['credentials'], { allowTotp: true, requireFields: false })) {
                issues.push({ path: `recipes[${index}].${issue.path}`, message: issue.message });
            }
        }
        // With accounts, every session must have its own (an accounts function is asked when the session logs in).
        const { accounts } = recipe;
        if (accounts?.kind === 'record') {
            sessions.forEach((session, sessionIndex) => {
                if (accounts.accounts.has(session)) return;
                issues.push({
                    path: entry.sessions ? `recipes[${index}].sessions[${sessionIndex}]` : `recipes[${index}].sessions`,
                    message: `session "${session}" has no account in recipe "${recipe.name}": a session logs in only with its own account`,
                });
            });
        }
        return {
            recipe,
            sessions: Object.freeze([...sessions]),
            schedule: entry.schedule as Schedule,
            runOnStart: entry.runOnStart ?? true,
            refresh: entry.refresh ?? (checkable ? 'when-invalid' : 'always'),
            quickLogin: entry.quickLogin ?? (checkable && recipe.mode === 'browser'),
            credentials: entry.credentials as AccountInput | undefined,
        };
    });

    let profiles: readonly Profile[] = [];
    if (parsed.profiles && parsed.profiles.length > 0) {
        try {
            profiles = defineProfiles(parsed.profiles);
        } catch (error) {
            if (!(error instanceof ConfigValidationError)) throw error;
            for (const issue of error.issues) issues.push({ path: joinPath('profiles', issue.path), message: issue.message });
        }
    }
    if (issues.length > 0) throw new ConfigValidationError('config', issues);

    const config: MaintainerConfig = {
        store: parsed.store as StoreChoice | undefined,
        secret: parsed.secret,
        profiles,
        recipes: Object.freeze(recipes.map((entry) => Object.freeze(entry!))),
        concurrency: Object.freeze({ browserLogins: 1, httpLogins: 4, checks: 8, ...parsed.concurrency }),
        retry: Object.freeze({ maxAttempts: 4, backoffMillis: 1000, maxBackoffMillis: 60_000, ...parsed.retry }),
        leaseMillis: parsed.leaseMillis ?? 60_000,
        executablePath: parsed.executablePath,
    };
    Object.defineProperty(config, DEFINED, { value: true });
    return Object.freeze(config);
}

/** `recipes[0].recipe` + `steps[1].url` → `recipes[0].recipe.steps[1].url`. */
function joinPath(prefix: string, path: string): string {
    if (path === '') return prefix;
    return path.startsWith('[') ? `${prefix}${path}` : `${prefix}.${path}`;
}

/**
 * Loads a maintainer configuration module (`sessions.config.ts`, or `.js`/`.mjs`): TypeScript is compiled on the fly
 * with tsx. Takes the module's default export, or its export named `config`, and validates it with
 * {@link defineMaintainerConfig}; problems are reported with the file named.
 */
export async function loadMaintainerConfig(path: string): Promise<MaintainerConfig> {
    const absolutePath = resolve(path);
    try {
        if (!(await stat(absolutePath)).isFile()) throw new Error('not a file');
    } catch {
        const resolvedFrom = isAbsolute(path) ? '' : ` (resolved "${path}" against ${process.cwd()})`;
        throw new Error(`Cannot load the maintainer config: no such file ${absolutePath}${resolvedFrom}.`);
    }
    let moduleExports: Record<string, unknown>;
    try {
        moduleExports = await importModuleFile(absolutePath, 'the maintainer config');
    } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new Error(`Cannot load the maintainer config from ${absolutePath}: importing the module failed: ${maskCredentials(reason)}`);
    }
    // A TypeScript file outside an ES-module package is compiled as CommonJS: look through that wrapper.
    const inner = moduleExports.default as Record<string, unknown> | undefined;
    if (inner && typeof inner === 'object' && inner.__esModule === true) moduleExports = inner;
    const config = moduleExports.default ?? moduleExports.config;
    if (config === undefined) {
        throw new Error(
            `Cannot load the maintainer config from ${absolutePath}: expected a default export (or an export named "config") ` +
                'made with defineMaintainerConfig({ … }).',
        );
    }
    try {
        return defineMaintainerConfig(config as MaintainerConfigInput);
    } catch (error) {
        if (error instanceof ConfigValidationError) throw new ConfigValidationError(error.subject, error.issues, { source: absolutePath });
        throw error;
    }
}
