/**
 * The stable codes of every error this package throws, one per situation. Branch on `error.code`, never on the
 * message: messages are for people and may change.
 */
export const ERROR_CODES = {
    /** Options, profiles, a recipe, a rule or another configuration value was refused (see `issues`). */
    configInvalid: 'ERR_CONFIG_INVALID',
    /** A session id is not a non-empty, well-formed string of at most 200 characters (or a finite number). */
    sessionIdInvalid: 'ERR_SESSION_ID_INVALID',
    /** A method of a closed `Sessions` was called. */
    sessionsClosed: 'ERR_SESSIONS_CLOSED',
    /** A session's renewal failed for good (after every retry the policy allows). */
    renewalFailed: 'ERR_RENEWAL_FAILED',
    /** A renewal request was answered with an error status (the cause of a failed renewal). */
    renewalRefused: 'ERR_RENEWAL_REFUSED',
    /** A renewal attempt took longer than its deadline (`renewal.timeoutSecs`). */
    renewalTimeout: 'ERR_RENEWAL_TIMEOUT',
    /** A session has no login to renew with. */
    noRenewal: 'ERR_NO_RENEWAL',
    /** A request's session is still logged out after the check renewed it the allowed number of times. */
    sessionCheckFailed: 'ERR_SESSION_CHECK_FAILED',
    /** A login recipe failed (see `LoginError.kind`). */
    loginFailed: 'ERR_LOGIN_FAILED',
    /** A `{{template}}` named a value that was not there. */
    templateValueMissing: 'ERR_TEMPLATE_VALUE_MISSING',
    /** The session store cannot be reached or failed. */
    storeUnavailable: 'ERR_STORE_UNAVAILABLE',
    /** A store refused to write some sessions for good (too large for the backend, invalid); the rest were written. */
    storeWriteRejected: 'ERR_STORE_WRITE_REJECTED',
    /** The store's data cannot be decrypted with the configured secret, or needs one. */
    storeSecret: 'ERR_STORE_SECRET',
    /** A store's files are damaged (truncated, not what they should hold, missing): the message names the file and how to recover. */
    storeDamaged: 'ERR_STORE_DAMAGED',
    /** A write to a store opened read-only (a snapshot of an embedded store another process uses). */
    storeReadOnly: 'ERR_STORE_READ_ONLY',
    /** New sessions are refused: too many sessions wait to be written to an unreachable store. */
    storeBacklog: 'ERR_STORE_BACKLOG',
    /** A synchronous call named a session that `maxLiveSessions` dropped from memory (see `sessions.load()`). */
    sessionNotLoaded: 'ERR_SESSION_NOT_LOADED',
    /** A header rule or session header operation was refused (unknown id, duplicate name, …). */
    headerRule: 'ERR_HEADER_RULE',
    /** A cron expression does not parse. */
    cronSyntax: 'ERR_CRON_SYNTAX',
    /** A command line the CLI refuses. */
    cliUsage: 'ERR_CLI_USAGE',
    /** A CLI command failed (unknown session, missing store, …). */
    cliFailed: 'ERR_CLI_FAILED',
} as const;

/** One of {@link ERROR_CODES}. */
export type CrawleeSessionsErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

/**
 * The base class of every error crawlee-sessions throws. Each has a stable {@link code}; messages never contain
 * cookie values, tokens, passwords or proxy credentials.
 *
 * ```ts
 * try { await sessions.renew('alice'); }
 * catch (error) { if (isCrawleeSessionsError(error, 'ERR_RENEWAL_FAILED')) … }
 * ```
 */
export class CrawleeSessionsError extends Error {
    override readonly name: string = 'CrawleeSessionsError';

    constructor(
        /** What happened, stable across versions (see {@link ERROR_CODES}). */
        readonly code: CrawleeSessionsErrorCode,
        message: string,
        options?: { cause?: unknown },
    ) {
        super(message, options);
    }
}

/** Whether `error` is one of this package's errors (optionally: with this code). */
export function isCrawleeSessionsError(error: unknown, code?: CrawleeSessionsErrorCode): error is CrawleeSessionsError {
    return error instanceof CrawleeSessionsError && (code === undefined || error.code === code);
}
