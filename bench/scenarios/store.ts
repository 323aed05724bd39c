/**
 * store: 10 000 sessions × 5 cookies written through the embedded store and through MySQL (batched).
 *
 * End to end through `Sessions` (the goal): add 5 cookies to each of 10 000 new sessions, then `await
 * sessions.flush()`; sessions per second over both. Also the flush alone (the cookies were added before the clock
 * started) and the store's `write()` alone, in batches of 500 deltas as the write-behind sends them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { Configuration, log } from 'crawlee';
import mysql from 'mysql2/promise';
import { Cookie } from 'tough-cookie';

import { Sessions } from '../../src/index.js';
import { zeroCounters } from '../../src/model/merge.js';
import { openStore, type StoreChoice } from '../../src/stores/open-store.js';
import type { SessionDelta, SessionStore, StoredCookie } from '../../src/model/types.js';
import { COOKIE_URL, cookiesFor } from '../lib/cookies.js';
import { benchMySqlUrl, dropStoreTables, mysqlUnavailable, uniqueTablePrefix } from '../lib/mysql.js';
import { alternate } from '../lib/rounds.js';
import { metricRow } from '../lib/rows.js';
import { median, nowMs, round } from '../lib/stats.js';
import type { BenchContext, BenchSize, MetricRow, Scenario, ScenarioOutcome } from '../lib/types.js';

interface StoreParams {
    sessions: number;
    rounds: number;
    /** Deltas per direct write() call (the write-behind's default batch size). */
    batch: number;
}

const SIZES: Record<BenchSize, StoreParams> = {
    tiny: { sessions: 200, rounds: 1, batch: 500 },
    quick: { sessions: 3000, rounds: 2, batch: 500 },
    full: { sessions: 10_000, rounds: 3, batch: 500 },
};

/** Sessions/s end to end; MySQL's goal is a ratio to the bare driver (see {@link bareDriverWrite}). */
const GOALS = { embedded: 20_000, mysql: Number.NaN } as const;
type Backend = keyof typeof GOALS;

/** One round's rates in sessions per second. */
interface StoreSample {
    endToEnd: number;
    flushOnly: number;
    directWrite: number;
    /** MySQL only: the same rows written with the bare driver (the driver's own limit); NaN for the embedded store. */
    driver: number;
}

/** A fresh, empty store of the backend, and how to dispose of it. */
interface FreshStore {
    choice: StoreChoice;
    dispose(): Promise<void>;
}

async function freshStore(backend: Backend, mysqlUrl: string): Promise<FreshStore> {
    if (backend === 'embedded') {
        const directory = await mkdtemp(path.join(tmpdir(), 'crawlee-sessions-store-'));
        return {
            choice: { embedded: { name: 'bench-store', config: new Configuration({ storageClientOptions: { localDataDirectory: directory } }) } },
            dispose: () => rm(directory, { recursive: true, force: true }),
        };
    }
    const tablePrefix = uniqueTablePrefix('store');
    return { choice: { mysql: { url: mysqlUrl, tablePrefix } }, dispose: () => dropStoreTables(mysqlUrl, tablePrefix) };
}

/** Adds 5 cookies to each of `count` new sessions, then flushes; returns sessions/s, with and without the adding. */
async function throughSessions(backend: Backend, mysqlUrl: string, count: number): Promise<{ endToEnd: number; flushOnly: number }> {
    const rate = async (timeAdding: boolean) => {
        const store = await freshStore(backend, mysqlUrl);
        const sessions = await Sessions.open({ store: store.choice, flushOnSignals: false });
        try {
            let start = nowMs();
            for (let i = 0; i < count; i++) sessions.addCookies(`s${i}`, cookiesFor(i), COOKIE_URL);
            if (!timeAdding) start = nowMs();
            await sessions.flush();
            const ms = nowMs() - start;
            const stored = await sessions.store.read(`s${count - 1}`);
            if (stored?.cookies.length !== 5) throw new Error(`${backend}: the last session was not stored with its 5 cookies`);
            return (count / ms) * 1000;
        } finally {
            await sessions.close();
            await store.dispose();
        }
    };
    return { endToEnd: await rate(true), flushOnly: await rate(false) };
}

