import type { CookieJar } from 'tough-cookie';

import type { HeaderPipeline, AppliedHeaders } from '../headers/pipeline.js';
import { readHeader, writeHeader, type RequestHeaders } from '../headers/strategies.js';
import type { SessionIdentity } from '../model/identity.js';
import type { SessionAuth } from '../model/types.js';
import { conformHeaders } from '../profiles/identity.js';
import { cookieHeaderOf } from '../session/cookie-header.js';
import { mergeCookieHeaders, storeSetCookieHeaders } from '../shared/cookies.js';
import type { SessionTokens } from '../tokens/session-tokens.js';
import { originScopeOf, type OriginScope } from './origin-scope.js';

/**
 * What the request path needs of a session: a live `BoundSession`, or the detached session a maintainer or
 * `acquire()` logs in with.
 */
export interface HopSession {
    readonly id: string;
    readonly jar: CookieJar;
    /** Bumped by every clear: a request prepared under an older generation is stale. */
    readonly generation: number;
    /** The values the session's login applies, scoped to their origins. */
    readonly auth: SessionAuth | undefined;
    /**
     * The oldest generation whose requests may still be sent: a renewal ahead of expiry switches to a new
     * generation while the old login stays valid, so requests begun under it finish with its cookies and values.
     * Default: the current generation only.
     */
    readonly validSince?: number;
}

/** Options of {@link RequestPipeline.begin}. */
export interface BeginRequestOptions {
    /** The identity the request presents (every hop). */
    identity: SessionIdentity;
    /** The URL of the first hop. */
    url: string | URL;
    /**
     * Lower-case names of the headers the caller put on this request (a login step's or a check's own headers).
     * They go to the first hop's origin only; a redirect to another origin drops them, as it drops
     * `Authorization` and `Proxy-Authorization`. Default: none (a crawl's request headers follow got's rule).
     */
    ownHeaders?: Iterable<string>;
    /** A `Cookie` header the caller set: sent to the first hop's origin only, after the jar's cookies. Default none. */
    explicitCookie?: string;
    /**
     * Who presents the identity and keeps the cookies: `'http'` — the pipeline sets the identity headers and the
     * Cookie header from the session's jar on every hop, and counts every hop for its site; `'browser'` — a
     * Playwright context already presents the identity and keeps its own cookies (the pipeline only adds the
     * login's values, header rules and session headers).
     * @default 'http'
     */
    client?: 'http' | 'browser';
}

/** One hop of a request, as the transport is about to send it; `headers` are changed in place. */
export interface Hop {
    url: URL;
    /** The HTTP method (any case). */
    method: string;
    headers: RequestHeaders;
}

/** Credential headers no hop to another origin may carry (browsers, got and curl drop them). */
const CREDENTIAL_HEADERS = ['authorization', 'proxy-authorization'];

/**
 * The state of one request of a session across its redirect hops: what was fixed when it started (generation,
 * identity, first origin) and what the previous hop applied (so the next hop starts from the request's own
 * headers). Created by {@link RequestPipeline.begin}; one per transmission attempt.
 */
export class RequestState {
    /** What header rules and session headers changed on the previous hop (undone before the next one). */
    ruleChanges: AppliedHeaders | undefined;
    /** Names of the login headers the previous hop carried (removed before the next one decides again). */
    loginHeaders: readonly string[] = [];
    /** The login's query parameters the previous hop carried (name → value), to keep them out of public URLs. */
    loginQuery: ReadonlyMap<string, string> | undefined;

    constructor(
        readonly session: HopSession,
        /** The session's generation when the request started. */
        readonly generation: number,
        readonly identity: SessionIdentity,
        /** The origin of the first hop. */
        readonly firstOrigin: string,
        readonly ownHeaders: ReadonlySet<string>,
        readonly explicitCookie: string | undefined,
        /** An HTTP client (identity, cookies and message counts are the pipeline's), not a browser. */
        readonly http: boolean,
        readonly loginScope: OriginScope,
        /** The jar and login values of the request's generation (a switch ahead of expiry does not change them). */
        readonly jar: CookieJar = session.jar,
        readonly auth: SessionAuth | undefined = session.auth,
    ) {}

    /** Whether the session was cleared since the request started: nothing of it may be sent any more. */
    get stale(): boolean {
        const { validSince, generation } = this.session;
        return validSince === undefined ? generation !== this.generation : this.generation < validSince;
    }
}

const NO_HEADERS: ReadonlySet<string> = new Set();

/**
 * The one request path of a session. Every request a session makes — the crawler's HTTP requests, logins,
 * checks and renewals, and every request of a Playwright page — is prepared here, hop by hop, and its response
 * absorbed here; the transports (got hooks, the login client, the Playwright route) only carry the result.
 *
 * For every hop, in this order:
 *
 * 1. **Origin change.** On a hop to another origin than the first one, `Authorization`, `Proxy-Authorization`
 *    and the caller's own headers (a login step's, a check's) are dropped; what the previous hop carried from
 *    the login is taken off before the scope is decided again for this hop.
 * 2. **Identity.** The session's User-Agent, Accept-Language and client hints (client hints only for the
 *    browsers that send them).
 * 3. **Login values.** The headers and query parameters the session's login applies, only when the hop's origin
 *    is in the login's scope (`SessionAuth.origins`: deny by default).
 * 4. **Header rules and session headers**, evaluated for this hop's URL (what they changed on the previous hop is
 *    undone first).
 * 5. **Cookies** from the session's jar for this hop's URL (tough-cookie's domain, path and secure rules), then the
 *    caller's explicit `Cookie` header on the first origin only, and the hop is counted for its site (ZAP-style
 *    message counts). A Playwright page sends its context's cookies and presents its identity itself (steps 2 and
 *    5 are the browser's there).
 *
 * A response (every redirect hop's and the final one) is absorbed by {@link absorb}: its `Set-Cookie` headers
 * go into the jar, with token rotations recorded, unless the session was cleared since the request started.
 */
