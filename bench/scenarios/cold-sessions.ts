/**
 * cold-sessions: a crawl over many sessions stored in MySQL with a small live set (`maxLiveSessions`). The same
 * crawl runs twice in fresh processes: with the limit, and without it (every stored session loaded at open); RSS
 * after opening and at its peak during the crawl are compared. Each request is bound to another stored session,
 * so with the limit almost every request loads a cold session and the idle ones are dropped after each flush.
 */
import { startTestSite } from '../../test/support/site.js';
import type { SessionIdentity } from '../../src/model/identity.js';
import { openStore } from '../../src/stores/open-store.js';
import { lastJsonLine, runTsChild } from '../lib/child.js';
import { benchMySqlUrl, dropStoreTables, mysqlUnavailable, uniqueTablePrefix } from '../lib/mysql.js';
import { metricRow } from '../lib/rows.js';
import { round } from '../lib/stats.js';
import { ScenarioSkipped, type BenchContext, type BenchSize, type Scenario, type ScenarioOutcome } from '../lib/types.js';
import type { ColdChildArgs, ColdChildResult } from './cold-sessions-child.js';
import { deltasFor } from './store.js';

/** The parameters of a cold crawl (cold-sessions, cold-million). */
export interface ColdParams {
    stored: number;
    requests: number;
    maxLiveSessions: number;
}

const SIZES: Record<BenchSize, ColdParams> = {
    tiny: { stored: 2000, requests: 300, maxLiveSessions: 100 },
    quick: { stored: 50_000, requests: 3000, maxLiveSessions: 1000 },
    full: { stored: 200_000, requests: 10_000, maxLiveSessions: 10_000 },
};

/** The child process that opens the store and crawls (cold-sessions and cold-million). */
export const CHILD = 'bench/scenarios/cold-sessions-child.ts';
const USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';
/** The identity every stored session of the cold scenarios has. */
export const IDENTITY: SessionIdentity = {
    userAgent: USER_AGENT,
    headers: { 'user-agent': USER_AGENT, 'accept-language': 'en-US,en;q=0.9' },
    family: null,
};
export const MB = 2 ** 20;

async function runCold(context: BenchContext): Promise<ScenarioOutcome> {
    const params = SIZES[context.size];
    const mysqlUrl = benchMySqlUrl();
    const unavailable = await mysqlUnavailable(mysqlUrl);
    if (unavailable) throw new ScenarioSkipped(unavailable);
    const tablePrefix = uniqueTablePrefix('cold');
    const site = await startTestSite();
    try {
        const store = await openStore({ mysql: { url: mysqlUrl, tablePrefix } });
        try {
            for (let from = 0; from < params.stored; from += 1000) {
                // With an identity, as sessions a crawl stored have: loading one generates nothing.
                const deltas = deltasFor(Math.min(1000, params.stored - from), from).map((delta) => ({
                    ...delta,
                    assignment: { ...delta.assignment, identity: IDENTITY },
                }));
                await store.write(deltas);
            }
        } finally {
            await store.close();
        }
        context.progress(`${params.stored} sessions × 5 cookies stored; crawling ${params.requests} pages over them`);
        const side = async (maxLiveSessions: number | undefined) => {
            const args: ColdChildArgs = { mysqlUrl, tablePrefix, siteUrl: site.url, stored: params.stored, requests: params.requests, maxLiveSessions };
            const stdout = await runTsChild(CHILD, [JSON.stringify(args)], { nodeFlags: ['--expose-gc'] });
            const result = lastJsonLine<ColdChildResult>(stdout);
            if (result.handled !== params.requests) throw new Error(`handled ${result.handled} of ${params.requests} pages`);
            return result;
        };
        const limited = await side(params.maxLiveSessions);
        context.progress(`maxLiveSessions ${params.maxLiveSessions}: peak RSS ${(limited.peakRssBytes / MB).toFixed(0)} MB`);
        const unlimited = await side(undefined);
        context.progress(`all live: peak RSS ${(unlimited.peakRssBytes / MB).toFixed(0)} MB`);
        const mb = (bytes: number) => round(bytes / MB, 1);
        return {
            rows: [
                metricRow({
                    metric: 'peak RSS, crawl over cold sessions',
                    unit: 'MB',
                    plugin: mb(limited.peakRssBytes),
                    baseline: mb(unlimited.peakRssBytes),
                    ratio: 'baseline/plugin',
                    goal: { on: 'ratio', op: '>=', value: 1 },
                    note:
                        `${params.stored} sessions × 5 cookies in MySQL, ${params.requests} pages each bound to another session; ` +
                        `maxLiveSessions ${params.maxLiveSessions} against every session live (baseline). 1 000 000 stored sessions ` +
                        'were not run: storing them alone takes minutes on this machine',
                }),
                metricRow({ metric: 'RSS after open', unit: 'MB', plugin: mb(limited.rssAfterOpenBytes), baseline: mb(unlimited.rssAfterOpenBytes) }),
                metricRow({
                    metric: 'sessions live after the crawl',
                    unit: '',
                    plugin: limited.liveAfterCrawl,
                    baseline: unlimited.liveAfterCrawl,
                    goal: { on: 'plugin', op: '<=', value: params.maxLiveSessions },
                }),
                metricRow({ metric: 'open time', unit: 'ms', plugin: round(limited.openMs, 0), baseline: round(unlimited.openMs, 0) }),
                metricRow({ metric: 'crawl time', unit: 'ms', plugin: round(limited.crawlMs, 0), baseline: round(unlimited.crawlMs, 0) }),
            ],
            details: { params, limited, unlimited },
        };
    } finally {
        await site.close();
        await dropStoreTables(mysqlUrl, tablePrefix).catch(() => undefined);
    }
}

/** A crawl over many stored sessions with a small live set: RSS bounded by it. */
export const coldSessionsScenario: Scenario = {
    name: 'cold-sessions',
    description: 'a crawl over many sessions stored in MySQL with maxLiveSessions: RSS against every session live',
    run: runCold,
};
