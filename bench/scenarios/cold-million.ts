/**
 * cold-million: the cold-sessions crawl over a million stored sessions. Storing a million sessions through the store
 * takes minutes here, so the rows are made by MariaDB itself: one `INSERT … SELECT` over its sequence engine
 * (`seq_0_to_999999`), each row a session of 5 cookies with values unique to it, as the store writes them. The
 * same child as cold-sessions then crawls with `maxLiveSessions: 10 000`, once over the million and once over a
 * tenth of it (the same live set, the same pages): with RSS bounded by the live set, the two peaks are about equal.
 * Every session live is not run here (about 11 GB at the memory scenario's per-session figure).
 */
import mysql from 'mysql2/promise';

import { startTestSite } from '../../test/support/site.js';
import { openStore } from '../../src/stores/open-store.js';
import { lastJsonLine, runTsChild } from '../lib/child.js';
import { benchMySqlUrl, dropStoreTables, mysqlUnavailable, uniqueTablePrefix } from '../lib/mysql.js';
import { metricRow } from '../lib/rows.js';
import { round } from '../lib/stats.js';
import { ScenarioSkipped, type BenchContext, type BenchSize, type Scenario, type ScenarioOutcome } from '../lib/types.js';
import type { ColdChildArgs, ColdChildResult } from './cold-sessions-child.js';
import { CHILD, IDENTITY, MB, type ColdParams } from './cold-sessions.js';
import { deltasFor } from './store.js';

const SIZES: Record<BenchSize, ColdParams> = {
    tiny: { stored: 10_000, requests: 300, maxLiveSessions: 100 },
    quick: { stored: 200_000, requests: 3000, maxLiveSessions: 1000 },
    full: { stored: 1_000_000, requests: 10_000, maxLiveSessions: 10_000 },
};


/**
 * Stores sessions `s0` … `s<count-1>` with MariaDB's sequence engine: the 5 stored cookies of session 0, each value
 * suffixed with the session's number. Revision 0: no process's change feed replays them.
 */
async function seed(mysqlUrl: string, tablePrefix: string, count: number): Promise<void> {
    const store = await openStore({ mysql: { url: mysqlUrl, tablePrefix } }); // creates the tables
    await store.close();
    const template = deltasFor(1)[0]!.upserts.map((cookie) => ({ ...cookie, value: `${cookie.value}-@@` }));
    const connection = await mysql.createConnection({ uri: mysqlUrl });
    try {
        const [sequences] = await connection.query(`SHOW ENGINES`);
        if (!(sequences as Array<{ Engine: string; Support: string }>).some((row) => row.Engine === 'SEQUENCE' && row.Support !== 'NO')) {
            throw new ScenarioSkipped('the database has no sequence engine (MariaDB) to store a million sessions quickly');
        }
        await connection.query(
            `INSERT INTO \`${tablePrefix}_sessions\` (id, lease_only, generation, profile_index, identity, cookies, auth, requests,
                successes, failures, renewals, last_used_at, last_renewal_error, revision, updated_at, writers)
             SELECT CONCAT('s', seq), 0, 0, NULL, ?, REPLACE(?, '@@', seq), NULL, 0, 0, 0, 0, ?, NULL, 0, ?, NULL
             FROM seq_0_to_${count - 1}`,
            [JSON.stringify(IDENTITY), JSON.stringify(template), Date.now(), Date.now()],
        );
    } finally {
        await connection.end();
    }
}

async function runMillion(context: BenchContext): Promise<ScenarioOutcome> {
    const params = SIZES[context.size];
    const mysqlUrl = benchMySqlUrl();
    const unavailable = await mysqlUnavailable(mysqlUrl);
    if (unavailable) throw new ScenarioSkipped(unavailable);
    const tenth = Math.round(params.stored / 10);
    const prefixes = { all: uniqueTablePrefix('million'), tenth: uniqueTablePrefix('tenth') };
    const site = await startTestSite();
    try {
        const seedStart = performance.now();
        await seed(mysqlUrl, prefixes.all, params.stored);
        await seed(mysqlUrl, prefixes.tenth, tenth);
        context.progress(`${params.stored} and ${tenth} sessions stored in ${Math.round(performance.now() - seedStart)} ms; crawling`);
        const side = async (tablePrefix: string, stored: number) => {
            const args: ColdChildArgs = {
                mysqlUrl,
                tablePrefix,
                siteUrl: site.url,
                stored,
                requests: params.requests,
                maxLiveSessions: params.maxLiveSessions,
            };
            const result = lastJsonLine<ColdChildResult>(await runTsChild(CHILD, [JSON.stringify(args)], { nodeFlags: ['--expose-gc'] }));
            if (result.handled !== params.requests) throw new Error(`handled ${result.handled} of ${params.requests} pages`);
            return result;
        };
        const million = await side(prefixes.all, params.stored);
        context.progress(`${params.stored} stored: peak RSS ${(million.peakRssBytes / MB).toFixed(0)} MB, open ${million.openMs.toFixed(0)} ms`);
        const small = await side(prefixes.tenth, tenth);
        context.progress(`${tenth} stored: peak RSS ${(small.peakRssBytes / MB).toFixed(0)} MB, open ${small.openMs.toFixed(0)} ms`);
        const mb = (bytes: number) => round(bytes / MB, 1);
        const note = `maxLiveSessions ${params.maxLiveSessions}, ${params.requests} pages each bound to another stored session; baseline: the same over ${tenth} stored`;
        return {
            rows: [
                metricRow({
                    metric: `peak RSS, ${params.stored} stored`,
                    unit: 'MB',
                    plugin: mb(million.peakRssBytes),
                    baseline: mb(small.peakRssBytes),
                    ratio: 'plugin/baseline',
                    goal: { on: 'ratio', op: '<=', value: 1.25 },
                    note,
                }),
                metricRow({ metric: 'RSS after open', unit: 'MB', plugin: mb(million.rssAfterOpenBytes), baseline: mb(small.rssAfterOpenBytes) }),
                metricRow({
                    metric: 'sessions live after the crawl',
                    unit: '',
                    plugin: million.liveAfterCrawl,
                    baseline: small.liveAfterCrawl,
                    goal: { on: 'plugin', op: '<=', value: params.maxLiveSessions },
                }),
                metricRow({ metric: 'open time', unit: 'ms', plugin: round(million.openMs, 0), baseline: round(small.openMs, 0) }),
                metricRow({ metric: 'crawl time', unit: 'ms', plugin: round(million.crawlMs, 0), baseline: round(small.crawlMs, 0) }),
            ],
            details: { params, million, small },
        };
    } finally {
        await site.close();
        await dropStoreTables(mysqlUrl, prefixes.all).catch(() => undefined);
        await dropStoreTables(mysqlUrl, prefixes.tenth).catch(() => undefined);
    }
}

/** A crawl over a million stored sessions with 10 000 live: RSS bounded by the live set, not by the store. */
export const coldMillionScenario: Scenario = {
    name: 'cold-million',
    description: 'a crawl over 1 000 000 sessions stored in MySQL with maxLiveSessions 10 000: peak RSS against a tenth of them stored',
    run: runMillion,
};
