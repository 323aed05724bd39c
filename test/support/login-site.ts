/**
 * A loopback web application with the kinds of login the acquisition layer must handle:
 *
 * - `GET /login` + `POST /login`: a classic form login protected by a CSRF token (hidden input and meta tag, bound
 *   to a `pre` cookie); success sets a `sid` cookie and redirects to `/account`;
 * - `POST /api/login`: a JSON API login answering `{ data: { token, apiKey } }` (bearer token, query key);
 * - `GET /app`: a single-page app whose JavaScript signs in through `/api/login`, keeps the token in localStorage
 *   and the key in sessionStorage, then calls `/api/me` with `Authorization: Bearer …`.
 *
 * Protected pages accept a `sid` cookie, a bearer token (as a header or a `token` cookie) or an `api_key` query
 * parameter, and say "logged out" in different ways: a body marker (`/account`, `/page/<n>`), 401 (`/strict/<n>`,
 * `/api/*`), 403 (`/forbidden/<n>`) or a redirect to `/login` (`/members/<n>`). A login can expire after a number of protected requests. A protected
 * request with `?delay=<ms>` is judged on arrival; its headers are sent at once and its body that much later.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { listenOnLoopback } from './loopback.js';

/** Options of {@link startLoginSite}. */
export interface LoginSiteOptions {
    /** Protected requests a login may serve before it expires. Default: Infinity. */
    sessionLifetimeRequests?: number;
    /** The first N login POSTs (form or API) get their connection destroyed: a network error. Default 0. */
    dropLogins?: number;
    /** The only accepted user. Default `alice`. */
    user?: string;
    /** Her password. Default `hunter2-Login-Pass`. */
    password?: string;
}

/** How a protected request was authenticated. */
export type AuthVia = 'cookie' | 'bearer' | 'query' | 'none' | 'expired';

/** One protected request as the site saw it. */
export interface ProtectedRequest {
    path: string;
    via: AuthVia;
    loggedIn: boolean;
    /** Which login served it (1, 2, …), if any. */
    login?: number;
}

/** A running login site. Counters are live. */
export interface LoginSite {
    /** Base URL, e.g. `http://127.0.0.1:40123`. */
    readonly url: string;
    /** `POST /login` requests received (dropped ones included). */
    readonly formLoginPosts: number;
    /** `POST /api/login` requests received (dropped ones included). */
    readonly apiLoginPosts: number;
    /** Successful logins of either kind. */
    readonly logins: number;
    /** Every protected request. */
    readonly protectedRequests: ProtectedRequest[];
    /** Every request body received by the site, for leak checks. */
    readonly bodies: string[];
    /** Expires every login issued so far. */
    expireAll(): void;
    /** Clears counters and logs (logins stay valid). */
    reset(): void;
    close(): Promise<void>;
}

interface Login {
    number: number;
    requestsLeft: number;
    expired: boolean;
}

function headerOf(req: http.IncomingMessage, name: string): string {
    const value = req.headers[name];
    return Array.isArray(value) ? value.join(', ') : (value ?? '');
}

function cookiesOf(req: http.IncomingMessage): Record<string, string> {
    const cookies: Record<string, string> = {};
    for (const part of headerOf(req, 'cookie').split(';')) {
        const eq = part.indexOf('=');
        if (eq > 0) cookies[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
    }
    return cookies;
}

function html(res: http.ServerResponse, status: number, body: string, headers: http.OutgoingHttpHeaders = {}, head = ''): void {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', ...headers });
    res.end(`<!doctype html><html><head>${head}</head><body>${body}</body></html>`);
}

function json(res: http.ServerResponse, status: number, value: unknown, headers: http.OutgoingHttpHeaders = {}): void {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(value));
}

