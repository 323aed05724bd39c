/** What {@link redactProxyUrl} returns when the proxy URL cannot be parsed. */
export const INVALID_PROXY_URL_PLACEHOLDER = '<invalid proxy url>';

/** What replaces a password in redacted URLs and messages. */
export const REDACTED_PASSWORD = '***';

/** A single- or double-quoted or backticked string on one line, as error messages quote source code. */
const QUOTED_STRING = /(['"`])([^'"`\r\n]*)\1/g;

/** Optional `scheme://` at the start of a value, followed by the rest of it. */
const LEADING_SCHEME = /^([a-z][a-z0-9+.-]*:\/\/)?([\s\S]*)$/i;

/**
 * Returns the proxy URL with its password replaced by `***`; the scheme, username, host and port are kept,
 * so the result is safe to log and still tells proxies apart.
 *
 * A value that is not a URL with a host (for instance `bob:secret@host:8000`, which `new URL()` reads as an
 * opaque `bob:` URL) is never echoed back: it becomes `<invalid proxy url>`.
 *
 * ```ts
 * redactProxyUrl('http://bob:hunter2@127.0.0.1:8001'); // 'http://bob:***@127.0.0.1:8001'
 * redactProxyUrl('socks5://10.0.0.1:1080');            // 'socks5://10.0.0.1:1080'
 * redactProxyUrl('not a url');                         // '<invalid proxy url>'
 * ```
 *
 * @param proxyUrl The proxy URL, typically `Profile.proxy`.
 */
export function redactProxyUrl(proxyUrl: string): string {
    let parsed: URL;
    try {
        parsed = new URL(proxyUrl);
    } catch {
        return INVALID_PROXY_URL_PLACEHOLDER;
    }
    if (parsed.host === '') return INVALID_PROXY_URL_PLACEHOLDER;

    const hasCredentials = parsed.username !== '' || parsed.password !== '';
    const credentials = hasCredentials
        ? `${parsed.username}${parsed.password !== '' ? `:${REDACTED_PASSWORD}` : ''}@`
        : '';
    // `URL#port` is empty for a scheme's default port (`https://host:443`); show the port that was written.
    const port = explicitPortOf(proxyUrl) ?? (parsed.port === '' ? undefined : parsed.port);
    // `URL#toString()` would add a trailing `/` to `http://host:port`; proxy URLs read better without it.
    const path = parsed.pathname === '/' ? '' : parsed.pathname;
    // A query string could carry a token: show that there is one, not what it says.
    const query = parsed.search === '' ? '' : `?${REDACTED_PASSWORD}`;
    return `${parsed.protocol}//${credentials}${parsed.hostname}${port === undefined ? '' : `:${port}`}${path}${query}`;
}

/**
 * Returns the port written in the authority of a `scheme://…` URL, or `undefined` when there is none.
 * Unlike `URL#port`, a scheme's default port counts: `explicitPortOf('http://host:80')` is `'80'`.
 *
 * @param url A URL as written by the user.
 */
export function explicitPortOf(url: string): string | undefined {
    const schemeEnd = url.indexOf('//');
    if (schemeEnd === -1) return undefined;
    const authority = url.slice(schemeEnd + 2).split(/[/?#]/, 1)[0] ?? '';
    const hostAndPort = authority.slice(authority.lastIndexOf('@') + 1);
    return /:(\d{1,5})$/.exec(hostAndPort)?.[1];
}

/**
 * Replaces the password of every `user:password@` found in a piece of free text (an error message that
 * may quote source code) with `***`, keeping the rest of the text readable. Quoted strings in the text are
 * masked as whole values (see {@link maskCredentialsInValue}), so a password with spaces in a quoted URL is
 * covered too.
 *
 * ```ts
 * maskCredentials('connect to http://bob:hunter2@proxy:8000 failed'); // 'connect to http://bob:***@proxy:8000 failed'
 * maskCredentials("proxy: 'bob:hunter2@proxy:8000',");                 // "proxy: 'bob:***@proxy:8000',"
 * ```
 *
 * @param text Any text that might contain URLs with credentials.
 */
export function maskCredentials(text: string): string {
    return maskCredentialsInText(
        text.replace(QUOTED_STRING, (_match, quote: string, inner: string) => `${quote}${maskCredentialsInValue(inner)}${quote}`),
    );
}

/**
 * Masks every `[scheme://]user:password@` in free text: at the start of the text or after whitespace, a quote or one
 * of `(<=,[{`, an optional `scheme://`, a user name without whitespace, quotes, `:`, `@` or `/`, a `:` not followed
 * by `//`, then everything up to the last `@` before the next whitespace or quote becomes `***` (a password holding
 * `@` is masked whole). One pass with precomputed look-ups: linear in the length of the text, whatever it holds
 * (the regular expression this replaces was quadratic: 1.5 s for 40 000 characters of `=:`).
 */
function maskCredentialsInText(text: string): string {
    const length = text.length;
    if (text.indexOf(':') === -1 || text.indexOf('@') === -1) return text;
    // nextStop[i]: the first index ≥ i holding whitespace, a quote, ':', '@' or '/' (where a user name ends).
    // lastAt[i]: the last '@' in the run of non-whitespace, non-quote characters from i, or -1.
    // schemeEnd[i]: the end of the run of scheme characters [a-z0-9+.-] from i.
    const nextStop = new Int32Array(length + 1);
    const lastAt = new Int32Array(length + 1);
    const schemeEnd = new Int32Array(length + 1);
    nextStop[length] = length;
    lastAt[length] = -1;
    schemeEnd[length] = length;
    for (let index = length - 1; index >= 0; index--) {
        const code = text.charCodeAt(index);
        const breaksRun = isWhitespace(code) || isQuote(code);
        nextStop[index] = breaksRun || code === 0x3a || code === 0x40 || code === 0x2f ? index : nextStop[index + 1]!;
        lastAt[index] = breaksRun ? -1 : lastAt[index + 1] !== -1 ? lastAt[index + 1]! : code === 0x40 ? index : -1;
        schemeEnd[index] = isSchemeCharacter(code) ? schemeEnd[index + 1]! : index;
    }
    const slashes = (at: number) => text.charCodeAt(at) === 0x2f && text.charCodeAt(at + 1) === 0x2f;
    /** The colon and the last '@' of credentials whose user name (or scheme) starts at `start`, or undefined. */
    const credentialsAt = (start: number): { colon: number; at: number } | undefined => {
        let user = start;
        if (isLetter(text.charCodeAt(start))) {
            const end = schemeEnd[start]!;
            if (text.charCodeAt(end) === 0x3a && slashes(end + 1)) user = end + 3;
        }
        const colon = nextStop[user]!;
        if (colon >= length || text.charCodeAt(colon) !== 0x3a || slashes(colon + 1)) return undefined;
        const at = lastAt[colon + 1]!;
        return at === -1 ? undefined : { colon, at };
    };
    let result = '';
    let copied = 0;
    for (let index = 0; index < length; index++) {
        let found = index === 0 ? credentialsAt(0) : undefined;
        if (!found && isBoundary(text.charCodeAt(index)) && index + 1 < length) found = credentialsAt(index + 1);
        if (!found) continue;
        result += `${text.slice(copied, found.colon)}:${REDACTED_PASSWORD}@`;
        copied = found.at + 1;
        index = found.at; // the next match starts after this one, as with a global regular expression
    }
    return copied === 0 ? text : result + text.slice(copied);
}

/** JavaScript's `\s`. */
function isWhitespace(code: number): boolean {
    return (
        (code >= 0x09 && code <= 0x0d) ||
        code === 0x20 ||
        code === 0xa0 ||
        code === 0x1680 ||
        (code >= 0x2000 && code <= 0x200a) ||
        code === 0x2028 ||
        code === 0x2029 ||
        code === 0x202f ||
        code === 0x205f ||
        code === 0x3000 ||
        code === 0xfeff
    );
}

function isQuote(code: number): boolean {
    return code === 0x27 || code === 0x22 || code === 0x60;
}

/** What may stand right before credentials: whitespace, a quote or one of `(<=,[{`. */
function isBoundary(code: number): boolean {
    return isWhitespace(code) || isQuote(code) || code === 0x28 || code === 0x3c || code === 0x3d || code === 0x2c || code === 0x5b || code === 0x7b;
}

function isLetter(code: number): boolean {
    return (code >= 0x61 && code <= 0x7a) || (code >= 0x41 && code <= 0x5a);
}

function isSchemeCharacter(code: number): boolean {
    return isLetter(code) || (code >= 0x30 && code <= 0x39) || code === 0x2b || code === 0x2e || code === 0x2d;
}

/**
 * Masks the password of a single value that may be a URL with credentials, however malformed: everything
 * between the first `:` after the optional `scheme://` and the last `@` becomes `***`. Values without a
 * `user:…@` part are returned unchanged. Errs on the side of masking too much.
 *
 * ```ts
 * maskCredentialsInValue('http://bob:hun ter2@host:80'); // 'http://bob:***@host:80'
 * maskCredentialsInValue('bob:hunter2@host:80');         // 'bob:***@host:80'
 * maskCredentialsInValue('http://host:80');              // 'http://host:80'
 * ```
 *
 * @param value A whole value, e.g. a proxy URL that failed validation.
 */
export function maskCredentialsInValue(value: string): string {
    const [, scheme = '', rest = ''] = LEADING_SCHEME.exec(value) ?? [];
    const lastAt = rest.lastIndexOf('@');
    if (lastAt === -1) return value;
    const userInfo = rest.slice(0, lastAt);
    const colon = userInfo.indexOf(':');
    if (colon === -1) return value;
    return `${scheme}${userInfo.slice(0, colon)}:${REDACTED_PASSWORD}@${rest.slice(lastAt + 1)}`;
}
