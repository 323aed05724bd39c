/**
 * memory: 100 000 sessions × 5 cookies held in memory. RSS and heap growth, and the latency of `sessions.get(id)`,
 * against a Map of plain tough-cookie jars holding the same cookies. Every measurement runs in a fresh child
 * process (`node --expose-gc`), so RSS starts clean.
 *
 * Where the memory goes is measured too, by building parts of a session alone at a smaller count: the Cookie
 * objects, an empty jar, the tracking cookie store, an empty session, and the copies the stores keep. For a
 * constructor-by-constructor view run the child's `heap` mode (two heap snapshots; slow, not part of the run):
 *
 *   node --expose-gc --import tsx bench/scenarios/memory-child.ts heap 10000
 */
import { lastJsonLine, runTsChild } from '../lib/child.js';
import { metricRow } from '../lib/rows.js';
import { round } from '../lib/stats.js';
import type { BenchContext, BenchSize, MetricRow, Scenario, ScenarioOutcome } from '../lib/types.js';

interface MemoryParams {
    /** Sessions of the main measurement. */
    sessions: number;
    /** Timed get() calls per variant. */
    samples: number;
    /** Sessions of each breakdown measurement (per-session figures are scaled). */
    breakdownSessions: number;
}

const SIZES: Record<BenchSize, MemoryParams> = {
    tiny: { sessions: 1000, samples: 500, breakdownSessions: 500 },
    quick: { sessions: 20_000, samples: 5000, breakdownSessions: 5000 },
    full: { sessions: 100_000, samples: 20_000, breakdownSessions: 20_000 },
};

const GOAL_MB_PER_100K = 200;
const GOAL_GET_US = 5;
const CHILD = 'bench/scenarios/memory-child.ts';

interface Latency {
    medianNs: number;
    p99Ns: number;
}

interface ChildResult {
    mode: string;
    store?: string;
    count: number;
    buildMs: number;
    rssGrowthBytes: number;
    heapGrowthBytes: number;
    get?: Latency;
    getUrl?: Latency;
    getDict?: Latency;
    getHeader?: Latency;
    timerNs?: Latency;
    jarGetUrl?: Latency;
    jarSerialize?: Latency;
}

async function child(mode: string, count: number, samples: number, store = 'none'): Promise<ChildResult> {
    const stdout = await runTsChild(CHILD, [mode, String(count), String(samples), store], { nodeFlags: ['--expose-gc'] });
    return lastJsonLine<ChildResult>(stdout);
}

const MB = 1e6;