const APP_PAGE = `
<form id="signin" onsubmit="return false">
  <input id="user" name="user"><input id="password" name="password" type="password">
  <button id="submit" type="button">Sign in</button>
</form>
<p id="status">signed out</p>
<script>
document.getElementById('submit').addEventListener('click', async () => {
  const answer = await fetch('/api/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: document.getElementById('user').value, password: document.getElementById('password').value }),
  });
  if (!answer.ok) { document.getElementById('status').textContent = 'refused'; return; }
  const { data } = await answer.json();
  localStorage.setItem('token', data.token);
  sessionStorage.setItem('apiKey', data.apiKey);
  const me = await fetch('/api/me?view=profile', { headers: { authorization: 'Bearer ' + localStorage.getItem('token') } });
  const profile = await me.json();
  const status = document.getElementById('status');
  status.textContent = 'signed in as ' + profile.user;
  status.id = 'signed-in';
});
</script>`;

/** Starts the login site on 127.0.0.1 with a free port. */
export async function startLoginSite(options: LoginSiteOptions = {}): Promise<LoginSite> {
    const user = options.user ?? 'alice';
    const password = options.password ?? 'hunter2-Login-Pass';
    const lifetime = options.sessionLifetimeRequests ?? Infinity;
    let dropsLeft = options.dropLogins ?? 0;
    const counters = { formLoginPosts: 0, apiLoginPosts: 0, logins: 0 };
    const protectedRequests: ProtectedRequest[] = [];
    const bodies: string[] = [];
    /** csrf token by `pre` cookie. */
    const csrfByPre = new Map<string, string>();
    /** Logins by sid, bearer token and api key (the same Login object under each credential it issued). */
    const bySid = new Map<string, Login>();
    const byToken = new Map<string, Login>();
    const byApiKey = new Map<string, Login>();
    const allLogins: Login[] = [];

    function newLogin(): Login {
        counters.logins++;
        const login: Login = { number: counters.logins, requestsLeft: lifetime, expired: false };
        allLogins.push(login);
        return login;
    }

    /** Finds the request's login and spends one request of it. */
    function authenticate(req: http.IncomingMessage, url: URL): { via: AuthVia; login?: Login } {
        const bearer = /^Bearer (.+)$/i.exec(headerOf(req, 'authorization'))?.[1];
        const candidates: Array<[AuthVia, Login | undefined]> = [
            ['bearer', bearer ? byToken.get(bearer) : undefined],
            ['query', byApiKey.get(url.searchParams.get('api_key') ?? '')],
            ['cookie', bySid.get(cookiesOf(req).sid ?? '') ?? byToken.get(cookiesOf(req).token ?? '')],
        ];
        const presented = candidates.filter(([, login]) => login);
        const live = presented.find(([, login]) => !login!.expired);
        if (!live) return { via: presented.length ? 'expired' : 'none' };
        const login = live[1]!;
        login.requestsLeft--;
        if (login.requestsLeft <= 0) login.expired = true;
        return { via: live[0], login };
    }

    async function readBody(req: http.IncomingMessage): Promise<string> {
        const chunks: Buffer[] = [];
        for await (const chunk of req) chunks.push(chunk as Buffer);
        const text = Buffer.concat(chunks).toString('utf8');
        bodies.push(text);
        return text;
    }

    /** True when this login POST must fail with a dropped connection. */
    function drop(req: http.IncomingMessage): boolean {
        if (dropsLeft <= 0) return false;
        dropsLeft--;
        req.socket.destroy();
        return true;
    }

    async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
        const url = new URL(req.url ?? '/', 'http://login-site.invalid');
        const path = url.pathname;
        const method = req.method ?? 'GET';

        if (path === '/login' && method === 'GET') {
            const pre = randomBytes(8).toString('hex');
            const csrf = randomBytes(12).toString('base64url');
            csrfByPre.set(pre, csrf);
            return html(
                res,
                200,
                `<form method="post" action="/login"><input type="hidden" name="csrf" value="${csrf}">` +
                    '<input name="user"><input name="password" type="password"><button>Log in</button></form>',
                { 'set-cookie': `pre=${pre}; Path=/; HttpOnly` },
                `<meta name="csrf-token" content="${csrf}">`,
            );
        }
        if (path === '/login' && method === 'POST') {
            counters.formLoginPosts++;
            if (drop(req)) return;
            const form = new URLSearchParams(await readBody(req));
            const expected = csrfByPre.get(cookiesOf(req).pre ?? '');
            if (!expected || form.get('csrf') !== expected) return html(res, 403, '<p>bad csrf token</p>');
            if (form.get('user') !== user || form.get('password') !== password) {
                return html(res, 200, '<p class="error">Wrong user or password</p><p>Please sign in</p>');
            }
            const sid = randomBytes(16).toString('hex');
            bySid.set(sid, newLogin());
            res.writeHead(302, { location: '/account', 'set-cookie': `sid=${sid}; Path=/; HttpOnly` });
            return void res.end();
        }
        if (path === '/api/login' && method === 'POST') {
            counters.apiLoginPosts++;
            if (drop(req)) return;
            let body: { username?: string; password?: string } = {};
            try {
                body = JSON.parse(await readBody(req)) as typeof body;
            } catch {
                // refused below
            }
            if (body.username !== user || body.password !== password) return json(res, 401, { error: 'invalid credentials' });
            const login = newLogin();
            const token = `tok-${randomBytes(16).toString('hex')}`;
            const apiKey = `key-${randomBytes(8).toString('hex')}`;
            byToken.set(token, login);
            byApiKey.set(apiKey, login);
            return json(res, 200, { data: { token, apiKey, user }, expiresIn: 3600 }, { 'x-request-id': `req-${login.number}` });
        }
        if (path === '/app') return html(res, 200, APP_PAGE);
        if (method !== 'GET') return html(res, 405, '<p>method not allowed</p>');

        const isProtected = /^\/(account|page\/\d+|strict\/\d+|forbidden\/\d+|members\/\d+|api\/me|api\/items\/\d+)$/.test(path);
        if (!isProtected) return html(res, 404, '<p>not found</p>');
        const { via, login } = authenticate(req, url);
        protectedRequests.push({ path, via, loggedIn: !!login, login: login?.number });
        // `?delay=<ms>`: the answer is decided on arrival and its headers sent at once; the body comes later.
        const delay = Math.min(Number(url.searchParams.get('delay') ?? 0), 5_000);
        if (delay > 0) {
            const end = res.end.bind(res) as (...args: unknown[]) => void;
            res.end = ((...args: unknown[]) => {
                res.flushHeaders();
                setTimeout(() => end(...args), delay);
                return res;
            }) as typeof res.end;
        }
        if (path.startsWith('/api/')) {
            return login ? json(res, 200, { state: 'logged-in', user, login: login.number, path }) : json(res, 401, { error: 'unauthorized' });
        }
        if (login) {
            return html(
                res,
                200,
                `<h1 id="state">logged-in</h1><p id="user">${user}</p><p id="login">${login.number}</p><a href="/logout">Log out</a>`,
            );
        }
        if (path.startsWith('/strict/')) return html(res, 401, '<p>unauthorized</p>');
        if (path.startsWith('/forbidden/')) return html(res, 403, '<p>forbidden</p>');
        if (path.startsWith('/members/')) {
            res.writeHead(302, { location: `/login?next=${encodeURIComponent(path)}` });
            return void res.end();
        }
        return html(res, 200, '<h1 id="state">logged-out</h1><p>Please sign in</p>');
    }

    const server = http.createServer((req, res) => {
        handle(req, res).catch((error: unknown) => {
            if (!res.headersSent) html(res, 500, `<p>${String(error)}</p>`);
            else res.destroy();
        });
    });
    const listener = await listenOnLoopback(server);

    return {
        url: listener.url,
        get formLoginPosts() {
            return counters.formLoginPosts;
        },
        get apiLoginPosts() {
            return counters.apiLoginPosts;
        },
        get logins() {
            return counters.logins;
        },
        protectedRequests,
        bodies,
        expireAll() {
            for (const login of allLogins) login.expired = true;
        },
        reset() {
            counters.formLoginPosts = counters.apiLoginPosts = 0;
            protectedRequests.length = 0;
            bodies.length = 0;
        },
        async close() {
            await listener.close();
        },
    };
}
