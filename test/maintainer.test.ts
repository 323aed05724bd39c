import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { CheerioCrawler, Configuration, log, Logger, LogLevel } from 'crawlee';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { defineLogin, type LoginRecipe, type LoginRecipeInput } from '../src/acquisition/recipe.js';
import { findChromiumExecutable } from '../src/browser/executable.js';
import { withSessions } from '../src/binding/with-sessions.js';
import { Sessions } from '../src/core/sessions.js';
import { RetriesExhaustedError, retryWithBackoff } from '../src/shared/retry.js';
import { runMaintainerCli, runMaintainCommand } from '../src/maintainer/cli.js';
import { defineMaintainerConfig, type MaintainerConfigInput } from '../src/maintainer/config.js';
import { Maintainer } from '../src/maintainer/maintainer.js';
import { formatStatusTable, type MaintainerStatusRow } from '../src/maintainer/status.js';
import { defineProfiles } from '../src/profiles/profile.js';
import { MemorySessionStore } from '../src/stores/memory-store.js';
import { MySqlSessionStore } from '../src/stores/mysql-store.js';
import type { SessionRecord } from '../src/model/types.js';
import { ConfigValidationError } from '../src/shared/validation.js';
import { mysqlForTests, mysqlQuery, useTablePrefixes } from './support/mysql.js';
import { startTestSite } from './support/site.js';

const PASSWORD = 'pw-Zq81xK';

/**
 * A loopback site with a form login (HTTP form or a browser page) and a `/whoami` check page. It counts login
 * attempts and how many run at once (per `via` field), and can make the next logins fail: the connection is reset
 * (a network error), the credentials are refused (401), or the answer carries no session cookie.
 */
interface Site {
    url: string;
    /** Successful logins. */
    logins: number;
    /** Every POST /login. */
    attempts: number;
    /** Answers to `/whoami` for a live session. */
    checks: number;
    /** Most logins in flight at once, per `via` form field (`http`, `browser`). */
    peak: Record<string, number>;
    /** sid → live. */
    sessions: Map<string, boolean>;
    /** Failures to inflict on the next logins, consumed in order. */
    failNext: Array<'reset' | 'refuse' | 'empty'>;
    loginDelayMs: number;
    /** Expires a session server-side. */
    expire(sid: string): void;
    close(): Promise<void>;
}

