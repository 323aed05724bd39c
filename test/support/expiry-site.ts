/**
 * A loopback site whose logins last a few seconds and say so: `POST /login` (JSON `{ user, password }`) sets a `sid`
 * cookie with `Max-Age=<lifetime>` and answers `{ token }`, a JWT whose `exp` is the same end. A protected page
 * (`/page/<n>`, `/me`) is logged in only with both, both unexpired and from the same login; it answers
 * `<p id="state">logged-in</p>` or `logged-out`.
 *
 * With `killOld`, a login ends the user's earlier logins (sites that allow one login per user). The site counts what
 * it sees: page requests, those answered logged out, those presenting a login it had ended or let expire (stale), and
 * logins per user.
 */
import { createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';

import { listenOnLoopback } from './loopback.js';

/** Options of {@link startExpirySite}. */
export interface ExpirySiteOptions {
    /** How long a login lasts, in seconds (cookie Max-Age and JWT exp). Default 3. */
    lifetimeSecs?: number;
    /** A login ends the same user's earlier logins. Default false. */
    killOld?: boolean;
    /** Accepted users → password. Default three users `u0`, `u1`, `u2` with password `pw-<user>`. */
    users?: Record<string, string>;
    /** Delay of a page answer, in ms (the request is judged on arrival). Default 0. */
    pageDelayMillis?: number;
    /** Delay of a login's answer, in ms (the login is made, and its end set, when the answer is sent). Default 0. */
    loginDelayMillis?: number;
    /**
     * The site says when its logins end. False: the `sid` cookie is a session cookie, the token an opaque string, and a
     * login ends exactly `lifetimeSecs` after it was made (a site that says nothing). Default true.
     */
    announce?: boolean;
}

/** A running expiry site; counters are live. */
export interface ExpirySite {
    readonly url: string;
    /** Page requests (`/page/…`) received. */
    readonly pages: number;
    /** Page requests answered logged out. */
    readonly loggedOut: number;
    /** Requests (pages and `/me`) presenting a login the site had ended or that had expired. */
    readonly stale: number;
    /** Successful logins per user. */
    readonly logins: Record<string, number>;
    /**
     * The next `count` logins are answered 500 (a site having a bad moment). Not 503: a 429 or 503 is a cooldown status
     * that pauses the session (pacing), which is not what the tests of this site are about.
     */
    failNextLogins(count: number): void;
    close(): Promise<void>;
}

interface Login {
    user: string;
    sid: string;
    endsAt: number;
    killed: boolean;
}

const KEY = randomBytes(16);

function jwt(claims: Record<string, unknown>): string {
    const head = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
    const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
    const signature = createHmac('sha256', KEY).update(`${head}.${body}`).digest('base64url');
    return `${head}.${body}.${signature}`;
}

function verifiedClaims(token: string): { sid?: string; exp?: number } | undefined {
    const [head, body, signature] = token.split('.');
    if (!head || !body || !signature) return undefined;
    const expected = createHmac('sha256', KEY).update(`${head}.${body}`).digest('base64url');
    if (expected !== signature) return undefined;
    return JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as { sid?: string; exp?: number };
}

export async function startExpirySite(options: ExpirySiteOptions = {}): Promise<ExpirySite> {
    const lifetimeSecs = options.lifetimeSecs ?? 3;
    const users = options.users ?? { u0: 'pw-u0', u1: 'pw-u1', u2: 'pw-u2' };
    const logins = new Map<string, Login>();
    const counts = { pages: 0, loggedOut: 0, stale: 0 };
    const perUser: Record<string, number> = {};
    let failing = 0;

    const judge = (request: http.IncomingMessage): 'in' | 'out' | 'stale' => {
        const sid = /(?:^|;\s*)sid=([^;]+)/.exec(request.headers.cookie ?? '')?.[1];
        const bearer = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
        if (!sid && !bearer) return 'out';
        const login = sid ? logins.get(sid) : undefined;
        const claims = bearer?.startsWith('opaque.') ? { sid: bearer.slice('opaque.'.length) } : bearer ? verifiedClaims(bearer) : undefined;
        if (!login || !claims || claims.sid !== sid) return login || claims ? 'stale' : 'out';
        const now = Date.now();
        if (login.killed || now >= login.endsAt || (claims.exp !== undefined && now >= claims.exp * 1000)) return 'stale';
        return 'in';
    };

    const server = http.createServer((request, response) => {
        const url = new URL(request.url ?? '/', 'http://localhost');
        if (url.pathname === '/login' && request.method === 'POST') {
            const chunks: Buffer[] = [];
            request.on('data', (chunk: Buffer) => chunks.push(chunk));
            request.on('end', () => setTimeout(answerLogin, options.loginDelayMillis ?? 0));
            const answerLogin = () => {
                let body: { user?: unknown; password?: unknown } = {};
                try {
                    body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
                } catch {
                    // refused below
                }
                if (failing > 0) {
                    failing--;
                    response.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"try later"}');
                    return;
                }
                const user = typeof body.user === 'string' ? body.user : '';
                if (!users[user] || users[user] !== body.password) {
                    response.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"bad credentials"}');
                    return;
                }
                if (options.killOld) for (const login of logins.values()) if (login.user === user) login.killed = true;
                const now = Date.now();
                const sid = randomBytes(12).toString('hex');
                if (options.announce === false) {
                    logins.set(sid, { user, sid, endsAt: now + lifetimeSecs * 1000, killed: false });
                    perUser[user] = (perUser[user] ?? 0) + 1;
                    response.writeHead(200, { 'content-type': 'application/json', 'set-cookie': `sid=${sid}; Path=/; HttpOnly` });
                    response.end(JSON.stringify({ token: `opaque.${sid}` }));
                    return;
                }
                // The JWT says seconds: the login ends at the whole second, and the cookie with it.
                const exp = Math.floor(now / 1000) + lifetimeSecs;
                logins.set(sid, { user, sid, endsAt: exp * 1000, killed: false });
                perUser[user] = (perUser[user] ?? 0) + 1;
                const maxAge = Math.max(1, Math.floor((exp * 1000 - now) / 1000));
                response.writeHead(200, {
                    'content-type': 'application/json',
                    'set-cookie': `sid=${sid}; Path=/; Max-Age=${maxAge}; HttpOnly`,
                });
                response.end(JSON.stringify({ token: jwt({ sid, sub: user, iat: exp - lifetimeSecs, exp }) }));
            };
            return;
        }
        if (url.pathname === '/me' || url.pathname.startsWith('/page/')) {
            const verdict = judge(request);
            if (verdict === 'stale') counts.stale++;
            if (url.pathname.startsWith('/page/')) {
                counts.pages++;
                if (verdict !== 'in') counts.loggedOut++;
            }
            const html = `<html><body><p id="state">${verdict === 'in' ? 'logged-in' : 'logged-out'}</p></body></html>`;
            const send = () => response.writeHead(200, { 'content-type': 'text/html' }).end(html);
            if (options.pageDelayMillis && url.pathname.startsWith('/page/')) setTimeout(send, options.pageDelayMillis);
            else send();
            return;
        }
        response.writeHead(404).end();
    });
    const listener = await listenOnLoopback(server);
    return {
        url: listener.url,
        get pages() {
            return counts.pages;
        },
        get loggedOut() {
            return counts.loggedOut;
        },
        get stale() {
            return counts.stale;
        },
        logins: perUser,
        failNextLogins(count: number) {
            failing = count;
        },
        close: () => listener.close(),
    };
}
