/**
 * The CLI additions: --version, "did you mean", list --filter/--sort/--limit, tables aligned by terminal width (CJK and
 * emoji ids), one status vocabulary (ready/failed), `status` and `maintain` with the store options and the one-line
 * error style, `maintain --once` printing its summary table. Real stores (embedded on disk, the real MariaDB), a real
 * login site on loopback, and the real `bin/crawlee-sessions.js` where the process matters.
 */
import { execFile } from 'node:child_process';
import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { log } from 'crawlee';
import stringWidth from 'string-width';
import { afterAll, describe, expect, it, vi } from 'vitest';

import { runCli } from '../src/cli/main.js';
import { closestMatch, editDistance } from '../src/cli/suggest.js';
import { zeroCounters } from '../src/model/merge.js';
import { MAINTAINER_STATUS_COLLECTION, statusKey, type MaintainerStatusRow } from '../src/maintainer/status.js';
import { openStore, type StoreChoice } from '../src/stores/open-store.js';
import { mysqlForTests, useTablePrefixes } from './support/mysql.js';

log.setLevel(log.LEVELS.OFF);
vi.setConfig({ testTimeout: 180_000, hookTimeout: 60_000 });

const db = await mysqlForTests();
const BIN = join(process.cwd(), 'bin', 'crawlee-sessions.js');
const ROOT = resolve(import.meta.dirname, '..');

const dirs: string[] = [];
afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'crawlee-sessions-cli-commands-'));
    dirs.push(dir);
    return dir;
}

interface Result {
    code: number;
    stdout: string;
    stderr: string;
}

/** Runs the CLI in this process with captured output (no secret env, no MySQL URL from the environment). */
async function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
    let stdout = '';
    let stderr = '';
    const code = await runCli(args, {
        stdout: (text) => void (stdout += text),
        stderr: (text) => void (stderr += text),
        stdoutIsTTY: false,
        env: { CRAWLEE_LOG_LEVEL: 'OFF', ...env },
    });
    return { code, stdout, stderr };
}

