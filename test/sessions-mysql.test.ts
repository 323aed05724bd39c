import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

import { Configuration, HttpCrawler, Logger, LogLevel, log } from 'crawlee';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Sessions, withSessions } from '../src/index.js';
import { MySqlSessionStore } from '../src/stores/mysql-store.js';
import { mysqlForTests, mysqlQuery, startTcpRelay, useTablePrefixes } from './support/mysql.js';
import { canRunPrivateMariaDb, startPrivateMariaDb } from './support/private-mariadb.js';
import { startTestSite, type TestSite } from './support/site.js';

log.setLevel(log.LEVELS.OFF);

const mysqlDb = await mysqlForTests();

/** Collects what the plugin logs (messages only), to count warnings. */
class CapturingLogger extends Logger {
    readonly lines: Array<{ level: LogLevel; message: string }> = [];
    override _log(level: LogLevel, message: string): void {
        this.lines.push({ level, message });
    }
}

interface CrawlerResult {
    loggedIn: number;
    clears: number;
    failed: number;
    generation: number;
}

/** Starts `test/fixtures/mysql-crawler.ts` as a separate process. */
function startCrawler(args: Record<string, unknown>): { child: ChildProcess; opened: Promise<void>; done: Promise<CrawlerResult> } {
    // One node process (not the tsx launcher, which runs the script in a child): kill -9 must hit the crawler itself.
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/mysql-crawler.ts', JSON.stringify(args)], {
        stdio: ['ignore', 'pipe', 'inherit'],
    });
    let opened!: () => void;
    const openedPromise = new Promise<void>((resolve) => (opened = resolve));
    const done = new Promise<CrawlerResult>((resolve, reject) => {
        const lines = createInterface({ input: child.stdout! });
        lines.on('line', (line) => {
            if (line === 'OPEN') opened();
            if (line.startsWith('DONE ')) resolve(JSON.parse(line.slice(5)) as CrawlerResult);
        });
        child.on('exit', (code, signal) => reject(new Error(`crawler exited (${signal ?? code}) without DONE`)));
    });
    done.catch(() => undefined);
    return { child, opened: openedPromise, done };
}

