/**
 * Child process of the memory scenario: builds N sessions (or one of their parts) with 5 cookies each in a clean
 * process, then prints one JSON line with the memory they take and, for whole sessions, the latency of reading
 * them. Run as `node --expose-gc --import tsx bench/scenarios/memory-child.ts <mode> <count> [samples]`.
 *
 * Modes (each alone in its process, so that the differences between them say where the memory goes):
 * - `sessions`: `Sessions` with the given store (`memory`, `embedded` or `none`: a store that keeps nothing);
 * - `sessions-empty`: the same sessions without cookies;
 * - `jars`: a Map of plain tough-cookie jars (MemoryCookieStore) with the same cookies: the baseline;
 * - `jars-empty`: the same jars without cookies;
 * - `tracking-empty`: empty jars on the TrackingCookieStore the sessions use;
 * - `cookies`: only the tough-cookie Cookie objects (5 per session, in arrays);
 * - `heap`: `sessions` between two heap snapshots; what grew, by constructor, per session (use a small count);
 * - `breakdown`: every part above (and sessions with each store) one after the other; heap growth of each.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';

import { Configuration, log } from 'crawlee';
import { Cookie, CookieJar, MemoryCookieStore } from 'tough-cookie';

import { Sessions } from '../../src/index.js';
import { applySessionDelta } from '../../src/model/merge.js';
import { MemorySessionStore } from '../../src/stores/memory-store.js';
import { TrackingCookieStore } from '../../src/session/tracking-cookie-store.js';
import type { SessionDelta, SessionRecord } from '../../src/model/types.js';
import { COOKIE_URL, cookiesFor } from '../lib/cookies.js';
import { median, percentile } from '../lib/stats.js';

/** A store that keeps nothing: isolates what the sessions themselves hold in memory. */
class NullStore extends MemorySessionStore {
    override readonly description = 'nothing (benchmark)';
    override async write(deltas: readonly SessionDelta[]): Promise<SessionRecord[]> {
        const now = Date.now();
        return deltas.map((delta) => applySessionDelta(undefined, delta, now));
    }
}

interface Memory {
    rss: number;
    heapUsed: number;
    external: number;
    arrayBuffers: number;
}

function gc(): void {
    const collect = (globalThis as { gc?: () => void }).gc;
    if (!collect) throw new Error('run with --expose-gc');
    for (let i = 0; i < 3; i++) collect();
}

function memory(): Memory {
    gc();
    const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage();
    return { rss, heapUsed, external, arrayBuffers };
}

/** Per-call latencies in ns of `call` over random ids, measured one call at a time. */
function latencies(count: number, samples: number, call: (id: number) => unknown): number[] {
    const result: number[] = [];
    let sink = 0;
    for (let i = 0; i < samples; i++) {
        const id = (i * 7919 + 13) % count;
        const start = process.hrtime.bigint();
        const value = call(id);
        const end = process.hrtime.bigint();
        if (value) sink++;
        result.push(Number(end - start));
    }
    if (sink < 0) console.log(sink);
    return result;
}

function summary(values: number[]) {
    return { medianNs: Math.round(median(values)), p99Ns: Math.round(percentile(values, 99)) };
}

async function openSessions(store: string): Promise<{ sessions: Sessions; cleanup: () => Promise<void> }> {
    if (store === 'embedded') {
        const directory = await mkdtemp(path.join(tmpdir(), 'crawlee-sessions-memory-'));
        const sessions = await Sessions.open({
            store: {
                embedded: { name: 'bench-memory', config: new Configuration({ storageClientOptions: { localDataDirectory: directory } }) },
            },
            flushOnSignals: false,
        });
        return { sessions, cleanup: () => rm(directory, { recursive: true, force: true }) };
    }
    const sessions = await Sessions.open({ store: store === 'memory' ? 'memory' : new NullStore(), flushOnSignals: false });
    return { sessions, cleanup: async () => undefined };
}

