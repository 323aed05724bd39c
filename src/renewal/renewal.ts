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
    return {
        headers: { ...auth.headers },
        query: { ...auth.query },
        values: { ...auth.values },
        origins: [...(auth.origins ?? requestedOrigins)],
    };
}
