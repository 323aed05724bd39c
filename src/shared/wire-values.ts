import { ConfigValidationError } from './validation.js';

/**
 * Checks for values that end up on the wire — in a header, a Cookie header or a query string — so that bad ones
 * are refused where they enter (a profile, `addCookies`, a login's extracted or applied values) with the field
 * named, instead of failing every request at send time or, worse, being sent split in two.
 *
 * | kind | accepted | why the rest is refused |
 * | --- | --- | --- |
 * | `header-value` | printable ASCII (0x20–0x7E) and tab | CR/LF/NUL would inject headers (Node refuses them at send time); other control characters are invalid; a non-ASCII character makes Node throw `ERR_INVALID_CHAR` on every request (or is sent as Latin-1, not as the UTF-8 a browser sends) |
 * | `header-name` | an RFC 9110 token | anything else is not a header name |
 * | `cookie-name` | printable ASCII except `=`, `;`, `,`, `"` and spaces | `=` and `;` change where the name ends on the wire |
 * | `cookie-value` | printable ASCII except `;` | `;` ends the value: the rest becomes another cookie (or an attribute) on the wire; control characters are refused by browsers; non-ASCII must be percent-encoded by the caller, as sites do |
 * | `query-value` | any well-formed text without control characters | it is percent-encoded on the way; control characters in a value are a broken extraction, and a lone surrogate would be silently replaced by U+FFFD |
 *
 * Every check runs in one pass over the value.
 */
export type WireValueKind = 'header-value' | 'header-name' | 'cookie-name' | 'cookie-value' | 'query-value';

/** Why a value cannot go on the wire, without the value itself (it may be a secret). */
export interface WireValueProblem {
    /** Plain words, e.g. `must not contain line breaks (CR or LF)`; never quotes the value. */
    readonly message: string;
    /** Index (in UTF-16 code units) of the first offending character, or -1 (e.g. an empty value). */
    readonly index: number;
    /**
     * The offending character as `U+2026`. Reveals one character of the value: show it only for fields that are
     * not secret (a User-Agent, a header name).
     */
    readonly character?: string;
}

/** Options of {@link assertWireValue}. */
export interface AssertWireValueOptions {
    /** What is being validated, the root of the field path in the message: `profiles`, `cookies`, `recipe`. */
    subject: string;
    /** The field, relative to `subject`: `[2].userAgent`, `apply.headers.Authorization`. */
    path: string;
    /**
     * Whether the message may name the offending character (e.g. `U+2026`) besides its position.
     * @default false (only the position: the value may be a secret)
     */
    showCharacter?: boolean;
}

const TOKEN_SYMBOLS = "!#$%&'*+-.^_`|~";

/** Returns why `value` cannot be sent as this kind of value, or `undefined` when it can. */
export function findWireValueProblem(kind: WireValueKind, value: string): WireValueProblem | undefined {
    if (value.length === 0 && (kind === 'header-name' || kind === 'cookie-name')) return { message: 'must not be empty', index: -1 };
    for (let index = 0; index < value.length; index++) {
        const code = value.charCodeAt(index);
        const message = problemOf(kind, code, value, index);
        if (message !== undefined) return { message, index, character: codePointLabel(value, index) };
    }
    return undefined;
}

/** Whether `value` can be sent as this kind of value. */
export function isWireValue(kind: WireValueKind, value: string): boolean {
    return findWireValueProblem(kind, value) === undefined;
}

/**
 * Throws a {@link ConfigValidationError} naming the field when `value` cannot be sent as this kind of value, e.g.
 * `Invalid cookies: cookies[1].value: must not contain ";" (at position 3): it would end the value and start another cookie`.
 * The value itself is never shown.
 */
export function assertWireValue(kind: WireValueKind, value: string, options: AssertWireValueOptions): void {
    const problem = findWireValueProblem(kind, value);
    if (problem) throw new ConfigValidationError(options.subject, [{ path: options.path, message: describeWireValueProblem(problem, options.showCharacter) }]);
}

/** The problem in words: its message, the position and (with `showCharacter`) the character, never the value. */
export function describeWireValueProblem(problem: WireValueProblem, showCharacter = false): string {
    if (problem.index < 0) return problem.message;
    const where = showCharacter && problem.character ? `${problem.character} at position ${problem.index}` : `at position ${problem.index}`;
    const [first, ...rest] = problem.message.split(': ');
    return rest.length ? `${first} (${where}): ${rest.join(': ')}` : `${first} (${where})`;
}

function problemOf(kind: WireValueKind, code: number, value: string, index: number): string | undefined {
    if (code === 0x0d || code === 0x0a) return 'must not contain line breaks (CR or LF)';
    if (code === 0x00) return 'must not contain NUL characters';
    if (kind === 'query-value') {
        if (code < 0x20 || code === 0x7f) return 'must not contain control characters';
        if (code >= 0xd800 && code <= 0xdfff && !isSurrogatePair(value, index)) {
            return 'must be well-formed text: a lone surrogate would be sent as U+FFFD';
        }
        return undefined;
    }
    if (code === 0x09 && kind === 'header-value') return undefined;
    if (code < 0x20 || code === 0x7f) return 'must not contain control characters';
    if (code > 0x7e) {
        return kind === 'header-value' || kind === 'header-name'
            ? 'must be printable ASCII: a non-ASCII character cannot be sent in an HTTP header'
            : 'must be printable ASCII: percent-encode other characters (e.g. with encodeURIComponent), as sites do';
    }
    switch (kind) {
        case 'header-value':
            return undefined;
        case 'header-name':
            return isTokenCharacter(code) ? undefined : 'must be a header name (letters, digits and !#$%&\'*+-.^_`|~)';
        case 'cookie-name':
            if (code === 0x20) return 'must not contain spaces';
            if (code === 0x3d) return 'must not contain "=": it would end the name';
            if (code === 0x3b) return 'must not contain ";": it would end the cookie';
            if (code === 0x2c || code === 0x22) return 'must not contain "," or \'"\'';
            return undefined;
        case 'cookie-value':
            return code === 0x3b ? 'must not contain ";": it would end the value and start another cookie' : undefined;
    }
}

function isTokenCharacter(code: number): boolean {
    return (
        (code >= 0x30 && code <= 0x39) ||
        (code >= 0x41 && code <= 0x5a) ||
        (code >= 0x61 && code <= 0x7a) ||
        TOKEN_SYMBOLS.includes(String.fromCharCode(code))
    );
}

function isSurrogatePair(value: string, index: number): boolean {
    const code = value.charCodeAt(index);
    if (code <= 0xdbff) {
        const next = value.charCodeAt(index + 1);
        return next >= 0xdc00 && next <= 0xdfff;
    }
    const previous = value.charCodeAt(index - 1);
    return previous >= 0xd800 && previous <= 0xdbff;
}

function codePointLabel(value: string, index: number): string {
    const codePoint = value.codePointAt(index) ?? value.charCodeAt(index);
    return `U+${codePoint.toString(16).toUpperCase().padStart(4, '0')}`;
}
