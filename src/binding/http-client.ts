import type { BaseHttpClient, HttpRequest, HttpResponse, RedirectHandler, StreamingHttpResponse } from '@crawlee/core';

import { internalsOf, type SessionsInternals } from '../core/internals.js';
import type { Sessions } from '../core/sessions.js';
import type { RequestHeaders } from '../headers/strategies.js';
import type { SessionIdentity } from '../model/identity.js';
import { conformHeaders, headerGeneratorOptionsOf } from '../profiles/identity.js';
import { gotHopHooks, isStaleTransmission, type GotHopHooks } from '../request/got-hooks.js';
import type { RequestState } from '../request/pipeline.js';
import { ATTEMPT, type RequestAttempt } from '../session/attempt.js';
import { cooldownOf, LogoutGuardError, paceCrawlRequest, refuseLogout } from './pacing-gate.js';

/**
 * The HTTP client of a crawler with sessions: wraps Crawlee's client (got-scraping by default) and sends every
 * request that carries a session attempt through the session's request path (`RequestPipeline`), hop by hop:
 *
 * - It waits while the session is being renewed, then starts the request under the session's current generation,
 *   with its profile's proxy and its identity.
 * - got's last `beforeRequest` hook prepares each hop (identity, the login's values on the origins they belong to,
 *   header rules and session headers, cookies): if the session was cleared in between, the hop is not sent with the
 *   old session; the request is transparently started again once the renewal is done.
 * - `Set-Cookie` of every response and redirect goes into the session's jar, unless the session was cleared while
 *   the request was in flight: a stale response never writes into the renewed jar.
 * - The response's URL (Crawlee's `loadedUrl`) never shows the login's query values.
 *
 * The inner client must honour got's `hooks` option, as Crawlee's `GotScrapingHttpClient` does. Requests without a
 * session attempt (e.g. a user's own `sendRequest` through `crawler.httpClient`) pass through untouched.
 */
export class SessionBoundHttpClient implements BaseHttpClient {
    readonly #internals: SessionsInternals;

    constructor(
        sessions: Sessions,
        /** The client that actually sends. */
        readonly inner: BaseHttpClient,
    ) {
        this.#internals = internalsOf(sessions);
    }