export class RequestPipeline {
    constructor(
        private readonly services: {
            /** Header rules and session headers; none: skipped. */
            readonly headers?: HeaderPipeline;
            /** Token tracking; none: Set-Cookie goes straight into the jar. */
            readonly tokens?: SessionTokens;
        } = {},
    ) {}

    #loaded = false;

    /**
     * Resolves once header rules and session headers are loaded (requests wait for it once); undefined once they are,
     * so that a request does not wait a turn of the event loop for nothing.
     */
    ready(): Promise<void> | undefined {
        if (this.#loaded) return undefined;
        const loading = this.services.headers?.ready();
        if (!loading) {
            this.#loaded = true;
            return undefined;
        }
        return loading.then(() => {
            this.#loaded = true;
        });
    }

    /** Starts a request of a session: fixes its generation, identity and first origin. */
    begin(session: HopSession, options: BeginRequestOptions): RequestState {
        const url = typeof options.url === 'string' ? new URL(options.url) : options.url;
        return new RequestState(
            session,
            session.generation,
            options.identity,
            url.origin,
            options.ownHeaders ? new Set([...options.ownHeaders].map((name) => name.toLowerCase())) : NO_HEADERS,
            options.explicitCookie || undefined,
            (options.client ?? 'http') === 'http',
            originScopeOf(session.auth?.origins),
        );
    }

    /**
     * Prepares one hop in place (see the class documentation for the order). Returns the URL to send the hop to:
     * the hop's URL with the login's query parameters when its origin is in scope (the same object otherwise).
     * Nothing of the login is applied when the request is stale.
     */
    prepareHop(state: RequestState, hop: Hop): URL {
        const { headers } = hop;
        const sameOrigin = hop.url.origin === state.firstOrigin;
        for (const name of state.loginHeaders) writeHeader(headers, name, undefined);
        state.loginHeaders = [];
        if (!sameOrigin) {
            for (const name of CREDENTIAL_HEADERS) writeHeader(headers, name, undefined);
            for (const name of state.ownHeaders) writeHeader(headers, name, undefined);
        }

        if (state.http) conformHeaders(state.identity, headers);

        let url = hop.url;
        state.loginQuery = undefined;
        const auth = state.auth;
        if (auth && !state.stale && state.loginScope.allows(hop.url)) {
            const names: string[] = [];
            for (const [name, value] of Object.entries(auth.headers)) {
                writeHeader(headers, name.toLowerCase(), value);
                names.push(name.toLowerCase());
            }
            state.loginHeaders = names;
            const query = Object.entries(auth.query);
            if (query.length > 0) {
                url = new URL(hop.url);
                for (const [name, value] of query) url.searchParams.set(name, value);
                state.loginQuery = new Map(query);
            }
        }

        const rules = this.services.headers;
        if (rules) {
            state.ruleChanges = rules.apply(headers, { url: hop.url, method: hop.method.toUpperCase(), sessionId: state.session.id }, state.ruleChanges);
        }

        if (state.http) {
            const fromJar = cookieHeaderOf(state.jar, hop.url);
            const explicit = sameOrigin ? state.explicitCookie : undefined;
            // The jar's header goes as tough-cookie built it (same-named cookies of several paths all go, as in a browser).
            const cookie = explicit ? mergeCookieHeaders(fromJar, explicit) : fromJar;
            writeHeader(headers, 'cookie', cookie || undefined);
            this.services.tokens?.countMessage(state.session.id, hop.url);
        }
        return url;
    }

    /**
     * Takes in a response of the request (a redirect hop's or the final one): its `Set-Cookie` headers go into the
     * session's jar (token rotations recorded), unless the session was cleared since the request started — a stale
     * response never writes into the renewed jar.
     */
    absorb(state: RequestState, url: string | URL, setCookie: string | string[] | undefined): void {
        if (state.stale || !setCookie || setCookie.length === 0) return;
        const { jar } = state;
        const { id } = state.session;
        const store = () => void storeSetCookieHeaders(jar, setCookie, url);
        if (this.services.tokens) this.services.tokens.observeSetCookie(id, jar, url, setCookie, store);
        else store();
    }

    /**
     * The URL as the caller may show and keep it: without the login's query parameters the pipeline added (a
     * parameter the caller had with the same name and another value is kept). What Crawlee stores as
     * `loadedUrl`, logs and request queues see.
     */
    publicUrl(state: RequestState, url: string | URL): string {
        const text = typeof url === 'string' ? url : url.href;
        const query = state.auth?.query;
        if (!query || !text.includes('?')) return text;
        const entries = Object.entries(query);
        if (entries.length === 0) return text;
        const parsed = new URL(text);
        let changed = false;
        for (const [name, value] of entries) {
            if (parsed.searchParams.getAll(name).includes(value)) {
                const kept = parsed.searchParams.getAll(name).filter((each) => each !== value);
                parsed.searchParams.delete(name);
                for (const each of kept) parsed.searchParams.append(name, each);
                changed = true;
            }
        }
        return changed ? parsed.href : text;
    }
}

/** The value of a header whatever the case of its name (re-exported for transports). */
export { readHeader };
