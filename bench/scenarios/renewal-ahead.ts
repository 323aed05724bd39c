/**
 * The renewal scenario's variant with announced expiry: one session crawled at concurrency 100 for a fixed time on a
 * site whose logins last 2 s and say so (cookie Max-Age, JWT exp). With renewal ahead of expiry, no answer may come
 * back logged out, and the crawl must keep the throughput of the same crawl on logins that never end (≥ 0.98).
 */
import { HttpCrawler, type RequestOptions } from 'crawlee';

import { defineLogin, loginRenewal, Sessions, withSessions } from '../../src/index.js';
import { startExpirySite, type ExpirySite } from '../../test/support/expiry-site.js';
import { freshConfig } from '../lib/crawlee.js';
import { alternate } from '../lib/rounds.js';
import { metricRow } from '../lib/rows.js';
import { median, round } from '../lib/stats.js';
import type { BenchSize, MetricRow } from '../lib/types.js';

interface AheadParams {
    /** How long each crawl runs, in ms. */
    durationMillis: number;
    concurrency: number;
    /** How long a login lasts, in s (whole seconds: the JWT's `exp`). */
    lifetimeSecs: number;
    rounds: number;
    warmups: number;
}

const SIZES: Record<BenchSize, AheadParams> = {
    tiny: { durationMillis: 3000, concurrency: 20, lifetimeSecs: 2, rounds: 1, warmups: 0 },
    quick: { durationMillis: 6000, concurrency: 100, lifetimeSecs: 2, rounds: 2, warmups: 1 },
    full: { durationMillis: 12_000, concurrency: 100, lifetimeSecs: 2, rounds: 3, warmups: 1 },
};

interface AheadSample {
    handled: number;
    perSecond: number;
    loggedOut: number;
    stale: number;
    failed: number;
    logins: number;
}

async function crawl(params: AheadParams, announced: boolean): Promise<AheadSample> {
    const site: ExpirySite = await startExpirySite({ lifetimeSecs: announced ? params.lifetimeSecs : 24 * 3600, users: { solo: 'pw-solo' } });
    const recipe = defineLogin({
        name: 'bench-expiring',
        credentials: { user: 'solo', password: 'pw-solo' },
        steps: [{ url: `${site.url}/login`, json: { user: '{{user}}', password: '{{password}}' } }],
        extract: [{ name: 'token', from: { json: '$.token' } }],
        apply: { headers: { Authorization: 'Bearer {{token}}' } },
    });
    const sessions = await Sessions.open({ store: 'memory', flushOnSignals: false, login: loginRenewal(recipe) });
    try {
        await sessions.renew('solo');
        const deadline = Date.now() + params.durationMillis;
        let serial = 0;
        const next = (): RequestOptions => ({ url: `${site.url}/page/${serial++}`, userData: { sessionId: 'solo' } });
        let handled = 0;
        const crawler = new HttpCrawler(
            withSessions(sessions, {
                maxConcurrency: params.concurrency,
                minConcurrency: params.concurrency,
                maxRequestRetries: 0,
                async requestHandler({ crawler: self }) {
                    handled++;
                    if (Date.now() < deadline) await self.addRequests([next()]);
                },
            }),
            freshConfig(),
        );
        const started = Date.now();
        const stats = await crawler.run(Array.from({ length: params.concurrency * 2 }, next));
        const seconds = (Date.now() - started) / 1000;
        return {
            handled,
            perSecond: handled / seconds,
            loggedOut: site.loggedOut,
            stale: site.stale,
            failed: stats.requestsFailed,
            logins: (site.logins.solo ?? 0) - 1,
        };
    } finally {
        await sessions.close();
        await site.close();
    }
}

/** Rows of the announced-expiry variant (appended to the renewal scenario's rows). */
export async function announcedExpiryRows(
    size: BenchSize,
    progress: (message: string) => void,
): Promise<{ rows: MetricRow[]; details: Record<string, unknown> }> {
    const params = SIZES[size];
    const samples = await alternate({
        rounds: params.rounds,
        warmups: params.warmups,
        sides: { announced: () => crawl(params, true), steady: () => crawl(params, false) },
        onRound: (side, r, s: AheadSample) =>
            progress(
                `announced expiry, ${side} round ${r + 1}/${params.rounds}: ${s.perSecond.toFixed(0)} req/s, ${s.logins} renewals, ` +
                    `${s.loggedOut} logged-out answers, ${s.stale} stale, ${s.failed} failed`,
            ),
    });
    const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
    const announced = samples.announced;
    const steady = samples.steady;
    const describe = `${params.durationMillis / 1000} s crawls at concurrency ${params.concurrency} on one session whose logins last ${params.lifetimeSecs} s (cookie Max-Age and JWT exp), renewed ahead with the defaults, ${params.rounds} rounds`;
    return {
        rows: [
            metricRow({
                metric: 'announced expiry: logged-out answers',
                unit: '',
                plugin: sum(announced.map((s) => s.loggedOut)),
                goal: { on: 'plugin', op: '==', value: 0 },
                note: `${describe}; pages the site answered logged out (summed over rounds)`,
            }),
            metricRow({
                metric: 'announced expiry: failed or stale',
                unit: '',
                plugin: sum(announced.map((s) => s.failed + s.stale)),
                goal: { on: 'plugin', op: '==', value: 0 },
            }),
            metricRow({
                metric: 'announced expiry: throughput',
                unit: 'req/s',
                plugin: median(announced.map((s) => s.perSecond)),
                baseline: median(steady.map((s) => s.perSecond)),
                goal: { on: 'ratio', op: '>=', value: 0.98 },
                note: `baseline: the same crawl on logins that never end; renewals ahead per crawl: ${announced.map((s) => s.logins).join(', ')}`,
            }),
        ],
        details: {
            params,
            announced: announced.map((s) => ({ ...s, perSecond: round(s.perSecond) })),
            steady: steady.map((s) => ({ ...s, perSecond: round(s.perSecond) })),
        },
    };
}
