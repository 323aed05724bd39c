import { stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';

import { z } from 'zod';

import { importModuleFile } from '../shared/typescript-import.js';
import { ConfigValidationError, parseWithZod } from '../shared/validation.js';
import { explicitPortOf, maskCredentials } from '../shared/redact.js';
import { describeWireValueProblem, findWireValueProblem } from '../shared/wire-values.js';

/**
 * A client identity a session can be bound to: the proxy its traffic goes through and the user agent it
 * presents. Every session keeps the same profile for its whole life, so a site sees one consistent client.
 *
 * At least one of `proxy` and `userAgent` is set. Define profiles with {@link defineProfiles} or load them
 * from a file with {@link loadProfiles}; both validate them.
 */
export interface Profile {
    /**
     * Proxy URL for all traffic of sessions using this profile: `http:`, `https:` or `socks5:`, with a host
     * and an explicit port, e.g. `http://user:pass@proxy.example.com:8000`.
     * Passwords are never logged (see `redactProxyUrl`).
     * @default undefined (direct connection, or whatever proxy the crawler is configured with)
     */
    readonly proxy?: string;
    /**
     * `User-Agent` header sent by sessions using this profile: 1–1000 characters of printable ASCII (tabs
     * allowed), like every real browser's; its browser family (Chrome, Edge, Firefox, Safari) decides the other
     * generated headers.
     * @default undefined (the crawler's own user agent / fingerprint)
     */
    readonly userAgent?: string;
    /**
     * Label used in logs and statistics instead of the (redacted) proxy URL.
     * @default undefined
     */
    readonly name?: string;
}

/** Proxy URL schemes a profile may use. */
export const SUPPORTED_PROXY_PROTOCOLS = ['http:', 'https:', 'socks5:'] as const;

/** Longest accepted `Profile.userAgent`. */
export const MAX_USER_AGENT_LENGTH = 1000;

/** The export names {@link loadProfiles} looks for, in order. */
export const PROFILE_MODULE_EXPORTS = ['default', 'profiles'] as const;

const PROXY_URL_EXAMPLE = 'http://user:pass@host:port';
const PROXY_URL_HINT = `must be a URL like ${PROXY_URL_EXAMPLE}`;

/**
 * Zod schema of `Profile.proxy`: an `http:`, `https:` or `socks5:` URL with a host and an explicit port.
 */
export const proxyUrlSchema = z.string({ error: `${PROXY_URL_HINT}, given as a string` }).superRefine((value, ctx) => {
    const problem = findProxyUrlProblem(value);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

/**
 * Zod schema of `Profile.userAgent`: 1–1000 characters of printable ASCII (a valid header value): no CR, LF or
 * NUL (which would inject extra HTTP headers), no other control character and no non-ASCII character (`…`, curly
 * quotes), which Node refuses to send, so that every request of the profile's sessions would fail. The message
 * names the offending character and its position (a User-Agent is not a secret).
 */
export const userAgentSchema = z
    .string({ error: 'must be a string' })
    .min(1, { error: 'must not be empty' })
    .max(MAX_USER_AGENT_LENGTH, { error: `must be at most ${MAX_USER_AGENT_LENGTH} characters long` })
    .superRefine((value, ctx) => {
        const problem = findWireValueProblem('header-value', value);
        if (problem) ctx.addIssue({ code: 'custom', message: describeWireValueProblem(problem, true) });
    });

/**
 * Zod schema of one {@link Profile}. Unknown keys are refused, so a typo such as `userAgnet` is reported
 * instead of silently ignored.
 */
export const profileSchema = z
    .strictObject(
        {
            proxy: proxyUrlSchema.optional(),
            userAgent: userAgentSchema.optional(),
            name: z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' }).optional(),
        },
        { error: (issue) => (issue.code === 'invalid_type' ? 'must be an object like { proxy, userAgent, name }' : undefined) },
    )
    .superRefine((profile, ctx) => {
        if (profile.proxy === undefined && profile.userAgent === undefined) {
            ctx.addIssue({ code: 'custom', message: 'a profile needs a proxy, a userAgent or both' });
        }
    });

/**
 * Zod schema of a profile list: a non-empty array of {@link Profile}s.
 */
export const profileListSchema = z
    .array(profileSchema, { error: `must be an array of profiles like [{ proxy: '${PROXY_URL_EXAMPLE}' }]` })
    .min(1, { error: 'must contain at least one profile' });

/**
 * Validates a list of profiles and returns it frozen (the list and every profile in it), ready to be
 * given to the session plugin.
 *
 * ```ts
 * export default defineProfiles([
 *     { name: 'de-1', proxy: 'http://bob:secret@de1.proxy.example:8000', userAgent: 'Mozilla/5.0 (X11; Linux x86_64) …' },
 *     { proxy: 'socks5://10.0.0.2:1080' },
 *     { userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) …' },
 * ]);
 * ```
 *
 * @param list The profiles; untrusted input is fine.
 * @throws {ConfigValidationError} naming the index and field of every bad entry, e.g.
 *   `Invalid profiles: profiles[1]: a profile needs a proxy, a userAgent or both`. Passwords are never shown.
 */
export function defineProfiles(list: readonly Profile[]): readonly Profile[];
export function defineProfiles(list: unknown): readonly Profile[];
export function defineProfiles(list: unknown): readonly Profile[] {
    const profiles: Profile[] = parseWithZod(profileListSchema, list, 'profiles');
    return Object.freeze(profiles.map((profile) => Object.freeze(profile)));
}

/**
 * Loads profiles from a module file and validates them like {@link defineProfiles}.
 *
 * The module's `default` export is used, or else its `profiles` export. TypeScript files (`.ts`, `.mts`,
 * `.cts`, `.tsx`) are imported through tsx, so they need no build step; other files (`.js`, `.mjs`, `.cjs`)
 * are imported natively. Modules are cached by Node like any import: loading the same path twice returns
 * the first result.
 *
 * ```ts
 * // profiles.ts
 * export const profiles = [{ proxy: 'http://bob:secret@127.0.0.1:8001' }];
 * // crawler
 * const profiles = await loadProfiles('./profiles.ts');
 * ```
 *
 * @param path Path of the module, absolute or relative to `process.cwd()`.
 * @throws {Error} when the file does not exist, cannot be imported, or has neither export (the message
 *   names the resolved path and the expected exports).
 * @throws {ConfigValidationError} when the exported value is not a valid profile list
 *   (its `source` is the resolved path).
 */
export async function loadProfiles(path: string): Promise<readonly Profile[]> {
    const absolutePath = resolve(process.cwd(), path);
    await assertIsFile(absolutePath, path);

    const moduleExports = unwrapModuleExports(await importProfileModule(absolutePath));
    const exportName = PROFILE_MODULE_EXPORTS.find((name) => moduleExports[name] !== undefined);
    if (exportName === undefined) {
        const found = Object.keys(moduleExports).filter((key) => key !== 'module.exports');
        throw new Error(
            `Cannot load profiles from ${absolutePath}: expected a default export or an export named "profiles" ` +
                `holding an array of profiles, but the module ${found.length === 0 ? 'has no exports' : `only exports ${found.join(', ')}`}.`,
        );
    }

    try {
        return defineProfiles(moduleExports[exportName]);
    } catch (error) {
        if (error instanceof ConfigValidationError) {
            throw new ConfigValidationError(error.subject, error.issues, { source: absolutePath });
        }
        throw error;
    }
}

/**
 * Returns why `value` is not an acceptable proxy URL, or `undefined` when it is.
 * The messages never quote the value (the caller shows it redacted).
 */
function findProxyUrlProblem(value: string): string | undefined {
    if (/[\s\u0000]/.test(value)) return `${PROXY_URL_HINT}, without spaces or line breaks`;
    let parsed: URL;
    try {
        parsed = new URL(value);
    } catch {
        return PROXY_URL_HINT;
    }
    if (!(SUPPORTED_PROXY_PROTOCOLS as readonly string[]).includes(parsed.protocol)) {
        return `${PROXY_URL_HINT}; the scheme must be ${SUPPORTED_PROXY_PROTOCOLS.join(', ').replace(/, (?=[^,]*$)/, ' or ')}`;
    }
    if (parsed.hostname === '') return `${PROXY_URL_HINT}; the host is missing`;
    if (explicitPortOf(value) === undefined) return `${PROXY_URL_HINT}; the port is missing`;
    return undefined;
}

/** Throws a clear error unless `absolutePath` is an existing file. */
async function assertIsFile(absolutePath: string, givenPath: string): Promise<void> {
    const resolvedFrom = isAbsolute(givenPath) ? '' : ` (resolved "${givenPath}" against ${process.cwd()})`;
    let isFile: boolean;
    try {
        isFile = (await stat(absolutePath)).isFile();
    } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
            throw new Error(`Cannot load profiles: no such file ${absolutePath}${resolvedFrom}.`);
        }
        throw error;
    }
    if (!isFile) throw new Error(`Cannot load profiles: ${absolutePath}${resolvedFrom} is not a file.`);
}

/**
 * Imports the profile module: TypeScript through tsx's `tsImport`, anything else natively.
 * Import failures are rethrown with the path named and any credentials in the message masked: a syntax
 * error's message can quote the offending source line, which may hold a proxy password.
 */
async function importProfileModule(absolutePath: string): Promise<Record<string, unknown>> {
    try {
        return await importModuleFile(absolutePath, 'profiles');
    } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new Error(`Cannot load profiles from ${absolutePath}: importing the module failed: ${maskCredentials(reason)}`);
    }
}

/**
 * Returns the exports of a profile module as an object.
 *
 * A TypeScript file outside an ES-module package is compiled by tsx as CommonJS and shows up as
 * `{ default: module.exports, …named }`, where `module.exports` is marked `__esModule` and holds the real
 * `default` and named exports; that wrapper is looked through.
 */
function unwrapModuleExports(moduleNamespace: Record<string, unknown>): Record<string, unknown> {
    const defaultExport = moduleNamespace.default;
    const isCommonJsWrapper =
        typeof defaultExport === 'object' &&
        defaultExport !== null &&
        (defaultExport as Record<string, unknown>).__esModule === true;
    return isCommonJsWrapper ? (defaultExport as Record<string, unknown>) : moduleNamespace;
}
