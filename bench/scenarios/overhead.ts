/**
 * overhead, overhead-cheerio, overhead-playwright: throughput of a crawl with bound sessions (withSessions:
 * sessions bound per request, profiles, cookies) against two baselines in the same ABBA rounds, on a local site whose
 * every page sets cookies:
 * - the limit: the same crawler doing no session work at all (`useSessionPool: false`, no cookie persistence);
 * - Crawlee's own SessionPool with `persistCookiesPerSession`, for comparison.
 * One more plugin crawl runs under the V8 CPU profiler (not timed) for the per-request cost breakdown, then one more
 * limit crawl of the same size, so the plugin's CPU per request can be set against the limit's module by module.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { CheerioCrawler, Configuration, HttpCrawler, PlaywrightCrawler } from 'crawlee';

import { Sessions, chromiumLaunchArgs, defineProfiles, findChromiumExecutable, withSessions } from '../../src/index.js';
import { startCookieSite, type CookieSite } from '../lib/cookie-site.js';
import { expectHandled, freshConfig, quietCrawlee } from '../lib/crawlee.js';
import { cpuMicrosSoFar } from '../lib/cpu.js';
import { compareBreakdowns, profiledBreakdown, sessionShareOf } from '../lib/profile.js';
import { alternate } from '../lib/rounds.js';
import { metricRow } from '../lib/rows.js';
import { median, nowMs, ratioOf, round } from '../lib/stats.js';
import { ScenarioSkipped, type BenchContext, type BenchSize, type Scenario, type ScenarioOutcome } from '../lib/types.js';

type Kind = 'http' | 'cheerio' | 'playwright';

interface OverheadParams {
    /** Requests per measured crawl. */
    requests: number;
    /** Requests per warm-up crawl (not measured). */
    warmupRequests: number;
    /** Measured rounds per side. */
    rounds: number;
    /** Warm-up rounds per side. */
    warmups: number;
    /** Crawler concurrency (min = max, so the autoscaler does not add noise). */
    concurrency: number;
    /** Sessions the requests are spread over; the baseline's pool gets the same maximum size. */
    sessions: number;
    /** Also measure the plugin with the embedded store on disk (the default a user gets). */
    embedded?: boolean;
}

const SIZES: Record<Kind, Record<BenchSize, OverheadParams>> = {
    http: {
        tiny: { requests: 40, warmupRequests: 0, rounds: 1, warmups: 0, concurrency: 20, sessions: 20, embedded: true },
        quick: { requests: 600, warmupRequests: 300, rounds: 2, warmups: 1, concurrency: 20, sessions: 20, embedded: true },
        full: { requests: 1500, warmupRequests: 600, rounds: 8, warmups: 1, concurrency: 20, sessions: 20, embedded: true },
    },
    cheerio: {
        tiny: { requests: 40, warmupRequests: 0, rounds: 1, warmups: 0, concurrency: 20, sessions: 20 },
        quick: { requests: 600, warmupRequests: 300, rounds: 2, warmups: 1, concurrency: 20, sessions: 20 },
        full: { requests: 1000, warmupRequests: 500, rounds: 8, warmups: 1, concurrency: 20, sessions: 20 },
    },
    playwright: {
        tiny: { requests: 6, warmupRequests: 0, rounds: 1, warmups: 0, concurrency: 2, sessions: 2 },
        quick: { requests: 40, warmupRequests: 10, rounds: 2, warmups: 1, concurrency: 4, sessions: 4 },
        full: { requests: 40, warmupRequests: 12, rounds: 5, warmups: 1, concurrency: 4, sessions: 4 },
    },
};

/** Goals against the crawl that does no session work (issue 17). */
const LIMIT_GOALS: Record<Kind, number> = { http: 0.95, cheerio: 0.95, playwright: 0.97 };

const USER_AGENTS = [
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0',
];

