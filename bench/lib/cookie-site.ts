/**
 * The site the overhead scenarios crawl: a node:http server on loopback whose every page sets cookies (a session
 * id on the first visit, a visit counter on every response) and links to a few other pages.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { listenOnLoopback } from '../../test/support/loopback.js';

/** A running cookie site. */
export interface CookieSite {
    /** Base URL, e.g. `http://127.0.0.1:40123`. */
    readonly url: string;
    /** Requests answered since the last {@link CookieSite.reset}. */
    readonly requests: number;
    /** Of those, the requests that carried a Cookie header (proves both sides send the session's cookies). */
    readonly requestsWithCookies: number;
    reset(): void;
    close(): Promise<void>;
}

/** Builds a page of roughly 2 KB with links, like a small catalogue page. */
function pageBody(path: string): string {
    const links = Array.from({ length: 10 }, (_, i) => `<li><a href="${path}/item-${i}">Item ${i}</a> <span class="price">${i * 3}.99</span></li>`);
    return (
        `<!doctype html><html><head><title>${path}</title></head><body><h1 id="title">${path}</h1>` +
        `<ul id="items">${links.join('')}</ul><p>${'lorem ipsum dolor sit amet '.repeat(30)}</p></body></html>`
    );
}

/** Starts the cookie site on 127.0.0.1 with a free port. */
export async function startCookieSite(): Promise<CookieSite> {
    const counters = { requests: 0, requestsWithCookies: 0 };
    const server = http.createServer((req, res) => {
        counters.requests++;
        const cookie = req.headers.cookie ?? '';
        if (cookie) counters.requestsWithCookies++;
        const visits = Number(/(?:^|; )visits=(\d+)/.exec(cookie)?.[1] ?? 0) + 1;
        const setCookie = [`visits=${visits}; Path=/; Max-Age=3600`, `last=${Date.now()}; Path=/`];
        if (!/(?:^|; )sid=/.test(cookie)) setCookie.push(`sid=${randomBytes(12).toString('hex')}; Path=/; HttpOnly`);
        const path = new URL(req.url ?? '/', 'http://site.invalid').pathname;
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'set-cookie': setCookie });
        res.end(pageBody(path));
    });
    server.keepAliveTimeout = 30_000;
    const listener = await listenOnLoopback(server);
    return {
        url: listener.url,
        get requests() { return counters.requests; },
        get requestsWithCookies() { return counters.requestsWithCookies; },
        reset() {
            counters.requests = counters.requestsWithCookies = 0;
        },
        async close() {
            await listener.close();
        },
    };
}
