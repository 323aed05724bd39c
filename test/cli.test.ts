import { execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

import { Configuration, log } from 'crawlee';
import { Cookie } from 'tough-cookie';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { Sessions, defineProfiles } from '../src/index.js';
import { zeroCounters } from '../src/model/merge.js';
import { EmbeddedSessionStore } from '../src/stores/embedded-store.js';
import { openStore, type StoreChoice } from '../src/stores/open-store.js';
import type { SessionAuth, SessionRecord, StoredCookie } from '../src/model/types.js';
import { mysqlForTests, useTablePrefixes } from './support/mysql.js';

log.setLevel(log.LEVELS.OFF);
// Every command is a node process loading Crawlee (seconds each on a busy 2-core machine); tests run several.
vi.setConfig({ testTimeout: 240_000, hookTimeout: 120_000 });

const db = await mysqlForTests();

const BIN = join(process.cwd(), 'bin', 'crawlee-sessions.js');

/** Everything secret the filled sessions hold: none of it may appear in output unless asked for. */
const SECRETS = {
    sid: 'sid-7f3a9c-SECRET',
    wide: 'wide-81bd-SECRET',
    bobToken: 'bobtok-55e1-SECRET',
    proxyPassword: 'hunter2-PROXY-PASS',
    bearer: 'bearer-0c4e-SECRET',
    apiKey: 'apikey-99d2-SECRET',
};
const ALL_SECRETS = Object.values(SECRETS);

const PROFILES = defineProfiles([
    { proxy: `http://bob:${SECRETS.proxyPassword}@127.0.0.1:8001`, userAgent: 'UA-Cli/1' },
    { userAgent: 'UA-Cli/2' },
]);

const AUTH: SessionAuth = {
    headers: { Authorization: `Bearer ${SECRETS.bearer}` },
    query: { api_key: SECRETS.apiKey },
    values: { token: { value: SECRETS.bearer, source: 'body:$.token' } },
};

interface CliResult {
    code: number;
    stdout: string;
    stderr: string;
}

/** Runs `node bin/crawlee-sessions.js …args` as a child process. */
function cli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
    delete childEnv.CRAWLEE_SESSIONS_MYSQL_URL;
    delete childEnv.CRAWLEE_SESSIONS_SECRET;
    Object.assign(childEnv, env);
    return new Promise((resolve) => {
        execFile(process.execPath, [BIN, ...args], { env: childEnv, timeout: 60_000 }, (error, stdout, stderr) => {
            const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
            resolve({ code, stdout, stderr });
        });
    });
}

/** Asserts the stderr of a failed command is exactly one line and returns it. */
function oneLine(result: CliResult): string {
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines, result.stderr).toHaveLength(1);
    return lines[0]!;
}

function expectNoSecrets(text: string): void {
    for (const secret of ALL_SECRETS) expect(text).not.toContain(secret);
}

const dirs: string[] = [];

async function tempDir(prefix = 'crawlee-sessions-cli-'): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    dirs.push(dir);
    return dir;
}

function diskConfig(dir: string): Configuration {
    return new Configuration({ persistStorage: true, storageClientOptions: { localDataDirectory: dir } });
}

/**
 * Fills a store the way a crawl would, through `Sessions`: alice (profile 0; a host-only HttpOnly cookie, a Max-Age
 * cookie under /app, a Secure domain cookie and a plain domain cookie) and bob (profile 1, one cookie); then gives
 * alice login values through the store.
 */
async function fillStore(store: StoreChoice, secret?: string): Promise<void> {
    const sessions = await Sessions.open({ store, profiles: PROFILES, ...(secret ? { secret } : {}) });
    sessions.addCookies('alice', [`sid=${SECRETS.sid}; Path=/; HttpOnly`, 'theme=dark; Path=/app; Max-Age=3600'], 'http://127.0.0.1:8080/');
    sessions.addCookies('alice', [`wide=${SECRETS.wide}; Domain=example.test; Path=/; Secure; SameSite=Strict`], 'https://app.example.test/');
    sessions.addCookies('alice', ['lang=en; Domain=example.test; Path=/'], 'http://app.example.test/');
    sessions.addCookies('bob', [`tok=${SECRETS.bobToken}; Path=/`], 'http://127.0.0.1:8080/');
    await sessions.close();
    const raw = await openStore(store, secret);
    try {
        const alice = (await raw.read('alice'))!;
        await raw.write([
            {
                id: 'alice',
                generation: alice.generation,
                reset: false,
                assignment: { profileIndex: alice.profileIndex, identity: alice.identity, auth: AUTH },
                upserts: [],
                removals: [],
                counters: { requests: 12, successes: 10, failures: 2, renewals: 1 },
                lastUsedAt: Date.now() - 60_000,
            },
            {
                id: 'bob',
                generation: 0,
                reset: false,
                assignment: { profileIndex: null, identity: null, auth: null },
                upserts: [],
                removals: [],
                counters: zeroCounters(),
                lastUsedAt: null,
                lastRenewalError: 'Renewal of session "bob" failed after 3 attempt(s): login refused (status 403).',
            },
        ]);
    } finally {
        await raw.close();
    }
}

