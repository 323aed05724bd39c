/**
 * A small login-protected shop on 127.0.0.1, built like the sites people crawl with sessions:
 *
 * - `GET /login` serves a form with a CSRF token (hidden input `csrf`, also set as the `csrf` cookie);
 *   `POST /login` checks both, then answers `302 /account` with `Set-Cookie: sid=…; HttpOnly`.
 * - `GET /app` is a single-page app whose JavaScript logs in through `POST /api/login` (JSON). The API answers
 *   `{ token }` and sets the same kind of `sid` cookie; the page keeps the token in localStorage.
 * - `GET /catalog/<n>` shows a product to logged-in visitors and `<h1 id="state">logged-out</h1>` to the rest.
 *
 * A login is bound to the client's IP address and User-Agent and expires after `sessionLifetime` logged-in page
 * views. The site counts "stale" requests: requests carrying the sid of an expired login although a newer login
 * of the same user had already been answered. A crawler that renews sessions cleanly never sends one.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface DemoSiteOptions {
    /** user name → password of the accounts that may log in. */
    accounts: Record<string, string>;
    /** Logged-in page views (`/account`, `/catalog/<n>`) a login serves before it expires. Default: unlimited. */
    sessionLifetime?: number;
}

export interface DemoSiteStats {
    /** Every request the site received. */
    requests: number;
    /** Successful logins, through the form and through the API. */
    logins: number;
    /** Catalog pages served, and how many of them to a logged-in visitor. */
    catalogPages: number;
    loggedInPages: number;
    /** Requests carrying an expired sid after a newer login of the same user had been answered. */
    staleRequests: number;
    /** Requests whose sid was presented from another IP address or User-Agent than the one that logged in. */
    identityMismatches: number;
}

export interface DemoSite {
    readonly url: string;
    readonly stats: Readonly<DemoSiteStats>;
    close(): Promise<void>;
}

interface Login {
    user: string;
    ip: string;
    userAgent: string;
    /** Increases with every login of any user; orders the logins of one user. */
    number: number;
    viewsLeft: number;
    expired: boolean;
}

const PRODUCTS = ['Teapot', 'Lamp', 'Backpack', 'Notebook', 'Umbrella', 'Kettle', 'Bicycle bell', 'Desk fan'];
const COLOURS = ['red', 'teal', 'amber', 'graphite', 'olive', 'ivory', 'navy'];

function productName(n: number): string {
    return `${COLOURS[n % COLOURS.length]} ${PRODUCTS[n % PRODUCTS.length]} No. ${n}`;
}

function header(req: http.IncomingMessage, name: string): string {
    const value = req.headers[name];
    return Array.isArray(value) ? value.join(', ') : (value ?? '');
}

function parseCookies(req: http.IncomingMessage): Record<string, string> {
    const cookies: Record<string, string> = {};
    for (const part of header(req, 'cookie').split(';')) {
        const eq = part.indexOf('=');
        if (eq > 0) cookies[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
    }
    return cookies;
}

async function readBody(req: http.IncomingMessage): Promise<Record<string, string>> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    if (header(req, 'content-type').includes('json')) {
        try {
            const parsed: unknown = JSON.parse(text);
            return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, string>) : {};
        } catch {
            return {};
        }
    }
    return Object.fromEntries(new URLSearchParams(text));
}

function escapeHtml(text: string): string {
    return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, body: string): string {
    return `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body>${body}</body></html>`;
}

function sendHtml(res: http.ServerResponse, status: number, html: string, headers: http.OutgoingHttpHeaders = {}): void {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', ...headers });
    res.end(html);
}

function sendJson(res: http.ServerResponse, status: number, value: unknown, headers: http.OutgoingHttpHeaders = {}): void {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(value));
}

const loginForm = (csrf: string) =>
    page(
        'Sign in',
        `<h1>Sign in</h1>
<form method="post" action="/login">
  <input type="hidden" name="csrf" value="${csrf}">
  <label>User <input name="user"></label>
  <label>Password <input name="password" type="password"></label>
  <button type="submit">Sign in</button>
</form>`,
    );

/** The single-page app: signs in through the JSON API and keeps the API token in localStorage. */
const APP_PAGE = page(
    'Shop app',
    `<h1>Shop app</h1>
<form id="login">
  <input id="user" name="user">
  <input id="password" name="password" type="password">
  <button id="submit" type="submit">Sign in</button>
</form>
<p id="status">signed out</p>
<script>
document.getElementById('login').addEventListener('submit', async (event) => {
  event.preventDefault();
  const status = document.getElementById('status');
  status.textContent = 'signing in';
  const response = await fetch('/api/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      user: document.getElementById('user').value,
      password: document.getElementById('password').value,
    }),
  });
  if (!response.ok) {
    status.textContent = 'sign-in failed';
    return;
  }
  const { token } = await response.json();
  localStorage.setItem('token', token);
  status.textContent = 'ready';
});
</script>`,
);

