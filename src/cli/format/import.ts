import { Cookie, CookieJar } from 'tough-cookie';
import { z } from 'zod';

import { fromPlaywrightCookies, type PlaywrightCookie } from '../../browser/cookies.js';
import { parseCookieHeader } from '../../shared/cookies.js';
import { ConfigValidationError, parseWithZod } from '../../shared/validation.js';
import { CliError, UsageError } from '../errors.js';
import { NETSCAPE_HEADER, NETSCAPE_HTTP_ONLY_PREFIX, type CookieFileFormat } from './export.js';

/** What {@link parseCookieFile} read. */
export interface ParsedCookieFile {
    format: CookieFileFormat;
    cookies: Cookie[];
    /** Things that were in the file and are not imported, in words (e.g. a storage state's localStorage). */
    notes: string[];
}

/** Options of {@link parseCookieFile}. */
export interface ParseCookieFileOptions {
    /** The format; default: detected (see {@link detectCookieFormat}). */
    format?: CookieFileFormat;
    /** The URL the cookies of a Cookie header belong to (required for that format only). */
    url?: string;
    /** How the file is named in messages. */
    source: string;
}

/**
 * Guesses the format of a cookie file: JSON is a Playwright storage state; text with the Netscape header or with
 * tab-separated lines of 6–7 fields is a Netscape cookie file; anything else is a Cookie header.
 */
export function detectCookieFormat(text: string): CookieFileFormat {
    const trimmed = text.trimStart();
    if (trimmed.startsWith('{') || trimmed.startsWith('[')) return 'playwright';
    const lines = trimmed.split(/\r?\n/);
    if (lines.some((line) => line.startsWith(NETSCAPE_HEADER) || line.startsWith('# HTTP Cookie File'))) return 'netscape';
    if (lines.some((line) => (!line.startsWith('#') || line.startsWith(NETSCAPE_HTTP_ONLY_PREFIX)) && line.split('\t').length >= 6)) {
        return 'netscape';
    }
    return 'header';
}

/**
 * Reads the cookies of a Playwright storage state, a Netscape cookie file or a Cookie header. Problems are reported
 * with where they are (field path or line number), never with a cookie value.
 */
export function parseCookieFile(text: string, options: ParseCookieFileOptions): ParsedCookieFile {
    const format = options.format ?? detectCookieFormat(text);
    switch (format) {
        case 'playwright':
            return { format, ...parsePlaywrightStorageState(text, options.source) };
        case 'netscape':
            return { format, cookies: parseNetscapeCookieFile(text, options.source), notes: [] };
        case 'header':
            if (!options.url) {
                throw new UsageError(`--url is required to import a Cookie header (${options.source} holds one): it says which site the cookies belong to`);
            }
            return { format, cookies: cookiesFromCookieHeader(text, options.url, options.source), notes: [] };
    }
}

const playwrightCookieSchema = z.object({
    name: z.string().min(1),
    value: z.string(),
    domain: z.string().min(1),
    path: z.string().default('/'),
    expires: z.number().default(-1),
    httpOnly: z.boolean().default(false),
    secure: z.boolean().default(false),
    sameSite: z.enum(['Strict', 'Lax', 'None']).default('Lax'),
});

const storageStateSchema = z.preprocess(
    // A bare array of cookies (what `context.cookies()` returns) is accepted too.
    (value) => (Array.isArray(value) ? { cookies: value } : value),
    z.object({
        cookies: z.array(playwrightCookieSchema),
        origins: z.array(z.object({ origin: z.string() }).loose()).optional(),
    }),
);

/** A Playwright storage state (or a bare array of Playwright cookies). */
function parsePlaywrightStorageState(text: string, source: string): { cookies: Cookie[]; notes: string[] } {
    let json: unknown;
    try {
        json = JSON.parse(text);
    } catch {
        // Not quoting the parser's message: V8 cites the text around the error, which may be a cookie value.
        throw new CliError(`${source} is not valid JSON: expected a Playwright storage state`);
    }
    let state: z.output<typeof storageStateSchema>;
    try {
        state = parseWithZod(storageStateSchema, json, 'storageState');
    } catch (error) {
        // The file is wrong, not the command line: a failure (exit 1), with where in the file.
        if (error instanceof ConfigValidationError) throw new CliError(`${source} is not a Playwright storage state: ${error.message}`);
        throw error;
    }
    const notes: string[] = [];
    const origins = state.origins?.filter((origin) => Array.isArray(origin.localStorage) && origin.localStorage.length > 0) ?? [];
    if (origins.length > 0) {
        notes.push(`the localStorage of ${origins.length} origin(s) was not imported: sessions hold cookies only`);
    }
    return { cookies: fromPlaywrightCookies(state.cookies as PlaywrightCookie[]), notes };
}

