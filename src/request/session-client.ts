import type { IncomingHttpHeaders } from 'node:http';

import { gotScraping } from 'got-scraping';

import type { SessionIdentity } from '../model/identity.js';
import { conformHeaders, headerGeneratorOptionsOf } from '../profiles/identity.js';
import { gotHopHooks } from './got-hooks.js';
import type { HopSession, RequestPipeline } from './pipeline.js';

/** A request sent with a session's cookies and identity (renewals, logins, validity checks). */
export interface SessionRequest {
    url: string;
    /** Default `GET`, or `POST` when a body is given. */
    method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD' | 'OPTIONS';
    /**
     * The request's own headers; they override the identity's headers of the same name. They go to the request's
     * origin only: a redirect to another origin drops them (as it drops `Authorization`).
     */
    headers?: Record<string, string>;
    /** A URL-encoded form body. */
    form?: Record<string, string>;
    /** A JSON body. */
    json?: unknown;
    /** A raw body. */
    body?: string;
    /**
     * Timeout of the request (all its redirect hops) in seconds.
     * @default 30
     */
    timeoutSecs?: number;
    /**
     * Asked before each redirect with its target: `false` stops there, and the redirect itself (its 3xx status and
     * `Location`) is the response; the target is not fetched. An OAuth2 authorization uses it to capture the
     * redirect to its `redirect_uri` without sending it.
     * @default every redirect is followed (up to 20)
     */
    followRedirect?: (target: URL) => boolean;
    /**
     * The largest answer body read, in bytes: a bigger one is abandoned while it arrives and the request fails with
     * a {@link ResponseTooLargeError} (a token endpoint or login page that sends megabytes is not one).
     * @default no limit
     */
    maxResponseBytes?: number;
}

/** An answer body passed {@link SessionRequest.maxResponseBytes}: it was not read to the end. */
export class ResponseTooLargeError extends Error {
    override readonly name = 'ResponseTooLargeError';

    constructor(
        /** The limit passed, in bytes. */
        readonly limit: number,
    ) {
        super(`the answer is larger than ${limit} bytes (not read to the end)`);
    }
}

/** The final response after following redirects. */
export interface SessionResponse {
    statusCode: number;
    /** The final URL after redirects (without the login's query values). */
    url: string;
    headers: IncomingHttpHeaders;
    body: string;
    /** Every URL redirected to, in order. */
    redirectUrls: string[];
}

/** An HTTP client bound to one session: its jar, proxy, identity and login values. */
export interface SessionHttpClient {
    request(request: SessionRequest): Promise<SessionResponse>;
    /**
     * The origins this client sent requests to (first hops, not redirect targets), in order: the default scope of
     * the values a login applies.
     */
    readonly origins: readonly string[];
}

/** What a {@link SessionHttpClient} is bound to. */
export interface SessionClientBinding {
    /** The request path every hop goes through. */
    pipeline: RequestPipeline;
    /** The session (live, or detached for a maintainer or `acquire()`). */
    session: HopSession;
    identity: SessionIdentity;
    proxyUrl?: string;
    /** got-scraping's session token: keeps its generated headers stable for one identity. */
    headerToken: object;
    /** Aborts every request of the client (a renewal attempt's deadline). Default none. */
    signal?: AbortSignal;
    /**
     * The session's pace: `before` is awaited before each request (its rate applies to logins and checks too),
     * `answered` hears each final status (a 429 starts a cooldown). Default: not paced.
     */
    pace?: {
        before(signal?: AbortSignal): Promise<void>;
        answered(status: number, headers: IncomingHttpHeaders): void;
    };
}

/** How many redirects a login or check request follows, as browsers do (Chromium: 20). */
export const MAX_SESSION_REDIRECTS = 20;

/** Default timeout of one login, check or renewal request, in seconds. */
export const DEFAULT_SESSION_REQUEST_TIMEOUT_SECS = 30;

/**
 * Creates an HTTP client that behaves like a browser tab of the session: every hop goes through the request
 * pipeline (identity, login values on their origins, header rules, cookies from the jar), every `Set-Cookie` (on
 * redirects too) goes back into the jar, and redirects are followed the way browsers do (a POST answered with
 * 301/302/303 continues as a GET without body; 307/308 keep method and body; the request's own headers and
 * credentials stay on its origin).
 */
export function createSessionClient(binding: SessionClientBinding): SessionHttpClient {
    const origins: string[] = [];
    return {
        get origins() {
            return origins;
        },
        async request(request) {
            const url = new URL(request.url);
            if (!origins.includes(url.origin)) origins.push(url.origin);
            const method = request.method ?? (request.form || request.json !== undefined || request.body !== undefined ? 'POST' : 'GET');
            const headers: Record<string, string> = {};
            for (const [name, value] of Object.entries(request.headers ?? {})) headers[name.toLowerCase()] = value;
            let body: string | undefined;
            if (request.form) {
                body = new URLSearchParams(request.form).toString();
                headers['content-type'] ??= 'application/x-www-form-urlencoded';
            } else if (request.json !== undefined) {
                body = JSON.stringify(request.json);
                headers['content-type'] ??= 'application/json';
            } else if (request.body !== undefined) {
                body = request.body;
            }
            const { pipeline } = binding;
            await binding.pace?.before(binding.signal);
            await pipeline.ready();
            const state = pipeline.begin(binding.session, {
                identity: binding.identity,
                url,
                ownHeaders: Object.keys(request.headers ?? {}),
            });
            const hooks = gotHopHooks(pipeline, state);
            // The identity's User-Agent up front: got-scraping merges its generated headers and picks its TLS settings by it.
            conformHeaders(binding.identity, headers);
            const pending = gotScraping({
                url,
                method,
                headers,
                body,
                proxyUrl: binding.proxyUrl,
                sessionToken: binding.headerToken,
                headerGeneratorOptions: headerGeneratorOptionsOf(binding.identity),
                followRedirect: request.followRedirect
                    ? (answer: { url: string; headers: IncomingHttpHeaders }) => {
                          const location = answer.headers.location;
                          let target: URL;
                          try {
                              target = new URL(Buffer.from(location ?? '', 'binary').toString(), answer.url);
                          } catch {
                              return false; // an unparseable Location: the redirect is the answer
                          }
                          return request.followRedirect!(target);
                      }
                    : true,
                maxRedirects: MAX_SESSION_REDIRECTS,
                methodRewriting: true,
                throwHttpErrors: false,
                retry: { limit: 0 },
                timeout: { request: (request.timeoutSecs ?? DEFAULT_SESSION_REQUEST_TIMEOUT_SECS) * 1000 },
                signal: binding.signal,
                hooks: { beforeRequest: [hooks.beforeRequest as never], beforeRedirect: [hooks.beforeRedirect as never] },
            });
            const limit = request.maxResponseBytes;
            let tooLarge = false;
            if (limit !== undefined) {
                pending.on('downloadProgress', (progress: { transferred: number }) => {
                    if (progress.transferred > limit && !tooLarge) {
                        tooLarge = true;
                        pending.cancel();
                    }
                });
            }
            let response: Awaited<typeof pending>;
            try {
                response = await pending;
            } catch (error) {
                if (tooLarge) throw new ResponseTooLargeError(limit!);
                throw error;
            }
            pipeline.absorb(state, response.url, response.headers['set-cookie']);
            binding.pace?.answered(response.statusCode, response.headers);
            return {
                statusCode: response.statusCode,
                url: pipeline.publicUrl(state, response.url),
                headers: response.headers,
                body: response.body,
                redirectUrls: response.redirectUrls.map((each) => pipeline.publicUrl(state, each)),
            };
        },
    };
}
