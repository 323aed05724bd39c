import { describeCause } from '../shared/describe.js';
import { ConfigValidationError } from '../shared/validation.js';
import { CrawleeSessionsError, ERROR_CODES } from '../shared/errors.js';

/** Exit code of a command that did what it was asked. */
export const EXIT_OK = 0;
/** Exit code of a command that failed (store unreachable, unknown session, …). */
export const EXIT_FAILURE = 1;
/** Exit code of a command refused because of its arguments or options. */
export const EXIT_USAGE = 2;

/**
 * A command line the CLI refuses: unknown command or option, missing or bad argument. Exits with code 2; its
 * message is one line naming the bad option (never quoting a secret).
 */
export class UsageError extends CrawleeSessionsError {
    override readonly name = 'UsageError';

    constructor(message: string, options?: { cause?: unknown }) {
        super(ERROR_CODES.cliUsage, message, options);
    }
}

/** A failure the CLI explains in one line and exits with code 1 (e.g. an unknown session). */
export class CliError extends CrawleeSessionsError {
    override readonly name = 'CliError';

    constructor(message: string, options?: { cause?: unknown }) {
        super(ERROR_CODES.cliFailed, message, options);
    }
}

/** The exit code for an error thrown by a command. */
export function exitCodeOf(error: unknown): number {
    return error instanceof UsageError || error instanceof ConfigValidationError ? EXIT_USAGE : EXIT_FAILURE;
}

/**
 * The error as the one line the CLI prints on stderr: its message (first line of a foreign error, credentials in
 * URLs masked), control characters flattened so that the message stays on one line.
 */
export function describeError(error: unknown): string {
    const text = error instanceof UsageError || error instanceof CliError || error instanceof ConfigValidationError
        ? error.message
        : describeCause(error);
    // eslint-disable-next-line no-control-regex
    return text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
}
