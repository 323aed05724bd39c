import { setTimeout as sleep } from 'node:timers/promises';

/**
 * How an operation that may fail for a while (a renewal, a login, a check) is retried. This is the one retry policy
 * of the package: crawler renewals, `sessions.renew()`, the maintainer and `acquire()` all use it.
 */
export interface RetryPolicy {
    /**
     * Attempts in all, the first included.
     * @default 3
     */
    maxAttempts: number;
    /**
     * Delay before the first retry, in milliseconds; it doubles with every retry, with jitter in its upper half.
     * @default 250
     */
    backoffMillis: number;
    /**
     * Upper bound of one retry delay, in milliseconds.
     * @default 5000
     */
    maxBackoffMillis: number;
    /**
     * Retry refused logins too. A login is refused when the site answered and said no: a 4xx answer, a failed
     * validity check, a value that could not be extracted, missing credentials. Retrying those at once rarely helps
     * and, with a wrong password, risks locking the account; network errors, timeouts and 5xx/429 answers are
     * always retried.
     * @default false
     */
    retryRefused: boolean;
}

/** Default {@link RetryPolicy}. */
export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
    maxAttempts: 3,
    backoffMillis: 250,
    maxBackoffMillis: 5000,
    retryRefused: false,
});

/** The delay before retry number `retry` (1-based): exponential, with full jitter in its upper half. */
export function backoffDelay(retry: number, policy: Pick<RetryPolicy, 'backoffMillis' | 'maxBackoffMillis'>): number {
    const ceiling = Math.min(policy.maxBackoffMillis, policy.backoffMillis * 2 ** (retry - 1));
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

/** Options of {@link retryWithBackoff}. */
export interface RetryWithBackoffOptions extends Pick<RetryPolicy, 'maxAttempts' | 'backoffMillis' | 'maxBackoffMillis'> {
    /** Whether an error is worth another attempt. Errors it rejects end the retries at once. */
    isRetryable: (error: unknown) => boolean;
    /** Called before each wait, with the attempt that failed (1-based), the delay and the error. @default none */
    onRetry?: (attempt: number, delayMillis: number, error: unknown) => void;
    /** Aborts the waits between attempts (the last error is then rethrown). @default none */
    signal?: AbortSignal;
}

/** The error of a retried operation that ended for good, with how many attempts it took. */
export class RetriesExhaustedError extends Error {
    override readonly name = 'RetriesExhaustedError';

    constructor(
        /** Attempts made. */
        readonly attempts: number,
        /** The last attempt's error. */
        override readonly cause: unknown,
    ) {
        super(cause instanceof Error ? cause.message : String(cause));
    }
}

/**
 * Runs `operation(attempt)` until it succeeds, retrying errors that `isRetryable` accepts after
 * {@link backoffDelay}, up to `maxAttempts` attempts. Resolves with the result and the number of attempts; rejects
 * with a {@link RetriesExhaustedError} wrapping the last error.
 */
export async function retryWithBackoff<T>(
    operation: (attempt: number) => Promise<T>,
    options: RetryWithBackoffOptions,
): Promise<{ value: T; attempts: number }> {
    for (let attempt = 1; ; attempt++) {
        try {
            return { value: await operation(attempt), attempts: attempt };
        } catch (error) {
            if (attempt >= options.maxAttempts || !options.isRetryable(error) || options.signal?.aborted) {
                throw new RetriesExhaustedError(attempt, error);
            }
            const delay = backoffDelay(attempt, options);
            options.onRetry?.(attempt, delay, error);
            try {
                await sleep(delay, undefined, { signal: options.signal });
            } catch {
                throw new RetriesExhaustedError(attempt, error); // aborted while waiting
            }
        }
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
const NETWORK_ERROR_NAMES = new Set(['RequestError', 'TimeoutError', 'ReadError', 'AbortError']);

/** How far {@link isNetworkError} and {@link isRefusal} follow `cause` chains. */
const MAX_CAUSE_DEPTH = 5;

/**
 * Whether an error means the site could not be reached (as opposed to an answer the caller did not like): Node socket
 * errors, got's request/timeout/read errors, aborted attempts, and Chromium's `net::ERR_*` navigation errors. An error
 * may say so itself with a boolean `network` property (a login failure does).
 */
export function isNetworkError(error: unknown): boolean {
    for (let current: unknown = error, depth = 0; current && depth < MAX_CAUSE_DEPTH; depth++) {
        const candidate = current as { code?: unknown; name?: unknown; message?: unknown; cause?: unknown; network?: unknown };
        if (typeof candidate.network === 'boolean') return candidate.network;
        if (typeof candidate.code === 'string' && NETWORK_CODES.has(candidate.code)) return true;
        if (typeof candidate.name === 'string' && NETWORK_ERROR_NAMES.has(candidate.name)) return true;
        if (typeof candidate.message === 'string' && /net::ERR_|socket hang up|ECONNRE(FUSED|SET)/.test(candidate.message)) return true;
        current = candidate.cause;
    }
    return false;
}

/**
 * Whether an error is a refusal: the site answered and said no. Errors say so with a boolean `refused` property (a
 * login failure, a renewal request answered 4xx); anything else (network errors, 5xx, errors of the caller's own
 * code) is not a refusal.
 */
export function isRefusal(error: unknown): boolean {
    for (let current: unknown = error, depth = 0; current && depth < MAX_CAUSE_DEPTH; depth++) {
        const refused = (current as { refused?: unknown }).refused;
        if (typeof refused === 'boolean') return refused;
        current = (current as { cause?: unknown }).cause;
    }
    return false;
}

/** Whether the policy allows another attempt after `error`. */
export function isRetryableUnder(policy: Pick<RetryPolicy, 'retryRefused'>, error: unknown): boolean {
    return policy.retryRefused || !isRefusal(error);
}

/** Whether an HTTP status means "try again later" rather than "no": 5xx, 408 and 429. */
export function isTransientStatus(status: number): boolean {
    return status >= 500 || status === 408 || status === 429;
}