async function runMemory(context: BenchContext): Promise<ScenarioOutcome> {
    const params = SIZES[context.size];
    const n = params.sessions;
    const scale = 100_000 / n;
    const goalMb = GOAL_MB_PER_100K / scale;

    const sessions = await child('sessions', n, params.samples);
    context.progress(`${n} sessions: RSS +${(sessions.rssGrowthBytes / MB).toFixed(0)} MB, built in ${sessions.buildMs.toFixed(0)} ms`);
    const jars = await child('jars', n, params.samples);
    context.progress(`${n} tough-cookie jars: RSS +${(jars.rssGrowthBytes / MB).toFixed(0)} MB`);

    // Where the memory goes: each part alone, at a smaller count, per session.
    const b = params.breakdownSessions;
    const breakdownRun = lastJsonLine<{ parts: ChildResult[] }>(
        await runTsChild(CHILD, ['breakdown', String(b), '0'], { nodeFlags: ['--expose-gc'] }),
    );
    const part = (mode: string, store = 'none') => {
        const found = breakdownRun.parts.find((p) => p.mode === mode && (p.store ?? 'none') === store);
        if (!found) throw new Error(`breakdown part ${mode}:${store} missing`);
        return found;
    };
    const parts: Record<string, ChildResult> = {
        cookies: part('cookies'),
        jarEmpty: part('jars-empty'),
        trackingEmpty: part('tracking-empty'),
        sessionEmpty: part('sessions-empty'),
        session: part('sessions'),
        sessionMemoryStore: part('sessions', 'memory'),
        sessionEmbeddedStore: part('sessions', 'embedded'),
    };
    context.progress(`breakdown: ${Object.entries(parts).map(([name, r]) => `${name} ${(r.heapGrowthBytes / b).toFixed(0)} B`).join(', ')}`);
    const perSession = (result: ChildResult) => result.heapGrowthBytes / result.count;
    const breakdown = {
        cookieObjects: perSession(parts.cookies!),
        emptyJar: perSession(parts.jarEmpty!),
        trackingStoreExtra: perSession(parts.trackingEmpty!) - perSession(parts.jarEmpty!),
        sessionObjectExtra: perSession(parts.sessionEmpty!) - perSession(parts.trackingEmpty!),
        cookiesInJar: perSession(parts.session!) - perSession(parts.sessionEmpty!),
        memoryStoreCopy: perSession(parts.sessionMemoryStore!) - perSession(parts.session!),
        embeddedStoreCopy: perSession(parts.sessionEmbeddedStore!) - perSession(parts.session!),
    };
    const us = (ns: number | undefined) => (ns === undefined ? null : ns / 1000);
    const label = n === 100_000 ? '100k' : `${n}`;

    const rows: MetricRow[] = [
        metricRow({
            metric: `RSS, ${label} sessions × 5 cookies`,
            unit: 'MB',
            plugin: sessions.rssGrowthBytes / MB,
            baseline: jars.rssGrowthBytes / MB,
            goal: { on: 'plugin', op: '<=', value: round(goalMb, 3) },
            note:
                `RSS growth of a fresh process (after GC) building ${n} sessions with 5 cookies each (sessions.addCookies, ` +
                'then flush) with a store that keeps nothing, so only the sessions count; baseline: a Map of tough-cookie ' +
                `CookieJars (MemoryCookieStore) with the same cookies${n === 100_000 ? '' : `; goal scaled from 200 MB per 100k`}`,
        }),
        metricRow({
            metric: `heap, ${label} sessions × 5 cookies`,
            unit: 'MB',
            plugin: sessions.heapGrowthBytes / MB,
            baseline: jars.heapGrowthBytes / MB,
        }),
        metricRow({
            metric: 'get(id) median',
            unit: 'µs',
            plugin: us(sessions.get?.medianNs),
            baseline: us(jars.jarGetUrl?.medianNs),
            goal: { on: 'plugin', op: '<=', value: GOAL_GET_US },
            note:
                `sessions.get(id): every cookie of the session as tough-cookie Cookies; ${params.samples} calls on random ` +
                `sessions, each timed alone (timer overhead ${sessions.timerNs?.medianNs ?? '?'} ns); baseline: ` +
                "jar.getCookiesSync(url) on a plain tough-cookie jar from a Map",
        }),
        metricRow({ metric: 'get(id) p99', unit: 'µs', plugin: us(sessions.get?.p99Ns), baseline: us(jars.jarGetUrl?.p99Ns) }),
        metricRow({ metric: 'get(id, { url }) median', unit: 'µs', plugin: us(sessions.getUrl?.medianNs), baseline: us(jars.jarGetUrl?.medianNs) }),
        metricRow({ metric: "get(id, { format: 'dict' }) median", unit: 'µs', plugin: us(sessions.getDict?.medianNs) }),
        metricRow({ metric: "get(id, { format: 'header', url }) median", unit: 'µs', plugin: us(sessions.getHeader?.medianNs) }),
        metricRow({
            metric: 'build time per session',
            unit: 'µs',
            plugin: (sessions.buildMs * 1000) / n,
            baseline: (jars.buildMs * 1000) / n,
            note: 'creating a session (profile, identity) and adding its 5 cookies, flush included; baseline: a jar and setCookieSync × 5',
        }),
        metricRow({
            metric: 'heap per session: 5 Cookie objects',
            unit: 'B',
            plugin: breakdown.cookieObjects,
            note: `breakdown: heap growth per session, each part built alone (${b} sessions) and released before the next, in one fresh process`,
        }),
        metricRow({ metric: 'heap per session: cookies in the jar', unit: 'B', plugin: breakdown.cookiesInJar }),
        metricRow({ metric: 'heap per session: empty CookieJar', unit: 'B', plugin: breakdown.emptyJar }),
        metricRow({ metric: 'heap per session: TrackingCookieStore extra', unit: 'B', plugin: breakdown.trackingStoreExtra }),
        metricRow({ metric: 'heap per session: BoundSession & identity', unit: 'B', plugin: breakdown.sessionObjectExtra }),
        metricRow({ metric: 'heap per session: memory store copy', unit: 'B', plugin: breakdown.memoryStoreCopy }),
        metricRow({ metric: 'heap per session: embedded store copy', unit: 'B', plugin: breakdown.embeddedStoreCopy }),
    ];
    return {
        rows,
        details: {
            params,
            sessions,
            jars,
            breakdownBytesPerSession: Object.fromEntries(Object.entries(breakdown).map(([key, value]) => [key, Math.round(value)])),
            parts: Object.fromEntries(
                Object.entries(parts).map(([name, result]) => [
                    name,
                    { heapPerSession: Math.round(perSession(result)), rssPerSession: Math.round(result.rssGrowthBytes / result.count), buildMs: round(result.buildMs) },
                ]),
            ),
        },
    };
}

/** 100k sessions × 5 cookies: RSS ≤ 200 MB, get() ≤ 5 µs. */
export const memoryScenario: Scenario = {
    name: 'memory',
    description: '100 000 sessions × 5 cookies in memory: RSS, heap, get() latency, where the memory goes',
    run: runMemory,
};