/** Starts the demo site on 127.0.0.1 with a free port. */
export async function startDemoSite(options: DemoSiteOptions): Promise<DemoSite> {
    const lifetime = options.sessionLifetime ?? Infinity;
    const logins = new Map<string, Login>(); // sid → login
    const csrfTokens = new Set<string>();
    /** Per user: the number of the newest login whose answer has been sent. */
    const newestAnswered = new Map<string, number>();
    let loginNumber = 0;
    const stats: DemoSiteStats = {
        requests: 0, logins: 0, catalogPages: 0, loggedInPages: 0, staleRequests: 0, identityMismatches: 0,
    };

    /** The live login a request presents, if any; counts stale requests and identity mismatches on the way. */
    function loginOf(req: http.IncomingMessage, path: string): Login | undefined {
        const sid = parseCookies(req).sid;
        const login = sid ? logins.get(sid) : undefined;
        if (!login) return undefined;
        const isLoginRequest = path === '/login' || path === '/api/login';
        if (login.expired && !isLoginRequest && (newestAnswered.get(login.user) ?? 0) > login.number) stats.staleRequests++;
        if (login.expired) return undefined;
        if (login.ip !== req.socket.remoteAddress || login.userAgent !== header(req, 'user-agent')) {
            stats.identityMismatches++;
            return undefined;
        }
        return login;
    }

    /** Creates a login bound to the client's identity; returns its sid, or undefined for bad credentials. */
    function logIn(req: http.IncomingMessage, user: string, password: string): string | undefined {
        if (!Object.hasOwn(options.accounts, user) || options.accounts[user] !== password) return undefined;
        const sid = randomBytes(16).toString('hex');
        logins.set(sid, {
            user, ip: req.socket.remoteAddress ?? '', userAgent: header(req, 'user-agent'),
            number: ++loginNumber, viewsLeft: lifetime, expired: false,
        });
        return sid;
    }

    /** Call right before the login answer is sent: from then on, older logins of the user are superseded. */
    function answered(sid: string): void {
        const login = logins.get(sid)!;
        stats.logins++;
        newestAnswered.set(login.user, Math.max(newestAnswered.get(login.user) ?? 0, login.number));
    }

    /** Spends one page view of a login; the view that uses up the lifetime is still served. */
    function view(login: Login | undefined): login is Login {
        if (!login) return false;
        if (--login.viewsLeft <= 0) login.expired = true;
        return true;
    }

    const sidCookie = (sid: string) => `sid=${sid}; Path=/; HttpOnly; SameSite=Lax`;

    async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
        stats.requests++;
        const path = new URL(req.url ?? '/', 'http://demo.invalid').pathname;
        const method = req.method ?? 'GET';
        const login = loginOf(req, path);

        if (path === '/login' && method === 'GET') {
            const csrf = randomBytes(12).toString('hex');
            csrfTokens.add(csrf);
            return sendHtml(res, 200, loginForm(csrf), { 'set-cookie': `csrf=${csrf}; Path=/login; HttpOnly; SameSite=Lax` });
        }
        if (path === '/login' && method === 'POST') {
            const form = await readBody(req);
            const csrf = parseCookies(req).csrf;
            if (!csrf || form.csrf !== csrf || !csrfTokens.delete(csrf)) {
                return sendHtml(res, 403, page('Forbidden', '<p>Invalid or missing CSRF token.</p>'));
            }
            const sid = logIn(req, form.user ?? '', form.password ?? '');
            if (!sid) return sendHtml(res, 401, page('Sign in', '<p>Wrong user name or password.</p>'));
            answered(sid);
            res.writeHead(302, { location: '/account', 'set-cookie': [sidCookie(sid), 'csrf=; Path=/login; Max-Age=0'] });
            return void res.end();
        }
        if (path === '/api/login' && method === 'POST') {
            const body = await readBody(req);
            const sid = logIn(req, String(body.user ?? ''), String(body.password ?? ''));
            if (!sid) return sendJson(res, 401, { error: 'wrong user name or password' });
            answered(sid);
            return sendJson(res, 200, { token: randomBytes(16).toString('hex') }, { 'set-cookie': sidCookie(sid) });
        }
        if (method !== 'GET') return sendHtml(res, 405, page('Not allowed', '<p>Method not allowed.</p>'));
        if (path === '/app') return sendHtml(res, 200, APP_PAGE);
        if (path === '/account') {
            if (!view(login)) return sendHtml(res, 200, page('Account', '<h1 id="state">logged-out</h1>'));
            return sendHtml(res, 200, page('Account', `<h1 id="state">logged-in</h1><p id="user">${escapeHtml(login.user)}</p>`));
        }
        const catalog = /^\/catalog\/(\d+)$/.exec(path);
        if (catalog) {
            stats.catalogPages++;
            const name = productName(Number(catalog[1]));
            if (!view(login)) {
                return sendHtml(res, 200, page(name, '<h1 id="state">logged-out</h1><p>Sign in to see prices.</p>'));
            }
            stats.loggedInPages++;
            return sendHtml(
                res,
                200,
                page(name, `<h1 id="state">logged-in</h1><h2 id="product">${escapeHtml(name)}</h2><p id="price">${(Number(catalog[1]) % 90) + 9}.99</p>`),
            );
        }
        sendHtml(res, 404, page('Not found', '<p>Not found.</p>'));
    }

    const server = http.createServer((req, res) => {
        handle(req, res).catch((error: unknown) => {
            if (!res.headersSent) sendHtml(res, 500, page('Error', `<p>${escapeHtml(String(error))}</p>`));
            else res.destroy();
        });
    });
    const sockets = new Set<Socket>();
    server.on('connection', (socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', resolve);
    });

    return {
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        stats,
        async close() {
            const closed = new Promise<void>((resolve) => server.close(() => resolve()));
            for (const socket of sockets) socket.destroy();
            await closed;
        },
    };
}