/** One crawl's measurement. */
interface CrawlSample {
    ms: number;
    requestsPerSecond: number;
    /** CPU time per request of this process and the browsers it ended (see bench/lib/cpu.ts), µs. */
    cpuMicrosPerRequest: number;
    /** Requests the site saw that carried a Cookie header. */
    withCookies: number;
}

/** What a crawl needs besides its size. */
interface CrawlSetup {
    site: CookieSite;
    params: OverheadParams;
    executablePath?: string;
}

function requestsFor(site: CookieSite, count: number, label: string, sessions: number) {
    return Array.from({ length: count }, (_, n) => ({
        url: `${site.url}/${label}/${n}`,
        userData: { sessionId: `s${n % sessions}` },
    }));
}

/** Handler work that is the same on both sides: read what the crawler parsed. */
function handlerFor(kind: Kind, onHandled: () => void) {
    if (kind === 'http') {
        return async ({ body }: { body: Buffer | string }) => {
            if (body.length === 0) throw new Error('empty body');
            onHandled();
        };
    }
    if (kind === 'cheerio') {
        return async ({ $ }: { $: (selector: string) => { length: number } }) => {
            if ($('#items li').length !== 10) throw new Error('page not parsed');
            onHandled();
        };
    }
    return async ({ page }: { page: { title(): Promise<string> } }) => {
        if (!(await page.title())) throw new Error('page has no title');
        onHandled();
    };
}

function crawlerClass(kind: Kind) {
    return kind === 'http' ? HttpCrawler : kind === 'cheerio' ? CheerioCrawler : PlaywrightCrawler;
}

/** Options both sides share: same concurrency, no autoscaling, same browser, flags and browser recycling. */
function commonOptions(kind: Kind, setup: CrawlSetup) {
    const { concurrency } = setup.params;
    const base = { maxConcurrency: concurrency, minConcurrency: concurrency, maxRequestRetries: 0 };
    if (kind !== 'playwright') return base;
    return {
        ...base,
        headless: true,
        browserPoolOptions: { retireBrowserAfterPageCount: 100_000 },
    };
}

/**
 * A crawl with bound sessions. `store`: `'memory'` keeps sessions in memory only (like the baseline, whose Crawlee
 * storage is in memory too); `'embedded'` is the default a user gets, the embedded store writing behind the crawl
 * to a key-value store on disk (a fresh temporary directory; the final flush in `close()` is timed too).
 */
async function crawlWithPlugin(
    kind: Kind,
    setup: CrawlSetup,
    count: number,
    label: string,
    store: 'memory' | 'embedded',
): Promise<CrawlSample> {
    const { site, params } = setup;
    const directory = store === 'embedded' ? await mkdtemp(path.join(tmpdir(), 'crawlee-sessions-bench-')) : undefined;
    const sessions = await Sessions.open({
        profiles: defineProfiles(USER_AGENTS.map((userAgent) => ({ userAgent }))),
        store: directory
            ? { embedded: { name: 'bench-overhead', config: new Configuration({ storageClientOptions: { localDataDirectory: directory } }) } }
            : 'memory',
        flushOnSignals: false,
    });
    let handled = 0;
    const options: Record<string, unknown> = {
        ...commonOptions(kind, setup),
        requestHandler: handlerFor(kind, () => handled++),
    };
    if (kind === 'playwright') {
        // withSessions adds chromiumLaunchArgs, useIncognitoPages: true and useFingerprints: false itself.
        options.launchContext = { launchOptions: { executablePath: setup.executablePath } };
    }
    const Crawler = crawlerClass(kind) as new (options: object, config: object) => { run(requests: object[]): Promise<unknown> };
    const crawler = new Crawler(withSessions(sessions, options), freshConfig());
    try {
        return await measure(site, count, async () => {
            await crawler.run(requestsFor(site, count, label, params.sessions));
            await sessions.close();
        }, () => handled);
    } finally {
        await sessions.close();
        if (directory) await rm(directory, { recursive: true, force: true });
    }
}

