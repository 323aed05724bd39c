/**
 * A small login-protected shop on 127.0.0.1, built like the sites people crawl with sessions:
 *
 * - `GET /login` serves a form with a CSRF token (hidden input `csrf`, also set as the `csrf` cookie);
 *   `POST /login` checks both, then answers `302 /account` with `Set-Cookie: PHPSESSID=…; HttpOnly`.
 * - `POST /api/login` (JSON `{ user, password, code? }`) answers `{ token }`, a bearer token, and sets the same kind of
 *   `PHPSESSID` cookie. `GET /app` is a single-page app whose JavaScript signs in through that API and keeps the
 *   token in localStorage.
 * - Accounts with a second factor (`secondFactors`) must also give the current TOTP code (`code`, in the form or the
 *   JSON): the site checks it itself (RFC 6238 with node:crypto, ±1 time step) and refuses a code it has accepted
 *   before, as sites do.
 * - `GET /catalog/<n>` shows a product (and whose account it is) to logged-in visitors, `<h1 id="state">logged-out</h1>`
 *   to the rest. Every 10th page view of a login rotates its `PHPSESSID` (the old value stays valid), the way
 *   PHP's `session_regenerate_id()` does.
 * - `GET /api/orders/<n>` is a JSON API: it needs `Authorization: Bearer <token>` (401 without a valid one) and, like
 *   an API gateway, the client header `X-Client` (400 without it).
 *
 * A login is bound to the client's IP address and User-Agent and expires after `sessionLifetime` logged-in page
 * views, or after `idleTimeoutSecs` without use. With `stateFile`, the site keeps its logins across restarts, as a
 * real site does while your crawler restarts. The site counts "stale" requests: requests carrying the credential of
 * an expired login although a newer login of the same user had already been answered. A crawler that renews
 * sessions cleanly never sends one.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { dirname } from 'node:path';

/** Options of {@link startDemoSite}. */
export interface DemoSiteOptions {
    /** user name → password of the accounts that may log in. */
    accounts: Record<string, string>;
    /** user name → TOTP second factor (base32 secret; 6 digits, SHA1) of the accounts that have one. Default: none. */
    secondFactors?: Record<string, { secret: string; periodSecs?: number }>;
    /** Logged-in page views (`/account`, `/catalog/<n>`, `/api/orders/<n>`) a login serves before it expires. Default: unlimited. */
    sessionLifetime?: number;
    /** A login unused for this long expires, in seconds. Default 1800. */
    idleTimeoutSecs?: number;
    /** Every this many logged-in page views, a catalog page rotates the login's `PHPSESSID`. Default 10. */
    rotateEvery?: number;
    /** The header (name, lower case, and value) the API requires and the site counts on every page. Default `x-client: crawlee-sessions-demo`. */
    clientHeader?: { name: string; value: string };
    /** A JSON file the site loads its logins from at start and saves them to on close. Default: none (logins die with the site). */
    stateFile?: string;
    /**
     * A login ends this many seconds after it was made, and the site says so: its `PHPSESSID` cookie has the
     * matching `Max-Age`, `/api/login` answers `expires_in`. Default: no time limit.
     */
    loginSecs?: number;
}

/** What the site saw since it started. */
export interface DemoSiteStats {
    /** Every request the site received. */
    requests: number;
    /** Successful logins, through the form and through the API, and per user. */
    logins: number;
    loginsByUser: Record<string, number>;
    /** Catalog pages served, and how many of them to a logged-in visitor. */
    catalogPages: number;
    loggedInPages: number;
    /** API pages requested, and how many were answered logged in (a valid bearer token). */
    apiPages: number;
    apiLoggedIn: number;
    /** Catalog and API pages that carried the client header. */
    clientHeaderPages: number;
    /** API pages served logged in, per user, and how many of them carried `X-Api-Version: 2`. */
    apiPagesByUser: Record<string, { pages: number; withVersion: number }>;
    /** Requests carrying an expired credential after a newer login of the same user had been answered. */
    staleRequests: number;
    /** Requests whose credential was presented from another IP address or User-Agent than the one that logged in. */
    identityMismatches: number;
    /** `PHPSESSID` values rotated. */
    rotations: number;
    /** Second-factor codes accepted, and refused (wrong, missing or already used). */
    secondFactorCodes: number;
    refusedCodes: number;
    /** Users served logged in with a login the site had kept from before its restart (see `stateFile`). */
    resumedUsers: string[];
}

