import { redactProxyUrl } from '../shared/redact.js';
import type { Profile } from './profile.js';

/**
 * How many characters of a user agent {@link describeProfile} keeps before cutting it off with `…`.
 */
export const DESCRIBED_USER_AGENT_MAX_LENGTH = 40;

/**
 * Returns a short, log-safe, one-line description of a profile: its name (if any), its proxy with the
 * password redacted (see {@link redactProxyUrl}) and the start of its user agent, joined by ` · `.
 *
 * ```ts
 * describeProfile({ proxy: 'http://bob:hunter2@127.0.0.1:8001', userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36' });
 * // 'http://bob:***@127.0.0.1:8001 · Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/5…'
 * ```
 *
 * @param profile The profile to describe; it does not need to have been validated.
 */
export function describeProfile(profile: Profile): string {
    const parts: string[] = [];
    if (profile.name !== undefined) parts.push(toSingleLine(profile.name));
    if (profile.proxy !== undefined) parts.push(redactProxyUrl(profile.proxy));
    if (profile.userAgent !== undefined) parts.push(truncate(toSingleLine(profile.userAgent), DESCRIBED_USER_AGENT_MAX_LENGTH));
    return parts.length > 0 ? parts.join(' · ') : '(empty profile)';
}

/** Replaces control characters (CR, LF, NUL, …) with spaces so a description always stays on one line. */
function toSingleLine(text: string): string {
    // eslint-disable-next-line no-control-regex
    return text.replace(/[\u0000-\u001f\u007f]/g, ' ');
}

/** Cuts `text` to `maxLength` characters followed by `…` when it is longer. */
function truncate(text: string, maxLength: number): string {
    return text.length > maxLength ? `${text.slice(0, maxLength)}…` : text;
}