/** What one measured part holds, and how to let it go. */
interface Built {
    sessions?: Sessions;
    jars?: Map<string, CookieJar>;
    cookies?: Cookie[][];
    release(): Promise<void>;
}

/** Builds `count` sessions (or parts of them, see the modes) with 5 cookies each. */
async function build(mode: string, count: number, store: string): Promise<Built> {
    if (mode === 'sessions' || mode === 'sessions-empty' || mode === 'heap') {
        const { sessions, cleanup } = await openSessions(store);
        sessions.addCookies('warm-up', cookiesFor(0), COOKIE_URL);
        for (let i = 0; i < count; i++) sessions.addCookies(`s${i}`, mode === 'sessions-empty' ? [] : cookiesFor(i), COOKIE_URL);
        await sessions.flush();
        return {
            sessions,
            release: async () => {
                await sessions.close();
                await cleanup();
            },
        };
    }
    if (mode === 'jars' || mode === 'jars-empty' || mode === 'tracking-empty') {
        const jars = new Map<string, CookieJar>();
        for (let i = 0; i < count; i++) {
            const jar = new CookieJar(mode === 'tracking-empty' ? new TrackingCookieStore() : new MemoryCookieStore(), { looseMode: true });
            if (mode === 'jars') for (const header of cookiesFor(i)) jar.setCookieSync(header, COOKIE_URL, { ignoreError: true, loose: true });
            jars.set(`s${i}`, jar);
        }
        return { jars, release: async () => undefined };
    }
    if (mode === 'cookies') {
        const cookies: Cookie[][] = [];
        for (let i = 0; i < count; i++) cookies.push(cookiesFor(i).map((header) => Cookie.parse(header, { loose: true })!));
        return { cookies, release: async () => undefined };
    }
    throw new Error(`unknown mode ${mode}`);
}

/** Builds one part and measures what it adds to the process, after garbage collection. */
async function measurePart(mode: string, count: number, store: string): Promise<{ built: Built; result: Record<string, unknown> }> {
    const before = memory();
    const start = process.hrtime.bigint();
    const built = await build(mode, count, store);
    const buildMs = Number(process.hrtime.bigint() - start) / 1e6;
    const after = memory();
    return {
        built,
        result: {
            mode,
            store: built.sessions ? store : undefined,
            count,
            buildMs,
            before,
            after,
            rssGrowthBytes: after.rss - before.rss,
            heapGrowthBytes: after.heapUsed - before.heapUsed,
            externalGrowthBytes: after.external - before.external,
        },
    };
}

/** The parts of the breakdown: `mode:store`, measured one after the other in this process. */
const BREAKDOWN = ['cookies:none', 'jars-empty:none', 'tracking-empty:none', 'sessions-empty:none', 'sessions:none', 'sessions:memory', 'sessions:embedded'];