async function startSite(): Promise<Site> {
    const inFlight: Record<string, number> = {};
    const sockets = new Set<Socket>();
    const site: Omit<Site, 'url' | 'close'> & { url?: string; close?: () => Promise<void> } = {
        logins: 0,
        attempts: 0,
        checks: 0,
        peak: {},
        sessions: new Map(),
        failNext: [],
        loginDelayMs: 0,
        expire(sid: string) {
            site.sessions.set(sid, false);
        },
    };
    const server = http.createServer((req, res) => {
        void (async () => {
            const url = new URL(req.url ?? '/', 'http://x');
            if (req.method === 'POST' && url.pathname === '/login') {
                const chunks: Buffer[] = [];
                for await (const chunk of req) chunks.push(chunk as Buffer);
                const form = new URLSearchParams(Buffer.concat(chunks).toString());
                const via = form.get('via') ?? 'http';
                site.attempts++;
                inFlight[via] = (inFlight[via] ?? 0) + 1;
                site.peak[via] = Math.max(site.peak[via] ?? 0, inFlight[via]!);
                try {
                    if (site.loginDelayMs) await new Promise((done) => setTimeout(done, site.loginDelayMs));
                    const failure = site.failNext.shift();
                    if (failure === 'reset') return void req.socket.destroy();
                    if (failure === 'refuse' || form.get('password') !== PASSWORD) {
                        return void res.writeHead(401, { 'content-type': 'text/plain' }).end('bad credentials');
                    }
                    if (failure === 'empty') return void res.writeHead(200, { 'content-type': 'text/html' }).end('<p>welcome</p>');
                    const sid = randomBytes(12).toString('hex');
                    site.sessions.set(sid, true);
                    site.logins++;
                    res.writeHead(302, { location: '/welcome', 'set-cookie': `sid=${sid}; Path=/; HttpOnly` }).end();
                } finally {
                    inFlight[via]!--;
                }
                return;
            }
            if (url.pathname === '/login-page') {
                return void res
                    .writeHead(200, { 'content-type': 'text/html' })
                    .end(
                        '<form method="post" action="/login"><input id="user" name="user"><input id="password" name="password">' +
                            '<input type="hidden" name="via" value="browser"><button id="go">Log in</button></form>',
                    );
            }
            if (url.pathname === '/welcome') return void res.writeHead(200, { 'content-type': 'text/html' }).end('<h1>welcome</h1>');
            if (url.pathname === '/whoami') {
                const sid = /(?:^|;\s*)sid=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
                const live = sid !== undefined && site.sessions.get(sid) === true;
                // A live session's answer updates a cookie, as sites that slide a session's expiry do.
                const headers = live ? { 'set-cookie': `seen=${++site.checks}; Path=/` } : {};
                return void res
                    .writeHead(200, { 'content-type': 'text/html', ...headers })
                    .end(live ? '<p>logged-in</p>' : '<p>logged-out</p>');
            }
            res.writeHead(404).end();
        })().catch(() => res.destroy());
    });
    server.on('connection', (socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    site.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    site.close = async () => {
        for (const socket of sockets) socket.destroy();
        await new Promise<void>((done) => server.close(() => done()));
    };
    return site as Site;
}

function httpRecipe(site: Site, overrides: Partial<LoginRecipeInput> = {}): LoginRecipe {
    return defineLogin({
        name: 'shop',
        credentials: { user: 'alice', password: PASSWORD },
        steps: [{ url: `${site.url}/login`, method: 'POST', form: { user: '{{user}}', password: '{{password}}', via: 'http' } }],
        check: { request: { url: `${site.url}/whoami` }, indicators: [{ in: 'body', text: 'logged-in', means: 'valid' }] },
        ...overrides,
    } as LoginRecipeInput);
}

function sidOf(record: SessionRecord | undefined): string | undefined {
    return cookieOf(record, 'sid');
}

function cookieOf(record: SessionRecord | undefined, name: string): string | undefined {
    return record?.cookies.find((cookie) => cookie.key === name)?.value;
}

/** Polls until `condition` holds (the maintainer works on its own schedule); fails after `timeoutMs`. */
async function until(condition: () => boolean | Promise<boolean>, what: string | (() => string), timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await condition())) {
        if (Date.now() > deadline) throw new Error(`Timed out waiting until ${typeof what === 'string' ? what : what()}`);
        await new Promise((done) => setTimeout(done, 20));
    }
}

function row(maintainer: Maintainer, session: string): MaintainerStatusRow {
    return maintainer.status().find((candidate) => candidate.session === session)!;
}

const FAST_RETRY = { maxAttempts: 3, backoffMillis: 20, maxBackoffMillis: 50 };

let site: Site;
const opened: Maintainer[] = [];

async function open(config: MaintainerConfigInput): Promise<Maintainer> {
    const maintainer = await Maintainer.open(config);
    opened.push(maintainer);
    return maintainer;
}

beforeAll(async () => {
    log.setLevel(log.LEVELS.OFF);
    site = await startSite();
});

afterEach(async () => {
    await Promise.all(opened.splice(0).map((maintainer) => maintainer.stop()));
    site.failNext.length = 0;
    site.loginDelayMs = 0;
});

afterAll(async () => {
    await site.close();
});