/** Crawlee's SessionPool with cookies kept per session, for comparison. */
function crawlWithCrawleePool(kind: Kind, setup: CrawlSetup, count: number, label: string): Promise<CrawlSample> {
    return crawlWithCrawlee(kind, setup, count, label, {
        useSessionPool: true,
        persistCookiesPerSession: true,
        sessionPoolOptions: { maxPoolSize: setup.params.sessions },
    });
}

/** The limit: the same crawler and handler, no session pool, no cookies kept. */
function crawlWithoutSessions(kind: Kind, setup: CrawlSetup, count: number, label: string): Promise<CrawlSample> {
    return crawlWithCrawlee(kind, setup, count, label, { useSessionPool: false, persistCookiesPerSession: false });
}

/** A crawl by Crawlee alone, its session options given; a browser gets the flags and contexts withSessions sets. */
async function crawlWithCrawlee(kind: Kind, setup: CrawlSetup, count: number, label: string, sessionOptions: Record<string, unknown>): Promise<CrawlSample> {
    const { site, params } = setup;
    let handled = 0;
    const options: Record<string, unknown> = {
        ...commonOptions(kind, setup),
        ...sessionOptions,
        requestHandler: handlerFor(kind, () => handled++),
    };
    if (kind === 'playwright') {
        options.launchContext = {
            useIncognitoPages: true,
            launchOptions: { executablePath: setup.executablePath, args: [...chromiumLaunchArgs] },
        };
        options.browserPoolOptions = { ...(options.browserPoolOptions as object), useFingerprints: false };
    }
    const Crawler = crawlerClass(kind) as new (options: object, config: object) => { run(requests: object[]): Promise<unknown> };
    const crawler = new Crawler(options, freshConfig());
    return measure(site, count, () => crawler.run(requestsFor(site, count, label, params.sessions)), () => handled);
}

async function measure(site: CookieSite, count: number, run: () => Promise<unknown>, handled: () => number): Promise<CrawlSample> {
    site.reset();
    const cpuStart = cpuMicrosSoFar();
    const start = nowMs();
    await run();
    const ms = nowMs() - start;
    const cpuMicrosPerRequest = (cpuMicrosSoFar() - cpuStart) / count;
    expectHandled('crawl', handled(), count);
    return { ms, requestsPerSecond: (count / ms) * 1000, cpuMicrosPerRequest, withCookies: site.requestsWithCookies };
}

