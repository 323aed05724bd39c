/**
 * A small login-protected web site on loopback for tests. Sessions are server-side records bound to the
 * client's IP, User-Agent and Accept-Language, can expire after a number of requests, and the site counts
 * "stale" requests: requests that still carry an old session after a newer login of the same lineage.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { listenOnLoopback } from './loopback.js';

/** Options of {@link startTestSite}. */
export interface TestSiteOptions {
    /** Delay in ms before the answer to `POST /login` is sent (the session is created before the delay). */
    loginDelayMs?: number;
    /** The first N login attempts answer 500 (not undone by `reset()`). */
    failLogins?: number;
    /** Requests a new session may serve on `/whoami` and `/page/<n>` before it expires. Default: Infinity. */
    sessionLifetimeRequests?: number;
    /** Lineage of a login request. Default: header `x-lineage`, else `'default'`. */
    lineageOf?: (req: http.IncomingMessage) => string;
    /** Credential check. Default: `alice`/`secret` and any `userN`/`secret`. */
    checkCredentials?: (user: string, password: string) => boolean;
}

/** State of the `sid` a request carried. */
export type SidState = 'live' | 'expired' | 'unknown' | 'none' | 'identity-mismatch';

/** One entry of the site's request log. */
export interface LoggedRequest {
    path: string;
    method: string;
    ip: string;
    userAgent: string;
    acceptLanguage: string;
    cookies: Record<string, string>;
    sid?: string;
    sidGeneration?: number;
    sidState: SidState;
    /** True when this request was counted in `staleRequests`. */
    stale: boolean;
    receivedAt: number;
}

/** A session the site issued. */
export interface IssuedSession {
    sid: string;
    generation: number;
    lineage: string;
    ip: string;
    userAgent: string;
    acceptLanguage: string;
    issuedAt: number;
}

/** A running test site. Counters and arrays are live views. */
export interface TestSite {
    /** Base URL, e.g. `http://127.0.0.1:40123`. */
    readonly url: string;
    readonly log: LoggedRequest[];
    /** Successful logins. */
    readonly logins: number;
    /** All `POST /login` requests. */
    readonly loginAttempts: number;
    /** Requests carrying an older-generation sid after a newer login of its lineage had been answered. */
    readonly staleRequests: number;
    readonly sessionsIssued: IssuedSession[];
    /** Clears the log, the counters and `sessionsIssued`; existing sessions stay valid. */
    reset(): void;
    /** Closes the server and destroys all its sockets. */
    close(): Promise<void>;
}

interface SessionRecord {
    clientIp: string;
    userAgent: string;
    acceptLanguage: string;
    requestsLeft: number;
    issuedAt: number;
    generationNumber: number;
    lineage: string;
    expired: boolean;
}

const defaultLineageOf = (req: http.IncomingMessage): string => headerOf(req, 'x-lineage') || 'default';
const defaultCheckCredentials = (user: string, password: string): boolean =>
    password === 'secret' && (user === 'alice' || /^user\d+$/.test(user));

function headerOf(req: http.IncomingMessage, name: string): string {
    const value = req.headers[name];
    return Array.isArray(value) ? value.join(', ') : (value ?? '');
}

/** Parses a Cookie header into a name → value record. */
function parseCookieHeader(header: string): Record<string, string> {
    const cookies: Record<string, string> = {};
    for (const part of header.split(';')) {
        const eq = part.indexOf('=');
        if (eq > 0) cookies[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
    }
    return cookies;
}

function escapeHtml(text: string): string {
    return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function sendHtml(res: http.ServerResponse, status: number, body: string, headers: http.OutgoingHttpHeaders = {}): void {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', ...headers });
    res.end(`<!doctype html><html><body>${body}</body></html>`);
}

function sendJson(res: http.ServerResponse, status: number, value: unknown, headers: http.OutgoingHttpHeaders = {}): void {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(value));
}

async function readBody(req: http.IncomingMessage): Promise<Record<string, string>> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    if (headerOf(req, 'content-type').includes('json')) {
        try {
            const parsed: unknown = JSON.parse(text);
            return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, string>) : {};
        } catch {
            return {};
        }
    }
    return Object.fromEntries(new URLSearchParams(text));
}

