/**
 * One side of the cold-sessions scenario, in a fresh process: opens the sessions on a MySQL store holding many
 * sessions (with or without `maxLiveSessions`), crawls pages bound to sessions spread over all of them, and reports
 * the process's RSS after opening, at its peak during the crawl (sampled every 50 ms) and after the crawl.
 * Usage: node --expose-gc --import tsx bench/scenarios/cold-sessions-child.ts '<json ColdChildArgs>'
 */
import { HttpCrawler, log } from 'crawlee';

import { internalsOf } from '../../src/core/internals.js';
import { Sessions, withSessions } from '../../src/index.js';
import { freshConfig } from '../lib/crawlee.js';

/** What the parent tells the child. */
export interface ColdChildArgs {
    mysqlUrl: string;
    tablePrefix: string;
    siteUrl: string;
    /** Sessions in the store (`s0` … `s<n-1>`). */
    stored: number;
    /** Pages to crawl, each bound to another stored session. */
    requests: number;
    /** undefined: every session is loaded at open. */
    maxLiveSessions?: number;
}

/** What the child reports. */
export interface ColdChildResult {
    openMs: number;
    crawlMs: number;
    rssAfterOpenBytes: number;
    peakRssBytes: number;
    rssAfterCrawlBytes: number;
    liveAfterCrawl: number;
    handled: number;
}

const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);

async function main(): Promise<void> {
    log.setLevel(log.LEVELS.OFF);
    const args = JSON.parse(process.argv[2]!) as ColdChildArgs;
    gc();
    const openStart = performance.now();
    const sessions = await Sessions.open({
        store: { mysql: { url: args.mysqlUrl, tablePrefix: args.tablePrefix } },
        maxLiveSessions: args.maxLiveSessions,
        persistence: { syncIntervalMillis: 0 },
        flushOnSignals: false,
    });
    const openMs = performance.now() - openStart;
    gc();
    const rssAfterOpenBytes = process.memoryUsage().rss;
    let peakRssBytes = rssAfterOpenBytes;
    const sampler = setInterval(() => (peakRssBytes = Math.max(peakRssBytes, process.memoryUsage().rss)), 50);
    let handled = 0;
    const crawler = new HttpCrawler(
        // A fixed concurrency: on a busy machine the autoscaler would hold the crawl at one or two requests at a time.
        withSessions(sessions, { minConcurrency: 20, maxConcurrency: 20, maxRequestRetries: 0, async requestHandler() { handled++; } }),
        freshConfig(),
    );
    const crawlStart = performance.now();
    // A stride coprime with the store size: every request another session, spread over all of them.
    await crawler.run(
        Array.from({ length: args.requests }, (_, k) => ({
            url: `${args.siteUrl}/set?visit=${k}`,
            uniqueKey: `visit-${k}`,
            userData: { sessionId: `s${(k * 7919) % args.stored}` },
        })),
    );
    await sessions.flush();
    const crawlMs = performance.now() - crawlStart;
    clearInterval(sampler);
    gc();
    const rssAfterCrawlBytes = process.memoryUsage().rss;
    peakRssBytes = Math.max(peakRssBytes, rssAfterCrawlBytes);
    const liveAfterCrawl = internalsOf(sessions).registry.size;
    await sessions.close();
    const result: ColdChildResult = { openMs, crawlMs, rssAfterOpenBytes, peakRssBytes, rssAfterCrawlBytes, liveAfterCrawl, handled };
    process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().then(
    () => process.exit(0),
    (error: unknown) => {
        console.error(error instanceof Error ? (error.stack ?? error.message) : error);
        process.exit(1);
    },
);
