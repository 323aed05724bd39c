/** What {@link redactProxyUrl} returns when the proxy URL cannot be parsed. */
export const INVALID_PROXY_URL_PLACEHOLDER = '<invalid proxy url>';

/** What replaces a password in redacted URLs and messages. */
export const REDACTED_PASSWORD = '***';

/**
 * Finds `user:password@` credentials in free text, with or without a `scheme://` in front of them.
 * The password part runs up to the last `@` before whitespace or a quote, so that a password
 * that itself contains `@` is masked whole (over-masking is preferred to leaking).
 */
const CREDENTIALS_IN_TEXT = /(^|[\s'"`(<=,[{])([a-z][a-z0-9+.-]*:\/\/)?([^\s:@/'"`]*):(?!\/\/)[^\s'"`]*@/gi;

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
    return text
        .replace(QUOTED_STRING, (_match, quote: string, inner: string) => `${quote}${maskCredentialsInValue(inner)}${quote}`)
        .replace(
            CREDENTIALS_IN_TEXT,
            (_match, boundary: string, scheme: string | undefined, username: string) =>
                `${boundary}${scheme ?? ''}${username}:${REDACTED_PASSWORD}@`,
        );
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
