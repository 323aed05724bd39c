/**
 * multi-process: 4 crawler processes share one session kept in MySQL; the site expires it 10 times during the
 * crawl. Exactly one login per expiry is wanted (10), whatever the interleaving: a second login for the same
 * expiry would mean two processes renewed it. Also counts failed and stale requests and the crawl time.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

import { log } from 'crawlee';

import { Sessions } from '../../src/index.js';
import { startTestSite } from '../../test/support/site.js';
import { REPO_ROOT } from '../lib/child.js';
import { benchMySqlUrl, dropStoreTables, mysqlUnavailable, uniqueTablePrefix } from '../lib/mysql.js';
import { metricRow } from '../lib/rows.js';
import { median, nowMs, percentile, round } from '../lib/stats.js';
import { ScenarioSkipped, type BenchContext, type BenchSize, type Scenario, type ScenarioOutcome } from '../lib/types.js';
import type { WorkerArgs, WorkerResult } from './multi-process-worker.js';

interface MultiProcessParams {
    processes: number;
    /** How many times the site expires the shared session during the crawl. */
    expiries: number;
    /** Requests one login serves. */
    lifetime: number;
    /** Concurrency of each process. */
    concurrency: number;
}

const SIZES: Record<BenchSize, MultiProcessParams> = {
    tiny: { processes: 2, expiries: 2, lifetime: 10, concurrency: 3 },
    quick: { processes: 4, expiries: 10, lifetime: 25, concurrency: 5 },
    full: { processes: 4, expiries: 10, lifetime: 50, concurrency: 10 },
};

const SESSION_ID = 'shared';
const WORKER = 'bench/scenarios/multi-process-worker.ts';

interface Worker {
    opened: Promise<void>;
    done: Promise<WorkerResult>;
    go(): void;
    kill(): void;
    /** Settles when the process has exited (so that its storage directory can be removed). */
    exited: Promise<void>;
}

/**
 * Starts one worker. `storageDir` is its own Crawlee storage directory: Crawlee purges its default storage on start,
 * and workers sharing one directory removed each other's files mid-crawl (`MemoryStorage.purge` … ENOENT).
 */
function startWorker(args: WorkerArgs, storageDir: string): Worker {
    // One node process per worker (not the tsx launcher, which would run the script in a child of its own).
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER, JSON.stringify(args)], {
        cwd: REPO_ROOT,
        env: { ...process.env, CRAWLEE_STORAGE_DIR: storageDir },
        stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    let opened!: () => void;
    const openedPromise = new Promise<void>((resolve) => (opened = resolve));
    const done = new Promise<WorkerResult>((resolve, reject) => {
        const lines = createInterface({ input: child.stdout });
        lines.on('line', (line) => {
            if (line === 'OPEN') opened();
            if (line.startsWith('DONE ')) resolve(JSON.parse(line.slice(5)) as WorkerResult);
        });
        child.on('exit', (code, signal) => {
            const detail = stderr.split('\n').filter((l) => l.trim() && !l.includes('Unknown user config')).slice(-3).join(' | ');
            reject(new Error(`worker exited (${signal ?? code}) without a result: ${detail}`));
        });
    });
    done.catch(() => undefined);
    const exited = new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) resolve();
        else child.once('exit', () => resolve());
    });
    return {
        exited,
        opened: Promise.race([openedPromise, done.then(() => undefined)]),
        done,
        go: () => child.stdin.write('GO\n'),
        kill: () => child.kill('SIGKILL'),
    };
}

/**
 * Per generation renewed during the crawl, how long each other process took to hold it: from the renewing process's
 * commit to the process seeing it. A process that renewed a generation itself is not counted for it; `missed`
 * counts (generation, process) pairs where a process never held a generation (it went past it, or finished first).
 */
function adoptionLatencies(results: readonly WorkerResult[]): { samples: number[]; missed: number } {
    const samples: number[] = [];
    let missed = 0;
    for (const [renewer, result] of results.entries()) {
        for (const { generation, at } of result.renewed) {
            for (const [index, other] of results.entries()) {
                if (index === renewer) continue;
                const seen = other.adopted.find((entry) => entry.generation === generation);
                if (seen) samples.push(Math.max(0, seen.at - at));
                else missed++;
            }
        }
    }
    return { samples, missed };
}