async function readRecord(store: StoreChoice, id: string, secret?: string): Promise<SessionRecord | undefined> {
    const raw = await openStore(store, secret);
    try {
        return await raw.read(id);
    } finally {
        await raw.close();
    }
}

/** A cookie's identity and attributes, for comparing sessions after a round trip (expiry to the second). */
function cookieShape(json: StoredCookie) {
    const cookie = Cookie.fromJSON(json)!;
    const expiry = cookie.expiryTime();
    return {
        name: cookie.key,
        value: cookie.value,
        domain: cookie.domain,
        hostOnly: cookie.hostOnly,
        path: cookie.path,
        secure: cookie.secure,
        httpOnly: cookie.httpOnly,
        expires: expiry === undefined || expiry === Infinity ? 'session' : Math.round(expiry / 1000),
    };
}

function sortedShapes(record: SessionRecord | undefined) {
    return (record?.cookies ?? []).map(cookieShape).sort((a, b) => `${a.domain}${a.path}${a.name}`.localeCompare(`${b.domain}${b.path}${b.name}`));
}

/** A loopback server answering every request with the Cookie header it received. */
async function startCookieEcho(): Promise<{ port: number; close(): Promise<void> }> {
    const server: Server = createServer((request, response) => {
        response.end(`cookie=${request.headers.cookie ?? ''}`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
        port: (server.address() as AddressInfo).port,
        close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
}

const hasCurl = spawnSync('curl', ['--version']).status === 0;
const hasScript = spawnSync('script', ['--version']).status === 0;

afterAll(async () => {
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('crawlee-sessions CLI, embedded store', () => {
    let dir: string;
    let storage: string[];
    // Crawlee shares one storage client per directory in a process, and it caches what it read: drop it before each
    // look at the store, since the CLI changes it from another process.
    const store = (): StoreChoice => {
        Configuration.resetGlobalState();
        return { embedded: { config: diskConfig(dir) } };
    };

    beforeAll(async () => {
        dir = await tempDir();
        storage = ['--storage-dir', dir];
        await fillStore(store());
    });

    it('list: a table of every session with profile index, cookie count, status and counters; no cookie values, proxy passwords or login values', async () => {
        const result = await cli(['list', ...storage]);
        expect(result.code, result.stderr).toBe(0);
        expectNoSecrets(result.stdout);
        const lines = result.stdout.trimEnd().split('\n');
        expect(lines[0]).toMatch(/^id\s+profile\s+cookies\s+status\s+generation\s+requests\s+failures\s+renewals\s+last used$/);
        expect(lines[1]).toMatch(/^alice\s+#0\s+4\s+ready\s+0\s+12\s+2\s+1\s+\d{4}-\d\d-\d\d \d\d:\d\d UTC \(\d+m ago\)$/);
        expect(lines[2]).toMatch(/^bob\s+#1\s+1\s+failed\s+0\s+0\s+0\s+0\s+-$/);
        expect(lines[3]).toBe('bob: renewal failed: Renewal of session "bob" failed after 3 attempt(s): login refused (status 403).');

        const json = await cli(['list', '--json', ...storage]);
        expect(json.code, json.stderr).toBe(0);
        expectNoSecrets(json.stdout);
        const rows = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
        expect(rows.map((row) => [row.id, row.profileIndex, row.cookies, row.status, row.generation, row.requests, row.failures])).toEqual([
            ['alice', 0, 4, 'ready', 0, 12, 2],
            ['bob', 1, 1, 'failed', 0, 0, 0],
        ]);
    });

    it('list --profiles shows each session\'s proxy with the password hidden and its user agent', async () => {
        const profilesFile = join(await tempDir(), 'profiles.mjs');
        await writeFile(profilesFile, `export default ${JSON.stringify(PROFILES)};\n`);
        const result = await cli(['list', '--profiles', profilesFile, ...storage]);
        expect(result.code, result.stderr).toBe(0);
        expectNoSecrets(result.stdout);
        expect(result.stdout).toContain('#0 · http://bob:***@127.0.0.1:8001 · UA-Cli/1');
        expect(result.stdout).toContain('#1 · UA-Cli/2');
    });

    it('show: identity, counters, cookie names/domains/paths/expiry/flags and auth names, every value hidden; --reveal shows them', async () => {
        const hidden = await cli(['show', 'alice', ...storage]);
        expect(hidden.code, hidden.stderr).toBe(0);
        expectNoSecrets(hidden.stdout);
        expect(hidden.stdout).toContain('user agent   UA-Cli/1');
        expect(hidden.stdout).toContain('requests     12 (10 succeeded, 2 failed) · renewals 1');
        expect(hidden.stdout).toMatch(/sid\s+127\.0\.0\.1\s+\/\s+session\s+HttpOnly\s+<hidden>/);
        expect(hidden.stdout).toMatch(/theme\s+127\.0\.0\.1\s+\/app\s+\d{4}-\d\d-\d\dT[\d:.]+Z\s+-\s+<hidden>/);
        expect(hidden.stdout).toMatch(/wide\s+\.example\.test\s+\/\s+session\s+Secure SameSite=Strict\s+<hidden>/);
        expect(hidden.stdout).toContain('Authorization: <hidden>');
        expect(hidden.stdout).toContain('api_key=<hidden>');
        expect(hidden.stdout).toContain('token = <hidden> (from body:$.token)');
        expect(hidden.stdout).not.toContain('dark'); // even harmless values are hidden

        const json = await cli(['show', 'alice', '--json', ...storage]);
        expect(json.code, json.stderr).toBe(0);
        expectNoSecrets(json.stdout);
        const details = JSON.parse(json.stdout) as { cookies: Array<{ name: string; value: string }>; auth: SessionAuth; generation: number };
        expect(details.cookies.map((cookie) => [cookie.name, cookie.value]).sort()).toEqual([
            ['lang', '<hidden>'],
            ['sid', '<hidden>'],
            ['theme', '<hidden>'],
            ['wide', '<hidden>'],
        ]);
        expect(details.auth.headers).toEqual({ Authorization: '<hidden>' });

        const revealed = await cli(['show', 'alice', '--reveal', ...storage]);
        expect(revealed.code, revealed.stderr).toBe(0);
        for (const secret of [SECRETS.sid, SECRETS.wide, SECRETS.bearer, SECRETS.apiKey]) expect(revealed.stdout).toContain(secret);
        expect(revealed.stdout).toContain(`Authorization: Bearer ${SECRETS.bearer}`);
        expect(revealed.stdout).not.toContain(SECRETS.proxyPassword); // --reveal is about session values, not proxies
    });

    it('export → import round-trips every format into another session (same cookies, values, domains, paths, flags, expiry)', async () => {
        const work = await tempDir();
        const original = sortedShapes(await readRecord(store(), 'alice'));
        expect(original).toHaveLength(4);

        for (const format of ['playwright', 'netscape'] as const) {
            const file = join(work, `alice.${format}`);
            const exported = await cli(['export', 'alice', '--format', format, '--out', file, ...storage]);
            expect(exported.code, exported.stderr).toBe(0);
            expect(exported.stdout).toBe(`Exported 4 cookies of session "alice" to ${file} (${format}).\n`);
            const imported = await cli(['import', `copy-${format}`, file, '--json', ...storage]);
            expect(imported.code, imported.stderr).toBe(0);
            expect(JSON.parse(imported.stdout)).toMatchObject({ id: `copy-${format}`, format, imported: 4, created: true });
            const copy = sortedShapes(await readRecord(store(), `copy-${format}`));
            // A Playwright storage state carries SameSite; a Netscape file does not: both keep everything compared here.
            expect(copy, format).toEqual(original);
        }

        // A Cookie header holds what a request to one URL gets: names and values only.
        const header = await cli(['export', 'alice', '--format', 'header', '--url', 'http://app.example.test/', ...storage]);
        expect(header.code, header.stderr).toBe(0);
        expect(header.stdout).toBe('Cookie: lang=en\n'); // wide is Secure: not sent over http
        const secureHeader = await cli(['export', 'alice', '-f', 'header', '--url', 'https://app.example.test/', ...storage]);
        expect(secureHeader.stdout).toBe(`Cookie: wide=${SECRETS.wide}; lang=en\n`);
        const headerFile = join(work, 'alice.header');
        await writeFile(headerFile, secureHeader.stdout);
        const imported = await cli(['import', 'copy-header', headerFile, '--url', 'https://app.example.test/', ...storage]);
        expect(imported.code, imported.stderr).toBe(0);
        expect(imported.stdout).toBe('Imported 2 cookies (header) into the new session "copy-header".\n');
        const again = await cli(['export', 'copy-header', '-f', 'header', '--url', 'https://app.example.test/', ...storage]);
        expect(again.stdout.split(/; |: /).slice(1).map((pair) => pair.trim()).sort()).toEqual([`lang=en`, `wide=${SECRETS.wide}`]);

        // Importing into an existing session adds cookies and replaces same-named ones, keeping the rest.
        const netscape = join(work, 'extra.txt');
        await writeFile(netscape, '# Netscape HTTP Cookie File\n127.0.0.1\tFALSE\t/\tFALSE\t0\tsid\treplaced\n127.0.0.1\tFALSE\t/\tFALSE\t0\textra\t1\n');
        const merged = await cli(['import', 'copy-netscape', netscape, ...storage]);
        expect(merged.code, merged.stderr).toBe(0);
        const record = await readRecord(store(), 'copy-netscape');
        expect(Object.fromEntries(record!.cookies.map((cookie) => [cookie.key, cookie.value]))).toEqual({
            sid: 'replaced',
            extra: '1',
            theme: 'dark',
            wide: SECRETS.wide,
            lang: 'en',
        });
    });

    it.skipIf(!hasCurl)(`the Netscape export is accepted by curl -b${hasCurl ? '' : ' (SKIPPED: curl is not installed)'}`, async () => {
        const echo = await startCookieEcho();
        try {
            const file = join(await tempDir(), 'cookies.txt');
            const exported = await cli(['export', 'alice', '--format', 'netscape', '--out', file, ...storage]);
            expect(exported.code, exported.stderr).toBe(0);
            const curl = (args: string[]) =>
                new Promise<string>((resolve, reject) =>
                    execFile('curl', ['-s', '-b', file, ...args], (error, stdout) => (error ? reject(error) : resolve(stdout))),
                );
            // Host-only cookies of 127.0.0.1: the HttpOnly one (#HttpOnly_ line), and the /app one only under /app.
            expect(await curl([`http://127.0.0.1:${echo.port}/`])).toBe(`cookie=sid=${SECRETS.sid}`);
            const app = (await curl([`http://127.0.0.1:${echo.port}/app/x`])).replace('cookie=', '').split('; ').sort();
            expect(app).toEqual([`sid=${SECRETS.sid}`, 'theme=dark']);
            // A domain cookie (.example.test, TRUE) reaches a subdomain; the Secure one stays off plain http.
            const resolve = ['--resolve', `app.example.test:${echo.port}:127.0.0.1`];
            expect(await curl([...resolve, `http://app.example.test:${echo.port}/`])).toBe('cookie=lang=en');
        } finally {
            await echo.close();
        }
    });

    it('export refuses to print values on a terminal without --reveal (and prints them with it)', async () => {
        if (!hasScript) {
            console.warn('SKIPPING the terminal check: `script` (util-linux) is not installed');
            return;
        }
        const onTty = (args: string[]) => {
            const command = [process.execPath, BIN, ...args].map((arg) => `'${arg.replace(/'/g, `'\\''`)}'`).join(' ');
            return spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8', env: { ...process.env, CRAWLEE_SESSIONS_MYSQL_URL: '' } });
        };
        const refused = onTty(['export', 'alice', '-f', 'netscape', ...storage]);
        expect(refused.status).toBe(2);
        expect(refused.stdout).toContain('export prints cookie values');
        expectNoSecrets(refused.stdout);
        const revealed = onTty(['export', 'alice', '-f', 'netscape', '--reveal', ...storage]);
        expect(revealed.status).toBe(0);
        expect(revealed.stdout).toContain(SECRETS.sid);
    });

    it('clear bumps the generation and empties cookies and login values; a crawler resuming the store gets the cleared session', async () => {
        const before = (await readRecord(store(), 'bob'))!;
        const result = await cli(['clear', 'bob', ...storage]);
        expect(result.code, result.stderr).toBe(0);
        expect(result.stdout).toMatch(/^Cleared session "bob": generation 0 → 1, removed 1 cookie\./);
        expectNoSecrets(result.stdout);
        const after = (await readRecord(store(), 'bob'))!;
        expect(before.lastRenewalError).toMatch(/login refused/);
        expect(after).toMatchObject({ generation: before.generation + 1, cookies: [], auth: null, profileIndex: before.profileIndex, lastRenewalError: null });
        expect(after.counters).toEqual(before.counters);

        const json = await cli(['clear', 'alice', '--json', ...storage]);
        expect(JSON.parse(json.stdout)).toEqual({ id: 'alice', previousGeneration: 0, generation: 1, removedCookies: 4, removedAuth: true });

        const sessions = await Sessions.open({ store: store(), profiles: PROFILES });
        try {
            const rows = Object.fromEntries(sessions.list().map((row) => [row.id, row]));
            expect(rows.bob).toMatchObject({ generation: 1, cookies: 0 });
            expect(rows.alice).toMatchObject({ generation: 1, cookies: 0 });
            expect(sessions.get('alice', { format: 'header', url: 'http://127.0.0.1:8080/' })).toBe('');
        } finally {
            await sessions.close();
        }
    });

    it('header rules: add, list with sensitive values hidden (--reveal shows them), update, disable, rm', async () => {
        const rulesDir = await tempDir();
        const rulesStorage = ['--storage-dir', rulesDir];
        const added = await cli(['rules', 'add', 'api-key', '--header', 'X-Api-Key', '--value-env', 'CLI_TEST_KEY', '--host', 'api.example.test', ...rulesStorage], {
            CLI_TEST_KEY: SECRETS.apiKey,
        });
        expect(added.code, added.stderr).toBe(0);
        expect(added.stdout).toBe('Added header rule "api-key": X-Api-Key: *** (UPSERT, priority 50, active; applies to host=api.example.test).\n');
        const trace = await cli(['rules', 'add', 'trace', '--header', 'X-Trace', '--value', 'on', '--method', 'get', '--priority', '70', ...rulesStorage]);
        expect(trace.code, trace.stderr).toBe(0);

        const list = await cli(['rules', 'list', ...rulesStorage]);
        expect(list.code, list.stderr).toBe(0);
        expectNoSecrets(list.stdout);
        expect(list.stdout).toMatch(/api-key\s+X-Api-Key\s+\*\*\*\s+UPSERT\s+50\s+yes\s+host=api\.example\.test/);
        expect(list.stdout).toMatch(/trace\s+X-Trace\s+on\s+UPSERT\s+70\s+yes\s+methods=GET/);
        const revealed = await cli(['rules', 'list', '--reveal', '--json', ...rulesStorage]);
        const rules = JSON.parse(revealed.stdout) as Array<{ name: string; value: string; active: boolean; match: object }>;
        expect(rules.map((rule) => [rule.name, rule.value])).toEqual([
            ['api-key', SECRETS.apiKey],
            ['trace', 'on'],
        ]);

        const updated = await cli(['rules', 'update', 'trace', '--unset', 'method', '--value', 'off', ...rulesStorage]);
        expect(updated.stdout).toBe('Updated header rule "trace": X-Trace: off (UPSERT, priority 70, active; applies to every request).\n');
        expect((await cli(['rules', 'disable', 'api-key', ...rulesStorage])).code).toBe(0);
        expect((await cli(['rules', 'rm', 'trace', ...rulesStorage])).stdout).toBe('Removed header rule "trace".\n');
        const final = JSON.parse((await cli(['rules', 'list', '--json', ...rulesStorage])).stdout) as typeof rules;
        expect(final.map((rule) => [rule.name, rule.value, rule.active])).toEqual([['api-key', '***', false]]);

        const missing = await cli(['rules', 'rm', 'trace', ...rulesStorage]);
        expect(missing.code).toBe(1);
        expect(oneLine(missing)).toBe('crawlee-sessions rules: There is no header rule named "trace".');
        const injected = await cli(['rules', 'add', 'evil', '--header', 'X-Evil', '--value', 'a\r\nSet-Cookie: x=1', ...rulesStorage]);
        expect(injected.code).toBe(2);
        expect(oneLine(injected)).toMatch(/^crawlee-sessions rules: invalid header rule: --value: must not contain CR, LF/);
    });

    it('bad command lines: one clear line on stderr naming the problem, exit code 2', async () => {
        const cases: Array<[string[], RegExp]> = [
            [['list', '--bogus', ...storage], /^crawlee-sessions list: unknown option --bogus \(this command accepts .*--json/],
            [['export', 'alice', '--format', 'xml', ...storage], /^crawlee-sessions export: --format: must be one of playwright, netscape, header \(got "xml"\)/],
            [['export', 'alice', '--format', 'header', ...storage], /^crawlee-sessions export: --url is required for --format header/],
            [['export', 'alice', '-f', 'netscape', '--url', 'ftp://x', ...storage], /^crawlee-sessions export: --url: must be an http:\/\/ or https:\/\/ URL/],
            [['show', ...storage], /^crawlee-sessions show: missing <id>/],
            [['show', 'a', 'b', ...storage], /^crawlee-sessions show: unexpected argument "b"/],
            [['list', '--storage-dir'], /^crawlee-sessions list: --storage-dir needs a value/],
            [['list', '--mysql', 'postgres://x/y'], /^crawlee-sessions list: --mysql: must be a URL like mysql:\/\/user:pass@host:3306\/db/],
            [['list', '--secret-env', 'CLI_TEST_UNSET_VARIABLE', ...storage], /^crawlee-sessions list: --secret-env: the environment variable CLI_TEST_UNSET_VARIABLE is not set/],
            [['frobnicate'], /^crawlee-sessions: unknown command "frobnicate" \(commands: list, show, clear, export, import, rules, maintain, status/],
        ];
        // None of them opens the store, so they can run side by side.
        const results = await Promise.all(cases.map(([args]) => cli(args)));
        cases.forEach(([args, expected], index) => {
            const result = results[index]!;
            expect(result.code, args.join(' ')).toBe(2);
            expect(oneLine(result)).toMatch(expected);
            expect(result.stdout).toBe('');
        });
    });

    it('failures: one clear line on stderr, exit code 1 (unknown session, missing store, store in use by a crawler)', async () => {
        const unknown = await cli(['show', 'zed', ...storage]);
        expect(unknown.code).toBe(1);
        expect(oneLine(unknown)).toMatch(/^crawlee-sessions show: There is no session "zed" in the store \(it holds \d+ sessions/);

        const empty = await tempDir();
        const missing = await cli(['list', '--storage-dir', empty]);
        expect(missing.code).toBe(1);
        expect(oneLine(missing)).toContain(`There is no sessions store in ${join(empty, 'key_value_stores', 'crawlee-sessions')}`);

        // This test process plays the running crawler: it holds the embedded store.
        const sessions = await Sessions.open({ store: store(), profiles: PROFILES });
        try {
            // Writing commands take the store's lock (reading ones read a snapshot: see the read-only tests below).
            const locked = await cli(['clear', 'alice', ...storage]);
            expect(locked.code).toBe(1);
            expect(oneLine(locked)).toMatch(new RegExp(`^crawlee-sessions clear: The embedded store "crawlee-sessions" in .* is in use by process ${process.pid} `));
        } finally {
            await sessions.close();
        }
    });

    it('an encrypted store needs its secret: a clear error without it, CRAWLEE_SESSIONS_SECRET or --secret-env opens it', async () => {
        const secretDir = await tempDir();
        const secretStore: StoreChoice = { embedded: { config: diskConfig(secretDir) } };
        await fillStore(secretStore, 'correct horse battery');
        const storageArgs = ['--storage-dir', secretDir];

        const without = await cli(['list', ...storageArgs]);
        expect(without.code).toBe(1);
        expect(oneLine(without)).toMatch(/is encrypted: set CRAWLEE_SESSIONS_SECRET/);
        const wrong = await cli(['list', ...storageArgs], { CRAWLEE_SESSIONS_SECRET: 'wrong horse battery' });
        expect(wrong.code).toBe(1);
        expect(oneLine(wrong)).not.toContain('wrong horse battery');

        const fromDefault = await cli(['show', 'alice', ...storageArgs], { CRAWLEE_SESSIONS_SECRET: 'correct horse battery' });
        expect(fromDefault.code, fromDefault.stderr).toBe(0);
        expectNoSecrets(fromDefault.stdout);
        const named = await cli(['export', 'alice', '-f', 'header', '--url', 'http://127.0.0.1:8080/', '--secret-env', 'MY_CLI_SECRET', ...storageArgs], {
            MY_CLI_SECRET: 'correct horse battery',
        });
        expect(named.code, named.stderr).toBe(0);
        expect(named.stdout).toBe(`Cookie: sid=${SECRETS.sid}\n`);
    });

    it('import reads stdin with -, detects each format, skips expired cookies and refuses files it cannot read with the line named', async () => {
        const work = await tempDir();
        const future = Math.floor(Date.now() / 1000) + 3600;
        const piped = await new Promise<CliResult>((resolve) => {
            const child = execFile(process.execPath, [BIN, 'import', 'piped', '-', ...storage], (error, stdout, stderr) =>
                resolve({ code: error ? Number(error.code) : 0, stdout, stderr }),
            );
            child.stdin!.end(
                `# Netscape HTTP Cookie File\n#HttpOnly_.example.test\tTRUE\t/\tTRUE\t${future}\ta\t1\nexample.test\tFALSE\t/x\tFALSE\t1000\told\t2\n`,
            );
        });
        expect(piped.code, piped.stderr).toBe(0);
        expect(piped.stdout).toBe('Imported 1 cookie (netscape) into the new session "piped" (1 expired cookie skipped).\n');
        expect(sortedShapes(await readRecord(store(), 'piped'))).toEqual([
            { name: 'a', value: '1', domain: 'example.test', hostOnly: false, path: '/', secure: true, httpOnly: true, expires: future },
        ]);

        const broken = join(work, 'broken.txt');
        await writeFile(broken, '# Netscape HTTP Cookie File\nexample.test\tFALSE\t/\n');
        const refused = await cli(['import', 'piped', broken, ...storage]);
        expect(refused.code).toBe(1);
        expect(oneLine(refused)).toBe(
            `crawlee-sessions import: ${broken} line 2: expected 7 tab-separated fields (domain, subdomains, path, secure, expiry, name, value), found 3`,
        );

        const state = join(work, 'state.json');
        await writeFile(state, JSON.stringify({ cookies: [{ name: 'x', value: SECRETS.sid, path: '/' }] }));
        const invalid = await cli(['import', 'piped', state, ...storage]);
        expect(invalid.code).toBe(1);
        expect(oneLine(invalid)).toBe(
            `crawlee-sessions import: ${state} is not a Playwright storage state: Invalid storageState: storageState.cookies[0].domain: is required (expected a string)`,
        );
        expectNoSecrets(invalid.stderr);

        const header = join(work, 'header.txt');
        await writeFile(header, 'Cookie: a=1; b=2\n');
        const needsUrl = await cli(['import', 'piped', header, ...storage]);
        expect(needsUrl.code).toBe(2);
        expect(oneLine(needsUrl)).toMatch(/--url is required to import a Cookie header/);
        expect(await readFile(header, 'utf8')).toBe('Cookie: a=1; b=2\n');
    });
});

describe('crawlee-sessions CLI while a crawl holds the embedded store', () => {
    it('list, show, export and status read a consistent snapshot; clear, import and rules add are refused with the clear message; the crawl goes on unharmed', async () => {
        const dir = await tempDir();
        const storage = ['--storage-dir', dir];
        const crawl = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/holding-crawl.ts'], {
            env: { ...process.env, CRAWLEE_STORAGE_DIR: dir, CRAWLEE_SESSIONS_MYSQL_URL: '', CRAWLEE_SESSIONS_SECRET: '' },
            stdio: ['pipe', 'pipe', 'inherit'],
        });
        const lines = createInterface({ input: crawl.stdout! });
        const exited = new Promise<number | null>((done) => crawl.on('exit', (code) => done(code)));
        const nextLine = (prefix: string) =>
            new Promise<string>((done, fail) => {
                lines.on('line', (line) => line.startsWith(prefix) && done(line));
                void exited.then((code) => fail(new Error(`the crawl exited with ${code} before ${prefix}`)));
            });
        try {
            await nextLine('READY');

            const list = await cli(['list', '--json', ...storage]);
            expect(list.code, list.stderr).toBe(0);
            const rows = JSON.parse(list.stdout) as Array<{ id: string; cookies: number; requests: number }>;
            expect(rows.map((row) => row.id)).toEqual(['s0', 's1', 's2', 's3', 's4']);
            for (const row of rows) {
                expect(row.cookies).toBe(1);
                expect(row.requests).toBeGreaterThanOrEqual(4);
            }
            const show = await cli(['show', 's0', '--reveal', ...storage]);
            expect(show.code, show.stderr).toBe(0);
            expect(show.stdout).toMatch(/^session {6}s0$/m);
            const exported = await cli(['export', 's0', '-f', 'header', '--url', 'http://127.0.0.1/', ...storage]);
            expect(exported.code, exported.stderr).toBe(0);
            expect(exported.stdout).toMatch(/^Cookie: n=\d+\n$/);

            const root = resolve(import.meta.dirname, '..');
            const config = join(dir, 'sessions.config.ts');
            await writeFile(
                config,
                `import { defineLogin } from ${JSON.stringify(join(root, 'src/acquisition/recipe.ts'))};
import { defineMaintainerConfig } from ${JSON.stringify(join(root, 'src/maintainer/config.ts'))};
const recipe = defineLogin({ name: 'held', steps: [{ url: 'http://127.0.0.1:9/login', method: 'POST', form: { user: 'x' } }] });
export default defineMaintainerConfig({ store: { embedded: { storageDir: ${JSON.stringify(dir)} } }, recipes: [{ recipe, sessions: ['s0'], schedule: { kind: 'once' } }] });
`,
            );
            const status = await cli(['status', '--config', config, '--json']);
            expect(status.code, status.stderr).toBe(0);
            expect(JSON.parse(status.stdout)).toEqual([]);

            const inUse = new RegExp(`The embedded store "crawlee-sessions" in ${dir} is in use by process ${crawl.pid} \\(since [^)]+\\)\\. The embedded store serves one process at a time`);
            const clear = await cli(['clear', 's0', ...storage]);
            expect(clear.code).toBe(1);
            expect(oneLine(clear)).toMatch(new RegExp(`^crawlee-sessions clear: ${inUse.source}`));
            const cookieFile = join(dir, 'cookies.txt');
            await writeFile(cookieFile, '# Netscape HTTP Cookie File\n127.0.0.1\tFALSE\t/\tFALSE\t0\tplanted\t1\n');
            const imported = await cli(['import', 's0', cookieFile, ...storage]);
            expect(imported.code).toBe(1);
            expect(oneLine(imported)).toMatch(new RegExp(`^crawlee-sessions import: ${inUse.source}`));
            const rule = await cli(['rules', 'add', 'x', '--header', 'X-A', '--value', 'b', ...storage]);
            expect(rule.code).toBe(1);
            expect(oneLine(rule)).toMatch(new RegExp(`^crawlee-sessions rules: ${inUse.source}`));
        } finally {
            crawl.stdin!.end('stop\n');
        }
        const done = JSON.parse((await nextLine('DONE')).slice(5)) as { rounds: number; handled: number };
        expect(await exited).toBe(0);
        expect(done.handled).toBe(done.rounds * 20);
        // Everything the crawl did is stored; nothing the refused commands tried to do is.
        const final = JSON.parse((await cli(['list', '--json', ...storage])).stdout) as Array<{ id: string; generation: number; requests: number }>;
        expect(final.reduce((sum, row) => sum + row.requests, 0)).toBe(done.handled);
        expect(final.find((row) => row.id === 's0')!.generation).toBe(0);
        const rules = JSON.parse((await cli(['rules', 'list', '--json', ...storage])).stdout) as unknown[];
        expect(rules).toEqual([]);
    });

    it('repair: a damaged store is refused by every command with the way out; repair keeps what is readable, moves the damaged file aside and says so', async () => {
        const dir = await tempDir();
        const storage = ['--storage-dir', dir];
        const store = await EmbeddedSessionStore.open({ storageDir: dir });
        await store.write(
            Array.from({ length: 50 }, (_, n) => ({
                id: `u${n}`,
                generation: 0,
                reset: false,
                assignment: { profileIndex: null, identity: null, auth: null },
                upserts: [{ key: 'sid', value: `v${n}`, domain: 'repair.example', path: '/' }],
                removals: [],
                counters: zeroCounters(),
                lastUsedAt: null,
            })),
        );
        await store.close();
        const folder = join(dir, 'key_value_stores', 'crawlee-sessions');
        const meta = JSON.parse(await readFile(join(folder, 'meta.json'), 'utf8')) as { files: Array<{ file: string; count: number }> };
        const biggest = meta.files.sort((a, b) => b.count - a.count)[0]!;
        const damaged = join(folder, biggest.file);
        await truncate(damaged, 300);

        const list = await cli(['list', ...storage]);
        expect(list.code).toBe(1);
        expect(oneLine(list)).toMatch(
            new RegExp(`^crawlee-sessions list: The embedded store "crawlee-sessions" in ${dir} is damaged: ${damaged} is truncated \\(300 of \\d+ bytes\\).*run \`crawlee-sessions repair --storage-dir ${dir}\``),
        );

        const repaired = await cli(['repair', ...storage]);
        expect(repaired.code, repaired.stderr).toBe(0);
        const kept = Number(/kept (\d+) sessions/.exec(repaired.stdout)?.[1]);
        expect(kept).toBeGreaterThanOrEqual(50 - biggest.count);
        expect(kept).toBeLessThan(50);
        expect(repaired.stdout).toContain(`Moved aside: ${damaged} → ${damaged}.damaged-`);
        const aside = (await readdir(folder)).filter((name) => name.startsWith(`${biggest.file}.damaged-`));
        expect(aside).toHaveLength(1);
        expect((await readFile(join(folder, aside[0]!))).length).toBe(300);

        const after = await cli(['list', '--json', ...storage]);
        expect(after.code, after.stderr).toBe(0);
        expect((JSON.parse(after.stdout) as unknown[]).length).toBe(kept);
        const again = await cli(['repair', '--json', ...storage]);
        expect(JSON.parse(again.stdout)).toMatchObject({ repaired: false, sessions: kept, movedAside: [] });
    });
});

describe.skipIf(!db.available)(db.suiteName('crawlee-sessions CLI, MySQL store'), () => {
    const newPrefix = useTablePrefixes();

    it('list/show hide secrets, export/import round-trip, and clear is adopted by a running crawler process', async () => {
        const tablePrefix = newPrefix();
        const store = (): StoreChoice => ({ mysql: { url: db.url, tablePrefix } });
        await fillStore(store());
        const mysqlArgs = ['--mysql', db.url, '--table-prefix', tablePrefix];

        const list = await cli(['list', '--json', ...mysqlArgs]);
        expect(list.code, list.stderr).toBe(0);
        expectNoSecrets(list.stdout);
        expect((JSON.parse(list.stdout) as Array<{ id: string; cookies: number }>).map((row) => [row.id, row.cookies])).toEqual([
            ['alice', 4],
            ['bob', 1],
        ]);
        // The URL from the environment works too.
        const show = await cli(['show', 'alice', '--table-prefix', tablePrefix], { CRAWLEE_SESSIONS_MYSQL_URL: db.url });
        expect(show.code, show.stderr).toBe(0);
        expectNoSecrets(show.stdout);
        expect(show.stdout).toContain('Authorization: <hidden>');

        const file = join(await tempDir(), 'alice.json');
        expect((await cli(['export', 'alice', '-f', 'playwright', '-o', file, ...mysqlArgs])).code).toBe(0);
        const imported = await cli(['import', 'copy', file, ...mysqlArgs]);
        expect(imported.code, imported.stderr).toBe(0);
        expect(sortedShapes(await readRecord(store(), 'copy'))).toEqual(sortedShapes(await readRecord(store(), 'alice')));

        // A crawler process shares the store while the CLI clears one of its sessions.
        const sessions = await Sessions.open({ store: store(), profiles: PROFILES, persistence: { syncIntervalMillis: 100 } });
        try {
            expect(sessions.get('alice', { format: 'header', url: 'http://127.0.0.1:8080/' })).toBe(`sid=${SECRETS.sid}`);
            const cleared = await cli(['clear', 'alice', ...mysqlArgs]);
            expect(cleared.code, cleared.stderr).toBe(0);
            expect(cleared.stdout).toMatch(/generation 0 → 1, removed 4 cookies and its login values/);
            await vi.waitFor(() => expect(sessions.list().find((row) => row.id === 'alice')?.generation).toBe(1), { timeout: 15_000, interval: 100 });
            expect(sessions.get('alice')).toEqual([]);
        } finally {
            await sessions.close();
        }
        const record = await readRecord(store(), 'alice');
        expect(record).toMatchObject({ generation: 1, cookies: [], auth: null });
        expect(record!.counters).not.toEqual(zeroCounters()); // counters survive a clear
    });
});