describe('Maintainer', () => {
    it('acquires missing sessions at start, then on schedule re-acquires only the session failing its check', async () => {
        const store = new MemorySessionStore();
        const maintainer = await open({
            store,
            recipes: [{ recipe: httpRecipe(site), sessions: ['a', 'b', 'c'], schedule: { kind: 'interval', everyMillis: 1000 } }],
            retry: FAST_RETRY,
        });
        const loginsBefore = site.logins;
        maintainer.start();
        await until(() => ['a', 'b', 'c'].every((id) => row(maintainer, id).state === 'refreshed'), 'all three are acquired');
        expect(site.logins - loginsBefore).toBe(3);
        const first = Object.fromEntries(await Promise.all(['a', 'b', 'c'].map(async (id) => [id, await store.read(id)] as const)));
        for (const id of ['a', 'b', 'c']) {
            expect(first[id]!.generation).toBe(1);
            expect(site.sessions.get(sidOf(first[id])!)).toBe(true);
        }

        // The site logs b out; the next scheduled run finds it by its check and re-acquires it alone.
        site.expire(sidOf(first.b)!);
        await until(() => row(maintainer, 'b').generation === 2 && row(maintainer, 'a').state === 'valid', 'b is re-acquired');
        await until(() => row(maintainer, 'c').state === 'valid', 'c is checked');
        expect(site.logins - loginsBefore).toBe(4);
        const b = await store.read('b');
        expect(sidOf(b)).not.toBe(sidOf(first.b));
        expect(site.sessions.get(sidOf(b)!)).toBe(true);
        const a = await store.read('a');
        expect(a!.generation).toBe(1);
        expect(sidOf(a)).toBe(sidOf(first.a));
        // The check's answer updated a cookie of a (still valid): written back within its generation.
        expect(Number(cookieOf(a, 'seen'))).toBeGreaterThan(Number(cookieOf(first.a, 'seen')));
        expect(sidOf(await store.read('c'))).toBe(sidOf(first.c));

        const status = row(maintainer, 'b');
        expect(status).toMatchObject({ recipe: 'shop', session: 'b', state: 'refreshed', failures: 0, lastError: null });
        expect(status.lastCheck).toMatch(/^invalid: /);
        expect(status.nextRunAt).toBeGreaterThan(status.lastRefreshAt!);
        expect(row(maintainer, 'a').lastCheck).toBe('valid: logged-in indicator matched: body contains "logged-in"');
    });

    it('retries a login that cannot reach the site with backoff, and gives up after the bound', async () => {
        const store = new MemorySessionStore();
        const maintainer = await open({
            store,
            recipes: [{ recipe: httpRecipe(site), sessions: ['flaky'], schedule: { kind: 'once' } }],
            retry: FAST_RETRY,
        });
        let attempts = site.attempts;
        site.failNext.push('reset', 'reset'); // two resets, then the third attempt succeeds
        await maintainer.runNow();
        expect(site.attempts - attempts).toBe(3);
        expect(row(maintainer, 'flaky')).toMatchObject({ state: 'refreshed', failures: 0 });
        const good = await store.read('flaky');
        expect(site.sessions.get(sidOf(good)!)).toBe(true);

        site.expire(sidOf(good)!);
        attempts = site.attempts;
        site.failNext.push('reset', 'reset', 'reset', 'reset'); // more than the bound of 3 attempts
        await maintainer.runNow();
        expect(site.attempts - attempts).toBe(3);
        const failed = row(maintainer, 'flaky');
        expect(failed).toMatchObject({ state: 'failed', failures: 1 });
        expect(failed.lastError).toMatch(/Login "shop" failed \(network\)/);

        // A refused login is not a network failure: no retries.
        attempts = site.attempts;
        site.failNext.length = 0;
        site.failNext.push('refuse');
        await maintainer.runNow();
        expect(site.attempts - attempts).toBe(1);
        expect(row(maintainer, 'flaky')).toMatchObject({ state: 'failed', failures: 2 });
        expect(row(maintainer, 'flaky').lastError).toMatch(/\(rejected\).*answered 401/);
    });

    it('backs off exponentially with jitter', async () => {
        const delays: number[] = [];
        await expect(
            retryWithBackoff(
                async () => {
                    throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
                },
                { maxAttempts: 5, backoffMillis: 8, maxBackoffMillis: 40, isRetryable: () => true, onRetry: (_, delay) => delays.push(delay) },
            ),
        ).rejects.toBeInstanceOf(RetriesExhaustedError);
        expect(delays).toHaveLength(4);
        // Retry n waits between half and all of min(max, backoff × 2^(n-1)).
        [8, 16, 32, 40].forEach((ceiling, index) => {
            expect(delays[index]).toBeGreaterThanOrEqual(ceiling / 2);
            expect(delays[index]).toBeLessThanOrEqual(ceiling);
        });
    });

    it('never overwrites a good stored session with a failed or empty refresh', async () => {
        const store = new MemorySessionStore();
        // verify: false, so that an answer without a session cookie is not caught by the recipe's own check.
        const recipe = httpRecipe(site, { verify: false });
        const maintainer = await open({
            store,
            recipes: [{ recipe, sessions: ['keep'], schedule: { kind: 'once' }, refresh: 'always' }],
            retry: FAST_RETRY,
        });
        await maintainer.runNow();
        const good = (await store.read('keep'))!;
        expect(site.sessions.get(sidOf(good)!)).toBe(true);

        for (const failure of ['empty', 'refuse'] as const) {
            site.failNext.push(failure);
            await maintainer.runNow();
            const after = (await store.read('keep'))!;
            expect(after.generation).toBe(good.generation);
            expect(after.cookies).toEqual(good.cookies);
            expect(after.identity).toEqual(good.identity);
            expect(after.lastRenewalError).toMatch(failure === 'empty' ? /left no cookies and extracted no values/ : /answered 401/);
            expect(row(maintainer, 'keep').state).toBe('failed');
        }
        expect(row(maintainer, 'keep').failures).toBe(2);

        // The next good refresh replaces it, and clears the error.
        await maintainer.runNow();
        const renewed = (await store.read('keep'))!;
        expect(renewed.generation).toBe(good.generation + 1);
        expect(sidOf(renewed)).not.toBe(sidOf(good));
        expect(renewed.lastRenewalError).toBeNull();
        expect(row(maintainer, 'keep')).toMatchObject({ state: 'refreshed', failures: 0, lastError: null });
    });

    it('limits HTTP logins and browser logins separately (counted by the site)', async () => {
        const executablePath = findChromiumExecutable().path;
        const browserRecipe = defineLogin({
            name: 'shop-browser',
            credentials: { user: 'alice', password: PASSWORD },
            startUrl: `${site.url}/login-page`,
            login: async ({ page, credentials }) => {
                await page.fill('#user', credentials.user!);
                await page.fill('#password', credentials.password!);
                await Promise.all([page.waitForURL('**/welcome'), page.click('#go')]);
            },
            check: { request: { url: `${site.url}/whoami` }, indicators: [{ in: 'body', text: 'logged-in', means: 'valid' }] },
        });
        site.loginDelayMs = 150;
        site.peak = {};
        const store = new MemorySessionStore();
        const maintainer = await open({
            store,
            executablePath,
            concurrency: { httpLogins: 2, browserLogins: 1 },
            recipes: [
                { recipe: httpRecipe(site), sessions: ['h1', 'h2', 'h3', 'h4', 'h5', 'h6'], schedule: { kind: 'once' } },
                { recipe: browserRecipe, sessions: ['b1', 'b2'], schedule: { kind: 'once' } },
            ],
        });
        await maintainer.runNow();
        expect(maintainer.status().map((status) => status.state)).toEqual(Array(8).fill('refreshed'));
        expect(site.peak).toEqual({ http: 2, browser: 1 });
        expect(maintainer.peakLogins).toEqual({ http: 2, browser: 1 });
        for (const id of ['h1', 'b1', 'b2']) expect(site.sessions.get(sidOf(await store.read(id))!)).toBe(true);
    });

    it('stores sessions that crawlers elsewhere use as they are, with the identity the site bound them to', async () => {
        const boundSite = await startTestSite(); // binds each login to the client's IP, User-Agent and Accept-Language
        try {
            const profiles = defineProfiles([{ userAgent: 'UA-One/1.0 (test)' }, { userAgent: 'UA-Two/2.0 (test)' }]);
            const store = new MemorySessionStore();
            const recipe = defineLogin({
                name: 'wiki',
                credentials: { user: 'alice', password: 'secret' },
                steps: [{ url: `${boundSite.url}/login`, method: 'POST', form: { user: '{{user}}', password: '{{password}}' } }],
                check: {
                    request: { url: `${boundSite.url}/whoami` },
                    indicators: [{ in: 'header', header: 'x-session-state', text: 'logged-in', means: 'valid' }],
                },
            });
            const maintainer = await open({ store, profiles, recipes: [{ recipe, sessions: ['w1', 'w2'], schedule: { kind: 'once' } }] });
            await maintainer.runNow();
            expect(boundSite.logins).toBe(2);

            // A crawler opening the same store finds both sessions logged in and never logs in itself.
            const sessions = await Sessions.open({ store, profiles });
            const seen: string[][] = [];
            const crawler = new CheerioCrawler(
                withSessions(sessions, {
                    async requestHandler({ request, $ }) {
                        seen.push([request.userData.sessionId as string, $('#state').text(), $('#ua').text()]);
                    },
                }),
                new Configuration({ persistStorage: false, purgeOnStart: true }),
            );
            await crawler.run(['w1', 'w2'].map((id) => ({ url: `${boundSite.url}/whoami`, uniqueKey: id, userData: { sessionId: id } })));
            await sessions.close();
            expect(seen.sort()).toEqual([
                ['w1', 'logged-in', 'UA-One/1.0 (test)'],
                ['w2', 'logged-in', 'UA-Two/2.0 (test)'],
            ]);
            expect(boundSite.logins).toBe(2);
        } finally {
            await boundSite.close();
        }
    });

    it('reports a status table without secrets', async () => {
        const store = new MemorySessionStore();
        const maintainer = await open({
            store,
            recipes: [{ recipe: httpRecipe(site), sessions: ['t1'], schedule: { kind: 'daily', at: '03:30', timeZone: 'Europe/Berlin' } }],
        });
        maintainer.start();
        await until(() => row(maintainer, 't1').state === 'refreshed', 't1 is acquired');
        const table = formatStatusTable(maintainer.status());
        const lines = table.split('\n');
        expect(lines[0]).toMatch(/^recipe\s+session\s+last check\s+state\s+last refresh\s+next run\s+failures$/);
        expect(lines[1]).toMatch(/^shop\s+t1\s+-\s+refreshed\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(\d+s ago\)\s+\d{4}-\d\d-\d\d \d\d:\d\d:00 \(in \d+[smh]\)\s+0$/);
        const sid = sidOf(await store.read('t1'))!;
        expect(table).not.toContain(sid);
        expect(table).not.toContain(PASSWORD);
        // The rows are kept in the store too, for `crawlee-sessions status` in another process.
        const stored = await store.listEntries<MaintainerStatusRow>('maintainer-status');
        expect(stored.map((entry) => [entry.value.session, entry.value.state])).toEqual([['t1', 'refreshed']]);
    });
});