async function main(): Promise<void> {
    log.setLevel(log.LEVELS.OFF);
    const [mode = 'sessions', countText = '1000', samplesText = '20000', store = 'none'] = process.argv.slice(2);
    const count = Number(countText);
    const samples = Number(samplesText);
    // Load and warm up everything the measured structures need before the first reading.
    await (await build('sessions', 10, 'none')).release();
    await (await build('jars', 10, 'none')).release();

    if (mode === 'breakdown') {
        // Heap growth only: RSS does not shrink between parts, so only the first part's RSS would mean anything.
        const parts: Record<string, unknown>[] = [];
        for (const part of BREAKDOWN) {
            const [partMode, partStore] = part.split(':') as [string, string];
            const { built, result } = await measurePart(partMode, count, partStore);
            await built.release();
            parts.push(result);
        }
        process.stdout.write(`${JSON.stringify({ mode, count, parts })}\n`);
        return;
    }

    const heapBefore = mode === 'heap' ? await heapTotals() : undefined;
    const { built, result } = await measurePart(mode, count, store);
    const { sessions, jars } = built;
    if (mode === 'sessions' && sessions) {
        const check = sessions.get(`s${count - 1}`);
        if (check.length !== 5) throw new Error(`expected 5 cookies in a session, found ${check.length}`);
        // Warm the code paths, then time one call at a time.
        latencies(count, 2000, (i) => sessions.get(`s${i}`));
        result.get = summary(latencies(count, samples, (i) => sessions.get(`s${i}`)));
        result.getUrl = summary(latencies(count, samples, (i) => sessions.get(`s${i}`, { url: COOKIE_URL })));
        result.getDict = summary(latencies(count, samples, (i) => sessions.get(`s${i}`, { format: 'dict' })));
        result.getHeader = summary(latencies(count, samples, (i) => sessions.get(`s${i}`, { format: 'header', url: COOKIE_URL })));
        result.timerNs = summary(latencies(count, samples, () => 1));
    }
    if (mode === 'jars' && jars) {
        latencies(count, 2000, (i) => jars.get(`s${i}`)!.getCookiesSync(COOKIE_URL));
        result.jarGetUrl = summary(latencies(count, samples, (i) => jars.get(`s${i}`)!.getCookiesSync(COOKIE_URL)));
        result.jarSerialize = summary(latencies(count, samples, (i) => jars.get(`s${i}`)!.serializeSync()));
    }
    if (heapBefore) result.heapGrowth = heapGrowth(heapBefore, await heapTotals(), count);
    await built.release();
    process.stdout.write(`${JSON.stringify(result)}\n`);
}

/** Self sizes summed by constructor (objects, closures) or node type (strings, arrays, …). */
type HeapTotals = Map<string, { count: number; bytes: number }>;

/** Writes a heap snapshot and sums its nodes' self sizes by constructor. */
async function heapTotals(): Promise<HeapTotals> {
    gc();
    const directory = await mkdtemp(path.join(tmpdir(), 'crawlee-sessions-heap-'));
    try {
        const file = v8.writeHeapSnapshot(path.join(directory, 'bench.heapsnapshot'));
        const snapshot = JSON.parse(await readFile(file, 'utf8')) as {
            snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
            nodes: number[];
            strings: string[];
        };
        const fields = snapshot.snapshot.meta.node_fields;
        const stride = fields.length;
        const typeIndex = fields.indexOf('type');
        const nameIndex = fields.indexOf('name');
        const sizeIndex = fields.indexOf('self_size');
        const types = snapshot.snapshot.meta.node_types[0];
        const totals: HeapTotals = new Map();
        for (let i = 0; i < snapshot.nodes.length; i += stride) {
            const type = types[snapshot.nodes[i + typeIndex]!]!;
            const name = type === 'object' || type === 'closure' ? snapshot.strings[snapshot.nodes[i + nameIndex]!]! : `(${type})`;
            const entry = totals.get(name) ?? { count: 0, bytes: 0 };
            entry.count++;
            entry.bytes += snapshot.nodes[i + sizeIndex]!;
            totals.set(name, entry);
        }
        return totals;
    } finally {
        await rm(directory, { recursive: true, force: true });
    }
}

/** What grew between two snapshots, by constructor, per session, largest first. */
function heapGrowth(before: HeapTotals, after: HeapTotals, sessions: number) {
    return [...after]
        .map(([name, { count, bytes }]) => {
            const old = before.get(name) ?? { count: 0, bytes: 0 };
            return { name, perSession: (count - old.count) / sessions, bytesPerSession: (bytes - old.bytes) / sessions };
        })
        .filter((entry) => entry.bytesPerSession >= 8)
        .sort((a, b) => b.bytesPerSession - a.bytesPerSession)
        .map((entry) => ({ ...entry, perSession: Math.round(entry.perSession * 100) / 100, bytesPerSession: Math.round(entry.bytesPerSession) }));
}

main().then(
    () => process.exit(0),
    (error: unknown) => {
        console.error(error instanceof Error ? (error.stack ?? error.message) : error);
        process.exit(1);
    },
);
