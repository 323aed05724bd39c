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
export class LoginError extends Error {
    override readonly name = 'LoginError';

    constructor(
        /** What kind of failure this is (see {@link LoginErrorKind}). */
        readonly kind: LoginErrorKind,
        /** The recipe's name. */
        readonly recipe: string,
        detail: string,
    ) {
        super(`Login "${recipe}" failed (${kind}): ${detail}`);
    }

    /** Whether trying again later may help: network failures only. */
    get retryable(): boolean {
        return this.kind === 'network';
    }
}

const NETWORK_CODES = new Set([
    'ECONNREFUSED',
    'ECONNRESET',
    'ETIMEDOUT',
    'ESOCKETTIMEDOUT',
    'EPIPE',
    'ENOTFOUND',
    'EAI_AGAIN',
    'EHOSTUNREACH',
    'ENETUNREACH',
    'ECONNABORTED',
    'ERR_GOT_REQUEST_ERROR',
    'ERR_PROXY_CONNECTION_FAILED',
]);
const NETWORK_ERROR_NAMES = new Set(['RequestError', 'TimeoutError', 'ReadError']);

/**
 * Whether an error means the site could not be reached (as opposed to an answer the login did not like):
 * Node socket errors, got's request/timeout/read errors, and Chromium's `net::ERR_*` navigation errors.
 */
export function isNetworkError(error: unknown): boolean {
    for (let current: unknown = error, depth = 0; current && depth < 5; depth++) {
        const candidate = current as { code?: unknown; name?: unknown; message?: unknown; cause?: unknown };
        if (current instanceof LoginError) return current.kind === 'network';
        if (typeof candidate.code === 'string' && NETWORK_CODES.has(candidate.code)) return true;
        if (typeof candidate.name === 'string' && NETWORK_ERROR_NAMES.has(candidate.name)) return true;
        if (typeof candidate.message === 'string' && /net::ERR_|socket hang up|ECONNRE(FUSED|SET)/.test(candidate.message)) return true;
        current = candidate.cause;
    }
    return false;
}

/** The first line of an error's message (or its name), for building a {@link LoginError}. */
export function firstLine(error: unknown): string {
    if (error instanceof Error) return error.message.split('\n')[0] || error.name;
    return String(error).split('\n')[0] ?? '';
}
