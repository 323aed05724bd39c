/**
 * A loopback OAuth2 authorization server with PKCE (RFC 6749 §4.1, RFC 7636) and an API.
 *
 * - `GET /authorize`: checks `response_type=code`, the client, the registered `redirect_uri` and an S256
 *   `code_challenge`; a browser it knows (cookie `idp_sid`, or `autoApprove`) is redirected to
 *   `redirect_uri?code=…&state=…` at once, any other gets a login page whose form (a hidden `csrf`, an absolute
 *   `action` with a one-time `session_code`, as Keycloak's) posts to `/login-actions/authenticate`.
 * - `POST /login-actions/authenticate`: checks the session code, the CSRF field and the password, sets `idp_sid` and
 *   redirects back to `/authorize` with the original query (which then redirects to `redirect_uri`).
 * - `POST /token`: `authorization_code` (one-time code, same client and `redirect_uri`, `BASE64URL(SHA256(verifier))`
 *   equal to the challenge) and `refresh_token` (rotating, revocable); RFC 6749 §5.2 errors.
 * - `GET /api/<n>`: `Authorization: Bearer <live token>` or 401.
 *
 * `misbehave` makes the authorization endpoint answer as a hostile or failing server would.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';

import { listenOnLoopback } from './loopback.js';

export type Misbehaviour =
    | 'none'
    /** The redirect carries another state than the one sent. */
    | 'wrong-state'
    /** The redirect carries no code. */
    | 'no-code'
    /** `error=access_denied` on the redirect (RFC 6749 §4.1.2.1). */
    | 'access-denied'
    /** `error=temporarily_unavailable` on the redirect: try again later. */
    | 'unavailable'
    /** The code goes to another origin (`foreignUrl`) instead of `redirect_uri`. */
    | 'foreign-redirect'
    /** The login page's form posts to another origin (`foreignUrl`). */
    | 'foreign-form'
    /** The login page's form action is a `javascript:` URL. */
    | 'script-form'
    /** The token endpoint answers 300 KiB of JSON. */
    | 'oversized-token'
    /** The token endpoint sends 64 MiB of JSON, slowly enough to be abandoned. */
    | 'endless-token'
    /** The login page never ends (64 MiB). */
    | 'endless-page'
    /** The token endpoint answers 200 with HTML. */
    | 'malformed-token';

export interface PkceSiteOptions {
    clientId?: string;
    /** The registered redirect URI. */
    redirectUri: string;
    users?: Record<string, string>;
    expiresInSecs?: number;
    /** Every authorization request is approved at once (a browser the server already knows). Default false. */
    autoApprove?: boolean;
    /** The login form answers a page of its own (and the cookie) instead of redirecting back to `/authorize`. Default false. */
    loginAnswersPage?: boolean;
    /** Where `foreign-redirect` and `foreign-form` point. */
    foreignUrl?: string;
}

export interface PkceSite {
    readonly url: string;
    misbehave: Misbehaviour;
    /** Authorization requests, login pages shown, login forms posted (and refused). */
    readonly counts: { authorize: number; loginPages: number; loginPosts: number; loginRefused: number; apiRequests: number; apiLoggedOut: number };
    readonly grants: Record<string, number>;
    readonly refused: Record<string, number>;
    /** The user agent and client address of every request the server saw. */
    readonly seen: Array<{ path: string; userAgent: string | undefined; address: string | undefined }>;
    /** Every code, verifier and token involved (for leak checks). */
    readonly secrets: string[];
    revokeRefreshTokens(): void;
    /** Forgets every browser it knows (its `idp_sid` cookies). */
    forgetBrowsers(): void;
    close(): Promise<void>;
}

interface PendingCode {
    clientId: string;
    redirectUri: string;
    challenge: string;
}

const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

