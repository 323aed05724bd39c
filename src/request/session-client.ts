import type { IncomingHttpHeaders } from 'node:http';

import { gotScraping } from 'got-scraping';
import type { CookieJar } from 'tough-cookie';

import { storeSetCookieHeaders } from '../shared/cookies.js';
import type { SessionIdentity } from '../profiles/identity.js';

/** A request sent with a session's cookies and identity (renewals, logins, validity checks). */
export interface SessionRequest {
    url: string;
    /** Default `GET`, or `POST` when a body is given. */
    method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD' | 'OPTIONS';
    /** Extra headers; they override the identity's headers of the same name. */
    headers?: Record<string, string>;
    /** A URL-encoded form body. */
    form?: Record<string, string>;
    /** A JSON body. */
    json?: unknown;
    /** A raw body. */
    body?: string;
    /** Per-request timeout in seconds. Default 30. */
    timeoutSecs?: number;
}

/** The final response after following redirects. */
export interface SessionResponse {
    statusCode: number;
    /** The final URL after redirects. */
    url: string;
    headers: IncomingHttpHeaders;
    body: string;
    /** Every URL redirected to, in order. */
    redirectUrls: string[];
}

/** An HTTP client bound to one session: its jar, proxy and identity. */
export interface SessionHttpClient {
    request(request: SessionRequest): Promise<SessionResponse>;
}

/** What a {@link SessionHttpClient} is bound to. */
export interface SessionHttpBinding {
    jar: CookieJar;
    identity: SessionIdentity;
    proxyUrl?: string;
    /** got-scraping's session token: keeps its generated headers stable for one identity. */
    headerToken: object;
    /**
     * Changes a hop's headers in place before it is sent (header rules and session headers); awaited `ready`
     * first. Default: none.
     */
    decorateHeaders?: { ready(): Promise<void>; apply(headers: Record<string, string>, url: URL, method: string): void };
    /** Stores a hop's Set-Cookie headers (e.g. recording token rotations). Default: straight into the jar. */
    storeCookies?: (url: URL, setCookie: string | string[] | undefined) => void;
}

const MAX_REDIRECTS = 10;

/**
 * Creates an HTTP client that behaves like a browser tab of the session: cookies come from the jar and every
 * `Set-Cookie` (on redirects too) goes back into it; redirects are followed the way browsers do (a POST answered
 * with 301/302/303 continues as a GET without body, 307/308 keep method and body); every hop goes through the
 * session's proxy with the session's identity headers.
 */
export function createSessionHttpClient(binding: SessionHttpBinding): SessionHttpClient {
    return {
        async request(request) {
            let url = new URL(request.url);
            let method = request.method ?? (request.form || request.json !== undefined || request.body ? 'POST' : 'GET');
            let body: string | undefined;
            const headers: Record<string, string> = { ...binding.identity.headers };
            for (const [name, value] of Object.entries(request.headers ?? {})) headers[name.toLowerCase()] = value;
            if (request.form) {
                body = new URLSearchParams(request.form).toString();
                headers['content-type'] ??= 'application/x-www-form-urlencoded';
            } else if (request.json !== undefined) {
                body = JSON.stringify(request.json);
                headers['content-type'] ??= 'application/json';
            } else if (request.body !== undefined) {
                body = request.body;
            }
            const redirectUrls: string[] = [];
            await binding.decorateHeaders?.ready();
            for (let hop = 0; ; hop++) {
                const cookie = binding.jar.getCookieStringSync(url);
                const hopHeaders = { ...headers };
                binding.decorateHeaders?.apply(hopHeaders, url, method);
                const response = await gotScraping({
                    url,
                    method,
                    headers: { ...hopHeaders, ...(cookie ? { cookie } : {}) },
                    body,
                    proxyUrl: binding.proxyUrl,
                    sessionToken: binding.headerToken,
                    followRedirect: false,
                    throwHttpErrors: false,
                    retry: { limit: 0 },
                    timeout: { request: (request.timeoutSecs ?? 30) * 1000 },
                });
                if (binding.storeCookies) binding.storeCookies(url, response.headers['set-cookie']);
                else storeSetCookieHeaders(binding.jar, response.headers['set-cookie'], url);
                const location = response.headers.location;
                if (response.statusCode >= 300 && response.statusCode < 400 && location) {
                    if (hop >= MAX_REDIRECTS) throw new Error(`Too many redirects (more than ${MAX_REDIRECTS}) from ${request.url}`);
                    url = new URL(location, url);
                    redirectUrls.push(url.href);
                    if (response.statusCode !== 307 && response.statusCode !== 308 && method !== 'GET' && method !== 'HEAD') {
                        method = 'GET';
                        body = undefined;
                        delete headers['content-type'];
                    }
                    continue;
                }
                return {
                    statusCode: response.statusCode,
                    url: url.href,
                    headers: response.headers,
                    body: response.body,
                    redirectUrls,
                };
            }
        },
    };
}
