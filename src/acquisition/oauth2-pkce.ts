import { createHash, randomBytes } from 'node:crypto';

import type { CookieJar } from 'tough-cookie';

import type { SessionHttpClient, SessionRequest, SessionResponse } from '../request/session-client.js';
import { allCookies } from '../shared/cookies.js';
import { describeCause } from '../shared/describe.js';
import type { Redactor } from './credentials.js';
import { LoginError, isNetworkError } from './errors.js';
import { describeMissing, extractAll, type CapturedExchange, type ExtractedValue } from './extract.js';
import { runHttpLogin } from './http-login.js';
import type { AuthorizationGrant, OAuth2Settings } from './oauth2.js';
import type { LoginRecipe } from './recipe.js';

/** One authorization of a session, through its own client (jar, proxy, identity). */
export interface AuthorizationRun {
    recipe: LoginRecipe;
    settings: OAuth2Settings & { authorizeUrl: string; redirectUri: string };
    http: SessionHttpClient;
    jar: CookieJar;
    /** The account's fields, for the steps' templates. */
    credentials: Readonly<Record<string, string>>;
    totp?: () => Promise<string>;
    redactor: Redactor;
}

/** RFC 6749 §4.1.2.1 and §5.2: `error` is 1*( %x20-21 / %x23-5B / %x5D-7E ). */
const ERROR_CODE = /^[\x20\x21\x23-\x5B\x5D-\x7E]{1,64}$/;
/** The most of an authorization server's page read (its login form is a few KiB). */
const MAX_PAGE_BYTES = 5 * 1024 * 1024;
/** RFC 6749 §A.11: a code is 1*VSCHAR; anything longer than this is not one. */
const CODE = /^[\x20-\x7E]{1,4096}$/;

/** A PKCE pair (RFC 7636 §4.1, §4.2): a 64-character verifier of unreserved characters, and its S256 challenge. */
export function pkcePair(): { verifier: string; challenge: string } {
    const verifier = randomBytes(48).toString('base64url');
    return { verifier, challenge: createHash('sha256').update(verifier, 'ascii').digest('base64url') };
}

/** Whether `target` is the redirect URI (scheme, host and path equal; its query carries the answer). */
export function isRedirectUri(target: URL, redirectUri: URL): boolean {
    return target.protocol === redirectUri.protocol && target.host === redirectUri.host && target.pathname === redirectUri.pathname;
}

/**
 * Sends the session to the authorization endpoint and brings back a code: when the server knows the session (its
 * cookies) it redirects to `redirect_uri` at once; when it shows a login page instead, the recipe's steps log in
 * (with the values of `loginPage.extract`), and the authorization request is sent again if the login did not end
 * with the redirect. The redirect to `redirect_uri` is captured, never fetched; a redirect to any origin other than
 * the authorization server's, the steps' and `authorizeOrigins` is not followed and fails the login.
 * @throws LoginError `rejected` on an `error=` answer (its RFC 6749 code; `temporarily_unavailable` and
 * `server_error` are retryable), a `state` that is not this login's, no code, an unexpected origin; `extraction`
 * when the login page lacks a required value. The code, the verifier and the state never appear in a message.
 */
export async function runAuthorization(run: AuthorizationRun): Promise<AuthorizationGrant> {
    const { settings, redactor } = run;
    const recipe = run.recipe.name;
    const { url, state, verifier } = authorizationRequest(settings, redactor);

    const capture = captureClient(run);
    const authorize = () => capture.send({ url: url.href, headers: { accept: 'text/html,application/xhtml+xml' } }, 'the authorization request');

    let landed = await authorize();
    if (!capture.redirect) {
        // RFC 6749 §4.1.2.1: a client or redirect URI the server does not know is answered, never redirected back.
        if (landed.statusCode >= 400) {
            throw new LoginError('rejected', recipe, `the authorization request answered ${describeAnswer(landed)} (is the client or its redirect_uri registered?)`, {
                status: landed.statusCode,
            });
        }
        if (run.recipe.steps.length === 0) {
            throw new LoginError(
                'rejected',
                recipe,
                `the authorization server asks for a login (${describeAnswer(landed)}) and the recipe has no steps to log in with`,
            );
        }
        const values: Record<string, ExtractedValue> = {};
        const exchange: CapturedExchange = {
            request: { method: 'GET', url: url.href, headers: {} },
            response: { statusCode: landed.statusCode, url: landed.url, headers: landed.headers, body: landed.body },
        };
        const { missing } = extractAll(settings.loginPage, { exchanges: [exchange], cookies: allCookies(run.jar) }, values);
        redactor.add(...Object.values(values).map((entry) => entry.value));
        if (missing.length) {
            throw new LoginError('extraction', recipe, `the authorization server's login page (${describeAnswer(landed)}): not found: ${describeMissing(settings.loginPage, missing)}`);
        }
        await runHttpLogin({
            recipe: run.recipe,
            credentials: run.credentials,
            totp: run.totp,
            http: capture.client,
            jar: run.jar,
            redactor,
            values,
            done: () => capture.redirect !== undefined,
        });
        capture.check();
        // The login ended elsewhere (a page of its own): the server knows the session now.
        if (!capture.redirect) landed = await authorize();
        if (!capture.redirect) {
            throw new LoginError('rejected', recipe, `the authorization server did not redirect to redirect_uri after the login (${describeAnswer(landed)})`, {
                status: landed.statusCode >= 400 ? landed.statusCode : undefined,
            });
        }
    }
    return { code: readAnswer(recipe, capture.redirect, state, redactor), verifier, redirectUri: settings.redirectUri };
}