/** A running demo site. */
export interface DemoSite {
    readonly url: string;
    readonly stats: Readonly<DemoSiteStats>;
    /** Saves the logins (with `stateFile`) and stops the server. */
    close(): Promise<void>;
}

interface Login {
    user: string;
    ip: string;
    userAgent: string;
    /** Increases with every login of any user; orders the logins of one user. */
    number: number;
    viewsLeft: number;
    views: number;
    expired: boolean;
    lastUsedAt: number;
    /** Every `PHPSESSID` value of the login (rotation keeps the old ones valid). */
    sids: string[];
    /** The API token of a login made through `/api/login`. */
    token?: string;
    /** When the login ends (ms since the epoch), with `loginSecs`. */
    endsAt?: number;
    /** Loaded from `stateFile`: made before the site restarted. */
    restored?: boolean;
}

/** What `stateFile` holds. */
interface SavedState {
    /** The port the site listened on: a restarted site takes it again, so its origin stays the same. */
    port?: number;
    loginNumber: number;
    newestAnswered: Record<string, number>;
    logins: Array<Omit<Login, 'expired' | 'restored'>>;
}

const SESSION_COOKIE = 'PHPSESSID';
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

/** RFC 6238 (6 digits, SHA1) from the base32 secret, as a site computes it: no library. */
function totpCode(base32: string, step: number): string {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
    let bits = 0;
    let value = 0;
    const bytes: number[] = [];
    for (const char of base32.replace(/\s+|=+$/g, '').toUpperCase()) {
        value = (value << 5) | alphabet.indexOf(char);
        bits += 5;
        if (bits >= 8) {
            bytes.push((value >>> (bits - 8)) & 0xff);
            bits -= 8;
        }
    }
    const counter = Buffer.alloc(8);
    counter.writeBigUInt64BE(BigInt(step));
    const mac = createHmac('sha1', Buffer.from(bytes)).update(counter).digest();
    const offset = mac[mac.length - 1]! & 0x0f;
    const binary = ((mac[offset]! & 0x7f) << 24) | (mac[offset + 1]! << 16) | (mac[offset + 2]! << 8) | mac[offset + 3]!;
    return String(binary % 1_000_000).padStart(6, '0');
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
  <input id="code" name="code" autocomplete="one-time-code" placeholder="code from your authenticator, if you use one">
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
      code: document.getElementById('code').value || undefined,
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

async function loadState(file: string): Promise<SavedState | undefined> {
    try {
        return JSON.parse(await readFile(file, 'utf8')) as SavedState;
    } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw new Error(`The demo site's state file ${file} cannot be read: ${(error as Error).message}`);
    }
}

