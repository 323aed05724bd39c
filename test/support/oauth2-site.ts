/**
 * A loopback OAuth2 authorization server and API: `POST /token` (form-encoded, RFC 6749) grants `client_credentials`,
 * `password` and `refresh_token`; access tokens last `expiresInSecs` and are announced by `expires_in`; refresh tokens
 * rotate (a used one is dead) and can be revoked. `GET /api/<n>` needs `Authorization: Bearer <live token>` and
 * answers `{ "state": "logged-in" | "logged-out" }`. Errors are RFC 6749 §5.2 JSON (`invalid_client`,
 * `invalid_grant`, `unsupported_grant_type`), with an `error_description` that quotes what it was sent (a careless
 * server's habit the client must not repeat).
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';

import { listenOnLoopback } from './loopback.js';

export interface OAuth2SiteOptions {
    clientId?: string;
    clientSecret?: string;
    /** user → password for the password grant. */
    users?: Record<string, string>;
    expiresInSecs?: number;
    /** Issue refresh tokens (with the password and refresh-token grants). Default true. */
    refreshTokens?: boolean;
}

export interface OAuth2Site {
    readonly url: string;
    readonly grants: Record<string, number>;
    /** Token requests refused, by error code. */
    readonly refused: Record<string, number>;
    readonly apiRequests: number;
    readonly apiLoggedOut: number;
    /** Every request body the token endpoint received (for leak checks). */
    readonly bodies: string[];
    /** Every access and refresh token issued (for leak checks). */
    readonly issued: string[];
    /** Issues a refresh token out of band (as an authorization-code flow would have), for the refresh_token grant. */
    issueRefreshToken(): string;
    /** Every refresh token issued so far stops working. */
    revokeRefreshTokens(): void;
    close(): Promise<void>;
}

export async function startOAuth2Site(options: OAuth2SiteOptions = {}): Promise<OAuth2Site> {
    const clientId = options.clientId ?? 'crawler-client';
    const clientSecret = options.clientSecret ?? 'client-secret-Qx81';
    const users = options.users ?? { alice: 'alice-Pass-77' };
    const expiresIn = options.expiresInSecs ?? 3600;
    const access = new Map<string, number>();
    const refresh = new Set<string>();
    const grants: Record<string, number> = {};
    const refused: Record<string, number> = {};
    const bodies: string[] = [];
    const issued: string[] = [];
    const counts = { apiRequests: 0, apiLoggedOut: 0 };
    const token = () => {
        const value = randomBytes(18).toString('hex');
        issued.push(value);
        return value;
    };

    const json = (response: http.ServerResponse, status: number, body: unknown) =>
        response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
    const refuse = (response: http.ServerResponse, status: number, error: string, sent: URLSearchParams) => {
        refused[error] = (refused[error] ?? 0) + 1;
        json(response, status, { error, error_description: `refused: ${sent.toString()}` });
    };

    const server = http.createServer((request, response) => {
        const url = new URL(request.url ?? '/', 'http://localhost');
        if (url.pathname === '/token' && request.method === 'POST') {
            const chunks: Buffer[] = [];
            request.on('data', (chunk: Buffer) => chunks.push(chunk));
            request.on('end', () => {
                const text = Buffer.concat(chunks).toString('utf8');
                bodies.push(text);
                const form = new URLSearchParams(text);
                if (form.get('client_id') !== clientId || form.get('client_secret') !== clientSecret) return refuse(response, 401, 'invalid_client', form);
                const grant = form.get('grant_type') ?? '';
                let refreshToken: string | undefined;
                if (grant === 'client_credentials') {
                    // no refresh token for this grant (RFC 6749 §4.4.3)
                } else if (grant === 'password') {
                    const user = form.get('username') ?? '';
                    if (!Object.hasOwn(users, user) || users[user] !== form.get('password')) return refuse(response, 400, 'invalid_grant', form);
                    if (options.refreshTokens ?? true) refreshToken = token();
                } else if (grant === 'refresh_token') {
                    const given = form.get('refresh_token') ?? '';
                    if (!refresh.delete(given)) return refuse(response, 400, 'invalid_grant', form);
                    refreshToken = token(); // rotation: the used one is dead
                } else {
                    return refuse(response, 400, 'unsupported_grant_type', form);
                }
                grants[grant] = (grants[grant] ?? 0) + 1;
                const accessToken = token();
                access.set(accessToken, Date.now() + expiresIn * 1000);
                if (refreshToken) refresh.add(refreshToken);
                json(response, 200, {
                    access_token: accessToken,
                    token_type: 'Bearer',
                    expires_in: expiresIn,
                    ...(refreshToken ? { refresh_token: refreshToken } : {}),
                });
            });
            return;
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
    return {
        url: listener.url,
        grants,
        refused,
        bodies,
        issued,
        get apiRequests() {
            return counts.apiRequests;
        },
        get apiLoggedOut() {
            return counts.apiLoggedOut;
        },
        issueRefreshToken() {
            const issued = token();
            refresh.add(issued);
            return issued;
        },
        revokeRefreshTokens() {
            refresh.clear();
        },
        close: () => listener.close(),
    };
}
