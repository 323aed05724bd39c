import { Cookie, CookieJar } from 'tough-cookie';

import { BoundedCookieStore, MAX_COOKIE_BYTES, cookieBytes, fitsCookieSize } from './bounded-cookie-store.js';
import { rememberSetCookie, setCookieOriginOf, splitSetCookie, storeRepeatedSetCookie } from './set-cookie-memo.js';
import { ConfigValidationError, type ConfigValidationIssue } from './validation.js';
import { describeWireValueProblem, findWireValueProblem, type WireValueKind } from './wire-values.js';

/** A cookie given as a plain object, e.g. collected outside the crawl. */
export interface CookieInit {
    name: string;
    value: string;
    /** Without a domain the cookie is host-only for the URL it is added for. */
    domain?: string;
    /** Default: the default path of the URL it is added for. */
    path?: string;
    /** Seconds since the epoch, or a Date. Absent or -1: a session cookie. */
    expires?: number | Date;
    httpOnly?: boolean;
    secure?: boolean;
    sameSite?: 'Strict' | 'Lax' | 'None' | 'strict' | 'lax' | 'none';
}

/** Anything {@link Sessions.addCookies} accepts: tough-cookie Cookies, raw `Set-Cookie` strings or plain objects. */
export type CookieInput = Cookie | string | CookieInit;

/** The formats {@link Sessions.get} returns a session's cookies in. */
export type CookieFormat = 'cookies' | 'dict' | 'header';

/** Options of tough-cookie used for every write: lenient like a browser, never throwing on one bad cookie. */
const SET_OPTIONS = { ignoreError: true, loose: true } as const;

/**
 * A fresh, synchronous, in-memory cookie jar with tough-cookie's RFC 6265 rules and a browser's limits (see
 * {@link BoundedCookieStore}: 4096 bytes per cookie, 180 per site, 3300 per jar). Logins and the maintainer use
 * it; session jars use the same limits through their tracking store.
 */
export function createJar(): CookieJar {
    return new CookieJar(new BoundedCookieStore(), { looseMode: true });
}

/**
 * Stores every `Set-Cookie` header value of a response received from `url` into the jar, as tough-cookie's
 * `setCookieSync` does. In a jar of this package a header repeating how a stored cookie was last set (same name,
 * attributes and origin: a new visit counter, a rolling id) is stored in place without tough-cookie's parse and
 * checks, with the same result (see `set-cookie-memo.ts`).
 */
export function storeSetCookieHeaders(jar: CookieJar, setCookie: string | string[] | undefined, url: string | URL): number {
    if (!setCookie) return 0;
    const values = Array.isArray(setCookie) ? setCookie : [setCookie];
    const store = jar.store instanceof BoundedCookieStore ? jar.store : undefined;
    const parsed = store ? parsedUrl(url) : undefined;
    const origin = parsed && setCookieOriginOf(parsed);
    const now = Date.now();
    let stored = 0;
    for (const value of values) {
        const split = origin ? splitSetCookie(value) : undefined;
        if (split && storeRepeatedSetCookie(store!, split, origin!, parsed!, now, value)) {
            stored++;
            continue;
        }
        const cookie = jar.setCookieSync(value, parsed ?? url, SET_OPTIONS); // parsed once for the response, not per header
        if (!cookie) continue;
        stored++;
        if (split) rememberSetCookie(store!, cookie, split, origin!);
    }
    return stored;
}

function parsedUrl(url: string | URL): URL | undefined {
    if (typeof url !== 'string') return url;
    try {
        return new URL(url);
    } catch {
        return undefined; // tough-cookie decides what an unparseable URL means
    }
}

/** Converts one {@link CookieInput} to a tough-cookie Cookie (undefined when a raw string does not parse). */
export function toToughCookie(input: CookieInput): Cookie | undefined {
    if (input instanceof Cookie) return input;
    if (typeof input === 'string') return Cookie.parse(input, { loose: true }) ?? undefined;
    const expires =
        input.expires === undefined || input.expires === -1
            ? 'Infinity'
            : input.expires instanceof Date
              ? input.expires
              : new Date(input.expires * 1000);
    const domain = input.domain?.replace(/^\./, '');
    return new Cookie({
        key: input.name,
        value: input.value,
        domain: domain ?? null,
        path: input.path ?? null,
        expires,
        httpOnly: input.httpOnly ?? false,
        secure: input.secure ?? false,
        sameSite: input.sameSite?.toLowerCase(),
    });
}

/** Options of {@link addCookiesToJar}. */
export interface AddCookiesOptions {
    /**
     * What the cookies are called in an error message: `cookies[1].value: …`.
     * @default 'cookies'
     */
    subject?: string;
}

/**
 * Adds cookies to a jar as if they had been received from `url`; returns how many the jar accepted (tough-cookie
 * still refuses, silently like a browser, cookies whose domain does not match `url`).
 *
 * Every cookie is checked first, and if any is bad none is added: a {@link ConfigValidationError} names each bad one
 * by index and field (`cookies[1].value: must not contain ";" …`), never showing a value. A cookie is refused when
 *
 * - its name is empty or holds whitespace, `=`, `;`, `,`, `"`, control or non-ASCII characters;
 * - its value holds `;` (on the wire the rest would become another cookie), control characters (CR, LF, NUL …) or
 *   non-ASCII characters — nothing is encoded behind the caller's back: percent-encode such values first, as sites do;
 * - a raw `Set-Cookie` string holds control or non-ASCII characters, or does not parse;
 * - its domain or path holds `;`, control or non-ASCII characters;
 * - its name and value together exceed {@link MAX_COOKIE_BYTES} bytes (browsers refuse those too).
 *
 * The jar's per-site and per-jar limits apply as to any cookie: adding more than 180 cookies for one site keeps the
 * most recently used ones (see {@link BoundedCookieStore}).
 */
