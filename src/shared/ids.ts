import { z } from 'zod';

import { CrawleeSessionsError, ERROR_CODES } from './errors.js';

/** The longest session id: ids are database keys and appear in logs. */
export const MAX_SESSION_ID_LENGTH = 200;

/** Thrown when a value is not a usable session id. */
export class SessionIdError extends CrawleeSessionsError {
    override readonly name = 'SessionIdError';

    constructor(
        /** Where the id came from, e.g. `request.userData.sessionId`. */
        readonly field: string,
        problem: string,
    ) {
        super(ERROR_CODES.sessionIdInvalid, `${field} ${problem}`);
    }
}

/**
 * Why a value is not a session id, or undefined when it is one. A session id is a non-empty string of at most
 * {@link MAX_SESSION_ID_LENGTH} characters, well formed (no lone surrogate halves, which stores cannot keep
 * apart), without control characters; or a finite number, which stands for its decimal string.
 */
export function sessionIdProblem(value: unknown): string | undefined {
    if (typeof value === 'number') return Number.isFinite(value) ? undefined : 'must be a finite number or a string';
    if (typeof value !== 'string') return `must be a non-empty string or a finite number; got ${value === null ? 'null' : typeof value}`;
    if (value.length === 0) return 'must not be empty';
    if (value.length > MAX_SESSION_ID_LENGTH) return `must be at most ${MAX_SESSION_ID_LENGTH} characters long; got ${value.length}`;
    if (!value.isWellFormed()) return 'must be well-formed Unicode (it contains a lone surrogate)';
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(value)) return 'must not contain control characters';
    return undefined;
}

/**
 * The session id a value names, as a string. The hot path (a plain, short, printable string) costs one test.
 * @throws SessionIdError naming `field`.
 */
export function parseSessionId(value: unknown, field = 'session id'): string {
    if (typeof value === 'string' && value.length > 0 && value.length <= MAX_SESSION_ID_LENGTH && SIMPLE_ID.test(value)) return value;
    const problem = sessionIdProblem(value);
    if (problem) throw new SessionIdError(field, problem);
    return String(value);
}

/** Printable ASCII without control characters: needs no further check. */
const SIMPLE_ID = /^[\x20-\x7e]+$/;

/** Zod schema of a session id (string or finite number), parsed to its string. */
export const sessionIdSchema = z
    .union([z.string(), z.number()])
    .superRefine((value, ctx) => {
        const problem = sessionIdProblem(value);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .transform(String);

/** Zod schema of a session id given as a string only. */
export const sessionIdStringSchema = z.string().superRefine((value, ctx) => {
    const problem = sessionIdProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