/** The deltas the write-behind would send for `count` new sessions with 5 cookies each. */
export function deltasFor(count: number, from = 0): SessionDelta[] {
    const now = Date.now();
    return Array.from({ length: count }, (_, n) => n + from).map((i) => ({
        id: `s${i}`,
        generation: 0,
        reset: true,
        assignment: { profileIndex: null, identity: null, auth: null },
        upserts: cookiesFor(i).map((header) => {
            const cookie = Cookie.parse(header, { loose: true })!;
            cookie.domain ??= 'shop.example.com';
            cookie.path ??= '/';
            return cookie.toJSON() as StoredCookie;
        }),
        removals: [],
        counters: zeroCounters(),
        lastUsedAt: now,
    }));
}

/** The store's write() alone, in batches; sessions/s. */
async function directWrite(backend: Backend, mysqlUrl: string, count: number, batch: number): Promise<number> {
    const fresh = await freshStore(backend, mysqlUrl);
    const store: SessionStore = await openStore(fresh.choice);
    try {
        const deltas = deltasFor(count);
        const start = nowMs();
        for (let i = 0; i < deltas.length; i += batch) await store.write(deltas.slice(i, i + batch));
        const ms = nowMs() - start;
        return (count / ms) * 1000;
    } finally {
        await store.close();
        await fresh.dispose();
    }
}

/**
 * The driver's own limit: the rows of the same sessions (cookies as JSON, counters, timestamps) written into the
 * store's sessions table with mysql2 alone, one multi-row `INSERT … ON DUPLICATE KEY UPDATE` per batch, no reading,
 * merging or revision; sessions/s. The deltas are built before the clock starts; serializing them is timed.
 */
async function bareDriverWrite(mysqlUrl: string, count: number, batch: number): Promise<number> {
    const fresh = await freshStore('mysql', mysqlUrl);
    const store = await openStore(fresh.choice); // creates the tables
    await store.close();
    const tablePrefix = (fresh.choice as { mysql: { tablePrefix: string } }).mysql.tablePrefix;
    const connection = await mysql.createConnection({ uri: mysqlUrl });
    try {
        const deltas = deltasFor(count);
        const start = nowMs();
        for (let i = 0; i < deltas.length; i += batch) {
            const now = Date.now();
            const rows = deltas.slice(i, i + batch).map((delta) => [
                delta.id, delta.generation, null, null, JSON.stringify(delta.upserts), null,
                delta.counters.requests, delta.counters.successes, delta.counters.failures, delta.counters.renewals,
                delta.lastUsedAt, null, 1, now,
            ]);
            await connection.query(
                `INSERT INTO \`${tablePrefix}_sessions\` (id, generation, profile_index, identity, cookies, auth, requests, successes,
                    failures, renewals, last_used_at, last_renewal_error, revision, updated_at)
                 VALUES ?
                 ON DUPLICATE KEY UPDATE generation = VALUES(generation), profile_index = VALUES(profile_index),
                    identity = VALUES(identity), cookies = VALUES(cookies), auth = VALUES(auth), requests = VALUES(requests),
                    successes = VALUES(successes), failures = VALUES(failures), renewals = VALUES(renewals),
                    last_used_at = VALUES(last_used_at), last_renewal_error = VALUES(last_renewal_error),
                    revision = VALUES(revision), updated_at = VALUES(updated_at)`,
                [rows],
            );
        }
        const ms = nowMs() - start;
        return (count / ms) * 1000;
    } finally {
        await connection.end();
        await fresh.dispose();
    }
}

