import type { HeaderRule, SessionHeader } from './rule.js';

/** What replaces a hidden header value. */
export const HIDDEN_VALUE = '***';

/** Header names whose values are always secret. */
const SENSITIVE_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie']);

/** Header names that suggest a credential (`X-Api-Key`, `X-Auth-Token`, `X-CSRF-Token`, `X-Session-Id`, …). */
const SENSITIVE_NAME = /auth|token|secret|passw|api-?key|session|csrf|xsrf|signature/i;

/** Authorization schemes kept visible in front of a hidden credential (`Bearer ***`). */
const AUTH_SCHEME = /^(Basic|Bearer|Digest|Negotiate|NTLM|Token|AWS4-HMAC-SHA256|HOBA|Mutual|DPoP)\s+\S/i;

/**
 * Whether a header's value must be kept out of logs, errors and listings (and sealed at rest): `Authorization`,
 * `Proxy-Authorization`, `Cookie`, `Set-Cookie`, names that suggest a credential, or anything marked `secret`.
 */
export function isSensitiveHeader(name: string, markedSecret = false): boolean {
    if (markedSecret) return true;
    const lower = name.toLowerCase();
    return SENSITIVE_HEADERS.has(lower) || SENSITIVE_NAME.test(lower);
}

/** The value as it may be shown: `***` (or `Bearer ***`) when sensitive, else as is. */
export function redactHeaderValue(name: string, value: string, markedSecret = false): string {
    if (!isSensitiveHeader(name, markedSecret)) return value;
    const scheme = AUTH_SCHEME.exec(value);
    return scheme ? `${scheme[1]} ${HIDDEN_VALUE}` : HIDDEN_VALUE;
}

/** A rule safe to print, log or return from `list`: its value is hidden when sensitive. */
export function describeRule(rule: HeaderRule): HeaderRule {
    return { ...rule, value: redactHeaderValue(rule.header, rule.value, rule.secret) };
}

/** A session header safe to print, log or return from `list`: its value is hidden when sensitive. */
export function describeSessionHeader(header: SessionHeader): SessionHeader {
    return { ...header, value: redactHeaderValue(header.name, header.value, header.secret) };
}

/** Request headers safe to log: sensitive values hidden. */
export function redactHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
    const shown: Record<string, string> = {};
    for (const [name, value] of Object.entries(headers)) {
        if (value === undefined) continue;
        const text = Array.isArray(value) ? value.join(', ') : String(value);
        shown[name] = redactHeaderValue(name, text);
    }
    return shown;
}
