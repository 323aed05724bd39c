/**
 * A loopback staff site with several accounts and a TOTP second factor, for tests of accounts. It verifies the
 * codes itself (RFC 6238 with node:crypto, independently of the code under test: its own base32 decoder, HOTP and
 * dynamic truncation), accepts ±1 time step, and refuses a code whose (account, step) it has already accepted.
 *
 * - `GET /login`: a form with a CSRF token (hidden `csrf`, bound to a `pre` cookie).
 * - `POST /login` (`user`, `password`, `csrf`): wrong credentials answer 401; an account with a second factor gets a
 *   `pending` cookie and `302 /login/otp`; one without gets its `sid` cookie and `302 /welcome`.
 * - `GET /login/otp`: the code form. `POST /login/otp` (`code`): a valid unused code gives the `sid` cookie and
 *   `302 /welcome`; a replayed code or a wrong one answers 401.
 * - `GET /page/<for>/<n>`: a protected page meant for the account `<for>` (the test's intent); the site records which
 *   account it was served to. `GET /whoami`: `logged-in as <user>` or `logged-out`.
 *
 * A login expires after `sessionLifetimeRequests` protected requests. Everything is counted for the tests to assert.
 */
import { createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';

import { listenOnLoopback } from './loopback.js';

/** A second factor as the site stores it. */
export interface SiteTotp {
    /** Base32 (RFC 4648). */
    secret: string;
    /** Default 6. */
    digits?: number;
    /** Default 30. */
    periodSecs?: number;
    /** Default SHA1. */
    algorithm?: 'SHA1' | 'SHA256' | 'SHA512';
}

/** An account of the site. */
export interface SiteAccount {
    password: string;
    totp?: SiteTotp;
}

/** Options of {@link startAccountsSite}. */
export interface AccountsSiteOptions {
    accounts: Record<string, SiteAccount>;
    /** Protected requests a login serves before it expires. Default: Infinity. */
    sessionLifetimeRequests?: number;
}

/** A protected page as the site served it. */
export interface ServedPage {
    path: string;
    /** The account the page was meant for (from its URL). */
    intendedFor: string;
    /** The account it was served to; null when logged out. */
    servedTo: string | null;
}

/** A running accounts site. Everything is live. */
export interface AccountsSite {
    readonly url: string;
    /** Every request to a `/login…` path (form, post, code form, code post), by anyone. */
    readonly loginRequests: number;
    /** `POST /login` requests by the user they named. */
    readonly loginPostsByUser: Record<string, number>;
    /** Successful logins (session issued) per user. */
    readonly loginsByUser: Record<string, number>;
    /** Codes accepted per user: the time steps, in order. No step may appear twice. */
    readonly acceptedSteps: Record<string, number[]>;
    /** Codes refused because their (account, step) had already been used. */
    readonly replays: number;
    /** Codes refused because they matched no step in the window. */
    readonly wrongCodes: number;
    /** Every protected page served. */
    readonly pages: ServedPage[];
    /** The user a session cookie belongs to (what the maintainer stored can be checked against it). */
    userOfSid(sid: string): string | undefined;
    close(): Promise<void>;
}

interface Login {
    user: string;
    requestsLeft: number;
}

/** RFC 4648 base32, decoded here without any library. */
export function decodeBase32(text: string): Buffer {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
    const clean = text.replace(/\s+/g, '').toUpperCase().replace(/=+$/, '');
    let bits = 0;
    let value = 0;
    const bytes: number[] = [];
    for (const char of clean) {
        const index = alphabet.indexOf(char);
        if (index < 0) throw new Error('not base32');
        value = (value << 5) | index;
        bits += 5;
        if (bits >= 8) {
            bytes.push((value >>> (bits - 8)) & 0xff);
            bits -= 8;
        }
    }
    return Buffer.from(bytes);
}

/** RFC 4226 HOTP of one counter value, with RFC 6238's algorithms. */
export function hotp(secret: Buffer, counter: number, digits: number, algorithm: string): string {
    const message = Buffer.alloc(8);
    message.writeBigUInt64BE(BigInt(counter));
    const mac = createHmac(algorithm.toLowerCase(), secret).update(message).digest();
    const offset = mac[mac.length - 1]! & 0x0f;
    const binary = ((mac[offset]! & 0x7f) << 24) | (mac[offset + 1]! << 16) | (mac[offset + 2]! << 8) | mac[offset + 3]!;
    return String(binary % 10 ** digits).padStart(digits, '0');
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

function html(res: http.ServerResponse, status: number, body: string, headers: http.OutgoingHttpHeaders = {}): void {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', ...headers });
    res.end(`<!doctype html><html><body>${body}</body></html>`);
}

function escape(text: string): string {
    return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function formOf(req: http.IncomingMessage): Promise<URLSearchParams> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** Starts the site on 127.0.0.1 with a free port. */
export async function startAccountsSite(options: AccountsSiteOptions): Promise<AccountsSite> {
    const lifetime = options.sessionLifetimeRequests ?? Infinity;
    const csrfByPre = new Map<string, string>();
    const pendingUser = new Map<string, string>();
    const logins = new Map<string, Login>();
    const used = new Set<string>();
    const stats = {
        loginRequests: 0,
        loginPostsByUser: {} as Record<string, number>,
        loginsByUser: {} as Record<string, number>,
        acceptedSteps: {} as Record<string, number[]>,
        replays: 0,
        wrongCodes: 0,
    };
    const pages: ServedPage[] = [];

    function issueSession(res: http.ServerResponse, user: string): void {
        const sid = randomBytes(16).toString('hex');
        logins.set(sid, { user, requestsLeft: lifetime });
        stats.loginsByUser[user] = (stats.loginsByUser[user] ?? 0) + 1;
        res.writeHead(302, { location: '/welcome', 'set-cookie': [`sid=${sid}; Path=/; HttpOnly`, 'pending=; Path=/login; Max-Age=0'] });
        res.end();
    }

    /** The step a code belongs to within ±1 step of now, or undefined. */
    function stepOf(totp: SiteTotp, code: string): number | undefined {
        const period = totp.periodSecs ?? 30;
        const now = Math.floor(Date.now() / 1000 / period);
        const secret = decodeBase32(totp.secret);
        for (const step of [now - 1, now, now + 1]) {
            if (hotp(secret, step, totp.digits ?? 6, totp.algorithm ?? 'SHA1') === code) return step;
        }
        return undefined;
    }

    /** The live login of a protected request, spending one of its requests. */
    function loginOf(req: http.IncomingMessage): Login | undefined {
        const login = logins.get(cookiesOf(req).sid ?? '');
        if (!login || login.requestsLeft <= 0) return undefined;
        login.requestsLeft--;
        return login;
    }

    async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
        const url = new URL(req.url ?? '/', 'http://accounts-site.invalid');
        const path = url.pathname;
        const method = req.method ?? 'GET';
        if (path.startsWith('/login')) stats.loginRequests++;

        if (path === '/login' && method === 'GET') {
            const pre = randomBytes(8).toString('hex');
            const csrf = randomBytes(12).toString('base64url');
            csrfByPre.set(pre, csrf);
            return html(
                res,
                200,
                `<form method="post" action="/login"><input type="hidden" name="csrf" value="${csrf}">` +
                    '<input id="user" name="user"><input id="password" name="password" type="password"><button id="go">Log in</button></form>',
                { 'set-cookie': `pre=${pre}; Path=/; HttpOnly` },
            );
        }
        if (path === '/login' && method === 'POST') {
            const form = await formOf(req);
            const user = form.get('user') ?? '';
            stats.loginPostsByUser[user] = (stats.loginPostsByUser[user] ?? 0) + 1;
            const expected = csrfByPre.get(cookiesOf(req).pre ?? '');
            if (!expected || form.get('csrf') !== expected) return html(res, 403, '<p>bad csrf token</p>');
            const account = Object.hasOwn(options.accounts, user) ? options.accounts[user] : undefined;
            if (!account || form.get('password') !== account.password) return html(res, 401, '<p>Wrong user or password</p>');
            if (!account.totp) return issueSession(res, user);
            const pending = randomBytes(12).toString('hex');
            pendingUser.set(pending, user);
            res.writeHead(302, { location: '/login/otp', 'set-cookie': `pending=${pending}; Path=/login; HttpOnly` });
            return void res.end();
        }
        if (path === '/login/otp' && method === 'GET') {
            return html(res, 200, '<form method="post" action="/login/otp"><input id="code" name="code"><button id="verify">Verify</button></form>');
        }
        if (path === '/login/otp' && method === 'POST') {
            const form = await formOf(req);
            const user = pendingUser.get(cookiesOf(req).pending ?? '');
            const totp = user ? options.accounts[user]?.totp : undefined;
            if (!user || !totp) return html(res, 401, '<p>No login pending</p>');
            const step = stepOf(totp, form.get('code') ?? '');
            if (step === undefined) {
                stats.wrongCodes++;
                return html(res, 401, '<p>Wrong code</p>');
            }
            if (used.has(`${user}:${step}`)) {
                stats.replays++;
                return html(res, 401, '<p>This code was already used</p>');
            }
            used.add(`${user}:${step}`);
            (stats.acceptedSteps[user] ??= []).push(step);
            pendingUser.delete(cookiesOf(req).pending ?? '');
            return issueSession(res, user);
        }
        if (path === '/welcome') return html(res, 200, '<h1>welcome</h1>');
        if (path === '/whoami') {
            const login = loginOf(req);
            return html(res, 200, login ? `<p id="state">logged-in as <span id="user">${escape(login.user)}</span></p>` : '<p id="state">logged-out</p>');
        }
        const page = /^\/page\/([^/]+)\/\d+$/.exec(path);
        if (page) {
            const login = loginOf(req);
            pages.push({ path, intendedFor: decodeURIComponent(page[1]!), servedTo: login?.user ?? null });
            if (!login) return html(res, 200, '<h1 id="state">logged-out</h1><p>Please sign in</p>');
            return html(res, 200, `<h1 id="state">logged-in</h1><p id="user">${escape(login.user)}</p>`);
        }
        html(res, 404, '<p>not found</p>');
    }

    const server = http.createServer((req, res) => {
        handle(req, res).catch((error: unknown) => {
            if (!res.headersSent) html(res, 500, `<p>${escape(String(error))}</p>`);
            else res.destroy();
        });
    });
    const listener = await listenOnLoopback(server);
    return {
        url: listener.url,
        get loginRequests() {
            return stats.loginRequests;
        },
        loginPostsByUser: stats.loginPostsByUser,
        loginsByUser: stats.loginsByUser,
        acceptedSteps: stats.acceptedSteps,
        get replays() {
            return stats.replays;
        },
        get wrongCodes() {
            return stats.wrongCodes;
        },
        pages,
        userOfSid: (sid) => logins.get(sid)?.user,
        close: () => listener.close(),
    };
}