async function runMultiProcess(context: BenchContext): Promise<ScenarioOutcome> {
    log.setLevel(log.LEVELS.OFF);
    const params = SIZES[context.size];
    const mysqlUrl = benchMySqlUrl();
    const unavailable = await mysqlUnavailable(mysqlUrl);
    if (unavailable) throw new ScenarioSkipped(unavailable);

    // The session starts logged in; then every `lifetime` pages it expires. With (expiries + 1) × lifetime pages,
    // all fetched logged in, the site expires it exactly `expiries` times before the last page.
    const pages = (params.expiries + 1) * params.lifetime;
    const site = await startTestSite({ sessionLifetimeRequests: params.lifetime });
    const tablePrefix = uniqueTablePrefix('multi');
    const workers: Worker[] = [];
    const storageDirs: string[] = [];
    try {
        const first = await Sessions.open({ store: { mysql: { url: mysqlUrl, tablePrefix } }, flushOnSignals: false });
        await first.clear(SESSION_ID, { renewal: { url: `${site.url}/login`, form: { user: 'alice', password: 'secret' } } });
        await first.close();
        site.reset();

        const share = Math.ceil(pages / params.processes);
        for (let n = 0; n < params.processes; n++) {
            const storageDir = await mkdtemp(path.join(tmpdir(), `bench-multi-${n}-`));
            storageDirs.push(storageDir);
            workers.push(
                startWorker({
                    mysqlUrl,
                    tablePrefix,
                    siteUrl: site.url,
                    sessionId: SESSION_ID,
                    pages: [n * share, Math.min(pages, (n + 1) * share)],
                    concurrency: params.concurrency,
                }, storageDir),
            );
        }
        await Promise.all(workers.map((worker) => worker.opened));
        context.progress(`${params.processes} processes open; crawling ${pages} pages`);
        const start = nowMs();
        for (const worker of workers) worker.go();
        const results = await Promise.all(workers.map((worker) => worker.done));
        const ms = nowMs() - start;
        const adoption = adoptionLatencies(results);
        const stalePerExpiryPerProcess = site.staleRequests / params.expiries / params.processes;
        const queriesPerSecond = median(results.map((r) => r.polls / (r.ms / 1000)));
        const loggedIn = results.reduce((sum, r) => sum + r.loggedIn, 0);
        const failed = results.reduce((sum, r) => sum + r.failed, 0);
        context.progress(`${site.logins} logins, ${loggedIn}/${pages} logged in, ${failed} failed, ${site.staleRequests} stale`);
        return {
            rows: [
                metricRow({
                    metric: 'logins',
                    unit: '',
                    plugin: site.logins,
                    baseline: params.expiries,
                    goal: { on: 'plugin', op: '==', value: params.expiries },
                    note:
                        `${params.processes} processes (concurrency ${params.concurrency} each) share one session in MySQL; ` +
                        `${pages} pages, the site expires the session every ${params.lifetime} requests: ` +
                        `${params.expiries} expiries; baseline column = expiries`,
                }),
                metricRow({ metric: 'pages fetched logged in', unit: '', plugin: loggedIn, baseline: pages, goal: { on: 'plugin', op: '==', value: pages } }),
                metricRow({ metric: 'failed requests', unit: '', plugin: failed, goal: { on: 'plugin', op: '==', value: 0 } }),
                metricRow({
                    metric: 'stale requests',
                    unit: '',
                    plugin: site.staleRequests,
                    note: 'requests the site received with an older login after a newer one was answered (across processes the guarantee is per process)',
                }),
                metricRow({
                    metric: 'adoption latency p50',
                    unit: 'ms',
                    plugin: adoption.samples.length ? round(percentile(adoption.samples, 50), 1) : null,
                    note:
                        'from the renewing process committing a generation to another process holding it (seen by its next poll, ' +
                        `or on asking for the renewal lease itself); ${adoption.samples.length} adoptions, ${adoption.missed} generation(s) a process never held`,
                }),
                metricRow({
                    metric: 'adoption latency p95',
                    unit: 'ms',
                    plugin: adoption.samples.length ? round(percentile(adoption.samples, 95), 1) : null,
                    goal: { on: 'plugin', op: '<=', value: 150 },
                }),
                metricRow({
                    metric: 'stale requests per expiry per process',
                    unit: '',
                    plugin: round(stalePerExpiryPerProcess, 3),
                    goal: { on: 'plugin', op: '<=', value: 0.25 },
                }),
                metricRow({
                    metric: 'store polls per process',
                    unit: '/s',
                    plugin: round(queriesPerSecond, 1),
                    note: 'one-row reads of the revision; rows are fetched only when it moved (the bound is 10/s when idle)',
                }),
                metricRow({ metric: 'crawl time', unit: 'ms', plugin: ms }),
            ],
            details: {
                params,
                pages,
                workers: results.map((r) => ({ ...r, ms: round(r.ms) })),
                loginAttempts: site.loginAttempts,
                storageDirs,
                adoptionMs: adoption.samples.map((value) => round(value, 1)),
                // Per stale request: how long after the newer login was issued the site received it.
                staleLagMs: site.log
                    .filter((entry) => entry.stale)
                    .map((entry) => {
                        const newer = site.sessionsIssued.filter((issued) => issued.generation > (entry.sidGeneration ?? 0)).at(0);
                        return newer ? entry.receivedAt - newer.issuedAt : null;
                    }),
            },
        };
    } finally {
        for (const worker of workers) worker.kill();
        await Promise.all(workers.map((worker) => worker.exited));
        await Promise.all(storageDirs.map((dir) => rm(dir, { recursive: true, force: true })));
        await site.close();
        await dropStoreTables(mysqlUrl, tablePrefix).catch(() => undefined);
    }
}

/** 4 processes sharing one MySQL session that expires 10 times: exactly 10 logins. */
export const multiProcessScenario: Scenario = {
    name: 'multi-process',
    description: '4 processes share one MySQL session that expires 10 times: exactly 10 logins',
    run: runMultiProcess,
};