const mysqlDb = await mysqlForTests();

describe.skipIf(!mysqlDb.available)(mysqlDb.suiteName('Maintainer and crawlers sharing MySQL'), () => {
    const newPrefix = useTablePrefixes();

    it('leaves a session alone while a crawler renews it, and a crawler adopts the maintainer’s refresh', async () => {
        const prefix = newPrefix();
        const store = { mysql: { url: mysqlDb.url, tablePrefix: prefix } };
        const maintainer = await Maintainer.open({
            store,
            recipes: [{ recipe: httpRecipe(site), sessions: ['m1'], schedule: { kind: 'once' } }],
            retry: FAST_RETRY,
        });
        const sessions = await Sessions.open({ store, persistence: { syncIntervalMillis: 100 } });
        try {
            await maintainer.runNow();
            const first = await maintainer.store.read('m1');
            expect(first!.generation).toBe(1);
            await until(() => sessions.get('m1', { format: 'dict' }).sid === sidOf(first), 'the crawler sees the maintained session');

            // A crawler renews m1 (slowly) while the maintainer runs: the maintainer finds the lease taken and skips it.
            site.expire(sidOf(first)!);
            let release!: () => void;
            const released = new Promise<void>((done) => (release = done));
            const crawlerRenewal = sessions.clear('m1', {
                renewal: async ({ http }) => {
                    await released;
                    await http.request({ url: `${site.url}/login`, form: { user: 'alice', password: PASSWORD, via: 'crawler' } });
                },
            });
            await until(async () => {
                const rows = await mysqlQuery(`SELECT lease_owner FROM \`${prefix}_sessions\` WHERE id = 'm1'`);
                return rows[0]?.lease_owner != null;
            }, 'the crawler holds the renewal lease');
            const attempts = site.attempts;
            await maintainer.runNow();
            expect(row(maintainer, 'm1').state).toBe('busy');
            expect(site.attempts).toBe(attempts);
            release();
            await crawlerRenewal;
            await maintainer.runNow();
            expect(row(maintainer, 'm1')).toMatchObject({ state: 'valid', generation: 2 });

            // The maintainer refreshes m1 (slowly) and a crawler clearing it meanwhile adopts that refresh.
            site.expire(sessions.get('m1', { format: 'dict' }).sid!);
            site.loginDelayMs = 500;
            const loginsBefore = site.logins;
            const attemptsBefore = site.attempts;
            const refreshing = maintainer.runNow();
            await until(() => site.attempts > attemptsBefore, 'the maintainer is logging in');
            await sessions.clear('m1', { renewal: { url: `${site.url}/login`, form: { user: 'alice', password: PASSWORD, via: 'crawler' } } });
            await refreshing;
            expect(site.logins - loginsBefore).toBe(1);
            const stored = await maintainer.store.read('m1');
            expect(stored!.generation).toBe(3);
            expect(sessions.get('m1', { format: 'dict' }).sid).toBe(sidOf(stored));
            expect(row(maintainer, 'm1').state).toBe('refreshed');
        } finally {
            await sessions.close();
            await maintainer.stop();
        }
    });
});

