import { CrawleeSessionsError, ERROR_CODES } from '../shared/errors.js';
import { isNetworkError, isTransientStatus } from '../shared/retry.js';

export { isNetworkError };

/**
 * Why a login failed:
 * - `network`: the site could not be reached (connection refused or reset, timeout, DNS): worth retrying later;
 * - `rejected`: the site answered, but not with a success (an HTTP error status, a status the step did not expect);
 * - `extraction`: a required value was not found;
 * - `verification`: the login ran, but its validity check says the session is not logged in;
 * - `credentials`: the session has no account, or a credential could not be read (an environment variable not set,
 *   a file missing, a function that threw), or a second factor is unusable: nothing was sent;
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

    /** The HTTP status the site answered with, when a step or check was answered with an unexpected one. */
    readonly status: number | undefined;

    constructor(
        /** What kind of failure this is (see {@link LoginErrorKind}). */
        readonly kind: LoginErrorKind,
        /** The recipe's name. */
        readonly recipe: string,
        detail: string,
        options: { status?: number } = {},
    ) {
        super(ERROR_CODES.loginFailed, `Login "${recipe}" failed (${kind}): ${detail}`);
        this.status = options.status;
    }

    /** Whether trying again later may help: the site could not be reached, or answered 5xx, 408 or 429. */
    get retryable(): boolean {
        return !this.refused;
    }

    /** Whether the site could not be reached (read by the retry policy). */
    get network(): boolean {
        return this.kind === 'network';
    }

    /**
     * Whether the site answered and said no: a 4xx answer, a failed check, a value not found, missing credentials,
     * a browser login that threw. The retry policy does not retry refusals unless `retryRefused` is set: with a wrong
     * password, retrying risks locking the account.
     */
    get refused(): boolean {
        if (this.kind === 'network') return false;
        return !(this.kind === 'rejected' && this.status !== undefined && isTransientStatus(this.status));
    }
}