async function runStore(context: BenchContext): Promise<ScenarioOutcome> {
    log.setLevel(log.LEVELS.OFF);
    const params = SIZES[context.size];
    const mysqlUrl = benchMySqlUrl();
    const unavailable = await mysqlUnavailable(mysqlUrl);
    const backends: Backend[] = unavailable ? ['embedded'] : ['embedded', 'mysql'];
    if (unavailable) context.progress(`${unavailable}: measuring the embedded store only`);

    const measure = (backend: Backend) => async (): Promise<StoreSample> => {
        const { endToEnd, flushOnly } = await throughSessions(backend, mysqlUrl, params.sessions);
        const driver = backend === 'mysql' ? await bareDriverWrite(mysqlUrl, params.sessions, params.batch) : Number.NaN;
        return { endToEnd, flushOnly, directWrite: await directWrite(backend, mysqlUrl, params.sessions, params.batch), driver };
    };
    const sides = Object.fromEntries(backends.map((backend) => [backend, measure(backend)])) as Record<Backend, () => Promise<StoreSample>>;
    const samples = await alternate({
        rounds: params.rounds,
        sides,
        onRound: (backend, r, s) =>
            context.progress(
                `${backend} round ${r + 1}/${params.rounds}: end to end ${s.endToEnd.toFixed(0)}/s, flush ${s.flushOnly.toFixed(0)}/s, ` +
                    `write() ${s.directWrite.toFixed(0)}/s${Number.isNaN(s.driver) ? '' : `, bare driver ${s.driver.toFixed(0)}/s`}`,
            ),
    });

    const rows: MetricRow[] = [];
    for (const backend of backends) {
        const of = (key: keyof StoreSample) => median(samples[backend].map((s) => s[key]));
        const mysqlSide = backend === 'mysql';
        rows.push(
            metricRow({
                metric: `${backend}: sessions/s end to end`,
                unit: '/s',
                plugin: of('endToEnd'),
                ...(mysqlSide
                    ? { baseline: of('driver'), goal: { on: 'ratio', op: '>=', value: 0.5 } as const }
                    : { goal: { on: 'plugin', op: '>=', value: GOALS[backend] } as const }),
                note:
                    `${params.sessions} new sessions × 5 cookies through Sessions (addCookies, then flush()), ${params.rounds} rounds, ` +
                    `median; ${
                        mysqlSide
                            ? 'MariaDB on loopback, a fresh table prefix per round; baseline: the same rows written by mysql2 alone ' +
                              `(one multi-row INSERT … ON DUPLICATE KEY UPDATE per ${params.batch}, no merge), in the same round`
                            : 'a fresh storage directory per round'
                    }`,
            }),
            metricRow({
                metric: `${backend}: sessions/s, flush() alone`,
                unit: '/s',
                plugin: of('flushOnly'),
                note: 'the same, timing only the flush: the cookies were added before the clock started',
            }),
            metricRow({
                metric: `${backend}: sessions/s, store.write() alone`,
                unit: '/s',
                plugin: of('directWrite'),
                note: `ready-made deltas written in batches of ${params.batch}, as the write-behind sends them`,
            }),
        );
    }
    if (unavailable) {
        rows.push(
            metricRow({
                metric: 'mysql: sessions/s end to end',
                unit: '/s',
                plugin: null,
                goal: { on: 'ratio', op: '>=', value: 0.5 },
                note: unavailable,
            }),
        );
    }
    return {
        rows,
        details: {
            params,
            ...Object.fromEntries(
                backends.map((backend) => [
                    backend,
                    samples[backend].map((s) => ({
                        endToEnd: round(s.endToEnd),
                        flushOnly: round(s.flushOnly),
                        directWrite: round(s.directWrite),
                        ...(Number.isNaN(s.driver) ? {} : { driver: round(s.driver) }),
                    })),
                ]),
            ),
        },
    };
}

/** 10 000 sessions × 5 cookies: ≥ 20 000/s through the embedded store, MySQL ≥ 0.5× the bare driver. */
export const storeScenario: Scenario = {
    name: 'store',
    description: '10 000 sessions × 5 cookies written through the embedded store and MySQL: sessions/s',
    run: runStore,
};