async function runOverhead(kind: Kind, context: BenchContext): Promise<ScenarioOutcome> {
    quietCrawlee();
    const params = SIZES[kind][context.size];
    let executablePath: string | undefined;
    if (kind === 'playwright') {
        executablePath = findChromiumExecutable().path;
        if (!executablePath) throw new ScenarioSkipped('no Chromium found (see README: Finding the browser)');
    }
    const site = await startCookieSite();
    const setup: CrawlSetup = { site, params, executablePath };
    let crawlNumber = 0;
    try {
        const size = (r: number) => (r < 0 ? params.warmupRequests : params.requests);
        const sides: Record<string, (round: number) => Promise<CrawlSample>> = {
            plugin: (r) => crawlWithPlugin(kind, setup, size(r), `p${crawlNumber++}`, 'memory'),
            limit: (r) => crawlWithoutSessions(kind, setup, size(r), `l${crawlNumber++}`),
            pool: (r) => crawlWithCrawleePool(kind, setup, size(r), `b${crawlNumber++}`),
        };
        if (params.embedded) sides.embedded = (r) => crawlWithPlugin(kind, setup, size(r), `e${crawlNumber++}`, 'embedded');
        const samples = await alternate({
            rounds: params.rounds,
            warmups: params.warmups,
            sides,
            onRound: (side, r, sample) =>
                context.progress(`${side} round ${r + 1}/${params.rounds}: ${sample.requestsPerSecond.toFixed(1)} req/s`),
        });
        const rate = (side: string) => median(samples[side]!.map((s) => s.requestsPerSecond));
        /** Each round of `side` against the round of `against` next to it (a ratio above 1 favours `side`). */
        const throughputRatio = (a: CrawlSample, b: CrawlSample) => a.requestsPerSecond / b.requestsPerSecond;
        const paired = (side: string, against: string, ratio = throughputRatio) =>
            samples[side]!.map((s, i) => round(ratio(s, samples[against]![i]!), 3));
        const pairedVsLimit = paired('plugin', 'limit');
        const pairedCpuVsLimit = paired('plugin', 'limit', (a, b) => b.cpuMicrosPerRequest / a.cpuMicrosPerRequest);
        const cpu = (side: string) => median(samples[side]!.map((s) => s.cpuMicrosPerRequest));
        const pairedVsPool = paired('plugin', 'pool');
        context.progress('profiling one more plugin crawl (not timed)');
        const breakdown = await profiledBreakdown(() => crawlWithPlugin(kind, setup, size(0), `x${crawlNumber++}`, 'memory'), size(0));
        context.progress('profiling one more limit crawl (not timed)');
        const limitBreakdown = await profiledBreakdown(() => crawlWithoutSessions(kind, setup, size(0), `y${crawlNumber++}`), size(0));
        const breakdownVsLimit = compareBreakdowns(breakdown, limitBreakdown);
        const sessionShare = sessionShareOf(breakdown, limitBreakdown);
        const crawler = kind === 'http' ? 'HttpCrawler' : kind === 'cheerio' ? 'CheerioCrawler' : 'PlaywrightCrawler';
        const fairness =
            kind === 'playwright'
                ? ` Every side launches the same Chromium (${executablePath}) with the same flags, one incognito context per page, no fingerprints.`
                : '';
        const shape =
            `${crawler}, ${params.requests} pages × ${params.rounds} rounds per side (ABBA), concurrency ` +
            `${params.concurrency}, ${params.sessions} sessions; medians.${fairness}`;
        return {
            rows: [
                metricRow({
                    metric: 'throughput vs the limit',
                    unit: 'req/s',
                    plugin: rate('plugin'),
                    baseline: rate('limit'),
                    pairedRatio: median(pairedVsLimit),
                    goal: { on: 'ratio', op: '>=', value: LIMIT_GOALS[kind] },
                    note:
                        `${shape} Baseline: the same crawl doing no session work (useSessionPool: false, no cookies kept). ` +
                        'Ratio: the median of the paired rounds (each plugin round against the limit round next to it).',
                }),
                metricRow({
                    metric: 'CPU time per request vs the limit',
                    unit: 'µs',
                    plugin: cpu('plugin'),
                    baseline: cpu('limit'),
                    pairedRatio: median(pairedCpuVsLimit),
                    goal: { on: 'ratio', op: '>=', value: LIMIT_GOALS[kind] },
                    note:
                        'the same rounds, CPU time as the kernel counts it (user + system of this process, which also runs ' +
                        'the site, and of the browsers it closed) per request; ratio = limit / plugin (median of the paired ' +
                        'rounds), the throughput a crawl bound by the CPU keeps. Unlike the throughput it does not move ' +
                        'while the machine gives the cores to other work.',
                }),
                metricRow({
                    metric: 'throughput vs SessionPool',
                    unit: 'req/s',
                    plugin: rate('plugin'),
                    baseline: rate('pool'),
                    note: `Baseline: Crawlee's SessionPool (maxPoolSize ${params.sessions}) + persistCookiesPerSession, same rounds.`,
                }),
                ...(samples.embedded
                    ? [
                          metricRow({
                              metric: 'throughput, embedded store, vs the limit',
                              unit: 'req/s',
                              plugin: rate('embedded'),
                              baseline: rate('limit'),
                              note:
                                  'the same crawl with the store a user gets by default (embedded, writing behind the crawl ' +
                                  'to disk; the final flush in close() is timed), against the same limit',
                          }),
                      ]
                    : []),
                metricRow({
                    metric: 'session work share of the crawl (CPU profile)',
                    unit: '%',
                    plugin: round(sessionShare * 100, 2),
                    goal: { on: 'plugin', op: '<=', value: round((1 - LIMIT_GOALS[kind]) * 100, 2) },
                    note:
                        "crawlee-sessions' own code (self time), plus tough-cookie beyond the share the limit crawl spends " +
                        'in it too, as a share of all CPU of the profiled plugin crawl: 100 % minus it is the throughput a ' +
                        'crawl bound by the CPU keeps, whatever the speed of the machine during the profile',
                }),
                metricRow({
                    metric: 'session work per request (CPU profile)',
                    unit: 'µs',
                    plugin: breakdown.sessionWorkMicrosPerRequest,
                    note:
                        'self time per request in crawlee-sessions and tough-cookie code during one ' +
                        'more plugin crawl under the V8 CPU profiler; by module in details.breakdown',
                }),
                metricRow({
                    metric: 'CPU per request above the limit (CPU profile)',
                    unit: 'µs',
                    plugin: breakdownVsLimit.pluginTotalMicrosPerRequest,
                    baseline: breakdownVsLimit.limitTotalMicrosPerRequest,
                    note:
                        `self time per request of all work (every module, garbage collection and Node's internals; ` +
                        `not (idle) or (program)) in the profiled plugin crawl against one more limit crawl of ` +
                        `${params.requests} pages under the profiler; difference ` +
                        `${breakdownVsLimit.totalDiffMicrosPerRequest} µs, by module in details.breakdownVsLimit`,
                }),
            ],
            details: {
                params,
                plugin: samples.plugin!.map(roundSample),
                limit: samples.limit!.map(roundSample),
                pool: samples.pool!.map(roundSample),
                ...(samples.embedded ? { embedded: samples.embedded.map(roundSample) } : {}),
                pairedRatiosVsLimit: pairedVsLimit,
                pairedCpuRatiosVsLimit: pairedCpuVsLimit,
                medianPairedRatioVsLimit: round(median(pairedVsLimit), 3),
                pairedRatiosVsPool: pairedVsPool,
                medianPairedRatioVsPool: round(median(pairedVsPool), 3),
                breakdown,
                breakdownVsLimit,
                ...(executablePath ? { chromium: executablePath } : {}),
            },
        };
    } finally {
        await site.close();
    }
}

