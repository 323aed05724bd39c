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

/** Thrown when a {@link Sessions} method is used after `close()`. */
export class SessionsClosedError extends CrawleeSessionsError {
    override readonly name = 'SessionsClosedError';

    constructor() {
        super(ERROR_CODES.sessionsClosed, 'This Sessions object is closed. Open a new one with Sessions.open().');
    }
}

/**
 * Thrown when a new session is requested while the store has been unreachable for so long that the configured
 * number of sessions with unwritten changes (`persistence.maxPendingSessions`) is reached. Existing sessions keep
 * working; nothing already pending is dropped.
 */
export class StoreBacklogError extends CrawleeSessionsError {
    override readonly name = 'StoreBacklogError';

    constructor(
        /** Where the store is (no password). */
        readonly store: string,
        /** Sessions waiting to be written. */
        readonly pendingSessions: number,
    ) {
        super(
            ERROR_CODES.storeBacklog,
            `The session ${store} is unreachable and ${pendingSessions} session(s) have unwritten changes, the limit ` +
                '(persistence.maxPendingSessions). No new session is created until the store is back; raise the limit ' +
                'or restore the store.',
        );
    }
}
