import { setTimeout as sleep } from 'node:timers/promises';

import { backoffDelay, type RenewalRetryOptions } from '../renewal/renewal.js';

/** Options of {@link retryWithBackoff}. */
export interface RetryWithBackoffOptions extends RenewalRetryOptions {
    /** Whether an error is worth another attempt. Errors it rejects end the retries at once. */
    isRetryable: (error: unknown) => boolean;
    /** Called before each wait, with the attempt that failed (1-based), the delay and the error. Default none. */
    onRetry?: (attempt: number, delayMs: number, error: unknown) => void;
    /** Aborts the waits between attempts (the last error is then rethrown). Default none. */
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
 * Runs `operation(attempt)` until it succeeds, retrying errors that `isRetryable` accepts after an exponential
 * delay with jitter (`backoffMs`, doubling, at most `maxBackoffMs`; see `backoffDelay`), up to `maxAttempts`
 * attempts. Resolves with the result and the number of attempts; rejects with a {@link RetriesExhaustedError}
 * wrapping the last error.
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