export function addCookiesToJar(jar: CookieJar, cookies: readonly CookieInput[], url: string | URL, options: AddCookiesOptions = {}): number {
    const subject = options.subject ?? 'cookies';
    const issues: ConfigValidationIssue[] = [];
    const parsed = cookies.map((input, index) => validatedCookie(input, `[${index}]`, issues));
    if (issues.length > 0) throw new ConfigValidationError(subject, issues);
    let added = 0;
    for (const cookie of parsed) {
        if (cookie && jar.setCookieSync(cookie, url, SET_OPTIONS)) added++;
    }
    return added;
}

/** Converts and checks one cookie to add; its problems go to `issues`. */
function validatedCookie(input: unknown, path: string, issues: ConfigValidationIssue[]): Cookie | undefined {
    const count = issues.length;
    const check = (field: string, kind: WireValueKind, value: unknown): void => {
        if (typeof value !== 'string') {
            issues.push({ path: `${path}${field}`, message: 'must be a string' });
            return;
        }
        const problem = findWireValueProblem(kind, value);
        if (problem) issues.push({ path: `${path}${field}`, message: describeWireValueProblem(problem) });
    };
    let cookie: Cookie | undefined;
    let nameField = '.name';
    if (typeof input === 'string') {
        check('', 'header-value', input);
        if (issues.length > count) return undefined;
        cookie = Cookie.parse(input, { loose: true }) ?? undefined;
        if (!cookie) issues.push({ path, message: 'is not a Set-Cookie string like "sid=abc; Path=/"' });
    } else if (input instanceof Cookie) {
        cookie = input;
        nameField = '.key';
    } else if (typeof input === 'object' && input !== null) {
        const init = input as Partial<CookieInit>;
        check('.name', 'cookie-name', init.name);
        check('.value', 'cookie-value', init.value);
        if (init.domain !== undefined) check('.domain', 'cookie-value', init.domain);
        if (init.path !== undefined) check('.path', 'cookie-value', init.path);
        if (issues.length === count) cookie = toToughCookie(init as CookieInit);
    } else {
        issues.push({ path, message: 'must be a Set-Cookie string, a { name, value } object or a tough-cookie Cookie' });
    }
    if (!cookie || issues.length > count) return undefined;
    // A parsed string or a Cookie obeys the same rules as a { name, value } object (checked again: cheap).
    check(nameField, 'cookie-name', cookie.key);
    check('.value', 'cookie-value', cookie.value);
    if (issues.length > count) return undefined;
    if (!fitsCookieSize(cookie.key, cookie.value)) {
        issues.push({
            path,
            message: `is ${cookieBytes(cookie.key, cookie.value)} bytes long (name and value): browsers refuse cookies over ${MAX_COOKIE_BYTES} bytes`,
        });
        return undefined;
    }
    return cookie;
}

/**
 * Every unexpired cookie in the jar, whatever its domain, in creation order. They are copies: changing them does
 * not change the jar.
 */
export function allCookies(jar: CookieJar): Cookie[] {
    if (jar.store instanceof BoundedCookieStore) return jar.store.unexpiredCookies();
    let stored: Cookie[] = [];
    jar.store.getAllCookies((_error: Error | null, cookies?: Cookie[]) => {
        stored = cookies ?? [];
    });
    const now = Date.now();
    const cookies: Cookie[] = [];
    for (const cookie of stored) {
        // A shallow copy is enough (and ~6× cheaper than clone()): a Cookie's fields are strings, numbers and Dates.
        if (cookie.TTL(now) > 0) cookies.push(Object.assign(Object.create(Cookie.prototype) as Cookie, cookie));
    }
    return cookies;
}

/** A name → value record; with several cookies of one name the most specific (first sent) wins. */
export function cookiesToDict(cookies: readonly Cookie[]): Record<string, string> {
    const dict: Record<string, string> = {};
    for (const cookie of cookies) {
        if (!(cookie.key in dict)) dict[cookie.key] = cookie.value;
    }
    return dict;
}

/**
 * Parses a `Cookie` request header into name/value pairs. Only the first `=` separates name and value, so
 * values containing `=` (base64, JWTs) survive intact.
 */
export function parseCookieHeader(header: string | readonly string[] | undefined): Array<[string, string]> {
    if (!header) return [];
    const text = Array.isArray(header) ? header.join('; ') : (header as string);
    const pairs: Array<[string, string]> = [];
    for (const part of text.split(';')) {
        const trimmed = part.trim();
        if (!trimmed) continue;
        const eq = trimmed.indexOf('=');
        if (eq === -1) pairs.push(['', trimmed]);
        else pairs.push([trimmed.slice(0, eq).trim(), trimmed.slice(eq + 1).trim()]);
    }
    return pairs;
}

/** Joins Cookie header fragments; a later fragment's cookie replaces an earlier one of the same name. */
export function mergeCookieHeaders(...headers: Array<string | readonly string[] | undefined>): string {
    const merged = new Map<string, string>();
    for (const header of headers) {
        for (const [name, value] of parseCookieHeader(header)) {
            merged.delete(name);
            merged.set(name, value);
        }
    }
    return [...merged].map(([name, value]) => (name ? `${name}=${value}` : value)).join('; ');
}