describe.skipIf(!mysqlDb.available)(mysqlDb.suiteName('crawlee-sessions maintain as a process'), () => {
    const newPrefix = useTablePrefixes();

    it('runs until SIGINT, then stops cleanly; status reads the table from the shared store', async () => {
        const dir = await mkdtemp(join(tmpdir(), 'maintainer-process-'));
        const root = resolve(import.meta.dirname, '..');
        const prefix = newPrefix();
        const store = { mysql: { url: mysqlDb.url, tablePrefix: prefix } };
        try {
            const configPath = join(dir, 'sessions.config.ts');
            await writeFile(
                configPath,
                `import { defineLogin } from ${JSON.stringify(join(root, 'src/acquisition/recipe.ts'))};
import { defineMaintainerConfig } from ${JSON.stringify(join(root, 'src/maintainer/config.ts'))};
export default defineMaintainerConfig({
    store: ${JSON.stringify(store)},
    recipes: [{
        recipe: defineLogin({
            name: 'proc-shop',
            credentials: { user: 'alice', password: { env: 'MAINTAINER_TEST_PASSWORD' } },
            steps: [{ url: '${site.url}/login', method: 'POST', form: { user: '{{user}}', password: '{{password}}' } }],
            check: { request: { url: '${site.url}/whoami' }, indicators: [{ in: 'body', text: 'logged-in', means: 'valid' }] },
        }),
        sessions: ['p1'],
        schedule: { kind: 'cron', expression: '*/5 * * * *', timeZone: 'UTC' },
    }],
});
`,
            );
            const runner = join(dir, 'cli.mts'); // an ES module: it awaits at top level
            await writeFile(
                runner,
                `import { runMaintainerCli } from ${JSON.stringify(join(root, 'src/maintainer/cli.ts'))};\n` +
                    'process.exitCode = await runMaintainerCli(process.argv.slice(2));\n',
            );
            const child = spawn(process.execPath, ['--import', 'tsx', runner, 'maintain', '--config', configPath], {
                cwd: root,
                env: { ...process.env, MAINTAINER_TEST_PASSWORD: PASSWORD, CRAWLEE_LOG_LEVEL: 'INFO' },
                stdio: ['ignore', 'pipe', 'pipe'],
            });
            let output = '';
            child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
            child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
            let exitCode: number | null | undefined;
            const exited = new Promise<number | null>((done) =>
                child.on('exit', (code) => {
                    exitCode = code;
                    done(code);
                }),
            );

            const reader = await MySqlSessionStore.open({ url: mysqlDb.url, tablePrefix: prefix });
            try {
                await until(
                    async () => exitCode !== undefined || sidOf(await reader.read('p1').catch(() => undefined)) !== undefined,
                    'p1 is stored',
                    45_000,
                );
                expect(exitCode, output).toBeUndefined();
            } finally {
                await reader.close();
            }
            child.kill('SIGINT');
            expect(await exited).toBe(0);
            expect(output).toMatch(/refresh proc-shop\/p1: ok \(nothing stored; http login, 1 attempt\(s\), generation 1, 2 cookie\(s\)\)/);
            expect(output).toContain('Stopped.');
            expect(output).not.toContain(PASSWORD);

            const printed: string[] = [];
            const io = { stdout: (text: string) => printed.push(text), stderr: (text: string) => printed.push(text) };
            expect(await runMaintainerCli(['status', '--config', configPath], io)).toBe(0);
            expect(printed.join('')).toMatch(/\nproc-shop\s+p1\s+-\s+refreshed\s+\d{4}-.*\s+-\s+0\n/);
        } finally {
            await rm(dir, { recursive: true, force: true });
        }
    });
});

