/**
 * The MySQL session store against the real MariaDB (127.0.0.1:3306, or CRAWLEE_SESSIONS_MYSQL_URL): round trips,
 * merge semantics, concurrent processes, migrations, renewal leases, changes, encryption at rest and faults.
 * Every test uses its own table prefix; its tables are dropped afterwards.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

import { afterEach, describe, expect, it } from 'vitest';

import { MySqlSessionStore, type MySqlStoreOptions } from '../src/stores/mysql-store.js';
import { LATEST_SCHEMA_VERSION } from '../src/stores/mysql-schema.js';
import { StoreSecretError, StoreUnavailableError, type SessionAuth, type SessionDelta, type StoredCookie } from '../src/model/types.js';
import { ConfigValidationError } from '../src/shared/validation.js';
import { mysqlForTests, mysqlQuery, startTcpRelay, useTablePrefixes, type TcpRelay } from './support/mysql.js';

const db = await mysqlForTests();
const SECRET = 'correct horse battery staple';

function cookie(key: string, value: string, domain = 'example.com'): StoredCookie {
    return { key, value, domain, path: '/', hostOnly: true };
}

function delta(id: string, changes: Partial<SessionDelta> = {}): SessionDelta {
    return {
        id,
        generation: 0,
        reset: false,
        assignment: { profileIndex: null, identity: null, auth: null },
        upserts: [],
        removals: [],
        counters: { requests: 0, successes: 0, failures: 0, renewals: 0 },
        lastUsedAt: null,
        ...changes,
    };
}

const oneRequest = { requests: 1, successes: 1, failures: 0, renewals: 0 };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(!db.available)(db.suiteName('MySqlSessionStore'), () => {
    const newPrefix = useTablePrefixes();
    const stores: MySqlSessionStore[] = [];
    const relays: TcpRelay[] = [];

    afterEach(async () => {
        for (const store of stores.splice(0)) await store.close();
        for (const relay of relays.splice(0)) await relay.close();
    });

    async function open(options: Partial<MySqlStoreOptions> & { tablePrefix: string }): Promise<MySqlSessionStore> {
        const store = await MySqlSessionStore.open({ url: db.url, ...options });
        stores.push(store);
        return store;
    }

    /** Runs test/fixtures/mysql-worker.ts in `configs.length` processes started at the same moment. */
    async function runWorkers(configs: Record<string, unknown>[]): Promise<Record<string, unknown>[]> {
        const children = configs.map((config) => {
            const child = spawn('node_modules/.bin/tsx', ['test/fixtures/mysql-worker.ts', JSON.stringify({ url: db.url, ...config })], {
                stdio: ['pipe', 'pipe', 'inherit'],
            });
            const lines = createInterface({ input: child.stdout });
            const ready = new Promise<void>((resolve) => lines.on('line', (line) => line === 'ready' && resolve()));
            const result = new Promise<Record<string, unknown>>((resolve, reject) => {
                let last = '';
                lines.on('line', (line) => (last = line));
                child.on('error', reject);
                child.on('close', (code) => {
                    try {
                        resolve({ exitCode: code, ...(JSON.parse(last) as Record<string, unknown>) });
                    } catch {
                        reject(new Error(`worker exited with ${code} without a result (last line: ${last})`));
                    }
                });
            });
            return { child, ready, result };
        });
        await Promise.all(children.map((c) => c.ready));
        for (const { child } of children) child.stdin.end('go\n');
        return Promise.all(children.map((c) => c.result));
    }

    describe('records and entries', () => {
        it('round-trips records through write, read and loadAll, in the order of the deltas', async () => {
            const store = await open({ tablePrefix: newPrefix() });
            const identity = { userAgent: 'UA/1', headers: { 'user-agent': 'UA/1', 'accept-language': 'de' } };
            const auth: SessionAuth = { headers: { authorization: 'Bearer t0k' }, query: { api_key: 'k' }, values: {} };
            const written = await store.write([
                delta('b', { assignment: { profileIndex: 2, identity, auth }, upserts: [cookie('sid', 'B1')], counters: oneRequest, lastUsedAt: 1_700_000_000_000 }),
                delta('a', { upserts: [cookie('sid', 'A1'), cookie('lang', 'en')] }),
            ]);
            expect(written.map((record) => record.id)).toEqual(['b', 'a']);
            expect(written[0]).toMatchObject({
                id: 'b',
                generation: 0,
                profileIndex: 2,
                identity,
                auth,
                cookies: [cookie('sid', 'B1')],
                counters: oneRequest,
                lastUsedAt: 1_700_000_000_000,
                lastRenewalError: null,
            });

            expect(await store.read('b')).toEqual(written[0]);
            expect(await store.read('a')).toEqual(written[1]);
            expect(await store.read('missing')).toBeUndefined();
            expect(await store.loadAll()).toEqual([written[1], written[0]]);

            await store.remove(['a', 'unknown']);
            expect((await store.loadAll()).map((record) => record.id)).toEqual(['b']);
        });

        it('keeps ids case-sensitive and applies two deltas of one session in one batch in order', async () => {
            const store = await open({ tablePrefix: newPrefix() });
            const [first, second, other] = await store.write([
                delta('Alice', { upserts: [cookie('x', '1')], counters: oneRequest }),
                delta('Alice', { upserts: [cookie('x', '2')], counters: oneRequest }),
                delta('alice', { upserts: [cookie('y', '1')] }),
            ]);
            expect(first!.cookies).toEqual([cookie('x', '1')]);
            expect(second!.cookies).toEqual([cookie('x', '2')]);
            expect(second!.counters.requests).toBe(2);
            expect(other!.cookies).toEqual([cookie('y', '1')]);
            expect((await store.read('Alice'))!.counters.requests).toBe(2);
        });

        it('writes batches larger than one statement', async () => {
            const store = await open({ tablePrefix: newPrefix() });
            const deltas = Array.from({ length: 1_234 }, (_, i) => delta(`s${String(i).padStart(4, '0')}`, { upserts: [cookie('c', 'x'.repeat(2_000))], counters: oneRequest }));
            await store.write(deltas);
            const again = await store.write(deltas);
            expect(again.map((record) => record.id)).toEqual(deltas.map((d) => d.id));
            expect(again.every((record) => record.counters.requests === 2 && record.cookies.length === 1)).toBe(true);
            const all = await store.loadAll();
            expect(all).toHaveLength(1_234);
            expect(all.reduce((sum, record) => sum + record.counters.requests, 0)).toBe(2 * 1_234);
        });

        it('lists the ids of the sessions loadRecent does not load, 40 000 of them and hostile id bytes included, each once', async () => {
            const prefix = newPrefix();
            const store = await open({ tablePrefix: prefix });
            await store.write([delta('recent', { counters: oneRequest, lastUsedAt: Date.now() }), delta('seed')]);
            // 40 000 ids made by MariaDB's sequence engine, and ids the store would never write: bytes that are no UTF-8,
            // a quote and a NUL.
            const table = `\`${prefix}_sessions\``;
            const columns = 'lease_only, generation, profile_index, identity, cookies, auth, requests, successes, failures, renewals, last_used_at, last_renewal_error, revision, updated_at, writers';
            await mysqlQuery(`INSERT INTO ${table} (id, ${columns}) SELECT CONCAT('s', seq), ${columns} FROM seq_1_to_39995 CROSS JOIN ${table} AS seed_row WHERE seed_row.id = 'seed'`);
            for (const hostile of [Buffer.from([0xff, 0xfe]), Buffer.from([0xff]), Buffer.from("o'brien\u0000x")]) {
                await mysqlQuery(`INSERT INTO ${table} (id, ${columns}) SELECT ?, ${columns} FROM ${table} AS seed_row WHERE seed_row.id = 'seed'`, [hostile]);
            }
            const { records, otherIds } = await store.loadRecent(1);
            expect(records.map((record) => record.id)).toEqual(['recent']);
            expect(otherIds).toHaveLength(40_000 - 1);
            expect(new Set(otherIds).size).toBe(otherIds.length);
            expect(otherIds).toContain('s39995');
            expect(otherIds).toContain('seed');
            expect(otherIds).not.toContain('recent');
        });

        it('stores, lists, replaces and deletes entries', async () => {
            const store = await open({ tablePrefix: newPrefix() });
            await store.putEntry('rules', 'b', { header: 'x-b' });
            await store.putEntry('rules', 'a', [1, 'two']);
            await store.putEntry('other', 'a', 'enc:v1:looks-sealed-but-is-not');
            await store.putEntry('rules', 'b', { header: 'x-b2' });
            expect((await store.listEntries('rules')).map(({ key, value }) => ({ key, value }))).toEqual([
                { key: 'a', value: [1, 'two'] },
                { key: 'b', value: { header: 'x-b2' } },
            ]);
            expect((await store.getEntry('other', 'a'))!.value).toBe('enc:v1:looks-sealed-but-is-not');
            expect(await store.getEntry('rules', 'c')).toBeUndefined();
            expect(await store.deleteEntry('rules', 'a')).toBe(true);
            expect(await store.deleteEntry('rules', 'a')).toBe(false);
            expect((await store.listEntries('rules')).map((entry) => entry.key)).toEqual(['b']);
        });
    });

    describe('merge semantics through the database', () => {
        it('keeps both changes when two processes change different cookies of one session', async () => {
            const prefix = newPrefix();
            const one = await open({ tablePrefix: prefix });
            const two = await open({ tablePrefix: prefix });
            await one.write([delta('s', { upserts: [cookie('a', '0'), cookie('b', '0')] })]);
            await one.write([delta('s', { upserts: [cookie('a', '1')], counters: oneRequest })]);
            const [result] = await two.write([delta('s', { upserts: [cookie('c', '1')], removals: [{ domain: 'example.com', path: '/', key: 'b' }], counters: oneRequest })]);
            expect(result!.cookies).toEqual([cookie('a', '1'), cookie('c', '1')]);
            expect(result!.counters.requests).toBe(2);
            expect(await one.read('s')).toEqual(result);
        });

        it('adds the counters of a stale-generation delta but drops its cookies; a reset replaces the state', async () => {
            const store = await open({ tablePrefix: newPrefix() });
            await store.write([delta('s', { upserts: [cookie('old', '1')], counters: oneRequest })]);
            const identity = { userAgent: 'UA/2', headers: { 'user-agent': 'UA/2' } };
            const [reset] = await store.write([
                delta('s', { generation: 1, reset: true, assignment: { profileIndex: 1, identity, auth: null }, upserts: [cookie('new', '1')] }),
            ]);
            expect(reset).toMatchObject({ generation: 1, profileIndex: 1, identity, cookies: [cookie('new', '1')] });

            const [stale] = await store.write([delta('s', { generation: 0, upserts: [cookie('late', '1')], counters: { requests: 3, successes: 1, failures: 2, renewals: 0 } })]);
            expect(stale!.generation).toBe(1);
            expect(stale!.cookies).toEqual([cookie('new', '1')]);
            expect(stale!.counters).toEqual({ requests: 4, successes: 2, failures: 2, renewals: 0 });
            expect(await store.read('s')).toEqual(stale);
        });

        it('loses no update: 4 processes × 1000 concurrent writes of counters and distinct cookies on 10 sessions', async () => {
            const prefix = newPrefix();
            const checker = await open({ tablePrefix: prefix });
            const workers = 4;
            const updates = 1000;
            const sessions = 10;
            const results = await runWorkers(
                Array.from({ length: workers }, (_, worker) => ({ tablePrefix: prefix, mode: 'updates', worker, updates, sessions })),
            );
            for (const result of results) expect(result).toMatchObject({ ok: true, exitCode: 0, writes: updates });

            const records = await checker.loadAll();
            expect(records).toHaveLength(sessions);
            const total = records.reduce((sum, record) => sum + record.counters.requests, 0);
            expect(total).toBe(workers * updates);
            for (const record of records) {
                const index = Number(record.id.slice(1));
                const expected = [];
                for (let worker = 0; worker < workers; worker++) {
                    for (let i = index; i < updates; i += sessions) expected.push(`w${worker}_${i}`);
                }
                expect(record.counters.requests).toBe(expected.length);
                expect(record.counters.successes).toBe(expected.length);
                expect(record.cookies.map((c) => c.key).sort()).toEqual(expected.sort());
            }
            // 4000 transactions ordered by one revision sequence: about 15 s on an idle 2-core machine, more when
            // it is shared; the generous timeout only guards against a hang.
        }, 180_000);
    });

    describe('schema', () => {
        it('runs each migration once when 4 processes open a new store at the same time', async () => {
            const prefix = newPrefix();
            const results = await runWorkers(Array.from({ length: 4 }, () => ({ tablePrefix: prefix, mode: 'open' })));
            for (const result of results) expect(result).toMatchObject({ ok: true, exitCode: 0 });
            await open({ tablePrefix: prefix });

            const log = await mysqlQuery(`SELECT version FROM \`${prefix}_schema_version\` ORDER BY id`);
            expect(log.map((row) => row.version)).toEqual(Array.from({ length: LATEST_SCHEMA_VERSION }, (_, i) => i + 1));
            const tables = await mysqlQuery(
                `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name LIKE ? ORDER BY table_name`,
                [`${prefix}\\_%`],
            );
            expect(tables.map((row) => row.name)).toEqual(['entries', 'meta', 'schema_version', 'sessions'].map((t) => `${prefix}_${t}`));
        });

        it('rejects invalid options with the path of the bad field, without the password', async () => {
            const attempt = MySqlSessionStore.open({ url: db.url, tablePrefix: 'bad-prefix!' });
            await expect(attempt).rejects.toBeInstanceOf(ConfigValidationError);
            await expect(attempt).rejects.toThrow(/tablePrefix: must be 1 to 40 letters, digits or underscores/);

            const badUrl = MySqlSessionStore.open({ url: 'postgres://bob:pa55word@host/db' });
            await expect(badUrl).rejects.toThrow(/url: must be a URL like mysql:\/\//);
            await expect(badUrl).rejects.not.toThrow(/pa55word/);
        });
    });

    describe('renewal leases', () => {
        it('grants exactly one of many concurrent requests, across pools, for a stored and for a new session', async () => {
            const prefix = newPrefix();
            const one = await open({ tablePrefix: prefix });
            const two = await open({ tablePrefix: prefix });
            await one.write([delta('stored', { upserts: [cookie('sid', '1')] })]);
            for (const id of ['stored', 'new']) {
                const answers = await Promise.all(
                    Array.from({ length: 8 }, (_, i) => (i % 2 ? one : two).beginRenewal(id, 0, `owner-${i}`, 30_000)),
                );
                expect(answers.filter((answer) => answer.granted)).toHaveLength(1);
                for (const answer of answers.filter((a) => !a.granted)) {
                    expect(answer).toMatchObject({ granted: false, reason: 'busy' });
                    if (!answer.granted && answer.reason === 'busy') {
                        expect(answer.leaseExpiresAt).toBeGreaterThan(Date.now());
                        expect(answer.record?.id).toBe(id === 'stored' ? 'stored' : undefined);
                    }
                }
            }
            // A lease on a session without state creates no record.
            expect(await one.read('new')).toBeUndefined();
            expect((await two.loadAll()).map((record) => record.id)).toEqual(['stored']);
        });

        it('answers advanced when the stored generation is past the one being cleared', async () => {
            const store = await open({ tablePrefix: newPrefix() });
            await store.write([delta('s', { generation: 2, reset: true, upserts: [cookie('sid', 'g2')] })]);
            const answer = await store.beginRenewal('s', 1, 'me', 30_000);
            expect(answer).toMatchObject({ granted: false, reason: 'advanced', record: { generation: 2, cookies: [cookie('sid', 'g2')] } });
        });

        it('lets another process take over an expired lease; the late owner can neither extend nor complete', async () => {
            const prefix = newPrefix();
            const dying = await open({ tablePrefix: prefix });
            const taker = await open({ tablePrefix: prefix });
            await dying.write([delta('s', { upserts: [cookie('sid', 'old')] })]);

            expect(await dying.beginRenewal('s', 0, 'dying', 1)).toEqual({ granted: true });
            let answer = await taker.beginRenewal('s', 0, 'taker', 30_000);
            while (!answer.granted) {
                await sleep(10);
                answer = await taker.beginRenewal('s', 0, 'taker', 30_000);
            }
            expect(await dying.extendRenewal('s', 'dying', 30_000)).toBe(false);
            expect(await taker.extendRenewal('s', 'taker', 30_000)).toBe(true);

            const late = await dying.completeRenewal('dying', delta('s', { generation: 1, reset: true, upserts: [cookie('sid', 'late')] }));
            expect(late).toMatchObject({ generation: 0, cookies: [cookie('sid', 'old')] });

            const done = await taker.completeRenewal('taker', delta('s', { generation: 1, reset: true, upserts: [cookie('sid', 'new')], counters: { requests: 0, successes: 0, failures: 0, renewals: 1 } }));
            expect(done).toMatchObject({ generation: 1, cookies: [cookie('sid', 'new')], counters: { renewals: 1 } });
            expect(await dying.read('s')).toEqual(done);
            // The lease was released with the commit: the next renewal is granted at once.
            expect(await dying.beginRenewal('s', 1, 'dying', 30_000)).toEqual({ granted: true });
        });

        it('releases a lease on abandon, and a writer does not disturb a held lease', async () => {
            const prefix = newPrefix();
            const one = await open({ tablePrefix: prefix });
            const two = await open({ tablePrefix: prefix });
            expect(await one.beginRenewal('s', 0, 'one', 30_000)).toEqual({ granted: true });
            await two.write([delta('s', { upserts: [cookie('sid', '1')], counters: oneRequest })]);
            expect(await two.beginRenewal('s', 0, 'two', 30_000)).toMatchObject({ granted: false, reason: 'busy', record: { cookies: [cookie('sid', '1')] } });
            await one.abandonRenewal('s', 'one');
            expect(await two.beginRenewal('s', 0, 'two', 30_000)).toEqual({ granted: true });
            expect((await one.read('s'))!.counters.requests).toBe(1);

            expect(await one.beginRenewal('fresh', 0, 'one', 30_000)).toEqual({ granted: true });
            await one.abandonRenewal('fresh', 'one');
            expect(await two.beginRenewal('fresh', 0, 'two', 30_000)).toEqual({ granted: true });
            expect(await two.read('fresh')).toBeUndefined();
        });
    });

    describe('changes', () => {
        it('gives another pool exactly the records written since its cursor', async () => {
            const prefix = newPrefix();
            const writer = await open({ tablePrefix: prefix });
            const reader = await open({ tablePrefix: prefix });
            await writer.write([delta('before', { counters: oneRequest })]);

            const start = await reader.changes(undefined);
            expect(start.records).toEqual([]);
            await writer.write([delta('a', { upserts: [cookie('x', '1')] }), delta('b')]);
            await writer.write([delta('a', { counters: oneRequest })]);

            const first = await reader.changes(start.cursor);
            expect(first.records.map((record) => [record.id, record.counters.requests])).toEqual([
                ['b', 0],
                ['a', 1],
            ]);
            expect(first.records.find((record) => record.id === 'a')!.cookies).toEqual([cookie('x', '1')]);
            expect(await reader.changes(first.cursor)).toEqual({ records: [], cursor: first.cursor });

            await writer.beginRenewal('a', 0, 'w', 30_000);
            await writer.completeRenewal('w', delta('a', { generation: 1, reset: true }));
            expect((await reader.changes(first.cursor)).records.map((record) => [record.id, record.generation])).toEqual([['a', 1]]);
        });
    });

    describe('secrets at rest', () => {
        it('keeps cookie values, auth and secret entries out of the raw tables, and reads them back', async () => {
            const prefix = newPrefix();
            const store = await open({ tablePrefix: prefix, secret: SECRET });
            const auth: SessionAuth = { headers: { authorization: 'Bearer AUTH-TOKEN-VALUE' }, query: {}, values: {} };
            await store.write([delta('s', { assignment: { profileIndex: null, identity: null, auth }, upserts: [cookie('sid', 'COOKIE-VALUE-123')] })]);
            await store.putEntry('logins', 'quick', { token: 'ENTRY-SECRET-456' }, { secret: true });
            await store.putEntry('rules', 'plain', { header: 'PLAIN-789' });

            const [row] = await mysqlQuery(`SELECT cookies, auth FROM \`${prefix}_sessions\``);
            expect(String(row!.cookies)).toMatch(/^enc:v2:/);
            expect(String(row!.cookies)).not.toContain('COOKIE-VALUE-123');
            expect(String(row!.auth)).not.toContain('AUTH-TOKEN-VALUE');
            const entries = await mysqlQuery(`SELECT entry_key, value FROM \`${prefix}_entries\` ORDER BY entry_key`);
            expect(String(entries[1]!.value)).not.toContain('ENTRY-SECRET-456');
            expect(String(entries[0]!.value)).not.toContain('PLAIN-789'); // with a secret every entry is sealed

            expect((await store.read('s'))!.cookies).toEqual([cookie('sid', 'COOKIE-VALUE-123')]);
            expect((await store.read('s'))!.auth).toEqual(auth);
            expect((await store.getEntry('logins', 'quick'))!.value).toEqual({ token: 'ENTRY-SECRET-456' });
        });

        it('refuses a wrong or missing secret with a StoreSecretError and leaves the data intact', async () => {
            const prefix = newPrefix();
            const store = await open({ tablePrefix: prefix, secret: SECRET });
            await store.write([delta('s', { upserts: [cookie('sid', 'v1')], counters: oneRequest })]);
            await store.close();
            const before = await mysqlQuery(`SELECT * FROM \`${prefix}_sessions\``);
            const meta = await mysqlQuery(`SELECT * FROM \`${prefix}_meta\` ORDER BY name`);

            const wrong = MySqlSessionStore.open({ url: db.url, tablePrefix: prefix, secret: 'not the right secret' });
            await expect(wrong).rejects.toBeInstanceOf(StoreSecretError);
            await expect(wrong).rejects.toThrow(/different secret/);
            const missing = MySqlSessionStore.open({ url: db.url, tablePrefix: prefix });
            await expect(missing).rejects.toBeInstanceOf(StoreSecretError);
            await expect(missing).rejects.toThrow(/is encrypted: set CRAWLEE_SESSIONS_SECRET/);

            expect(await mysqlQuery(`SELECT * FROM \`${prefix}_sessions\``)).toEqual(before);
            expect(await mysqlQuery(`SELECT * FROM \`${prefix}_meta\` ORDER BY name`)).toEqual(meta);
            const reopened = await open({ tablePrefix: prefix, secret: SECRET });
            expect((await reopened.read('s'))!.cookies).toEqual([cookie('sid', 'v1')]);
        });

        it('starts encrypting a store kept in clear once a secret is given; clear records stay readable', async () => {
            const prefix = newPrefix();
            const clear = await open({ tablePrefix: prefix });
            await clear.write([delta('old', { upserts: [cookie('sid', 'CLEAR-1')] })]);
            await clear.close();
            const [clearRow] = await mysqlQuery(`SELECT cookies FROM \`${prefix}_sessions\``);
            expect(String(clearRow!.cookies)).toContain('CLEAR-1');

            const encrypted = await open({ tablePrefix: prefix, secret: SECRET });
            await encrypted.write([delta('new', { upserts: [cookie('sid', 'SEALED-2')] })]);
            expect((await encrypted.loadAll()).map((record) => record.cookies[0]!.value)).toEqual(['SEALED-2', 'CLEAR-1']);
            const [newRow] = await mysqlQuery(`SELECT cookies FROM \`${prefix}_sessions\` WHERE id = 'new'`);
            expect(String(newRow!.cookies)).not.toContain('SEALED-2');
            await expect(MySqlSessionStore.open({ url: db.url, tablePrefix: prefix })).rejects.toBeInstanceOf(StoreSecretError);
        });

        it('agrees on one key when several processes encrypt a new store at once', async () => {
            const prefix = newPrefix();
            const opened = await Promise.all(Array.from({ length: 4 }, () => open({ tablePrefix: prefix, secret: SECRET })));
            await opened[0]!.write([delta('s', { upserts: [cookie('sid', 'shared')] })]);
            for (const store of opened) expect((await store.read('s'))!.cookies).toEqual([cookie('sid', 'shared')]);
        });
    });

    describe('faults', () => {
        it('names host, port, database and cause when the server cannot be reached, never the password', async () => {
            const refused = MySqlSessionStore.open({ url: 'mysql://root:hunter2-SECRET@127.0.0.1:1/test', tablePrefix: newPrefix() });
            await expect(refused).rejects.toBeInstanceOf(StoreUnavailableError);
            const error = (await refused.catch((e: unknown) => e)) as Error;
            expect(error.message).toContain('127.0.0.1:1');
            expect(error.message).toContain('database "test"');
            expect(error.message).toContain('ECONNREFUSED');
            expect(error.message).not.toContain('hunter2-SECRET');

            const url = new URL(db.url);
            url.username = 'no_such_user_xyz';
            url.password = 'pw-SECRET-42';
            const denied = (await MySqlSessionStore.open({ url: url.href, tablePrefix: newPrefix() }).catch((e: unknown) => e)) as Error;
            expect(denied).toBeInstanceOf(StoreUnavailableError);
            expect(denied.message).toMatch(/Access denied/);
            expect(denied.message).not.toContain('pw-SECRET-42');

            const noDb = new URL(db.url);
            noDb.pathname = '/no_such_database_xyz';
            const unknown = (await MySqlSessionStore.open({ url: noDb.href, tablePrefix: newPrefix() }).catch((e: unknown) => e)) as Error;
            expect(unknown).toBeInstanceOf(StoreUnavailableError);
            expect(unknown.message).toMatch(/no_such_database_xyz/);
            expect(unknown.message).toMatch(/ER_BAD_DB_ERROR/);
        });

        it('rejects with StoreUnavailableError while the link is cut or hangs, and recovers by itself', async () => {
            const target = new URL(db.url);
            const relay = await startTcpRelay(target.hostname, Number(target.port || 3306));
            relays.push(relay);
            const viaRelay = new URL(db.url);
            viaRelay.host = `127.0.0.1:${relay.port}`;
            const store = await MySqlSessionStore.open({
                url: viaRelay.href,
                tablePrefix: newPrefix(),
                connectTimeoutMillis: 1_000,
                queryTimeoutMillis: 1_000,
            });
            stores.push(store);
            let applied = 0;
            await store.write([delta('s', { counters: oneRequest })]);
            applied++;

            relay.cut();
            const cut = (await store.write([delta('s', { counters: oneRequest })]).catch((e: unknown) => e)) as Error;
            expect(cut).toBeInstanceOf(StoreUnavailableError);
            expect(cut.message).toContain(`127.0.0.1:${relay.port}`);
            expect(await store.read('s').catch((e: unknown) => e)).toBeInstanceOf(StoreUnavailableError);

            relay.restore();
            await store.write([delta('s', { counters: oneRequest })]);
            applied++;

            relay.silence();
            const hung = (await store.write([delta('s', { counters: oneRequest })]).catch((e: unknown) => e)) as Error;
            expect(hung).toBeInstanceOf(StoreUnavailableError);
            expect(await store.loadAll().catch((e: unknown) => e)).toBeInstanceOf(StoreUnavailableError);

            relay.restore();
            await store.write([delta('s', { counters: oneRequest })]);
            applied++;
            expect((await store.read('s'))!.counters.requests).toBe(applied);
        });
    });
});
