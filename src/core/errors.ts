import { maskCredentials } from '../profiles/redact.js';

/**
 * Thrown to the requests waiting on a session whose renewal failed for good (after every retry).
 * The message names the session and the cause; it never contains cookie values or credentials.
 */
export class SessionRenewalError extends Error {
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
            `Renewal of session "${sessionId}" failed after ${attempts} attempt(s): ${describeCause(cause)}. ` +
                'The session stays cleared; requests bound to it fail until it is cleared and renewed again.',
        );
    }
}

/** Thrown when a {@link Sessions} method is used after `close()`. */
export class SessionsClosedError extends Error {
    override readonly name = 'SessionsClosedError';

    constructor() {
        super('This Sessions object is closed. Open a new one with Sessions.open().');
    }
}

/**
 * Thrown when a new session is requested while the store has been unreachable for so long that the configured
 * number of sessions with unwritten changes (`persistence.maxPendingSessions`) is reached. Existing sessions keep
 * working; nothing already pending is dropped.
 */
export class StoreBacklogError extends Error {
    override readonly name = 'StoreBacklogError';

    constructor(
        /** Where the store is (no password). */
        readonly store: string,
        /** Sessions waiting to be written. */
        readonly pendingSessions: number,
    ) {
        super(
            `The session ${store} is unreachable and ${pendingSessions} session(s) have unwritten changes, the limit ` +
                '(persistence.maxPendingSessions). No new session is created until the store is back; raise the limit ' +
                'or restore the store.',
        );
    }
}

/** A short, single-line description of an error, for messages; credentials in URLs are masked. */
export function describeCause(cause: unknown): string {
    const text = cause instanceof Error ? cause.message.split('\n')[0] || cause.name : String(cause);
    return maskCredentials(text);
}
