/**
 * A site that records when each session's requests arrive, running in a worker thread: its clock is not delayed by the
 * crawler's work on the main thread, so the gaps it measures are the gaps on the wire.
 *
 * Paths: `/s/<session>/<n>` answers a page (after `?delay=<ms>`; `?redirect=<path>` answers 302 to it) (links given by `?links=a,b` are rendered as `<a href>`); a session named in
 * `throttle` gets `429` with `Retry-After` for its first `throttle[session].count` requests. Every request is logged
 * (`{ session, path, at, status }`), `/favicon.ico` excepted.
 */
import { Worker } from 'node:worker_threads';

export interface TimedRequest {
    session: string;
    path: string;
    /** ms since the epoch, taken when the worker received the request. */
    at: number;
    status: number;
}

export interface TimingSiteOptions {
    /** Sessions answered 429 for their first `count` requests, with this `Retry-After` value. */
    throttle?: Record<string, { count: number; retryAfter?: string; status?: number }>;
    /** Extra HTML for every page (e.g. links). */
    extraHtml?: string;
}

export interface TimingSite {
    readonly url: string;
    /** The requests so far, in arrival order. */
    log(): Promise<TimedRequest[]>;
    close(): Promise<void>;
}

const WORKER = `
const http = require('node:http');
const { parentPort, workerData } = require('node:worker_threads');
const log = [];
const seen = new Map();
const server = http.createServer((req, res) => {
    const at = Date.now();
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/favicon.ico') { res.writeHead(404); res.end(); return; }
    const parts = url.pathname.split('/');
    const session = parts[1] === 's' ? decodeURIComponent(parts[2] || '') : '';
    const count = (seen.get(session) || 0) + 1;
    seen.set(session, count);
    const throttle = workerData.throttle[session];
    let status = 200;
    const headers = { 'content-type': 'text/html' };
    if (throttle && count <= throttle.count) {
        status = throttle.status || 429;
        if (throttle.retryAfter !== undefined) headers['retry-after'] = throttle.retryAfter;
    }
    log.push({ session, path: url.pathname + url.search, at, status });
    const links = (url.searchParams.get('links') || '').split(',').filter(Boolean)
        .map((href) => '<a href="' + href.replace(/"/g, '&quot;') + '">link</a>').join('');
    const redirect = url.searchParams.get('redirect');
    if (redirect) { res.writeHead(302, { location: redirect }); res.end(); return; }
    const delay = Math.min(Number(url.searchParams.get('delay')) || 0, 5000);
    setTimeout(() => {
    res.writeHead(status, headers);
    res.end('<!doctype html><html><body><p id="who">' + session + '</p>' + links + (workerData.extraHtml || '') + '</body></html>');
    }, delay);
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
parentPort.on('message', (message) => {
    if (message === 'log') parentPort.postMessage({ log });
    if (message === 'close') { server.closeAllConnections(); server.close(() => parentPort.postMessage({ closed: true })); }
});
`;

export async function startTimingSite(options: TimingSiteOptions = {}): Promise<TimingSite> {
    const worker = new Worker(WORKER, { eval: true, workerData: { throttle: options.throttle ?? {}, extraHtml: options.extraHtml ?? '' } });
    const next = <T>(key: string): Promise<T> =>
        new Promise((resolve, reject) => {
            const onMessage = (message: Record<string, unknown>) => {
                if (key in message) {
                    worker.off('message', onMessage);
                    resolve(message[key] as T);
                }
            };
            worker.on('message', onMessage);
            worker.once('error', reject);
        });
    const port = await next<number>('port');
    return {
        url: `http://127.0.0.1:${port}`,
        async log() {
            const answer = next<TimedRequest[]>('log');
            worker.postMessage('log');
            return answer;
        },
        async close() {
            const closed = next<boolean>('closed');
            worker.postMessage('close');
            await closed;
            await worker.terminate();
        },
    };
}

/** The most requests that arrived within one calendar second, per session. */
export function maxPerSecond(log: readonly TimedRequest[], session: string): number {
    const counts = new Map<number, number>();
    for (const entry of log) {
        if (entry.session !== session) continue;
        const second = Math.floor(entry.at / 1000);
        counts.set(second, (counts.get(second) ?? 0) + 1);
    }
    return Math.max(0, ...counts.values());
}
