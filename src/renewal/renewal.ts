import type { CookieJar } from 'tough-cookie';

import type { SessionIdentity } from '../model/identity.js';
import type { SessionAuth, SessionStore } from '../model/types.js';
import type { Profile } from '../profiles/profile.js';
import type { SessionHttpClient, SessionRequest } from '../request/session-client.js';
import { CrawleeSessionsError, ERROR_CODES } from '../shared/errors.js';
import { isTransientStatus } from '../shared/retry.js';

/** What a renewal function receives. */
export interface RenewalContext {
    /** The session being renewed. */
    sessionId: string;
    /** The generation the renewal fills (already bumped by the clear). */
    generation: number;
    /** The fresh profile assigned to the session, if profiles are used. */
    profile: Profile | undefined;
    /** The identity the renewal and the session's later requests present. */
    identity: SessionIdentity;
    /**
     * An HTTP client bound to the session's jar, new profile and identity, going through the session's request
     * path; follows redirects like a browser.
     */
    http: SessionHttpClient;
    /** The session's (emptied) cookie jar, for cookies obtained some other way. */
    jar: CookieJar;
    /** 1 for the first attempt, 2 for the first retry, … */
    attempt: number;
    /**
     * Aborted when the attempt's deadline (`renewal.timeoutSecs`) passes or the session is closed: pass it on to
     * anything that can hang (fetches, Playwright waits). The client in `http` already obeys it.
     */
    signal: AbortSignal;
    /**
     * Gives the renewed session values to put on its later requests besides cookies (e.g. an `Authorization`
     * header or an `api_key` query parameter extracted by a login recipe), scoped to `auth.origins`; without
     * `origins`, to the origins this attempt sent requests to through `http`. Replaces any earlier auth.
     */
    setAuth(auth: SessionAuthInput | undefined): void;
    /**
     * The store the session is kept in (shared with other processes on MySQL), for small state renewals share
     * across processes: login recipes record there the TOTP time steps their accounts used. Undefined when the
     * renewal runs outside a `Sessions` or the maintainer (`acquire()`).
     */
    store?: Pick<SessionStore, 'getEntry' | 'putEntry'>;
}

/** What {@link RenewalContext.setAuth} takes: a {@link SessionAuth} whose `origins` and `values` may be left out. */
export type SessionAuthInput = Omit<SessionAuth, 'origins' | 'values'> & Partial<Pick<SessionAuth, 'origins' | 'values'>>;

/** Renews a session: any cookies it leaves in the jar form the renewed session. Throw to fail the attempt. */
export type RenewalFunction = (context: RenewalContext) => Promise<void> | void;

/**
 * How to renew a cleared session: a request to send (it succeeds when its final response, after redirects, has a
 * status below 400) or a function.
 */
export type Renewal = SessionRequest | RenewalFunction;

/**
 * A renewal request was answered with an error status. A 4xx answer is a refusal (not retried unless the retry
 * policy's `retryRefused` says so); 5xx, 408 and 429 are worth another attempt.
 */
export class RenewalAnswerError extends CrawleeSessionsError {
    override readonly name = 'RenewalAnswerError';

    constructor(
        /** The final status of the renewal request. */
        readonly status: number,
        /** `GET /login`: the method and path (no query: it may carry secrets). */
        readonly request: string,
    ) {
        super(ERROR_CODES.renewalRefused, `renewal request ${request} answered ${status}`);
    }

    /** The site answered and said no (read by the retry policy). */
    get refused(): boolean {
        return !isTransientStatus(this.status);
    }
}

/** Runs one attempt of a renewal. */
export async function runRenewalAttempt(renewal: Renewal, context: RenewalContext): Promise<void> {
    if (typeof renewal === 'function') {
        await renewal(context);
        return;
    }
    const response = await context.http.request(renewal);
    if (response.statusCode >= 400) {
        const method = renewal.method ?? (renewal.form || renewal.json !== undefined || renewal.body !== undefined ? 'POST' : 'GET');
        throw new RenewalAnswerError(response.statusCode, `${method} ${new URL(renewal.url).pathname}`);
    }
}

/** The auth a renewal gives, with its scope: the given origins, else the origins its requests went to. */
export function scopedAuth(auth: SessionAuthInput, requestedOrigins: readonly string[]): SessionAuth {
    const scoped: SessionAuth = {
        headers: { ...auth.headers },
        query: { ...auth.query },
        values: { ...auth.values },
        origins: [...(auth.origins ?? requestedOrigins)],
    };
    if (typeof auth.expiresAt === 'number' && Number.isFinite(auth.expiresAt)) {
        scoped.expiresAt = auth.expiresAt;
        scoped.issuedAt = typeof auth.issuedAt === 'number' ? auth.issuedAt : Date.now();
        scoped.expirySource = auth.expirySource ?? 'expires_in';
    }
    return scoped;
}

/**
 * What a renewal made from a login recipe tells the sessions about itself (read by renewal ahead of expiry): its
 * recipe's name, when its logins end, and how to check a login.
 */
export interface RenewalTraits {
    /** The recipe's name (renewal modes learned per recipe are kept under it). */
    name: string;
    /** A login lasts this many seconds, for sites that announce nothing. */
    afterSecs?: number;
    /** Lower-case cookie names whose expiry ends a login, besides the session tokens. */
    expiryCookies: readonly string[];
    /** Learn the lifetime of the recipe's logins from the ages at which they were found logged out (`expiry.learn`). */
    learnLifetime?: boolean;
    /** Sends the recipe's check with a client of a login: whether it is still logged in. Absent: no check. */
    check?: (http: SessionHttpClient, auth: SessionAuth | undefined) => Promise<boolean>;
}

const TRAITS = Symbol.for('crawlee-sessions.renewal-traits');

/** Attaches {@link RenewalTraits} to a renewal function. */
export function withTraits<F extends RenewalFunction>(renewal: F, traits: RenewalTraits): F {
    Object.defineProperty(renewal, TRAITS, { value: Object.freeze(traits) });
    return renewal;
}

/** The {@link RenewalTraits} of a renewal made from a recipe; undefined for other renewals. */
export function traitsOf(renewal: Renewal | undefined): RenewalTraits | undefined {
    return typeof renewal === 'function' ? ((renewal as unknown as Record<symbol, RenewalTraits | undefined>)[TRAITS] ?? undefined) : undefined;
}
