import { describeCause } from '../shared/describe.js';
import { CrawleeSessionsError, ERROR_CODES } from '../shared/errors.js';

/**
 * Thrown to the requests waiting on a session whose renewal failed for good (after every retry).
 * The message names the session and the cause; it never contains cookie values or credentials.
 */
export class SessionRenewalError extends CrawleeSessionsError {
    override readonly name = 'SessionRenewalError';

    constructor(
        /** The session whose renewal failed. */
        readonly sessionId: string,
        /** How many attempts were made. */
        readonly attempts: number,
        /** The error of the last attempt. */
        override readonly cause: unknown,
    ) {
        super(
            ERROR_CODES.renewalFailed,
            `Renewal of session "${sessionId}" failed after ${attempts} attempt(s): ${describeCause(cause)}. ` +
                'The session stays cleared; requests bound to it fail until it is cleared and renewed again.',
        );
    }
}

/** A renewal attempt did not end within its deadline (`renewal.timeoutSecs`): it is abandoned and may be retried. */
export class RenewalTimeoutError extends CrawleeSessionsError {
    override readonly name = 'RenewalTimeoutError';

    constructor(
        /** The session being renewed. */
        readonly sessionId: string,
        /** The deadline, in seconds. */
        readonly timeoutSecs: number,
    ) {
        super(ERROR_CODES.renewalTimeout, `the renewal attempt of session "${sessionId}" did not end within ${timeoutSecs} s`);
    }

    /** A timeout is not an answer from the site: worth another attempt (read by the retry policy). */
    get network(): boolean {
        return true;
    }
}

/** Thrown by `sessions.renew(id)` for a session that has no login to renew with. */
export class NoRenewalError extends CrawleeSessionsError {
    override readonly name = 'NoRenewalError';

    constructor(readonly sessionId: string) {
        super(
            ERROR_CODES.noRenewal,
            `Session "${sessionId}" has no login to renew with: pass { login } or { loginFor } to Sessions.open(), or call ` +
                `sessions.bindRenewal("${sessionId}", renewal).`,
        );
    }
}
