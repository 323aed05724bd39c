import { CrawleeSessionsError, ERROR_CODES } from '../shared/errors.js';

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

/**
 * Thrown by a synchronous call (`get()`, `addCookies()`, `getIdentity()`, …) for a session that `maxLiveSessions` dropped
 * from memory: it is in the store and comes back on its next request, `clear()` or `renew()`, or with
 * `await sessions.load(id)`.
 */
export class SessionNotLoadedError extends CrawleeSessionsError {
    override readonly name = 'SessionNotLoadedError';

    constructor(
        /** The session. */
        readonly sessionId: string,
    ) {
        super(
            ERROR_CODES.sessionNotLoaded,
            `Session "${sessionId}" is not in memory (maxLiveSessions dropped it while idle; it is in the store). ` +
                'Load it with `await sessions.load(id)` first; requests bound to it load it by themselves.',
        );
    }
}