describe('reporting', () => {
    it('logs one line per check and refresh, with no secrets', async () => {
        const lines: Array<{ prefix: string; message: string }> = [];
        class Capture extends Logger {
            override _log(_level: LogLevel, message: string, _data?: unknown, _exception?: unknown, opts?: Record<string, any>) {
                lines.push({ prefix: String(opts?.prefix ?? ''), message });
            }
        }
        const previous = log.getOptions();
        log.setOptions({ logger: new Capture({}), level: LogLevel.INFO });
        const store = new MemorySessionStore();
        try {
            const maintainer = await open({
                store,
                recipes: [{ recipe: httpRecipe(site), sessions: ['l1', 'l2'], schedule: { kind: 'once' } }],
                retry: FAST_RETRY,
            });
            site.failNext.push('reset');
            await maintainer.runNow();
            site.expire(sidOf(await store.read('l1'))!);
            await maintainer.runNow();
        } finally {
            log.setOptions({ logger: previous.logger, level: LogLevel.OFF });
        }
        const mine = lines.filter((line) => line.prefix === 'Maintainer' && /^(check|refresh) /.test(line.message)).map((line) => line.message);
        const retry = mine.filter((line) => /could not reach the site/.test(line));
        expect(retry).toHaveLength(1);
        expect(retry[0]).toMatch(/^refresh shop\/l[12]: attempt 1 could not reach the site \(.*\); retrying in \d+ ms\.$/);
        const rest = mine.filter((line) => !retry.includes(line)).sort();
        expect(rest).toHaveLength(5);
        expect(rest[0]).toBe('check shop/l1: invalid (no logged-in indicator matched (body contains "logged-in")); refreshing.');
        expect(rest[1]).toBe('check shop/l2: valid (logged-in indicator matched: body contains "logged-in").');
        expect(rest[2]).toMatch(/^refresh shop\/l1: ok \(check failed; http login, 1 attempt\(s\), generation 2, 2 cookie\(s\)\)\.$/);
        expect(rest[3]).toMatch(/^refresh shop\/l1: ok \(nothing stored; http login, [12] attempt\(s\), generation 1, 2 cookie\(s\)\)\.$/);
        expect(rest[4]).toMatch(/^refresh shop\/l2: ok \(nothing stored; http login, [12] attempt\(s\), generation 1, 2 cookie\(s\)\)\.$/);
        const everything = lines.map((line) => line.message).join('\n');
        expect(everything).not.toContain(PASSWORD);
        for (const id of ['l1', 'l2']) expect(everything).not.toContain(sidOf(await store.read(id))!);
    });
});

