import { maskCredentials } from './redact.js';

/** The longest description of an error: messages may quote whole responses or URLs. */
export const MAX_DESCRIBED_CAUSE_LENGTH = 500;

/**
 * A short, single-line description of an error for messages and logs: the first line of its message (or its name),
 * cut to {@link MAX_DESCRIBED_CAUSE_LENGTH} characters, with credentials in URLs masked. It runs in time linear in
 * the length of the message whatever the message holds. This is the one function every module uses to describe a
 * cause; secrets known by value (passwords, tokens) must be scrubbed by the caller's redactor as well.
 */
export function describeCause(cause: unknown): string {
    const text = cause instanceof Error ? cause.message || cause.name : String(cause);
    const end = text.indexOf('\n');
    let line = (end === -1 ? text : text.slice(0, end)).trim();
    if (!line && cause instanceof Error) line = cause.name;
    if (line.length > MAX_DESCRIBED_CAUSE_LENGTH) line = `${line.slice(0, MAX_DESCRIBED_CAUSE_LENGTH)}…`;
    return maskCredentials(line);
}