describe.skipIf(!mysqlDb.available)(mysqlDb.suiteName('Sessions on MySQL'), () => {
    const newPrefix = useTablePrefixes();
    let site: TestSite;

    beforeAll(async () => {
        site = await startTestSite();
    });

    afterAll(async () => {
        await site?.close();
    });

    it('resumes sessions from MySQL in a new Sessions: cookies, identity, generation, counters, and stays logged in', async () => {
        site.reset();
        const store = { mysql: { url: mysqlDb.url, tablePrefix: newPrefix() } };
        const first = await Sessions.open({ store });
        for (const id of ['a', 'b', 'c']) {
            await first.clear(id, { renewal: { url: `${site.url}/login`, form: { user: 'alice', password: 'secret' } } });
        }
        const crawl = async (sessions: Sessions, tag: string) => {
            const states: string[] = [];
            const crawler = new HttpCrawler(
                withSessions(sessions, {
                    async requestHandler({ body }) {
                        states.push(/id="state">([^<]*)/.exec(String(body))?.[1] ?? '?');
                    },
                }),
                new Configuration({ persistStorage: false, purgeOnStart: true }),
            );
            await crawler.run(['a', 'b', 'c'].map((id) => ({ url: `${site.url}/page/1?${tag}=${id}`, userData: { sessionId: id } })));
            return states;
        };
        expect(await crawl(first, 'first')).toEqual(Array(3).fill('logged-in'));
        const before = first.list().sort((x, y) => x.id.localeCompare(y.id));
        const cookiesBefore = first.get('a', { format: 'dict' });
        await first.close();

        const second = await Sessions.open({ store });
        const after = second.list().sort((x, y) => x.id.localeCompare(y.id));
        expect(after.map(({ lastUsedAt, ...row }) => row)).toEqual(before.map(({ lastUsedAt, ...row }) => row));
        expect(second.get('a', { format: 'dict' })).toEqual(cookiesBefore);
        site.reset();
        expect(await crawl(second, 'second')).toEqual(Array(3).fill('logged-in'));
        expect(site.logins).toBe(0);
        await second.close();
    });

    it('a renewal that fails for good leaves the stored session as it was (other processes keep using it)', async () => {
        site.reset();
        const store = { mysql: { url: mysqlDb.url, tablePrefix: newPrefix() } };
        const sessions = await Sessions.open({ store, renewal: { maxAttempts: 2, backoffMillis: 10, maxBackoffMillis: 20 } });
        await sessions.clear('keep', { renewal: { url: `${site.url}/login`, form: { user: 'alice', password: 'secret' } } });
        await sessions.flush();
        const good = sessions.get('keep', { format: 'dict' });
        expect(Object.keys(good)).toEqual(['sid']);

        const failing = sessions.clear('keep', { renewal: { url: `${site.url}/login`, form: { user: 'alice', password: 'wrong' } } });
        // A refused password is not retried (the retry policy's retryRefused is off): one attempt.
        await expect(failing).rejects.toThrow(/Renewal of session "keep" failed after 1 attempt\(s\): renewal request POST \/login answered 40[13]/);
        await sessions.flush();
        // In this process the session is back on the stored state, marked failed…
        expect(sessions.get('keep', { format: 'dict' })).toEqual(good);
        expect(sessions.list()[0]).toMatchObject({ generation: 1, status: 'failed' });
        await sessions.close();
        // …and the store still holds the good session, with the failure noted.
        const [row] = await mysqlQuery(`SELECT generation, cookies, last_renewal_error FROM \`${store.mysql.tablePrefix}_sessions\` WHERE id = 'keep'`);
        expect(row?.generation).toBe(1);
        expect(String(row?.cookies)).toContain(good.sid!);
        expect(row?.last_renewal_error).toMatch(/answered 401|answered 403|answered/);
    });

    it('a program that forgets close() exits by itself, and its beforeExit flush writes its sessions', async () => {
        const tablePrefix = newPrefix();
        const child = spawn(
            process.execPath,
            ['--import', 'tsx', 'test/fixtures/mysql-forgotten-close.ts', JSON.stringify({ url: mysqlDb.url, tablePrefix, sessions: 3 })],
            { stdio: ['ignore', 'pipe', 'pipe'] },
        );
        let output = '';
        child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
        const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
        // A bounded wait, not a timing assertion: a process kept alive by its connection pool never exits.
        const patience = new AbortController();
        const outcome = await Promise.race([exited, sleep(30_000, 'still running' as const, { signal: patience.signal })]);
        patience.abort();
        if (outcome === 'still running') child.kill('SIGKILL');
        expect(outcome, `the child process (output: ${output})`).toBe(0);
        expect(output).toContain('ADDED');

        const store = await MySqlSessionStore.open({ url: mysqlDb.url, tablePrefix });
        try {
            const records = (await store.loadAll()).map((record) => [record.id, Object.fromEntries(record.cookies.map((c) => [c.key, c.value]))]);
            expect(records).toEqual([0, 1, 2].map((i) => [`s${i}`, { sid: `value-${i}`, theme: 'dark' }]));
        } finally {
            await store.close();
        }
    }, 90_000);

    it('4 crawler processes sharing one expiring session: exactly one login per expiry, no failed request', async () => {
        const expiring = await startTestSite({ sessionLifetimeRequests: 25 });
        try {
            const tablePrefix = newPrefix();
            const crawlers = [0, 1, 2, 3].map((n) =>
                startCrawler({
                    mysqlUrl: mysqlDb.url,
                    tablePrefix,
                    siteUrl: expiring.url,
                    sessionId: 'shared',
                    pages: [n * 50, n * 50 + 50],
                    concurrency: 5,
                    leaseMillis: 10_000,
                }),
            );
            const results = await Promise.all(crawlers.map((crawler) => crawler.done));
            for (const result of results) {
                expect(result.failed).toBe(0);
                expect(result.loggedIn).toBe(50);
            }
            // 200 logged-in pages at 25 pages per login: 8 logins, however the processes interleave. A second
            // login for the same expiry would abandon a live session and push the count above 8.
            expect(expiring.logins).toBe(8);
            // Every process had to deal with expiries, not just one of them.
            expect(results.filter((result) => result.clears > 0).length).toBeGreaterThan(1);
            const [row] = await mysqlQuery(`SELECT generation, renewals, lease_owner FROM \`${tablePrefix}_sessions\` WHERE id = 'shared'`);
            expect(row).toMatchObject({ generation: 8, renewals: 8, lease_owner: null });
        } finally {
            await expiring.close();
        }
    });

    it('when the renewing process is killed (kill -9), another process takes over after the lease expires', async () => {
        const slow = await startTestSite({ loginDelayMs: 3000 });
        try {
            const tablePrefix = newPrefix();
            const common = { mysqlUrl: mysqlDb.url, tablePrefix, siteUrl: slow.url, sessionId: 'fragile', concurrency: 2, leaseMillis: 1000 };
            const doomed = startCrawler({ ...common, pages: [0, 1] });
            await doomed.opened;
            while (slow.loginAttempts < 1) await new Promise((resolve) => setTimeout(resolve, 20));
            const [leased] = await mysqlQuery(`SELECT lease_owner FROM \`${tablePrefix}_sessions\` WHERE id = 'fragile'`);
            expect(leased?.lease_owner).toBeTruthy(); // the doomed process holds the lease while it logs in
            doomed.child.kill('SIGKILL');
            await doomed.done.catch(() => undefined);

            const survivor = startCrawler({ ...common, pages: [1, 11] });
            const result = await survivor.done;
            expect(result).toMatchObject({ failed: 0, loggedIn: 10, generation: 1 });
            expect(slow.loginAttempts).toBe(2);
            const [row] = await mysqlQuery(`SELECT generation, renewals, lease_owner FROM \`${tablePrefix}_sessions\` WHERE id = 'fragile'`);
            expect(row).toMatchObject({ generation: 1, renewals: 1, lease_owner: null });
        } finally {
            await slow.close();
        }
    });
});

