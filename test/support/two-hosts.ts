/**
 * Two loopback hosts for testing what crosses an origin: `site` (127.0.0.1), an application with a JSON API login and
 * a bearer-protected check, and `other` (127.0.0.2), a third party the site links to, embeds and redirects to. Both
 * record every request they receive (path, query, headers), so a test can assert what each origin saw.
 *
 * Site:
 * - `POST /api/login` (JSON `{ user, password }`, header `X-Api-Key: step-key` required): `{ data: { token, key } }`;
 *   a wrong password answers 401; every POST is counted;
 * - `GET /check`: 200 `logged-in` with a valid bearer token, else 401;
 * - `GET /check-away`: 302 to the other host's `/check`;
 * - `POST /login-away`: 307 (method and body kept) to the other host's `/login-landing`;
 * - `GET /page`: HTML with an image on the site, an image and a link on the other host;
 * - `GET /go-away`: 302 to the other host's `/landed`;
 * - `GET /own-pixel.gif`, anything else: 200.
 * Other: every path answers 200 (HTML for pages, an image for `*.gif`).
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';

import { listenOnLoopback, type LoopbackListener } from './loopback.js';

/** One request as a host saw it. */
export interface SeenRequest {
    method: string;
    path: string;
    query: Record<string, string>;
    headers: http.IncomingHttpHeaders;
    body: string;
}

export interface TwoHosts {
    readonly site: { url: string; origin: string; seen: SeenRequest[]; loginPosts: number };
    readonly other: { url: string; origin: string; seen: SeenRequest[] };
    /** The secret values the site handed out or asked for (to scan for leaks). */
    readonly secrets: { stepKey: string; checkKey: string; tokens: string[]; keys: string[]; password: string };
    reset(): void;
    close(): Promise<void>;
}

const GIF = Buffer.from('R0lGODlhAQABAAAAACw=', 'base64');

async function readBody(req: http.IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
}

function record(seen: SeenRequest[], req: http.IncomingMessage, body: string): URL {
    const url = new URL(req.url ?? '/', 'http://host.invalid');
    seen.push({ method: req.method ?? 'GET', path: url.pathname, query: Object.fromEntries(url.searchParams), headers: req.headers, body });
    return url;
}

export async function startTwoHosts(options: { password?: string } = {}): Promise<TwoHosts> {
    const password = options.password ?? 'two-hosts-Pass-1';
    const secrets = { stepKey: 'step-key-Secret-7', checkKey: 'check-key-Secret-8', tokens: [] as string[], keys: [] as string[], password };
    const siteSeen: SeenRequest[] = [];
    const otherSeen: SeenRequest[] = [];
    let loginPosts = 0;
    let other: LoopbackListener | undefined;
    const tokens = new Set<string>();

    const siteServer = http.createServer((req, res) => {
        void (async () => {
            const body = await readBody(req);
            const url = record(siteSeen, req, body);
            const path = url.pathname;
            if (path === '/api/login' && req.method === 'POST') {
                loginPosts++;
                if (req.headers['x-api-key'] !== secrets.stepKey) return void res.writeHead(403).end('{"error":"step key"}');
                let given: { user?: string; password?: string } = {};
                try {
                    given = JSON.parse(body) as typeof given;
                } catch {
                    // refused below
                }
                if (given.password !== password) return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid credentials"}');
                const token = `tok-${randomBytes(12).toString('hex')}`;
                const key = `key-${randomBytes(8).toString('hex')}`;
                tokens.add(token);
                secrets.tokens.push(token);
                secrets.keys.push(key);
                return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: { token, key } }));
            }
            if (path === '/check') {
                const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
                const ok = bearer !== undefined && tokens.has(bearer);
                return void res.writeHead(ok ? 200 : 401, { 'content-type': 'text/html' }).end(ok ? 'logged-in' : 'logged-out');
            }
            if (path === '/check-away') return void res.writeHead(302, { location: `${other!.url}/check` }).end();
            if (path === '/login-away') return void res.writeHead(307, { location: `${other!.url}/login-landing` }).end();
            if (path === '/go-away') return void res.writeHead(302, { location: `${other!.url}/landed` }).end();
            if (path.endsWith('.gif')) return void res.writeHead(200, { 'content-type': 'image/gif' }).end(GIF);
            if (path === '/page') {
                return void res
                    .writeHead(200, { 'content-type': 'text/html' })
                    .end(
                        `<!doctype html><html><body><h1 id="ok">page</h1><img src="/own-pixel.gif">` +
                            `<img src="${other!.url}/pixel.gif"><a id="away" href="${other!.url}/third">away</a></body></html>`,
                    );
            }
            res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><html><body><h1 id="ok">site</h1></body></html>');
        })().catch(() => res.destroy());
    });
    const otherServer = http.createServer((req, res) => {
        void (async () => {
            const url = record(otherSeen, req, await readBody(req));
            if (url.pathname.endsWith('.gif')) return void res.writeHead(200, { 'content-type': 'image/gif' }).end(GIF);
            res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><html><body><h1 id="ok">other</h1></body></html>');
        })().catch(() => res.destroy());
    });
    const site = await listenOnLoopback(siteServer, '127.0.0.1');
    other = await listenOnLoopback(otherServer, '127.0.0.2');
    const otherListener = other;
    return {
        site: {
            url: site.url,
            origin: new URL(site.url).origin,
            seen: siteSeen,
            get loginPosts() {
                return loginPosts;
            },
        },
        other: { url: otherListener.url, origin: new URL(otherListener.url).origin, seen: otherSeen },
        secrets,
        reset() {
            siteSeen.length = 0;
            otherSeen.length = 0;
            loginPosts = 0;
        },
        async close() {
            await Promise.all([site.close(), otherListener.close()]);
        },
    };
}

/** Every secret value that appears in what a host saw (headers, query, body), with where. */
export function leaksIn(seen: readonly SeenRequest[], secrets: readonly string[]): string[] {
    const found: string[] = [];
    for (const request of seen) {
        const text = JSON.stringify({ headers: request.headers, query: request.query, body: request.body });
        for (const secret of secrets) if (secret && text.includes(secret)) found.push(`${request.method} ${request.path}: ${secret.slice(0, 8)}…`);
    }
    return found;
}
