import { CrawleeSessionsError, ERROR_CODES } from '../shared/errors.js';
import { isNetworkError } from '../shared/retry.js';

export { isNetworkError };

/**
 * Why a login failed:
 * - `network`: the site could not be reached (connection refused or reset, timeout, DNS): worth retrying later;
 * - `rejected`: the site answered, but not with a success (an HTTP error status, a status the step did not expect);
 * - `extraction`: a required value was not found;
 * - `verification`: the login ran, but its validity check says the session is not logged in;
 * - `credentials`: a credential could not be resolved (e.g. its environment variable is not set);
 * - `browser`: the browser could not be started, or the recipe's login function threw.
 */
export type LoginErrorKind = 'network' | 'rejected' | 'extraction' | 'verification' | 'credentials' | 'browser';

/**
 * A failed login. Its message names the recipe and what went wrong, and never contains a credential or an
 * extracted value (they are scrubbed before the error is built); the original error is not attached, since its
 * message could carry them.
 */
export class LoginError extends CrawleeSessionsError {
    override readonly name = 'LoginError';

    constructor(
        /** What kind of failure this is (see {@link LoginErrorKind}). */
        readonly kind: LoginErrorKind,
        /** The recipe's name. */
        readonly recipe: string,
        detail: string,
    ) {
        super(ERROR_CODES.loginFailed, `Login "${recipe}" failed (${kind}): ${detail}`);
    }

    /** Whether trying again later may help: network failures only. */
    get retryable(): boolean {
        return this.kind === 'network';
    }

    /** Whether the site could not be reached (read by the retry policy). */
    get network(): boolean {
        return this.kind === 'network';
    }
}