describe.skipIf(!canRunPrivateMariaDb())('Sessions when MySQL is stopped and started mid-crawl', () => {
    it('the crawl completes from memory, warns once, and the final state in MySQL equals the in-memory state', async () => {
        const db = await startPrivateMariaDb();
        const site = await startTestSite();
        const capture = new CapturingLogger({});
        const original = log.getOptions();
        log.setOptions({ logger: capture, level: LogLevel.INFO });
        try {
            const sessions = await Sessions.open({
                store: { mysql: { url: db.url, connectTimeoutMillis: 1000 } },
                persistence: { flushIntervalMillis: 50, syncIntervalMillis: 100 },
            });
            let handled = 0;
            let restart: Promise<void> | undefined;
            const crawler = new HttpCrawler(
                withSessions(sessions, {
                    maxConcurrency: 5,
                    async requestHandler({ request }) {
                        handled++;
                        if (handled === 60) await db.stop(); // the server goes away mid-crawl…
                        if (handled === 180) restart = db.start(); // …and comes back later
                        void request;
                    },
                }),
                new Configuration({ persistStorage: false, purgeOnStart: true }),
            );
            const stats = await crawler.run(
                Array.from({ length: 300 }, (_, n) => ({ url: `${site.url}/set?name=c${n % 7}&value=v${n}`, userData: { sessionId: `s${n % 6}` } })),
            );
            await restart;
            expect(stats.requestsFailed).toBe(0);
            expect(handled).toBe(300);
            const memory = sessions.list().sort((a, b) => a.id.localeCompare(b.id));
            const cookies = Object.fromEntries(memory.map((row) => [row.id, sessions.get(row.id, { format: 'dict' })]));
            await sessions.close(); // flushes what accumulated during the outage

            const outageWarnings = capture.lines.filter((line) => line.level === LogLevel.WARNING && /Cannot write/.test(line.message));
            expect(outageWarnings).toHaveLength(1);
            expect(capture.lines.some((line) => /is back after/.test(line.message))).toBe(true);

            const store = await MySqlSessionStore.open({ url: db.url });
            const stored = (await store.loadAll()).sort((a, b) => a.id.localeCompare(b.id));
            await store.close();
            expect(stored.map((record) => record.id)).toEqual(memory.map((row) => row.id));
            stored.forEach((record, index) => {
                const row = memory[index]!;
                expect(record.counters).toEqual({ requests: row.requests, successes: row.successes, failures: row.failures, renewals: row.renewals });
                expect(Object.fromEntries(record.cookies.map((cookie) => [cookie.key, cookie.value]))).toEqual(cookies[record.id]);
            });
            expect(memory.reduce((sum, row) => sum + row.requests, 0)).toBe(300);
        } finally {
            log.setOptions({ logger: original.logger, level: LogLevel.OFF });
            await site.close();
            await db.destroy();
        }
    });
});

describe.skipIf(!mysqlDb.available)(mysqlDb.suiteName('Sessions when a COMMIT succeeds but its answer is lost'), () => {
    const newPrefix = useTablePrefixes();

    it('retries the write and counts every request once, in MySQL and in memory', async () => {
        const site = await startTestSite();
        const target = new URL(mysqlDb.url);
        const relay = await startTcpRelay(target.hostname, Number(target.port || 3306));
        const viaRelay = new URL(mysqlDb.url);
        viaRelay.host = `127.0.0.1:${relay.port}`;
        const tablePrefix = newPrefix();
        try {
            const sessions = await Sessions.open({
                store: { mysql: { url: viaRelay.href, tablePrefix } },
                persistence: { flushIntervalMillis: 20, syncIntervalMillis: 0 },
            });
            let handled = 0;
            let lost: Promise<void> | undefined;
            const crawler = new HttpCrawler(
                withSessions(sessions, {
                    maxConcurrency: 4,
                    async requestHandler() {
                        handled++;
                        // The next commit reaches the server and is applied; its answer never comes back.
                        if (handled === 40) lost = relay.loseAnswerTo('\x03COMMIT');
                    },
                }),
                new Configuration({ persistStorage: false, purgeOnStart: true }),
            );
            const stats = await crawler.run(
                Array.from({ length: 120 }, (_, n) => ({ url: `${site.url}/set?name=c${n % 3}&value=v${n}`, userData: { sessionId: `s${n % 3}` } })),
            );
            expect(stats.requestsFailed).toBe(0);
            await lost; // the lost answer happened (else this test proves nothing)
            const memory = sessions.list().sort((a, b) => a.id.localeCompare(b.id));
            await sessions.close();

            const store = await MySqlSessionStore.open({ url: mysqlDb.url, tablePrefix });
            const stored = (await store.loadAll()).sort((a, b) => a.id.localeCompare(b.id));
            await store.close();
            expect(stored.map((record) => record.counters.requests)).toEqual([40, 40, 40]);
            expect(memory.map((row) => row.requests)).toEqual([40, 40, 40]);
        } finally {
            await relay.close();
            await site.close();
        }
    });
});