/** Runs `node bin/crawlee-sessions.js …` as a child process. */
function bin(args: readonly string[]): Promise<Result> {
    const env = { ...process.env };
    delete env.CRAWLEE_SESSIONS_MYSQL_URL;
    delete env.CRAWLEE_SESSIONS_SECRET;
    return new Promise((done) => {
        execFile(process.execPath, [BIN, ...args], { env, timeout: 60_000 }, (error, stdout, stderr) => {
            done({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
        });
    });
}

/** Sessions with requests/failures chosen so that every sort key gives a distinct order. */
const SESSIONS = [
    { id: 'alice', requests: 5, failures: 1, renewals: 0, failed: false },
    { id: 'bob', requests: 50, failures: 0, renewals: 2, failed: true },
    { id: '会员-七', requests: 7, failures: 3, renewals: 1, failed: false },
    { id: 'emoji-🍪-jar', requests: 1, failures: 0, renewals: 0, failed: false },
    { id: 'carol', requests: 20, failures: 2, renewals: 0, failed: false },
];

async function fill(store: StoreChoice): Promise<void> {
    const raw = await openStore(store);
    try {
        await raw.write(
            SESSIONS.map((session) => ({
                id: session.id,
                generation: 0,
                reset: false,
                assignment: { profileIndex: null, identity: null, auth: null },
                upserts: [],
                removals: [],
                counters: { ...zeroCounters(), requests: session.requests, failures: session.failures, renewals: session.renewals },
                lastUsedAt: Date.now() - 60_000,
                ...(session.failed ? { lastRenewalError: 'login refused (status 403)' } : {}),
            })),
        );
    } finally {
        await raw.close();
    }
}

describe('the command word', () => {
    it('--version prints the package version; a mistyped command gets "did you mean"; garbage gets none', async () => {
        const manifest = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
        const version = await bin(['--version']);
        expect(version).toEqual({ code: 0, stdout: `crawlee-sessions ${manifest.version}\n`, stderr: '' });

        const typo = await bin(['lsit']);
        expect(typo.code).toBe(2);
        expect(typo.stderr).toMatch(/^crawlee-sessions: unknown command "lsit" \(did you mean "list"\? commands: list, show, /);
        expect(typo.stderr.trimEnd().split('\n')).toHaveLength(1);

        expect((await run(['maintian'])).stderr).toContain('did you mean "maintain"?');
        expect((await run(['stauts'])).stderr).toContain('did you mean "status"?');
        expect((await run(['exp'])).stderr).toContain('did you mean "export"?');
        const garbage = await run(['xyzzy-plugh']);
        expect(garbage.code).toBe(2);
        expect(garbage.stderr).not.toContain('did you mean');
        // A hostile command word stays on one line and is cut.
        const hostile = await run([`li\nst\u001b[31m${'x'.repeat(10_000)}`]);
        expect(hostile.stderr.trimEnd().split('\n')).toHaveLength(1);
        expect(hostile.stderr.length).toBeLessThan(600);
    });

    it('editDistance and closestMatch', () => {
        expect(editDistance('kitten', 'sitting')).toBe(3);
        expect(editDistance('', 'abc')).toBe(3);
        expect(editDistance('list', 'list')).toBe(0);
        expect(editDistance('lsit', 'list')).toBe(1);
        expect(editDistance('a'.repeat(50), 'b'.repeat(50), 2)).toBe(3);
        expect(closestMatch('shwo', ['list', 'show'])).toBe('show');
        expect(closestMatch('zzzz', ['list', 'show'])).toBeUndefined();
        expect(closestMatch('', ['list'])).toBeUndefined();
    });
});

describe('list: --filter, --sort, --limit, one status vocabulary, tables aligned by terminal width', () => {
    it('on an embedded store', async () => {
        const dir = await tempDir();
        await fill({ embedded: { storageDir: dir } });
        const storage = ['--storage-dir', dir];
        const ids = async (...args: string[]) => {
            const result = await run(['list', '--json', ...args, ...storage]);
            expect(result.code, result.stderr).toBe(0);
            return (JSON.parse(result.stdout) as Array<{ id: string }>).map((row) => row.id);
        };
        const all = JSON.parse((await run(['list', '--json', ...storage])).stdout) as Array<{ id: string; status: string }>;
        expect(Object.fromEntries(all.map((row) => [row.id, row.status]))).toEqual({
            alice: 'ready',
            bob: 'failed',
            carol: 'ready',
            'emoji-🍪-jar': 'ready',
            '会员-七': 'ready',
        });
        expect(await ids('--sort', 'requests')).toEqual(['emoji-🍪-jar', 'alice', '会员-七', 'carol', 'bob']);
        expect(await ids('--sort=-requests')).toEqual(['bob', 'carol', '会员-七', 'alice', 'emoji-🍪-jar']);
        expect(await ids('--sort=-failures', '--limit', '2')).toEqual(['会员-七', 'carol']);
        expect(await ids('--filter', 'AL')).toEqual(['alice']);
        expect(await ids('--filter', 'failed')).toEqual(['bob']);
        expect(await ids('--filter', '会员')).toEqual(['会员-七']);

        const limited = await run(['list', '--sort=-renewals', '--limit', '1', ...storage]);
        expect(limited.stdout.split('\n').slice(1, 3)).toEqual([expect.stringMatching(/^bob\s/), '(4 more not shown: --limit 1)']);
        expect((await run(['list', '--filter', 'nobody', ...storage])).stdout).toContain('(no session matches --filter)');

        // Every column starts at the same terminal column on every line, whatever the script of the id.
        const table = (await run(['list', ...storage])).stdout.split('\n').filter((line) => /^(id|alice|bob|carol|emoji|会员)/.test(line) && !line.includes('renewal failed'));
        expect(table).toHaveLength(6);
        const statusColumn = (line: string) => stringWidth(line.slice(0, line.search(/ (ready|failed|status)( |$)/) + 1));
        const columns = table.map(statusColumn);
        expect(new Set(columns).size, table.join('\n')).toBe(1);

        for (const [args, message] of [
            [['--sort', 'colour'], /^crawlee-sessions list: --sort: must be one of id, profile, cookies, status, /],
            [['--limit', '0'], /^crawlee-sessions list: --limit: must be a whole number ≥ 1/],
            [['--limit', '1e9'], /^crawlee-sessions list: --limit: must be a whole number ≥ 1/],
            [['--limit', '99999999999'], /^crawlee-sessions list: --limit: must be at most 1000000/],
            [['--filter', 'x'.repeat(1001)], /^crawlee-sessions list: --filter: must be at most 1000 characters/],
            [['--watch', '--json'], /^crawlee-sessions list: --watch draws a table: it cannot be combined with --json/],
            [['--interval-secs', '3'], /^crawlee-sessions list: --interval-secs only applies with --watch/],
        ] as const) {
            const refused = await run(['list', ...args, ...storage]);
            expect(refused.code, String(args)).toBe(2);
            expect(refused.stderr.trimEnd().split('\n')).toHaveLength(1);
            expect(refused.stderr).toMatch(message);
        }
    });
});

/** A site with a form login (`POST /login` user=alice) and a check page; any other user is refused with 403. */
async function startSite(): Promise<{ url: string; close(): Promise<void> }> {
    const server: Server = createServer((req, res) => {
        const url = new URL(req.url ?? '/', 'http://site.invalid');
        if (url.pathname === '/login' && req.method === 'POST') {
            let body = '';
            req.on('data', (chunk: Buffer) => (body += chunk.toString()));
            req.on('end', () => {
                const user = new URLSearchParams(body).get('user');
                if (user !== 'alice') return void res.writeHead(403).end('refused');
                res.writeHead(200, { 'set-cookie': 'sid=logged-in-SECRET; Path=/; HttpOnly' }).end('welcome');
            });
            return;
        }
        if (url.pathname === '/whoami') {
            const loggedIn = (req.headers.cookie ?? '').includes('sid=logged-in-SECRET');
            return void res.writeHead(200).end(loggedIn ? 'logged-in' : 'anonymous');
        }
        res.writeHead(404).end();
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const { port } = server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}`, close: () => new Promise((done) => server.close(() => done())) };
}

async function writeConfig(dir: string, siteUrl: string, store: StoreChoice | undefined): Promise<string> {
    const path = join(dir, 'sessions.config.ts');
    const recipe = (name: string, user: string) => `defineLogin({
            name: '${name}',
            steps: [{ url: '${siteUrl}/login', method: 'POST', form: { user: '${user}' } }],
            check: { request: { url: '${siteUrl}/whoami' }, indicators: [{ in: 'body', text: 'logged-in', means: 'valid' }] },
        })`;
    await writeFile(
        path,
        `import { defineLogin } from ${JSON.stringify(join(ROOT, 'src/acquisition/recipe.ts'))};
import { defineMaintainerConfig } from ${JSON.stringify(join(ROOT, 'src/maintainer/config.ts'))};
export default defineMaintainerConfig({
    ${store ? `store: ${JSON.stringify(store)},` : ''}
    recipes: [
        { recipe: ${recipe('shop', 'alice')}, sessions: ['s1'], schedule: { kind: 'once' } },
        { recipe: ${recipe('locked', 'mallory')}, sessions: ['s2'], schedule: { kind: 'once' } },
    ],
});
`,
    );
    return path;
}

describe('maintain and status take the store options', () => {
    it('maintain --once prints the summary table; status reads it back from the store options alone (embedded)', async () => {
        const dir = await tempDir();
        const site = await startSite();
        try {
            // The config names no store: --storage-dir chooses it.
            const config = await writeConfig(dir, site.url, undefined);
            const storage = ['--storage-dir', join(dir, 'storage')];
            const once = await run(['maintain', '--config', config, '--once', ...storage]);
            expect(once.code, once.stderr).toBe(1); // one session could not be refreshed
            const lines = once.stdout.trimEnd().split('\n');
            expect(lines[0]).toMatch(/^recipe\s+session\s+last check\s+state\s+last refresh\s+next run\s+failures$/);
            expect(lines[1]).toMatch(/^locked\s+s2\s+.*\s+failed\s+/);
            expect(lines[2]).toMatch(/^shop\s+s1\s+.*\s+refreshed\s+/);
            expect(lines[3]).toMatch(/^locked\/s2: /);
            expect(once.stdout + once.stderr).not.toContain('logged-in-SECRET');

            const status = await run(['status', '--json', ...storage]);
            expect(status.code, status.stderr).toBe(0);
            const rows = JSON.parse(status.stdout) as MaintainerStatusRow[];
            expect(rows.map((row) => [row.recipe, row.session, row.state]).sort()).toEqual([
                ['locked', 's2', 'failed'],
                ['shop', 's1', 'refreshed'],
            ]);
            const list = JSON.parse((await run(['list', '--json', ...storage])).stdout) as Array<{ id: string; status: string }>;
            expect(list.map((row) => [row.id, row.status])).toEqual([['s1', 'ready']]);

            // Errors in the CLI's one-line style, bad configuration and bad options exit 2.
            const missing = await run(['status', '--storage-dir', join(dir, 'nowhere')]);
            expect(missing.code).toBe(1);
            expect(missing.stderr).toMatch(/^crawlee-sessions status: There is no sessions store in .*nowhere/);
            expect(missing.stderr.trimEnd().split('\n')).toHaveLength(1);
            const both = await run(['status', '--config', config, ...storage]);
            expect(both.code).toBe(2);
            expect(both.stderr).toMatch(/^crawlee-sessions status: give either --config \(its store\) or store options, not both/);
            const noConfig = await run(['maintain', '--config', join(dir, 'absent.config.ts'), '--once', ...storage]);
            expect(noConfig.code).toBe(1);
            expect(noConfig.stderr).toMatch(/^crawlee-sessions maintain: Cannot load the maintainer config: no such file .*absent\.config\.ts/);
            expect(noConfig.stderr.trimEnd().split('\n')).toHaveLength(1);
            const badConfig = join(dir, 'bad.config.mjs');
            await writeFile(badConfig, 'export default { recipes: [{ recipe: 42 }] };\n');
            const bad = await run(['maintain', '--config', badConfig, '--once']);
            expect(bad.code).toBe(2);
            expect(bad.stderr).toMatch(/^crawlee-sessions maintain: /);
            expect(bad.stderr.trimEnd().split('\n')).toHaveLength(1);
            const unknown = await run(['status', '--frobnicate']);
            expect(unknown.code).toBe(2);
            expect(unknown.stderr).toMatch(/^crawlee-sessions status: unknown option --frobnicate \(this command accepts --storage-dir, /);
        } finally {
            await site.close();
        }
    });

    describe.skipIf(!db.available)(db.suiteName('MySQL'), () => {
        const newPrefix = useTablePrefixes();
        it('status --mysql URL --table-prefix P reads the maintainer status kept in MySQL, without a config', async () => {
            const prefix = newPrefix();
            const store = await openStore({ mysql: { url: db.url, tablePrefix: prefix } });
            const row: MaintainerStatusRow = {
                recipe: 'shop',
                session: '会员-七',
                mode: 'http',
                state: 'valid',
                lastCheckAt: Date.now() - 60_000,
                lastCheck: 'valid',
                lastRefreshAt: null,
                lastError: null,
                nextRunAt: null,
                failures: 0,
                generation: 1,
                schedule: 'once',
                updatedAt: Date.now(),
            };
            try {
                await store.putEntry(MAINTAINER_STATUS_COLLECTION, statusKey(row.recipe, row.session), row);
            } finally {
                await store.close();
            }
            const status = await run(['status', '--mysql', db.url, '--table-prefix', prefix]);
            expect(status.code, status.stderr).toBe(0);
            expect(status.stdout).toMatch(/\nshop\s+会员-七\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(1m ago\)\s+valid\s+-\s+-\s+0\n/);
            const refused = await run(['status', '--mysql', 'mysql://root:hunter2-DB-PASS@127.0.0.1:1/test']);
            expect(refused.code).toBe(1);
            expect(refused.stderr).toMatch(/^crawlee-sessions status: /);
            expect(refused.stderr).not.toContain('hunter2-DB-PASS');
        });
    });
});