    async sendRequest<T extends 'text' | 'json' | 'buffer' = 'text'>(request: HttpRequest<T>): Promise<HttpResponse<T>> {
        const attempt = takeAttempt(request);
        if (!attempt) return this.inner.sendRequest(request);
        return this.#transmit(attempt, request, async (prepared, state) => {
            const response = await this.inner.sendRequest(prepared as HttpRequest<T>);
            return this.#received(attempt, state, response);
        });
    }

    async stream(request: HttpRequest, onRedirect?: RedirectHandler): Promise<StreamingHttpResponse> {
        const attempt = takeAttempt(request);
        if (!attempt) return this.inner.stream(request, onRedirect);
        return this.#transmit(attempt, request, async (prepared, state) => {
            const response = await this.inner.stream(prepared, onRedirect);
            try {
                return this.#received(attempt, state, response);
            } catch (error) {
                response.stream.destroy();
                throw error;
            }
        });
    }

    async #transmit<R>(
        attempt: RequestAttempt,
        request: HttpRequest<any>,
        send: (prepared: HttpRequest<any>, state: RequestState) => Promise<R>,
    ): Promise<R> {
        const { pipeline, registry, coordinator, resolve } = this.#internals;
        const explicitCookie = takeCookieHeader(request.headers);
        // Parsed once for the logout guard and every transmission attempt's start (an invalid URL fails in got).
        const url = parsedUrl(request.url);
        refuseLogout(this.#internals, attempt.sessionId, url);
        const loading = pipeline.ready();
        if (loading) await loading;
        for (;;) {
            const session = resolve(attempt.sessionId);
            // The pace first: the renewal wait and the start of the request must stay in one turn of the event loop.
            const paced = paceCrawlRequest(this.#internals, session.id);
            if (paced) await paced;
            const usable = coordinator.whenUsable(session);
            if (usable) await usable;
            const identity = registry.identityOf(session);
            const state = pipeline.begin(session, { identity, url, explicitCookie });
            const prepared = withHooks(request, gotHopHooks(pipeline, state, { inTransit: session.inTransit }), {
                proxyUrl: registry.proxyUrlOf(session) ?? request.proxyUrl,
                sessionToken: session.headerToken,
                identity,
                // A redirect to a URL that would log the session out is not followed.
                guardRedirect: (next) => refuseLogout(this.#internals, session.id, next.url),
            });
            attempt.sentGeneration = state.generation;
            session.count('requests');
            try {
                return await send(prepared, state);
            } catch (error) {
                const refused = logoutRefusalIn(error);
                if (refused) throw refused; // got wraps it: Crawlee must see that it is not retryable
                if (!isStaleTransmission(error)) throw error;
                session.count('requests', -1);
                this.#internals.stats.staleRetries++;
            }
        }
    }

    /**
     * Absorbs the final response's cookies and hides the login's query values in the URLs Crawlee keeps. A cooldown
     * status (429, 503, …) pauses the session and throws the request back to the queue, to be retried after the pause.
     */
    #received<R extends { url: string; redirectUrls?: unknown[]; headers: RequestHeaders; statusCode?: number }>(
        attempt: RequestAttempt,
        state: RequestState,
        response: R,
    ): R {
        const { pipeline } = this.#internals;
        pipeline.absorb(state, response.url, response.headers['set-cookie']);
        const cooldown = cooldownOf(this.#internals, attempt.sessionId, response.statusCode ?? 0, response.headers['retry-after']);
        if (cooldown) throw cooldown;
        response.url = pipeline.publicUrl(state, response.url);
        if (Array.isArray(response.redirectUrls)) {
            response.redirectUrls = response.redirectUrls.map((url) => new URL(pipeline.publicUrl(state, String(url))));
        }
        return response;
    }
}

/**
 * The request with our hooks last (they run right before the socket), the session's proxy and header token, and the
 * header-generator options of its browser family (so got-scraping generates the headers that browser sends).
 */
function withHooks(
    request: HttpRequest<any>,
    hooks: GotHopHooks,
    overrides: { proxyUrl: string | undefined; sessionToken: object; identity: SessionIdentity; guardRedirect: (next: { url: URL | string }) => void },
): HttpRequest<any> {
    const theirs = (request.hooks ?? {}) as Record<string, unknown[] | undefined>;
    const headers: RequestHeaders = { ...request.headers };
    // The identity's User-Agent up front: got-scraping merges its generated headers and picks its TLS settings by it.
    conformHeaders(overrides.identity, headers);
    return {
        ...request,
        headers: headers as HttpRequest<any>['headers'],
        proxyUrl: overrides.proxyUrl,
        sessionToken: overrides.sessionToken,
        headerGeneratorOptions: headerGeneratorOptionsOf(overrides.identity),
        hooks: {
            ...theirs,
            beforeRequest: [...(theirs.beforeRequest ?? []), hooks.beforeRequest],
            beforeRedirect: [...(theirs.beforeRedirect ?? []), overrides.guardRedirect, hooks.beforeRedirect],
        },
    };
}

/** The request's URL parsed; as it is when it does not parse (got then fails it with its own error). */
function parsedUrl(url: string | URL): string | URL {
    if (typeof url !== 'string') return url;
    try {
        return new URL(url);
    } catch {
        return url;
    }
}

/** The logout guard's refusal behind a got error, if that is what stopped the request. */
function logoutRefusalIn(error: unknown): LogoutGuardError | undefined {
    for (let current: unknown = error, depth = 0; current && depth < 5; depth++) {
        if (current instanceof LogoutGuardError) return current;
        current = (current as { cause?: unknown }).cause;
    }
    return undefined;
}

/** Removes the session attempt from the request options (so the inner client never sees it) and returns it. */
function takeAttempt(request: HttpRequest<any>): RequestAttempt | undefined {
    const carrier = request as unknown as Record<symbol, RequestAttempt | undefined>;
    const attempt = carrier[ATTEMPT];
    delete carrier[ATTEMPT];
    return attempt;
}

/** The request's own Cookie header (the pipeline sends it after the jar's cookies, to its first origin only). */
function takeCookieHeader(headers: RequestHeaders | undefined): string | undefined {
    let value: string | undefined;
    for (const [key, each] of Object.entries(headers ?? {})) {
        if (key.toLowerCase() === 'cookie' && each !== undefined) value = Array.isArray(each) ? each.join('; ') : each;
    }
    return value;
}