/** Starts the demo site on 127.0.0.1: on the port of its state file when it has one and the port is free, else a free one. */
export async function startDemoSite(options: DemoSiteOptions): Promise<DemoSite> {
    const lifetime = options.sessionLifetime ?? Infinity;
    const idleMs = (options.idleTimeoutSecs ?? 1800) * 1000;
    const rotateEvery = options.rotateEvery ?? 10;
    const client = options.clientHeader ?? { name: 'x-client', value: 'crawlee-sessions-demo' };
    const bySid = new Map<string, Login>();
    const byToken = new Map<string, Login>();
    const csrfTokens = new Set<string>();
    /** Per user: the number of the newest login whose answer has been sent. */
    const newestAnswered = new Map<string, number>();
    let loginNumber = 0;
    const resumedUsers = new Set<string>();
    const stats: DemoSiteStats = {
        requests: 0, logins: 0, loginsByUser: {}, catalogPages: 0, loggedInPages: 0, apiPages: 0, apiLoggedIn: 0,
        clientHeaderPages: 0, apiPagesByUser: {}, staleRequests: 0, identityMismatches: 0, rotations: 0, secondFactorCodes: 0, refusedCodes: 0,
        get resumedUsers() {
            return [...resumedUsers].sort();
        },
    };

    function register(login: Login): void {
        for (const sid of login.sids) bySid.set(sid, login);
        if (login.token) byToken.set(login.token, login);
    }

    const saved = options.stateFile ? await loadState(options.stateFile) : undefined;
    {
        if (saved) {
            loginNumber = saved.loginNumber;
            for (const [user, number] of Object.entries(saved.newestAnswered)) newestAnswered.set(user, number);
            for (const login of saved.logins) register({ ...login, expired: false, restored: true });
        }
    }

    /**
     * The live login a request presents, if any: the bearer token on the API, the session cookie elsewhere.
     * Counts stale requests and identity mismatches on the way.
     */
    function loginOf(req: http.IncomingMessage, path: string): Login | undefined {
        const bearer = /^Bearer (\S+)$/.exec(header(req, 'authorization'))?.[1];
        const sid = parseCookies(req)[SESSION_COOKIE];
        const login = path.startsWith('/api/') ? (bearer ? byToken.get(bearer) : undefined) : sid ? bySid.get(sid) : undefined;
        if (!login) return undefined;
        if (!login.expired && Date.now() - login.lastUsedAt > idleMs) login.expired = true;
        if (!login.expired && login.endsAt !== undefined && Date.now() >= login.endsAt) login.expired = true;
        const isLoginRequest = path === '/login' || path === '/api/login';
        if (login.expired && !isLoginRequest && (newestAnswered.get(login.user) ?? 0) > login.number) stats.staleRequests++;
        if (login.expired) return undefined;
        if (login.ip !== req.socket.remoteAddress || login.userAgent !== header(req, 'user-agent')) {
            stats.identityMismatches++;
            return undefined;
        }
        return login;
    }

    /** Time steps of accepted codes, per user: a code is good once. */
    const usedSteps = new Set<string>();

    /** Whether the user gave the current TOTP code of their second factor (or has none). */
    function secondFactorPassed(user: string, code: unknown): boolean {
        const factor = options.secondFactors && Object.hasOwn(options.secondFactors, user) ? options.secondFactors[user] : undefined;
        if (!factor) return true;
        const period = factor.periodSecs ?? 30;
        const now = Math.floor(Date.now() / 1000 / period);
        const step = [now - 1, now, now + 1].find((candidate) => typeof code === 'string' && totpCode(factor.secret, candidate) === code);
        if (step === undefined || usedSteps.has(`${user}:${step}`)) {
            stats.refusedCodes++;
            return false;
        }
        usedSteps.add(`${user}:${step}`);
        stats.secondFactorCodes++;
        return true;
    }

    /** Creates a login bound to the client's identity, or undefined for bad credentials. */
    function logIn(req: http.IncomingMessage, user: string, password: string, withToken: boolean, code?: unknown): Login | undefined {
        if (!Object.hasOwn(options.accounts, user) || options.accounts[user] !== password) return undefined;
        if (!secondFactorPassed(user, code)) return undefined;
        const login: Login = {
            user, ip: req.socket.remoteAddress ?? '', userAgent: header(req, 'user-agent'), number: ++loginNumber,
            viewsLeft: lifetime, views: 0, expired: false, lastUsedAt: Date.now(), sids: [randomBytes(16).toString('hex')],
            token: withToken ? randomBytes(16).toString('hex') : undefined,
            endsAt: options.loginSecs === undefined ? undefined : Date.now() + options.loginSecs * 1000,
        };
        register(login);
        return login;
    }

    /** Call right before the login answer is sent: from then on, older logins of the user are superseded. */
    function answered(login: Login): void {
        stats.logins++;
        stats.loginsByUser[login.user] = (stats.loginsByUser[login.user] ?? 0) + 1;
        newestAnswered.set(login.user, Math.max(newestAnswered.get(login.user) ?? 0, login.number));
    }

    /** Spends one page view of a login; the view that uses up the lifetime is still served. */
    function view(login: Login | undefined): login is Login {
        if (!login) return false;
        login.views++;
        login.lastUsedAt = Date.now();
        if (--login.viewsLeft <= 0) login.expired = true;
        if (login.restored) resumedUsers.add(login.user);
        return true;
    }

    // With loginSecs, the cookie announces the login's end (whole seconds, never past the end).
    const sidCookie = (sid: string, login?: Login) =>
        `${SESSION_COOKIE}=${sid}; Path=/; HttpOnly; SameSite=Lax` +
        (login?.endsAt === undefined ? '' : `; Max-Age=${Math.max(0, Math.floor((login.endsAt - Date.now()) / 1000))}`);

    async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
        stats.requests++;
        const path = new URL(req.url ?? '/', 'http://demo.invalid').pathname;
        const method = req.method ?? 'GET';
        const login = loginOf(req, path);
        const hasClientHeader = header(req, client.name) === client.value;

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
            const created = logIn(req, form.user ?? '', form.password ?? '', false, form.code);
            if (!created) return sendHtml(res, 401, page('Sign in', '<p>Wrong user name or password.</p>'));
            answered(created);
            res.writeHead(302, { location: '/account', 'set-cookie': [sidCookie(created.sids[0]!, created), 'csrf=; Path=/login; Max-Age=0'] });
            return void res.end();
        }
        if (path === '/api/login' && method === 'POST') {
            const body = await readBody(req);
            const created = logIn(req, String(body.user ?? ''), String(body.password ?? ''), true, body.code);
            if (!created) return sendJson(res, 401, { error: 'wrong user name or password' });
            answered(created);
            const expiresIn = options.loginSecs === undefined ? {} : { expires_in: options.loginSecs };
            return sendJson(res, 200, { token: created.token, ...expiresIn }, { 'set-cookie': sidCookie(created.sids[0]!, created) });
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
            if (hasClientHeader) stats.clientHeaderPages++;
            const name = productName(Number(catalog[1]));
            if (!view(login)) {
                return sendHtml(res, 200, page(name, '<h1 id="state">logged-out</h1><p>Sign in to see prices.</p>'));
            }
            stats.loggedInPages++;
            const headers: http.OutgoingHttpHeaders = {};
            if (login.views % rotateEvery === 0 && !login.expired) {
                const sid = randomBytes(16).toString('hex');
                login.sids.push(sid);
                bySid.set(sid, login);
                stats.rotations++;
                headers['set-cookie'] = sidCookie(sid, login);
            }
            return sendHtml(
                res,
                200,
                page(
                    name,
                    `<h1 id="state">logged-in</h1><p id="user">${escapeHtml(login.user)}</p>` +
                        `<h2 id="product">${escapeHtml(name)}</h2><p id="price">${(Number(catalog[1]) % 90) + 9}.99</p>`,
                ),
                headers,
            );
        }
        const order = /^\/api\/orders\/(\d+)$/.exec(path);
        if (order) {
            stats.apiPages++;
            if (hasClientHeader) stats.clientHeaderPages++;
            if (!hasClientHeader) return sendJson(res, 400, { error: `the ${client.name} header is required` });
            if (!view(login)) return sendJson(res, 401, { state: 'logged-out' }, { 'www-authenticate': 'Bearer' });
            stats.apiLoggedIn++;
            const byUser = (stats.apiPagesByUser[login.user] ??= { pages: 0, withVersion: 0 });
            byUser.pages++;
            if (header(req, 'x-api-version') === '2') byUser.withVersion++;
            const n = Number(order[1]);
            return sendJson(res, 200, { state: 'logged-in', user: login.user, order: { id: n, item: productName(n), total: (n % 90) + 9.99 } });
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
    // A site keeps its origin across restarts, and the login values a session applies are scoped to origins
    // (scheme, host, port): listen on the previous port again when it is free, else on any free port.
    const listen = (port: number) =>
        new Promise<void>((resolve, reject) => {
            server.once('error', reject);
            server.listen(port, '127.0.0.1', () => {
                server.off('error', reject);
                resolve();
            });
        });
    await listen(saved?.port ?? 0).catch(() => listen(0));
    const { port } = server.address() as AddressInfo;

    async function saveState(file: string): Promise<void> {
        const now = Date.now();
        const live = new Set([...bySid.values(), ...byToken.values()]);
        const state: SavedState = {
            port,
            loginNumber,
            newestAnswered: Object.fromEntries(newestAnswered),
            logins: [...live]
                .filter((login) => !login.expired && now - login.lastUsedAt <= idleMs)
                .map(({ expired: _expired, restored: _restored, ...kept }) => kept),
        };
        await mkdir(dirname(file), { recursive: true });
        await writeFile(`${file}.tmp`, JSON.stringify(state));
        await rename(`${file}.tmp`, file);
    }

    return {
        url: `http://127.0.0.1:${port}`,
        stats,
        async close() {
            const closed = new Promise<void>((resolve) => server.close(() => resolve()));
            for (const socket of sockets) socket.destroy();
            await closed;
            if (options.stateFile) await saveState(options.stateFile);
        },
    };
}
