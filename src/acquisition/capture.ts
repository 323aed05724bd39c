import type { BrowserContext, Request, Response } from 'playwright';

import type { CapturedExchange } from './extract.js';

/**
 * Whether a request URL matches a collection URL (Session-Maintainer's rule): host (with port) and path equal,
 * a trailing slash ignored; when the collection URL has a query, each of its key/value pairs must be present in
 * the request's query (a subset; the request may have more). Scheme and fragment are ignored; path and query
 * values are case-sensitive.
 */
export function matchesCollectionUrl(collectionUrl: string | URL, requestUrl: string | URL): boolean {
    let wanted: URL;
    let actual: URL;
    try {
        wanted = new URL(collectionUrl);
        actual = new URL(requestUrl);
    } catch {
        return false;
    }
    if (wanted.host !== actual.host) return false;
    if (stripTrailingSlash(wanted.pathname) !== stripTrailingSlash(actual.pathname)) return false;
    for (const [key, value] of wanted.searchParams) {
        if (!actual.searchParams.getAll(key).includes(value)) return false;
    }
    return true;
}

function stripTrailingSlash(path: string): string {
    return path.length > 1 && path.endsWith('/') ? path.replace(/\/+$/, '') : path;
}

/**
 * Records the browser context's requests that match the collection URLs, with their answers (status, headers,
 * body), while a login runs. Attach it before the login opens pages.
 */
export class TrafficCapture {
    /** Captured exchanges, in the order the requests were made. */
    readonly exchanges: CapturedExchange[] = [];
    private readonly byRequest = new Map<Request, CapturedExchange>();
    private readonly pending = new Set<Promise<void>>();
    /** Collection URLs whose request has been answered. */
    private readonly answered = new Set<string>();
    private readonly waiters = new Set<() => void>();

    constructor(
        private readonly context: BrowserContext,
        private readonly collectionUrls: readonly string[],
    ) {}

    /** Starts listening to the context's traffic. */
    attach(): this {
        if (this.collectionUrls.length === 0) return this;
        this.context.on('request', this.onRequest);
        this.context.on('response', this.onResponse);
        this.context.on('requestfailed', this.onFailed);
        return this;
    }

    /** Stops listening. */
    detach(): void {
        this.context.off('request', this.onRequest);
        this.context.off('response', this.onResponse);
        this.context.off('requestfailed', this.onFailed);
    }

    /** Collection URLs no answered request has matched yet. */
    missing(): string[] {
        return this.collectionUrls.filter((url) => !this.answered.has(url));
    }

    /** Waits until every collection URL has been matched by an answered request, or `timeoutMs` passed. */
    async waitForAll(timeoutMs: number): Promise<void> {
        if (this.missing().length === 0 || timeoutMs <= 0) return;
        await new Promise<void>((resolve) => {
            const finish = () => {
                clearTimeout(timer);
                this.waiters.delete(check);
                resolve();
            };
            const check = () => {
                if (this.missing().length === 0) finish();
            };
            const timer = setTimeout(finish, timeoutMs);
            this.waiters.add(check);
            check();
        });
    }

    /** Waits until the answers already received have been read (headers and bodies). */
    async settle(): Promise<void> {
        while (this.pending.size) await Promise.allSettled([...this.pending]);
    }

    private track(work: Promise<void>): void {
        const tracked = work.catch(() => undefined).finally(() => this.pending.delete(tracked));
        this.pending.add(tracked);
    }

    private readonly onRequest = (request: Request): void => {
        if (!this.collectionUrls.some((url) => matchesCollectionUrl(url, request.url()))) return;
        const exchange: CapturedExchange = { request: { method: request.method(), url: request.url(), headers: request.headers() } };
        this.exchanges.push(exchange);
        this.byRequest.set(request, exchange);
        this.track(
            request.allHeaders().then((headers) => {
                exchange.request.headers = headers;
            }),
        );
    };

    private readonly onResponse = (response: Response): void => {
        const exchange = this.byRequest.get(response.request());
        if (!exchange) return;
        this.track(
            (async () => {
                const headers = await response.allHeaders().catch(() => response.headers());
                let body = '';
                try {
                    body = await response.text();
                } catch {
                    // redirects and aborted bodies have none
                }
                exchange.response = { statusCode: response.status(), url: response.url(), headers, body };
                for (const url of this.collectionUrls) {
                    if (matchesCollectionUrl(url, exchange.request.url)) this.answered.add(url);
                }
                for (const wake of this.waiters) wake();
            })(),
        );
    };

    private readonly onFailed = (request: Request): void => {
        this.byRequest.delete(request);
    };
}