/** A fresh authorization request: its URL (with a new `state` and S256 challenge) and what checks its answer. */
export function authorizationRequest(
    settings: OAuth2Settings & { authorizeUrl: string; redirectUri: string },
    redactor: Redactor,
): { url: URL; state: string; verifier: string } {
    const { verifier, challenge } = pkcePair();
    const state = randomBytes(24).toString('base64url');
    redactor.add(verifier, state);
    const url = new URL(settings.authorizeUrl);
    for (const [name, value] of Object.entries(settings.authorizeParams)) url.searchParams.set(name, value);
    url.searchParams.set('response_type', 'code');
    url.searchParams.set('client_id', settings.clientId);
    url.searchParams.set('redirect_uri', settings.redirectUri);
    if (settings.scope) url.searchParams.set('scope', settings.scope);
    if (settings.audience) url.searchParams.set('audience', settings.audience);
    url.searchParams.set('state', state);
    url.searchParams.set('code_challenge', challenge);
    url.searchParams.set('code_challenge_method', 'S256');
    return { url, state, verifier };
}

/** `200 at /login`: the status and path of an answer (no query: it may carry the state or a code). */
function describeAnswer(response: SessionResponse): string {
    let path = '?';
    try {
        path = new URL(response.url).pathname;
    } catch {
        // keep '?'
    }
    return `${response.statusCode} at ${path}`;
}

/**
 * A client that follows redirects only within the authorization's origins and stops at `redirect_uri`, keeping
 * the URL it was sent to.
 */
function captureClient(run: AuthorizationRun) {
    const recipe = run.recipe.name;
    const redirectUri = new URL(run.settings.redirectUri);
    const allowed = new Set<string>([
        new URL(run.settings.authorizeUrl).origin,
        new URL(run.settings.tokenUrl).origin,
        ...run.settings.authorizeOrigins,
        ...run.recipe.steps.map((step) => staticOrigin(step.url)).filter((origin): origin is string => origin !== undefined),
    ]);
    let unexpected: string | undefined;
    const result = {
        redirect: undefined as URL | undefined,
        check() {
            if (unexpected) {
                throw new LoginError(
                    'rejected',
                    recipe,
                    `the authorization server redirected to ${unexpected}, which is neither redirect_uri nor an origin of the authorization (not followed; see oauth2.authorizeOrigins)`,
                );
            }
        },
        client: {
            get origins() {
                return run.http.origins;
            },
            async request(request: SessionRequest): Promise<SessionResponse> {
                // A URL filled in from a page (a form's action) may point anywhere: the credentials go to the
                // authorization's origins only.
                const origin = new URL(request.url).origin;
                if (!allowed.has(origin)) {
                    throw new LoginError(
                        'rejected',
                        recipe,
                        `a step of the authorization server's login would go to ${origin}, which is not an origin of the authorization (not sent; see oauth2.authorizeOrigins)`,
                    );
                }
                const response = await run.http.request({
                    ...request,
                    maxResponseBytes: request.maxResponseBytes ?? MAX_PAGE_BYTES,
                    followRedirect: (target) => {
                        if (isRedirectUri(target, redirectUri)) {
                            result.redirect ??= target;
                            return false;
                        }
                        if (allowed.has(target.origin)) return true;
                        unexpected ??= target.protocol === 'http:' || target.protocol === 'https:' ? target.origin : `a ${target.protocol} URL`;
                        return false;
                    },
                });
                result.check();
                return response;
            },
        } satisfies SessionHttpClient,
        async send(request: SessionRequest, label: string): Promise<SessionResponse> {
            try {
                return await result.client.request(request);
            } catch (error) {
                if (error instanceof LoginError) throw error;
                const kind = isNetworkError(error) ? 'network' : 'rejected';
                throw new LoginError(kind, recipe, run.redactor.scrub(`${label} failed: ${describeCause(error)}`));
            }
        },
    };
    return result;
}

/** The origin of a step's URL when the recipe spells it out (no template before the path), else undefined. */
function staticOrigin(url: string): string | undefined {
    const authority = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(url)?.[0];
    if (!authority || authority.includes('{{')) return undefined;
    try {
        return new URL(authority).origin;
    } catch {
        return undefined;
    }
}

/** The code of the redirect to `redirect_uri`, once its `state` is this login's and it carries no `error`. */
export function readAnswer(recipe: string, redirect: URL, state: string, redactor: Redactor): string {
    const params = redirect.searchParams;
    const code = params.get('code');
    if (code) redactor.add(code);
    if (params.get('state') !== state) {
        throw new LoginError(
            'rejected',
            recipe,
            `the redirect to redirect_uri ${params.has('state') ? 'carries another state than the one sent' : 'carries no state'}: not this login's answer (code not used)`,
        );
    }
    const error = params.get('error');
    if (error !== null) {
        const known = ERROR_CODE.test(error) ? redactor.scrub(error) : 'an unreadable error';
        // RFC 6749 §4.1.2.1: these two say "try again later".
        const status = error === 'temporarily_unavailable' ? 503 : error === 'server_error' ? 500 : undefined;
        throw new LoginError('rejected', recipe, `the authorization server refused: ${known}`, { status });
    }
    if (!code) throw new LoginError('rejected', recipe, 'the redirect to redirect_uri carries no code');
    if (!CODE.test(code)) throw new LoginError('rejected', recipe, 'the redirect to redirect_uri carries a code that is not one (too long, or not printable ASCII)');
    return code;
}
