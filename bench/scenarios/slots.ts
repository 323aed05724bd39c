/**
 * slots: ten sessions crawl at concurrency 10; one of them renews slowly (its login takes 3 s). A session that waits
 * holds none of the crawler's slots, so the other nine keep their throughput during the renewal. Compared side by
 * side (ABBA) with the same crawl without the renewal, over the same window. Goal: the nine keep ≥ 90 %.
 */
import { Configuration, HttpCrawler, log } from 'crawlee';

import { Sessions, withSessions } from '../../src/index.js';
import { startTimingSite, type TimingSite } from '../../test/support/timing-site.js';
import { alternate } from '../lib/rounds.js';
import { metricRow } from '../lib/rows.js';
import { median, round } from '../lib/stats.js';
import type { BenchContext, BenchSize, Scenario, ScenarioOutcome } from '../lib/types.js';

interface SlotsParams {
    rounds: number;
    warmups: number;
    perSession: number;
    /** How long the renewing session's login takes. */
    loginMillis: number;
    /** When (after the crawl started) the renewal begins. */
    startAfterMillis: number;
    /** How long the site takes to answer a page (the crawl is bound by its slots, not by the CPU). */
    pageDelayMillis: number;
}

const SIZES: Record<BenchSize, SlotsParams> = {
    tiny: { rounds: 1, warmups: 0, perSession: 30, loginMillis: 400, startAfterMillis: 200, pageDelayMillis: 20 },
    quick: { rounds: 2, warmups: 1, perSession: 100, loginMillis: 3000, startAfterMillis: 1000, pageDelayMillis: 40 },
    full: { rounds: 4, warmups: 1, perSession: 150, loginMillis: 3000, startAfterMillis: 1000, pageDelayMillis: 40 },
};

const SESSIONS = 10;
const CONCURRENCY = 10;
const GOAL = 0.9;

interface SlotsSample {
    /** Pages/s of the nine other sessions during the renewal window. */
    othersPerSecond: number;
    /** Pages of the renewing session that arrived during the window (0 with the renewal: it waited). */
    renewingDuring: number;
    failed: number;
    /** Whether the other sessions still had pages to fetch when the window ended (else it is not comparable). */
    coveredWindow: boolean;
}

async function crawlOnce(site: TimingSite, params: SlotsParams, renew: boolean, round: number): Promise<SlotsSample> {
    const run = `slots-${renew ? 'renew' : 'plain'}-${round}-${Date.now()}`;
    const sessions = await Sessions.open({ store: 'memory', logoutGuard: { enabled: false } });
    const ids = Array.from({ length: SESSIONS }, (_, n) => `s${n}`);
    const crawler = new HttpCrawler(
        withSessions(sessions, { minConcurrency: CONCURRENCY, maxConcurrency: CONCURRENCY, maxRequestRetries: 0, async requestHandler() {} }),
        new Configuration({ persistStorage: false, purgeOnStart: true }),
    );
    const requests = [];
    for (let n = 0; n < params.perSession; n++) {
        for (const id of ids) requests.push({ url: `${site.url}/s/${run}-${id}/${n}?delay=${params.pageDelayMillis}`, userData: { sessionId: id } });
    }
    let windowStart = 0;
    let windowEnd = 0;
    const timer = setTimeout(() => {
        windowStart = Date.now();
        if (!renew) {
            windowEnd = windowStart + params.loginMillis;
            return;
        }
        const login = { url: `${site.url}/s/${run}-login/0?delay=${params.loginMillis}` };
        void sessions.clear('s0', { renewal: login }).finally(() => {
            windowEnd = Date.now();
        });
    }, params.startAfterMillis);
    const stats = await crawler.run(requests);
    clearTimeout(timer);
    await sessions.close();
    const seen = (await site.log()).filter((entry) => entry.session.startsWith(`${run}-s`));
    const inWindow = seen.filter((entry) => entry.at >= windowStart && entry.at < windowEnd);
    const others = inWindow.filter((entry) => entry.session !== `${run}-s0`);
    const othersEnd = Math.max(0, ...seen.filter((entry) => entry.session !== `${run}-s0`).map((entry) => entry.at));
    return {
        othersPerSecond: windowEnd > windowStart ? others.length / ((windowEnd - windowStart) / 1000) : 0,
        renewingDuring: inWindow.length - others.length,
        failed: stats.requestsFailed,
        coveredWindow: windowEnd > 0 && othersEnd >= windowEnd,
    };
}

async function runSlots(context: BenchContext): Promise<ScenarioOutcome> {
    log.setLevel(log.LEVELS.OFF);
    const params = SIZES[context.size];
    const site = await startTimingSite();
    try {
        const samples = await alternate({
            rounds: params.rounds,
            warmups: params.warmups,
            sides: {
                renewal: (r) => crawlOnce(site, params, true, r),
                plain: (r) => crawlOnce(site, params, false, r),
            },
            onRound: (side, r, s: SlotsSample) =>
                context.progress(`${side} ${r + 1}/${params.rounds}: others ${s.othersPerSecond.toFixed(0)} pages/s during the window`),
        });
        const during = median(samples.renewal.map((s) => s.othersPerSecond));
        const without = median(samples.plain.map((s) => s.othersPerSecond));
        const covered = [...samples.renewal, ...samples.plain].every((s) => s.coveredWindow);
        return {
            rows: [
                metricRow({
                    metric: "others' throughput during a renewal",
                    unit: 'pages/s',
                    plugin: during,
                    baseline: without,
                    goal: { on: 'ratio', op: '>=', value: GOAL },
                    note:
                        `${SESSIONS} sessions at concurrency ${CONCURRENCY}, pages answered in ${params.pageDelayMillis} ms; plugin: the nine ` +
                        `other sessions while s0 renews (a ${params.loginMillis} ms login); baseline: the same window of the same crawl ` +
                        `without a renewal; median of ${params.rounds} each (ABBA)${covered ? '' : '; WARNING: the other sessions ran out of pages inside a window'}`,
                }),
                metricRow({
                    metric: 'renewing session pages during its renewal',
                    unit: '',
                    plugin: median(samples.renewal.map((s) => s.renewingDuring)),
                    baseline: median(samples.plain.map((s) => s.renewingDuring)),
                    goal: { on: 'plugin', op: '==', value: 0 },
                }),
                metricRow({
                    metric: 'failed requests',
                    unit: '',
                    plugin: Math.max(...samples.renewal.map((s) => s.failed)),
                    baseline: Math.max(...samples.plain.map((s) => s.failed)),
                    goal: { on: 'plugin', op: '==', value: 0 },
                }),
            ],
            details: {
                params,
                renewal: samples.renewal.map((s) => ({ ...s, othersPerSecond: round(s.othersPerSecond) })),
                plain: samples.plain.map((s) => ({ ...s, othersPerSecond: round(s.othersPerSecond) })),
            },
        };
    } finally {
        await site.close();
    }
}

/** One session renewing slowly at concurrency 10: the other nine keep ≥ 90 % of their throughput. */
export const slotsScenario: Scenario = {
    name: 'slots',
    description: 'one of ten sessions renews slowly (3 s login) at concurrency 10: the other nine keep their throughput',
    run: runSlots,
};