const LOGIN_FORM =
    '<form method="post" action="/login"><input name="user"><input name="password" type="password">' +
    '<button type="submit">Log in</button></form>';

const BROWSER_PAGE =
    '<p id="nav-ua"></p><script>document.getElementById("nav-ua").textContent = navigator.userAgent;</script>';

/** Starts the protected test site on 127.0.0.1 with a free port. */
export async function startTestSite(options: TestSiteOptions = {}): Promise<TestSite> {
    const lifetime = options.sessionLifetimeRequests ?? Infinity;
    const lineageOf = options.lineageOf ?? defaultLineageOf;
    const checkCredentials = options.checkCredentials ?? defaultCheckCredentials;
    let loginFailuresLeft = options.failLogins ?? 0;

    const sessions = new Map<string, SessionRecord>();
    /** Per lineage: the newest generation whose login answer has been sent. */
    const newestAnswered = new Map<string, { generation: number; answeredAt: number }>();
    let nextGeneration = 1;
    const counters = { logins: 0, loginAttempts: 0, staleRequests: 0 };
    const log: LoggedRequest[] = [];
    const sessionsIssued: IssuedSession[] = [];
    const timers = new Set<NodeJS.Timeout>();

    /** Classifies the request's sid and logs the request; counts it as stale if it is one. */
    function inspect(req: http.IncomingMessage, path: string) {
        const ip = req.socket.remoteAddress ?? '';
        const userAgent = headerOf(req, 'user-agent');
        const acceptLanguage = headerOf(req, 'accept-language');
        const cookies = parseCookieHeader(headerOf(req, 'cookie'));
        const sid = cookies.sid;
        const session = sid ? sessions.get(sid) : undefined;
        let sidState: SidState = 'none';
        if (sid) {
            if (!session) sidState = 'unknown';
            else if (session.expired) sidState = 'expired';
            else if (session.clientIp !== ip || session.userAgent !== userAgent || session.acceptLanguage !== acceptLanguage) {
                sidState = 'identity-mismatch';
            } else sidState = 'live';
        }
        const newest = session ? newestAnswered.get(session.lineage) : undefined;
        // Login requests replace a session rather than use it, so they are never counted as stale.
        const stale = !!session && !!newest && newest.generation > session.generationNumber && path !== '/login';
        if (stale) counters.staleRequests++;
        log.push({
            path, method: req.method ?? 'GET', ip, userAgent, acceptLanguage, cookies, sid,
            sidGeneration: session?.generationNumber, sidState, stale, receivedAt: Date.now(),
        });
        return { ip, userAgent, acceptLanguage, cookies, session, sidState };
    }

    /** Answers `POST /login`: creates a session bound to the client's identity and sets its `sid` cookie. */
    async function handleLogin(
        req: http.IncomingMessage, res: http.ServerResponse, ip: string, userAgent: string, acceptLanguage: string,
    ): Promise<void> {
        counters.loginAttempts++;
        const body = await readBody(req);
        if (loginFailuresLeft > 0) {
            loginFailuresLeft--;
            return sendHtml(res, 500, '<p>login temporarily broken</p>');
        }
        if (!checkCredentials(String(body.user ?? ''), String(body.password ?? ''))) {
            res.writeHead(401, { 'content-type': 'text/plain' }).end('bad credentials');
            return;
        }
        const sid = randomBytes(16).toString('hex');
        const session: SessionRecord = {
            clientIp: ip, userAgent, acceptLanguage, requestsLeft: lifetime, issuedAt: Date.now(),
            generationNumber: nextGeneration++, lineage: lineageOf(req), expired: false,
        };
        sessions.set(sid, session);
        sessionsIssued.push({
            sid, generation: session.generationNumber, lineage: session.lineage, ip, userAgent, acceptLanguage,
            issuedAt: session.issuedAt,
        });
        if (options.loginDelayMs) {
            await new Promise<void>((resolve) => {
                const timer = setTimeout(() => { timers.delete(timer); resolve(); }, options.loginDelayMs);
                timers.add(timer);
            });
        }
        counters.logins++;
        const newest = newestAnswered.get(session.lineage);
        if (!newest || newest.generation < session.generationNumber) {
            newestAnswered.set(session.lineage, { generation: session.generationNumber, answeredAt: Date.now() });
        }
        res.writeHead(302, { location: '/welcome', 'set-cookie': `sid=${sid}; Path=/; HttpOnly` });
        res.end();
    }

    /** Answers `/whoami` and `/page/<n>`: spends one request of a live session, or explains the logout. */
    function handleProtected(req: http.IncomingMessage, res: http.ServerResponse, seen: ReturnType<typeof inspect>) {
        const { session, sidState, ip, userAgent, acceptLanguage, cookies } = seen;
        const loggedIn = sidState === 'live' && !!session;
        if (loggedIn) {
            session.requestsLeft--;
            if (session.requestsLeft <= 0) session.expired = true;
        }
        const reason = loggedIn ? undefined : sidState === 'none' ? 'no-session' : sidState;
        const headers: http.OutgoingHttpHeaders = loggedIn
            ? { 'x-session-state': 'logged-in', 'x-session-generation': String(session.generationNumber) }
            : { 'x-session-state': 'logged-out', 'x-logout-reason': reason };
        const state = loggedIn ? 'logged-in' : 'logged-out';
        if (headerOf(req, 'accept').includes('application/json')) {
            return sendJson(res, 200, {
                state, reason, generation: session && loggedIn ? session.generationNumber : undefined,
                ip, userAgent, acceptLanguage, cookies,
            }, headers);
        }
        const body = loggedIn
            ? `<h1 id="state">logged-in</h1><p id="sid">${session.generationNumber}</p>` +
              `<p id="ua">${escapeHtml(userAgent)}</p><p id="ip">${escapeHtml(ip)}</p>`
            : `<h1 id="state">logged-out</h1><p id="reason">${reason}</p>`;
        sendHtml(res, 200, body, headers);
    }

    async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
        const url = new URL(req.url ?? '/', 'http://site.invalid');
        const path = url.pathname;
        const seen = inspect(req, path);
        const method = req.method ?? 'GET';

        if (path === '/login' && method === 'POST') {
            return handleLogin(req, res, seen.ip, seen.userAgent, seen.acceptLanguage);
        }
        if (method !== 'GET') return sendHtml(res, 405, '<p>method not allowed</p>');
        if (path === '/login') return sendHtml(res, 200, LOGIN_FORM);
        if (path === '/welcome') return sendHtml(res, 200, '<h1 id="welcome">welcome</h1>');
        if (path === '/whoami' || /^\/page\/\d+$/.test(path)) return handleProtected(req, res, seen);
        if (path === '/redirect-chain') {
            res.writeHead(302, { location: '/redirect-chain/2', 'set-cookie': 'hop1=a; Path=/' });
            return void res.end();
        }
        if (path === '/redirect-chain/2') {
            res.writeHead(302, { location: '/redirect-chain/3', 'set-cookie': 'hop2=b; Path=/' });
            return void res.end();
        }
        if (path === '/redirect-chain/3') return sendJson(res, 200, { cookiesSeen: seen.cookies });
        if (path === '/set') {
            const pairs = Object.fromEntries(url.searchParams);
            res.setHeader('set-cookie', Object.entries(pairs).map(([name, value]) => `${name}=${value}; Path=/`));
            return sendJson(res, 200, pairs);
        }
        if (path === '/echo') return sendJson(res, 200, { cookies: seen.cookies, headers: req.headers, ip: seen.ip });
        if (path === '/browser-page') return sendHtml(res, 200, BROWSER_PAGE);
        sendHtml(res, 404, '<p>not found</p>');
    }

    const server = http.createServer((req, res) => {
        handle(req, res).catch((error: unknown) => {
            if (!res.headersSent) sendHtml(res, 500, `<p>${escapeHtml(String(error))}</p>`);
            else res.destroy();
        });
    });
    const listener = await listenOnLoopback(server);

    return {
        url: listener.url,
        log,
        sessionsIssued,
        get logins() { return counters.logins; },
        get loginAttempts() { return counters.loginAttempts; },
        get staleRequests() { return counters.staleRequests; },
        reset() {
            log.length = 0;
            sessionsIssued.length = 0;
            counters.logins = counters.loginAttempts = counters.staleRequests = 0;
        },
        async close() {
            for (const timer of timers) clearTimeout(timer);
            timers.clear();
            await listener.close();
        },
    };
}