/**
 * A Netscape cookie file as curl and wget write it. Lines starting with `#` are comments, except `#HttpOnly_`
 * (curl's prefix for HttpOnly cookies); a domain cookie has `TRUE` in the second field (or a leading dot);
 * expiry `0` is a session cookie.
 */
export function parseNetscapeCookieFile(text: string, source: string): Cookie[] {
    const cookies: Cookie[] = [];
    text.split(/\r?\n/).forEach((rawLine, index) => {
        let line = rawLine;
        const httpOnly = line.startsWith(NETSCAPE_HTTP_ONLY_PREFIX);
        if (httpOnly) line = line.slice(NETSCAPE_HTTP_ONLY_PREFIX.length);
        else if (line.trim() === '' || line.startsWith('#')) return;
        const where = `${source} line ${index + 1}`;
        const fields = line.split('\t');
        if (fields.length === 6) fields.push(''); // an empty value, as some tools write it
        if (fields.length !== 7) {
            throw new CliError(`${where}: expected 7 tab-separated fields (domain, subdomains, path, secure, expiry, name, value), found ${fields.length}`);
        }
        const [domainField, subdomains, path, secure, expiry, name, value] = fields as [string, string, string, string, string, string, string];
        if (!/^(TRUE|FALSE)$/i.test(subdomains) || !/^(TRUE|FALSE)$/i.test(secure)) {
            throw new CliError(`${where}: the include-subdomains and secure fields must be TRUE or FALSE`);
        }
        if (!/^-?\d+$/.test(expiry)) throw new CliError(`${where}: the expiry must be whole seconds since the epoch (0 for a session cookie)`);
        const domain = domainField.replace(/^\./, '').toLowerCase();
        if (domain === '' || name === '') throw new CliError(`${where}: the domain and the cookie name must not be empty`);
        const seconds = Number(expiry);
        cookies.push(
            new Cookie({
                key: name,
                value,
                domain,
                hostOnly: !(subdomains.toUpperCase() === 'TRUE' || domainField.startsWith('.')),
                path: path || '/',
                secure: secure.toUpperCase() === 'TRUE',
                httpOnly,
                expires: seconds <= 0 ? 'Infinity' : new Date(seconds * 1000),
            }),
        );
    });
    return cookies;
}

/**
 * A Cookie request header (`Cookie: a=1; b=2`, or just `a=1; b=2`): every pair becomes a host-only cookie of the
 * URL's host with path `/`, no expiry and no flags (a Cookie header says nothing else).
 */
export function cookiesFromCookieHeader(text: string, url: string, source: string): Cookie[] {
    const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '');
    if (lines.length !== 1) throw new CliError(`${source}: expected one Cookie header line, found ${lines.length} lines`);
    const value = lines[0]!.replace(/^\s*cookie\s*:/i, '').trim();
    const jar = new CookieJar();
    const cookies: Cookie[] = [];
    parseCookieHeader(value).forEach(([name, pairValue], index) => {
        if (name === '') throw new CliError(`${source}: cookie ${index + 1} of the header is not a name=value pair`);
        const cookie = new Cookie({ key: name, value: pairValue, path: '/' });
        // Storing it for the URL gives it the URL's host (host-only), as a browser would.
        const stored = jar.setCookieSync(cookie, url, { ignoreError: true });
        if (!stored) throw new CliError(`${source}: cookie "${name}" cannot be stored for ${new URL(url).host}`);
        cookies.push(stored);
    });
    if (cookies.length === 0) throw new CliError(`${source}: the Cookie header holds no cookie`);
    return cookies;
}
