import type { Cookie } from 'tough-cookie';

import type { SessionAuth } from '../model/types.js';

/**
 * When a session's login ends, as the site announced it: the earliest end among its login credentials, and when
 * that credential was issued (the lifetime renewal ahead takes its fraction of).
 */
export interface SessionExpiry {
    /** When the login ends (ms since the epoch). */
    at: number;
    /** When the credential that ends first was issued (ms since the epoch); `at − issuedAt` is its lifetime. */
    issuedAt: number;
    /** Where the end comes from, without values: `cookie sid`, `jwt in header authorization`, `expires_in`, `afterSecs`. */
    source: string;
}

/** What {@link sessionExpiry} reads of a session. */
export interface ExpiryInput {
    /** The session's cookies (unexpired ones: an expired cookie is no longer sent). */
    cookies: readonly Cookie[];
    /** The values its login applies. */
    auth: SessionAuth | undefined;
    /** Whether a cookie is a login credential: a session token of its site, or named in the recipe's `expiry.cookies`. */
    isCredential: (cookie: Cookie) => boolean;
    /** Now (ms since the epoch). */
    now: number;
}

/**
 * The credential test of {@link ExpiryInput}: a cookie named in `expiryCookies` (lower-case names, a recipe's
 * `expiry.cookies`), or a session token of its host.
 */
export function credentialTest(
    expiryCookies: readonly string[],
    tokens: { isTokenOnHost(host: string, lowerName: string): boolean },
): (cookie: Cookie) => boolean {
    return (cookie) => {
        const lower = cookie.key.toLowerCase();
        return expiryCookies.includes(lower) || tokens.isTokenOnHost(cookie.domain ?? '', lower);
    };
}

/** The longest value searched for a JWT: anything longer is not a login value worth decoding. */
export const MAX_JWT_LENGTH = 8192;

/** A JWT `exp` or cookie expiry further than this from now is taken as no announced end (a session cookie in disguise). */
const FARTHEST_MILLIS = 10 * 365 * 24 * 3600 * 1000;
/** An `exp` older than this is taken as garbage, not as an expired login (clock skew aside, nobody issues those). */
const OLDEST_MILLIS = 365 * 24 * 3600 * 1000;

const JWT_PATTERN = /(?:^|[\s=:"'])(?:Bearer\s+)?(eyJ[A-Za-z0-9_-]{2,}\.(eyJ[A-Za-z0-9_-]{2,})\.[A-Za-z0-9_-]*)(?=$|[\s;,"'&])/;

/**
 * The `exp` (and `iat`) of a JWT found in `value` (a bare token, `Bearer <token>`, or a token inside a larger
 * value), in ms since the epoch. Decoded, not verified: it only tells when to renew. Anything malformed — too long,
 * bad base64, bad JSON, a non-numeric or absurd `exp` — is ignored (undefined), never thrown.
 */
export function jwtExpiry(value: string, now = Date.now()): { exp: number; iat: number | undefined } | undefined {
    if (typeof value !== 'string' || value.length > MAX_JWT_LENGTH || !value.includes('eyJ')) return undefined;
    const match = JWT_PATTERN.exec(value);
    if (!match) return undefined;
    let claims: unknown;
    try {
        claims = JSON.parse(Buffer.from(match[2]!, 'base64url').toString('utf8'));
    } catch {
        return undefined;
    }
    if (!claims || typeof claims !== 'object' || Array.isArray(claims)) return undefined;
    const { exp, iat } = claims as { exp?: unknown; iat?: unknown };
    if (typeof exp !== 'number' || !Number.isFinite(exp)) return undefined;
    const expMillis = exp * 1000;
    if (expMillis < now - OLDEST_MILLIS || expMillis > now + FARTHEST_MILLIS) return undefined;
    const iatMillis = typeof iat === 'number' && Number.isFinite(iat) && iat * 1000 <= expMillis && iat * 1000 > expMillis - FARTHEST_MILLIS ? iat * 1000 : undefined;
    return { exp: expMillis, iat: iatMillis };
}

/**
 * The earliest announced end of a session's login (see {@link SessionExpiry}); undefined when nothing announces one.
 * Reads the credential cookies' `Expires`/`Max-Age` (Max-Age counted from the cookie's creation, as tough-cookie
 * does), JWTs in credential cookies and in the login's headers, query parameters and extracted values, and
 * `auth.expiresAt` (an OAuth2 `expires_in`, or a recipe's `expiry.afterSecs`).
 */
export function sessionExpiry(input: ExpiryInput): SessionExpiry | undefined {
    const { now } = input;
    let best: SessionExpiry | undefined;
    const consider = (at: number, issuedAt: number | undefined, source: string) => {
        if (!Number.isFinite(at) || at > now + FARTHEST_MILLIS) return;
        if (!best || at < best.at) best = { at, issuedAt: Math.min(issuedAt ?? now, at), source };
    };
    const considerJwt = (value: string, source: string, issuedAt: number | undefined) => {
        const jwt = jwtExpiry(value, now);
        if (jwt) consider(jwt.exp, jwt.iat ?? issuedAt, `jwt in ${source}`);
    };
    for (const cookie of input.cookies) {
        if (!input.isCredential(cookie)) continue;
        const created = cookie.creation instanceof Date ? cookie.creation.getTime() : undefined;
        const end = cookieEnd(cookie, created ?? now);
        if (end !== undefined) consider(end, created, `cookie ${cookie.key}`);
        considerJwt(cookie.value, `cookie ${cookie.key}`, created);
    }
    const auth = input.auth;
    if (auth) {
        const issued = typeof auth.issuedAt === 'number' ? auth.issuedAt : undefined;
        if (typeof auth.expiresAt === 'number') consider(auth.expiresAt, issued, auth.expirySource ?? 'expires_in');
        for (const [name, value] of Object.entries(auth.headers ?? {})) considerJwt(value, `header ${name.toLowerCase()}`, issued);
        for (const [name, value] of Object.entries(auth.query ?? {})) considerJwt(value, `query ${name}`, issued);
        for (const [name, entry] of Object.entries(auth.values ?? {})) {
            if (entry && typeof entry.value === 'string') considerJwt(entry.value, `value ${name}`, issued);
        }
    }
    return best;
}

/**
 * When a cookie ends: Max-Age (which wins over Expires, RFC 6265 §5.3) counted from its creation, as browsers count
 * it (tough-cookie's own `expiryTime()` counts from the last access), else Expires; undefined for a session cookie.
 */
function cookieEnd(cookie: Cookie, created: number): number | undefined {
    const { maxAge, expires } = cookie;
    if (typeof maxAge === 'number' && Number.isFinite(maxAge)) return maxAge <= 0 ? created : created + maxAge * 1000;
    if (expires instanceof Date) {
        const at = expires.getTime();
        return Number.isFinite(at) ? at : undefined;
    }
    return undefined;
}

/** How far ahead of a login's end to renew it: the smaller of `marginSecs` and `fraction` of its lifetime. */
export interface RenewAheadMargin {
    marginSecs: number;
    fraction: number;
}

/** When a renewal ahead of `expiry` is due (ms since the epoch). */
export function renewalDueAt(expiry: SessionExpiry, margin: RenewAheadMargin): number {
    const lifetime = Math.max(0, expiry.at - expiry.issuedAt);
    return expiry.at - Math.min(margin.marginSecs * 1000, margin.fraction * lifetime);
}
