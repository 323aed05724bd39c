import type { CookieJar } from 'tough-cookie';

import type { Profile } from '../profiles/profile.js';
import type { SessionIdentity } from '../profiles/identity.js';
import type { SessionAuth } from '../model/types.js';
import type { SessionHttpClient, SessionRequest } from '../request/session-client.js';

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
    /** An HTTP client bound to the session's jar, new profile and identity; follows redirects like a browser. */
    http: SessionHttpClient;
    /** The session's (emptied) cookie jar, for cookies obtained some other way. */
    jar: CookieJar;
    /** 1 for the first attempt, 2 for the first retry, … */
    attempt: number;
    /**
     * Gives the renewed session values to put on every later request besides cookies (e.g. an `Authorization`
     * header or an `api_key` query parameter extracted by a login recipe). Replaces any earlier auth.
     */
    setAuth?(auth: SessionAuth): void;
}

/** Renews a session: any cookies it leaves in the jar form the renewed session. Throw to fail the attempt. */
export type RenewalFunction = (context: RenewalContext) => Promise<void> | void;

/**
 * How to renew a cleared session: a request to send (it succeeds when its final response, after redirects, has a
 * status below 400) or a function.
 */
export type Renewal = SessionRequest | RenewalFunction;

/** Retry policy for failing renewals. */
export interface RenewalRetryOptions {
    /** Attempts before the renewal fails for good. Default 3. */
    maxAttempts: number;
    /** Delay before the first retry in ms; doubles with every retry, with jitter. Default 250. */
    backoffMs: number;
    /** Upper bound of one retry delay in ms. Default 5000. */
    maxBackoffMs: number;
}

/** Runs one attempt of a renewal. */
export async function runRenewalAttempt(renewal: Renewal, context: RenewalContext): Promise<void> {
    if (typeof renewal === 'function') {
        await renewal(context);
        return;
    }
    const response = await context.http.request(renewal);
    if (response.statusCode >= 400) {
        throw new Error(`renewal request ${renewal.method ?? 'GET'} ${new URL(renewal.url).pathname} answered ${response.statusCode}`);
    }
}

/** The delay before retry number `retry` (1-based): exponential with full jitter in its upper half. */
export function backoffDelay(retry: number, options: RenewalRetryOptions): number {
    const ceiling = Math.min(options.maxBackoffMs, options.backoffMs * 2 ** (retry - 1));
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}