export async function startPkceSite(options: PkceSiteOptions): Promise<PkceSite> {
    const clientId = options.clientId ?? 'crawler-app';
    const users = options.users ?? { alice: 'alice-Pass-77' };
    const expiresIn = options.expiresInSecs ?? 3600;
    const browsers = new Set<string>();
    const pendingLogins = new Map<string, { csrf: string; query: string }>();
    const codes = new Map<string, PendingCode>();
    const access = new Map<string, number>();
    const refresh = new Set<string>();
    const grants: Record<string, number> = {};
    const refused: Record<string, number> = {};
    const secrets: string[] = [];
    const seen: PkceSite['seen'] = [];
    const counts = { authorize: 0, loginPages: 0, loginPosts: 0, loginRefused: 0, apiRequests: 0, apiLoggedOut: 0 };
    const site = { misbehave: 'none' as Misbehaviour };
    let base = '';
    const random = () => {
        const value = randomBytes(18).toString('hex');
        secrets.push(value);
        return value;
    };
    const json = (response: http.ServerResponse, status: number, body: unknown) =>
        response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
    const refuse = (response: http.ServerResponse, error: string, sent: URLSearchParams) => {
        refused[error] = (refused[error] ?? 0) + 1;
        json(response, 400, { error, error_description: `refused: ${sent.toString()}` });
    };
    const cookieOf = (request: http.IncomingMessage, name: string) =>
        (request.headers.cookie ?? '')
            .split(/;\s*/)
            .map((pair) => pair.split('='))
            .find(([key]) => key === name)?.[1];
    const readBody = (request: http.IncomingMessage) =>
        new Promise<string>((resolve) => {
            const chunks: Buffer[] = [];
            request.on('data', (chunk: Buffer) => chunks.push(chunk));
            request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        });

    /** 64 MiB in 64 KiB chunks, each written when the last has drained; stops when the client goes away. */
    const endless = (response: http.ServerResponse, head: string) => {
        response.writeHead(200, { 'content-type': head.startsWith('{') ? 'application/json' : 'text/html' });
        response.write(head);
        const chunk = 'a'.repeat(64 * 1024);
        let left = 1024;
        const pump = () => {
            while (left-- > 0 && !response.destroyed) if (!response.write(chunk)) return void response.once('drain', pump);
            if (!response.destroyed) response.end();
        };
        response.on('close', () => (left = 0));
        pump();
    };
    const redirectBack = (response: http.ServerResponse, query: URLSearchParams) => {
        const target = new URL(site.misbehave === 'foreign-redirect' ? `${options.foreignUrl}/callback` : query.get('redirect_uri')!);
        const state = query.get('state') ?? '';
        if (site.misbehave === 'access-denied' || site.misbehave === 'unavailable') {
            const error = site.misbehave === 'unavailable' ? 'temporarily_unavailable' : 'access_denied';
            target.search = new URLSearchParams({ error, error_description: 'The user said no', state }).toString();
        } else {
            const code = random();
            codes.set(code, { clientId: query.get('client_id')!, redirectUri: query.get('redirect_uri')!, challenge: query.get('code_challenge')! });
            const params = new URLSearchParams({ code, state: site.misbehave === 'wrong-state' ? 'forged-state-value' : state });
            if (site.misbehave === 'no-code') params.delete('code');
            target.search = params.toString();
        }
        response.writeHead(302, { location: target.href }).end();
    };

    const server = http.createServer(async (request, response) => {
        const url = new URL(request.url ?? '/', 'http://localhost');
        seen.push({ path: url.pathname, userAgent: request.headers['user-agent'], address: request.socket.remoteAddress });
        if (url.pathname === '/authorize' && request.method === 'GET') {
            counts.authorize++;
            const query = url.searchParams;
            const invalid =
                query.get('response_type') !== 'code' ||
                query.get('client_id') !== clientId ||
                query.get('redirect_uri') !== options.redirectUri ||
                query.get('code_challenge_method') !== 'S256' ||
                !/^[A-Za-z0-9_-]{43}$/.test(query.get('code_challenge') ?? '') ||
                !query.get('state');
            // RFC 6749 §4.1.2.1: a bad client or redirect URI is never redirected to.
            if (query.get('client_id') !== clientId || query.get('redirect_uri') !== options.redirectUri) return response.writeHead(400).end('bad client');
            if (invalid) {
                const target = new URL(options.redirectUri);
                target.search = new URLSearchParams({ error: 'invalid_request', state: query.get('state') ?? '' }).toString();
                return response.writeHead(302, { location: target.href }).end();
            }
            const sid = cookieOf(request, 'idp_sid');
            if (options.autoApprove || (sid && browsers.has(sid))) return redirectBack(response, query);
            counts.loginPages++;
            if (site.misbehave === 'endless-page') return endless(response, '<html><body>');
            const sessionCode = randomBytes(12).toString('hex');
            const csrf = randomBytes(12).toString('hex');
            pendingLogins.set(sessionCode, { csrf, query: query.toString() });
            const action =
                site.misbehave === 'foreign-form'
                    ? `${options.foreignUrl}/steal?session_code=${sessionCode}`
                    : site.misbehave === 'script-form'
                      ? 'javascript:alert(1)'
                      : `${base}/login-actions/authenticate?session_code=${sessionCode}`;
            return response
                .writeHead(200, { 'content-type': 'text/html' })
                .end(
                    `<html><body><form id="kc-form-login" method="post" action="${action}">` +
                        `<input type="hidden" name="csrf" value="${csrf}"><input name="username"><input name="password" type="password">` +
                        `<button>Sign in</button></form></body></html>`,
                );
        }
        if (url.pathname === '/login-actions/authenticate' && request.method === 'POST') {
            counts.loginPosts++;
            const form = new URLSearchParams(await readBody(request));
            const pending = pendingLogins.get(url.searchParams.get('session_code') ?? '');
            const user = form.get('username') ?? '';
            if (!pending || form.get('csrf') !== pending.csrf || !Object.hasOwn(users, user) || users[user] !== form.get('password')) {
                counts.loginRefused++;
                return response.writeHead(200, { 'content-type': 'text/html' }).end('<p>Invalid username or password.</p>');
            }
            pendingLogins.delete(url.searchParams.get('session_code')!);
            const sid = random();
            browsers.add(sid);
            if (options.loginAnswersPage) {
                return response.writeHead(200, { 'content-type': 'text/html', 'set-cookie': `idp_sid=${sid}; Path=/; HttpOnly` }).end('<p>Welcome, alice.</p>');
            }
            return response.writeHead(302, { location: `/authorize?${pending.query}`, 'set-cookie': `idp_sid=${sid}; Path=/; HttpOnly` }).end();
        }
        if (url.pathname === '/token' && request.method === 'POST') {
            const text = await readBody(request);
            const form = new URLSearchParams(text);
            if (site.misbehave === 'oversized-token') return json(response, 200, { access_token: 'x'.repeat(100), padding: 'y'.repeat(300 * 1024) });
            if (site.misbehave === 'endless-token') return endless(response, '{"access_token":"');
            if (site.misbehave === 'malformed-token') return response.writeHead(200, { 'content-type': 'text/html' }).end('<html>Welcome!</html>');
            if (form.get('client_id') !== clientId) return refuse(response, 'invalid_client', form);
            const grant = form.get('grant_type') ?? '';
            if (grant === 'authorization_code') {
                const code = form.get('code') ?? '';
                const pending = codes.get(code);
                codes.delete(code); // one-time
                const verifier = form.get('code_verifier') ?? '';
                if (verifier) secrets.push(verifier);
                const challenge = createHash('sha256').update(verifier, 'ascii').digest('base64url');
                if (!pending || pending.redirectUri !== form.get('redirect_uri') || pending.clientId !== form.get('client_id') || !VERIFIER.test(verifier) || challenge !== pending.challenge) {
                    return refuse(response, 'invalid_grant', form);
                }
            } else if (grant === 'refresh_token') {
                if (!refresh.delete(form.get('refresh_token') ?? '')) return refuse(response, 'invalid_grant', form);
            } else {
                return refuse(response, 'unsupported_grant_type', form);
            }
            grants[grant] = (grants[grant] ?? 0) + 1;
            const accessToken = random();
            const refreshToken = random();
            access.set(accessToken, Date.now() + expiresIn * 1000);
            refresh.add(refreshToken);
            return json(response, 200, { access_token: accessToken, token_type: 'Bearer', expires_in: expiresIn, refresh_token: refreshToken });
        }
        if (url.pathname.startsWith('/api/')) {
            counts.apiRequests++;
            const bearer = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '')?.[1];
            const live = bearer !== undefined && (access.get(bearer) ?? 0) > Date.now();
            if (!live) counts.apiLoggedOut++;
            return json(response, live ? 200 : 401, { state: live ? 'logged-in' : 'logged-out' });
        }
        response.writeHead(404).end();
    });
    const listener = await listenOnLoopback(server);
    base = listener.url;
    return {
        url: listener.url,
        get misbehave() {
            return site.misbehave;
        },
        set misbehave(value: Misbehaviour) {
            site.misbehave = value;
        },
        counts,
        grants,
        refused,
        seen,
        secrets,
        revokeRefreshTokens: () => refresh.clear(),
        forgetBrowsers: () => browsers.clear(),
        close: () => listener.close(),
    };
}