describe('configuration', () => {
    const refusal = (input: unknown): string => {
        try {
            defineMaintainerConfig(input as MaintainerConfigInput);
        } catch (error) {
            expect(error).toBeInstanceOf(ConfigValidationError);
            return (error as Error).message;
        }
        throw new Error('accepted');
    };

    it('refuses bad configurations with the field named', () => {
        const recipe = httpRecipe(site);
        expect(refusal({ recipes: [] })).toBe('Invalid config: config.recipes: needs at least one recipe');
        expect(refusal({ recipes: [{ recipe, schedule: { kind: 'daily', at: '3pm' } }] })).toMatch(
            /^Invalid config: config\.recipes\[0\]\.schedule\.at: must be a time of day written HH:MM/,
        );
        expect(
            refusal({
                recipes: [
                    { recipe, sessions: ['x'], schedule: { kind: 'once' } },
                    { recipe: httpRecipe(site, { name: 'other' }), sessions: ['y', 'x'], schedule: { kind: 'once' } },
                ],
            }),
        ).toBe('Invalid config: config.recipes[1].sessions[1]: session "x" is already maintained by recipe "shop"');
        expect(refusal({ recipes: [{ recipe: httpRecipe(site, { check: undefined }), refresh: 'when-invalid', schedule: { kind: 'once' } }] })).toMatch(
            /config\.recipes\[0\]\.refresh: "when-invalid" needs a check with a request/,
        );
        expect(refusal({ recipes: [{ recipe: { name: 'raw', steps: [] }, schedule: { kind: 'once' } }] })).toBe(
            'Invalid config: config.recipes[0].recipe.steps: needs at least one step',
        );
        expect(refusal({ recipes: [{ recipe, schedule: { kind: 'once' } }], concurrency: { browserLogins: 0 } })).toMatch(
            /config\.concurrency\.browserLogins: must be at least 1/,
        );
        expect(refusal({ recipes: [{ recipe, schedule: { kind: 'once' } }], secret: 'short' })).not.toContain('short"');
    });
});

