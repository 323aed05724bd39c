/**
 * One crawler process of the multi-process scenario: opens the sessions on MySQL, prints `OPEN`, waits for `GO`
 * on stdin, crawls its pages bound to one shared session (renewing it with a form login whenever a page comes
 * back logged out), then prints `DONE <json>`.
 * Usage: node --import tsx bench/scenarios/multi-process-worker.ts '<json WorkerArgs>'
 */
import { createInterface } from 'node:readline';

import { Configuration, HttpCrawler, RetryRequestError, log } from 'crawlee';

import { internalsOf } from '../../src/core/internals.js';
import { Sessions, withSessions } from '../../src/index.js';

/** How often the worker looks at its session's generation to time adoptions, in ms. */
const WATCH_MILLIS = 2;

/** What the parent tells a worker. */
export interface WorkerArgs {
    mysqlUrl: string;
    tablePrefix: string;
    siteUrl: string;
    sessionId: string;
    /** Page numbers to crawl: [first, last). */
    pages: [number, number];
    concurrency: number;
}

/** What a worker reports. */
export interface WorkerResult {
    loggedIn: number;
    /** clear() calls made by this process's handlers (most join a renewal or find it already done). */
    clears: number;
    failed: number;
    ms: number;
    /** Generations this process renewed, with when the renewal was committed (ms since the epoch). */
    renewed: Array<{ generation: number; at: number }>;
    /** Generations this process took from another process (by a pull or on asking for the lease), and when. */
    adopted: Array<{ generation: number; at: number }>;
    /** Polls of the store during the crawl, and how many of them fetched rows. */
    polls: number;
    pulls: number;
}

async function main(): Promise<void> {
    log.setLevel(log.LEVELS.OFF);
    const args = JSON.parse(process.argv[2]!) as WorkerArgs;
    const sessions = await Sessions.open({
        store: { mysql: { url: args.mysqlUrl, tablePrefix: args.tablePrefix } },
        flushOnSignals: false,
    });
    let loggedIn = 0;
    let clears = 0;
    const retries = new Map<string, number>();
    const crawler = new HttpCrawler(
        withSessions(sessions, {
            maxConcurrency: args.concurrency,
            minConcurrency: args.concurrency,
            maxRequestRetries: 0,
            async requestHandler({ request, body, sessions: s }) {
                if (String(body).includes('id="state">logged-in')) {
                    loggedIn++;
                    return;
                }
                const count = (retries.get(request.uniqueKey) ?? 0) + 1;
                retries.set(request.uniqueKey, count);
                if (count > 20) throw new Error('renewal loop: the session never became usable');
                clears++;
                await s.clear(undefined, { renewal: { url: `${args.siteUrl}/login`, form: { user: 'alice', password: 'secret' } } });
                throw new RetryRequestError('session renewed');
            },
        }),
        new Configuration({ persistStorage: false, purgeOnStart: true }),
    );
    const [first, last] = args.pages;
    const requests = Array.from({ length: last - first }, (_, i) => ({
        url: `${args.siteUrl}/page/${first + i}`,
        userData: { sessionId: args.sessionId },
    }));

    process.stdout.write('OPEN\n');
    await new Promise<void>((resolve) => {
        const lines = createInterface({ input: process.stdin });
        lines.on('line', (line) => {
            if (line.trim() === 'GO') {
                lines.close();
                resolve();
            }
        });
    });
    const renewed: WorkerResult['renewed'] = [];
    const adopted: WorkerResult['adopted'] = [];
    sessions.on('renewed', (event) => renewed.push({ generation: event.generation, at: Date.now() }));
    const internals = internalsOf(sessions);
    let seen = internals.registry.find(args.sessionId)?.generation ?? 0;
    const watch = setInterval(() => {
        const generation = internals.registry.find(args.sessionId)?.generation ?? 0;
        if (generation === seen) return;
        seen = generation;
        if (!renewed.some((entry) => entry.generation === generation)) adopted.push({ generation, at: Date.now() });
    }, WATCH_MILLIS);
    const pollsBefore = { ...internals.syncCounters };
    const start = performance.now();
    const stats = await crawler.run(requests);
    const ms = performance.now() - start;
    clearInterval(watch);
    const polls = internals.syncCounters.polls - pollsBefore.polls;
    const pulls = internals.syncCounters.pulls - pollsBefore.pulls;
    await sessions.close();
    const result: WorkerResult = { loggedIn, clears, failed: stats.requestsFailed, ms, renewed, adopted, polls, pulls };
    process.stdout.write(`DONE ${JSON.stringify(result)}\n`);
}

main().then(
    () => process.exit(0),
    (error: unknown) => {
        console.error(error instanceof Error ? (error.stack ?? error.message) : error);
        process.exit(1);
    },
);