function roundSample(sample: CrawlSample): CrawlSample {
    return {
        ms: round(sample.ms),
        requestsPerSecond: round(sample.requestsPerSecond),
        cpuMicrosPerRequest: round(sample.cpuMicrosPerRequest),
        withCookies: sample.withCookies,
    };
}

/** HttpCrawler: withSessions vs the limit (no session work) and vs Crawlee's SessionPool. Goal: ≥ 0.95× the limit. */
export const overheadScenario: Scenario = {
    name: 'overhead',
    description: 'HttpCrawler throughput: withSessions vs no session work (the limit) and vs Crawlee SessionPool',
    run: (context) => runOverhead('http', context),
};

/** CheerioCrawler: the same comparison. Goal: ≥ 0.95× the limit. */
export const overheadCheerioScenario: Scenario = {
    name: 'overhead-cheerio',
    description: 'CheerioCrawler throughput: withSessions vs no session work (the limit) and vs Crawlee SessionPool',
    run: (context) => runOverhead('cheerio', context),
};

/** PlaywrightCrawler: the same comparison with fewer pages, the same Chromium and flags on every side. Goal: ≥ 0.97× the limit. */
export const overheadPlaywrightScenario: Scenario = {
    name: 'overhead-playwright',
    description: 'PlaywrightCrawler throughput: withSessions vs no session work (the limit) and vs Crawlee SessionPool',
    run: (context) => runOverhead('playwright', context),
};