describe('CLI commands', () => {
    let dir: string;

    beforeAll(async () => {
        dir = await mkdtemp(join(tmpdir(), 'maintainer-cli-'));
    });

    afterAll(async () => {
        await rm(dir, { recursive: true, force: true });
        delete (globalThis as Record<string, unknown>).__maintainerTestStore;
    });

    it('maintain runs until stopped, and status prints the table from the store', async () => {
        const root = resolve(import.meta.dirname, '..');
        const configPath = join(dir, 'sessions.config.ts');
        await writeFile(
            configPath,
            `import { defineLogin } from ${JSON.stringify(join(root, 'src/acquisition/recipe.ts'))};
import { defineMaintainerConfig } from ${JSON.stringify(join(root, 'src/maintainer/config.ts'))};
const recipe = defineLogin({
    name: 'cli-shop',
    credentials: { user: 'alice', password: { env: 'MAINTAINER_TEST_PASSWORD' } },
    steps: [{ url: '${site.url}/login', method: 'POST', form: { user: '{{user}}', password: '{{password}}' } }],
    check: { request: { url: '${site.url}/whoami' }, indicators: [{ in: 'body', text: 'logged-in', means: 'valid' }] },
});
export default defineMaintainerConfig({
    store: (globalThis as any).__maintainerTestStore,
    recipes: [{ recipe, sessions: ['u1', 'u2'], schedule: { kind: 'interval', everyMillis: 3_600_000 } }],
});
`,
        );
        const store = new MemorySessionStore();
        (globalThis as Record<string, unknown>).__maintainerTestStore = store;
        process.env.MAINTAINER_TEST_PASSWORD = PASSWORD;
        const output: string[] = [];
        const io = { stdout: (text: string) => output.push(text), stderr: (text: string) => output.push(text), handleSignals: false };

        const stop = new AbortController();
        const running = runMaintainCommand({ config: configPath }, { ...io, signal: stop.signal });
        await until(
            async () => sidOf(await store.read('u1')) !== undefined && sidOf(await store.read('u2')) !== undefined,
            () => `u1 and u2 are stored (output: ${output.join('')})`,
        );
        await until(async () => (await store.listEntries<MaintainerStatusRow>('maintainer-status')).every((entry) => entry.value.state === 'refreshed'), 'rows are stored');
        stop.abort();
        expect(await running).toBe(0);

        expect(await runMaintainerCli(['status', '--config', configPath], io)).toBe(0);
        const table = output.join('');
        expect(table).toMatch(/^recipe\s+session\s+last check\s+state/);
        expect(table).toMatch(/\ncli-shop\s+u1\s+-\s+refreshed\s+.*\s+-\s+0\n/); // stopped: no next run
        expect(table).toMatch(/\ncli-shop\s+u2\s+/);
        expect(table).not.toContain(PASSWORD);

        output.length = 0;
        expect(await runMaintainerCli(['maintain', '--config', configPath, '--once'], io)).toBe(0);
        // --once prints its summary table.
        expect(output.join('')).toMatch(/^recipe\s+session\s+last check\s+state[^\n]*\ncli-shop\s+u1\s+\S+ \S+ \([^)]+\)\s+valid\s/);
        output.length = 0;
        expect(await runMaintainerCli(['status', '--config', configPath, '--json'], io)).toBe(0);
        const rows = JSON.parse(output.join('')) as MaintainerStatusRow[];
        expect(rows.map((entry) => [entry.session, entry.state])).toEqual([
            ['u1', 'valid'],
            ['u2', 'valid'],
        ]);

        output.length = 0;
        expect(await runMaintainerCli(['maintain', '--config', join(dir, 'missing.ts')], io)).toBe(1);
        expect(output.join('')).toContain('no such file');
        expect(await runMaintainerCli(['maintain', '--bogus'], io)).toBe(2);
    });
});
