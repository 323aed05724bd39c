/**
 * Sealed values are bound to where they belong (store salt, record kind, id or key, field), for both stores: blobs
 * swapped between records (no secret needed to do that) and values planted in clear are refused with a
 * StoreSecretError naming the record; a wrong secret fails clearly and leaves the store byte-identical; stores of
 * older versions (scrypt at N = 2^14, unbound values) still open; every header rule and session header is sealed.
 */
import { createHash } from 'node:crypto';
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { log } from 'crawlee';
import { afterAll, afterEach, describe, expect, it } from 'vitest';

import { Sessions } from '../src/index.js';
import { HeaderRules } from '../src/headers/header-rules.js';
import { EmbeddedSessionStore } from '../src/stores/embedded-store.js';
import { MySqlSessionStore } from '../src/stores/mysql-store.js';
import { StoreSecretError, type SessionDelta, type SessionStore } from '../src/model/types.js';
import { mysqlForTests, mysqlQuery, useTablePrefixes } from './support/mysql.js';

log.setLevel(log.LEVELS.OFF);

const SECRET = 'a store secret for the AAD tests';
const LEGACY_SECRET = 'legacy store secret'; // what test/fixtures/legacy-store/encrypted was created with
const db = await mysqlForTests();

const dirs: string[] = [];
afterAll(async () => {
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'crawlee-sessions-secrets-'));
    dirs.push(dir);
    return dir;
}

function delta(id: string, value: string, auth = false): SessionDelta {
    return {
        id,
        generation: 0,
        reset: false,
        assignment: { profileIndex: null, identity: null, auth: auth ? { headers: { authorization: `Bearer ${value}` }, query: {}, values: {} } : null },
        upserts: [{ key: 'sid', value, domain: 'bank.example', path: '/' }],
        removals: [],
        counters: { requests: 1, successes: 1, failures: 0, renewals: 0 },
        lastUsedAt: null,
    };
}

const sidOf = async (store: SessionStore, id: string) => (await store.read(id))?.cookies[0]?.value;

// --- the embedded store's files, as an attacker with the disk (and without the secret) edits them ---

const folderOf = (dir: string) => join(dir, 'key_value_stores', 'crawlee-sessions');

interface Manifest {
    encryption: { kdf?: { N: number; r: number; p: number }; keyCheck: string } | null;
    files: Array<{ kind: string; shard?: number; collection?: string; file: string; size: number; sha256: string }>;
}

async function readManifest(dir: string): Promise<Manifest> {
    return JSON.parse(await readFile(join(folderOf(dir), 'meta.json'), 'utf8')) as Manifest;
}

/** Every line (header excluded) of every data file, parsed, with where it is. */
async function storeLines(dir: string): Promise<Array<{ file: string; line: number; value: Record<string, unknown> }>> {
    const lines: Array<{ file: string; line: number; value: Record<string, unknown> }> = [];
    for (const { file } of (await readManifest(dir)).files) {
        const text = await readFile(join(folderOf(dir), file), 'utf8');
        text.trimEnd().split('\n').slice(1).forEach((line, index) => lines.push({ file, line: index + 1, value: JSON.parse(line) as Record<string, unknown> }));
    }
    return lines;
}

/** Rewrites lines of data files and fixes the manifest's sizes and checksums (which needs no secret). */
async function editStore(dir: string, edit: (value: Record<string, unknown>) => Record<string, unknown>): Promise<void> {
    const manifest = await readManifest(dir);
    for (const ref of manifest.files) {
        const path = join(folderOf(dir), ref.file);
        const [header, ...lines] = (await readFile(path, 'utf8')).trimEnd().split('\n');
        const content = Buffer.from(`${[header, ...lines.map((line) => JSON.stringify(edit(JSON.parse(line) as Record<string, unknown>)))].join('\n')}\n`);
        await writeFile(path, content);
        ref.size = content.length;
        ref.sha256 = createHash('sha256').update(content).digest('hex');
    }
    await writeFile(join(folderOf(dir), 'meta.json'), JSON.stringify(manifest, null, 2));
}

async function snapshot(dir: string): Promise<Record<string, string>> {
    const files: Record<string, string> = {};
    for (const name of (await readdir(folderOf(dir))).sort()) files[name] = (await readFile(join(folderOf(dir), name))).toString('base64');
    return files;
}

async function filledEmbedded(dir: string): Promise<void> {
    const store = await EmbeddedSessionStore.open({ storageDir: dir, secret: SECRET });
    await store.write([delta('alice', 'ALICE-SID', true), delta('bob', 'BOB-SID', true)]);
    await store.putEntry('header-rules', 'to-alice', { header: 'X-To', value: 'ALICE-RULE' });
    await store.putEntry('header-rules', 'to-bob', { header: 'X-To', value: 'BOB-RULE' });
    await store.close();
}

describe('secrets: embedded store', () => {
    it('new stores derive the key with scrypt at N = 2^17, r = 8, p = 1 (stored with the salt) and need a 12-character secret', async () => {
        const dir = await tempDir();
        await filledEmbedded(dir);
        expect((await readManifest(dir)).encryption?.kdf).toEqual({ name: 'scrypt', N: 2 ** 17, r: 8, p: 1 });
        const raw = JSON.stringify(await storeLines(dir));
        for (const value of ['ALICE-SID', 'BOB-SID', 'ALICE-RULE', 'BOB-RULE']) expect(raw).not.toContain(value);
        const short = EmbeddedSessionStore.open({ storageDir: await tempDir(), secret: 'eleven char' });
        await expect(short).rejects.toBeInstanceOf(StoreSecretError);
        await expect(EmbeddedSessionStore.open({ storageDir: await tempDir(), secret: 'eleven char' })).rejects.toThrow('at least 12 characters');
    });

    it('cookies, login values or entries swapped between two records are refused, naming the record', async () => {
        for (const [field, record] of [
            ['cookies', 'the cookies of session "alice"'],
            ['auth', 'the login values of session "alice"'],
        ] as const) {
            const dir = await tempDir();
            await filledEmbedded(dir);
            const lines = await storeLines(dir);
            const blobs = Object.fromEntries(lines.filter(({ value }) => typeof value.id === 'string').map(({ value }) => [value.id as string, value[field]]));
            await editStore(dir, (value) => (value.id === 'alice' ? { ...value, [field]: blobs.bob } : value.id === 'bob' ? { ...value, [field]: blobs.alice } : value));
            const opening = EmbeddedSessionStore.open({ storageDir: dir, secret: SECRET });
            await expect(opening).rejects.toBeInstanceOf(StoreSecretError);
            // Whichever of the two is read first is named.
            await expect(EmbeddedSessionStore.open({ storageDir: dir, secret: SECRET })).rejects.toThrow(
                new RegExp(`^${record.replace(/^t/, 'T').replace('"alice"', '"(alice|bob)"')} in embedded store .* does not open with the store's key: it was sealed for another record`),
            );
        }
        const dir = await tempDir();
        await filledEmbedded(dir);
        const entries = Object.fromEntries((await storeLines(dir)).filter(({ value }) => typeof value.key === 'string').map(({ value }) => [value.key as string, value.value]));
        await editStore(dir, (value) => (value.key === 'to-alice' ? { ...value, value: entries['to-bob'] } : value));
        await expect(EmbeddedSessionStore.open({ storageDir: dir, secret: SECRET })).rejects.toThrow(/^Entry "to-alice" of collection "header-rules" in .* does not open/);
    });

    it('a value sealed in another store with the same secret is refused (bound to the store salt)', async () => {
        const [a, b] = [await tempDir(), await tempDir()];
        await filledEmbedded(a);
        await filledEmbedded(b);
        const fromA = (await storeLines(a)).find(({ value }) => value.id === 'alice')!.value.cookies;
        await editStore(b, (value) => (value.id === 'alice' ? { ...value, cookies: fromA } : value));
        await expect(EmbeddedSessionStore.open({ storageDir: b, secret: SECRET })).rejects.toThrow(/the cookies of session "alice"|The cookies of session "alice"/);
    });

    it('a value planted in clear into an encrypted store is refused, naming the record; so is an unbound value of an older version', async () => {
        const dir = await tempDir();
        await filledEmbedded(dir);
        await editStore(dir, (value) => (value.id === 'bob' ? { ...value, cookies: [{ key: 'sid', value: 'PLANTED', domain: 'bank.example', path: '/' }] } : value));
        await expect(EmbeddedSessionStore.open({ storageDir: dir, secret: SECRET })).rejects.toThrow(
            /^The cookies of session "bob" in .* is stored in clear, but the store is encrypted: it was planted or damaged/,
        );
        const rule = await tempDir();
        await filledEmbedded(rule);
        await editStore(rule, (value) => (value.key === 'to-bob' ? { ...value, value: { name: 'to-bob', header: 'X-Evil', value: 'planted' } } : value));
        await expect(EmbeddedSessionStore.open({ storageDir: rule, secret: SECRET })).rejects.toThrow(/^Entry "to-bob" of collection "header-rules" .* is stored in clear/);
        // An `enc:v1:` value (not bound: what older versions wrote), e.g. restored from an old copy of the store.
        const old = await tempDir();
        await filledEmbedded(old);
        await editStore(old, (value) => (value.id === 'bob' ? { ...value, cookies: 'enc:v1:AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAA:AAAA' } : value));
        await expect(EmbeddedSessionStore.open({ storageDir: old, secret: SECRET })).rejects.toThrow(/sealed the way older versions did \(not bound to its record\)/);
    });

    it('a wrong secret (or none) fails clearly and leaves every file byte-identical', async () => {
        const dir = await tempDir();
        await filledEmbedded(dir);
        const before = await snapshot(dir);
        await expect(EmbeddedSessionStore.open({ storageDir: dir, secret: 'not the right secret' })).rejects.toThrow(/different secret/);
        await expect(EmbeddedSessionStore.open({ storageDir: dir, secret: 'not the right secret', readOnly: true })).rejects.toThrow(/different secret/);
        await expect(EmbeddedSessionStore.open({ storageDir: dir })).rejects.toThrow(/is encrypted: set CRAWLEE_SESSIONS_SECRET/);
        expect(await snapshot(dir)).toEqual(before);
        const right = await EmbeddedSessionStore.open({ storageDir: dir, secret: SECRET });
        expect(await sidOf(right, 'alice')).toBe('ALICE-SID');
        await right.close();
    });

    it('a store of an older version (scrypt N = 2^14, unbound values) opens with its secret, keeps its parameters and is re-sealed bound', async () => {
        const dir = await tempDir();
        await cp(join('test', 'fixtures', 'legacy-store', 'encrypted'), dir, { recursive: true });
        const store = await EmbeddedSessionStore.open({ storageDir: dir, secret: LEGACY_SECRET });
        expect(await sidOf(store, 'alice')).toBe('legacy-alice-value');
        expect((await new HeaderRules(store, { refreshIntervalMillis: 0 }).list({ reveal: true })).map((rule) => rule.value)).toEqual(['legacy-rule-value', 'on']);
        await store.close();
        const manifest = await readManifest(dir);
        expect(manifest.encryption?.kdf).toEqual({ name: 'scrypt', N: 2 ** 14, r: 8, p: 1 });
        const raw = JSON.stringify(await storeLines(dir));
        expect(raw).toContain('enc:v2:');
        expect(raw).not.toContain('enc:v1:');
        // Now bound: the old blobs of the fixture are refused if planted back.
        const oldBlob = (JSON.parse(await readFile(join('test', 'fixtures', 'legacy-store', 'encrypted', 'key_value_stores', 'crawlee-sessions', 'sessions-000.json'), 'utf8')) as Array<{ cookies: string }>)[0]!.cookies;
        const before = await snapshot(dir);
        const reopened = await EmbeddedSessionStore.open({ storageDir: dir, secret: LEGACY_SECRET });
        expect((await reopened.loadAll()).length).toBe(3);
        await reopened.close();
        expect(await snapshot(dir)).toEqual(before); // a current store is not rewritten by opening it
        await editStore(dir, (value) => (value.id === 'bob' ? { ...value, cookies: oldBlob } : value));
        await expect(EmbeddedSessionStore.open({ storageDir: dir, secret: LEGACY_SECRET })).rejects.toThrow(/sealed the way older versions did/);
    });

    it('a clear store given a secret is sealed at once: afterwards nothing in clear is accepted', async () => {
        const dir = await tempDir();
        const clear = await EmbeddedSessionStore.open({ storageDir: dir });
        await clear.write([delta('alice', 'WAS-CLEAR')]);
        await clear.putEntry('header-rules', 'r', { value: 'RULE-WAS-CLEAR' });
        await clear.close();
        const sealed = await EmbeddedSessionStore.open({ storageDir: dir, secret: SECRET });
        expect(await sidOf(sealed, 'alice')).toBe('WAS-CLEAR');
        await sealed.close();
        const raw = JSON.stringify(await storeLines(dir));
        expect(raw).not.toContain('WAS-CLEAR');
        await editStore(dir, (value) => (value.id === 'alice' ? { ...value, cookies: [] } : value));
        await expect(EmbeddedSessionStore.open({ storageDir: dir, secret: SECRET })).rejects.toThrow(/is stored in clear/);
    });

    it('with a secret every header rule and session header value is sealed, whatever its name (X-Tenant-Key, X-Trace)', async () => {
        const dir = await tempDir();
        const sessions = await Sessions.open({ store: { embedded: { storageDir: dir } }, secret: SECRET });
        await sessions.headers.rules.add({ name: 'trace', header: 'X-Trace', value: 'TRACE-RULE-VALUE' });
        await sessions.headers.set('alice', { name: 'X-Tenant-Key', value: 'TENANT-KEY-VALUE', ttlSecs: 600 });
        await sessions.close();
        const files = await readdir(folderOf(dir));
        const raw = (await Promise.all(files.map((file) => readFile(join(folderOf(dir), file), 'utf8')))).join('\n');
        expect(raw).not.toContain('TRACE-RULE-VALUE');
        expect(raw).not.toContain('TENANT-KEY-VALUE');
        expect(raw).not.toContain('X-Tenant-Key');
        const reopened = await Sessions.open({ store: { embedded: { storageDir: dir } }, secret: SECRET });
        expect((await reopened.headers.get('alice')).map((header) => header.value)).toEqual(['TENANT-KEY-VALUE']);
        expect((await reopened.headers.rules.list({ reveal: true })).map((rule) => rule.value)).toEqual(['TRACE-RULE-VALUE']);
        await reopened.close();
    });
});

describe.skipIf(!db.available)(db.suiteName('secrets: MySQL store'), () => {
    const newPrefix = useTablePrefixes();
    const stores: MySqlSessionStore[] = [];
    afterEach(async () => {
        for (const store of stores.splice(0)) await store.close();
    });
    async function open(tablePrefix: string, secret: string | undefined = SECRET): Promise<MySqlSessionStore> {
        const store = await MySqlSessionStore.open({ url: db.url, tablePrefix, ...(secret ? { secret } : {}) });
        stores.push(store);
        return store;
    }
    async function filled(): Promise<string> {
        const prefix = newPrefix();
        const store = await open(prefix);
        await store.write([delta('alice', 'ALICE-SID', true), delta('bob', 'BOB-SID', true)]);
        await store.putEntry('header-rules', 'to-alice', { value: 'ALICE-RULE' });
        await store.putEntry('header-rules', 'to-bob', { value: 'BOB-RULE' });
        return prefix;
    }

    it('cookies, login values and entries swapped between rows are refused, naming the record', async () => {
        const prefix = await filled();
        const sessions = `\`${prefix}_sessions\``;
        const rows = await mysqlQuery(`SELECT id, cookies, auth FROM ${sessions} ORDER BY id`);
        expect(String(rows[0]!.cookies)).toMatch(/^enc:v2:/);
        await mysqlQuery(`UPDATE ${sessions} SET cookies = ?, auth = ? WHERE id = 'alice'`, [rows[1]!.cookies, rows[1]!.auth]);
        const store = await open(prefix);
        await expect(store.read('alice')).rejects.toThrow(/^The cookies of session "alice" in mysql:\/\/.* does not open with the store's key/);
        await expect(store.loadAll()).rejects.toBeInstanceOf(StoreSecretError);
        await mysqlQuery(`UPDATE ${sessions} SET cookies = ? WHERE id = 'alice'`, [rows[0]!.cookies]);
        await expect(store.read('alice')).rejects.toThrow(/^The login values of session "alice"/);
        expect(await sidOf(store, 'bob')).toBe('BOB-SID');

        const entries = await mysqlQuery(`SELECT entry_key, value FROM \`${prefix}_entries\` ORDER BY entry_key`);
        await mysqlQuery(`UPDATE \`${prefix}_entries\` SET value = ? WHERE entry_key = 'to-alice'`, [entries[1]!.value]);
        await expect(store.getEntry('header-rules', 'to-alice')).rejects.toThrow(/^Entry "to-alice" of collection "header-rules" .* does not open/);
    });

    it('values planted in clear into an encrypted store are refused, naming the record', async () => {
        const prefix = await filled();
        await mysqlQuery(`UPDATE \`${prefix}_sessions\` SET cookies = ? WHERE id = 'bob'`, [JSON.stringify([{ key: 'sid', value: 'PLANTED', domain: 'bank.example', path: '/' }])]);
        await mysqlQuery(`UPDATE \`${prefix}_entries\` SET value = ?, secret = 0 WHERE entry_key = 'to-bob'`, [JSON.stringify({ value: 'planted' })]);
        const store = await open(prefix);
        await expect(store.read('bob')).rejects.toThrow(/^The cookies of session "bob" .* is stored in clear, but the store is encrypted/);
        await expect(store.listEntries('header-rules')).rejects.toThrow(/^Entry "to-bob" of collection "header-rules" .* is stored in clear/);
        expect(await sidOf(store, 'alice')).toBe('ALICE-SID');
    });

    it('a wrong secret fails clearly and leaves every table byte-identical', async () => {
        const prefix = await filled();
        const tables = async () =>
            Promise.all(['sessions', 'entries', 'meta'].map((table) => mysqlQuery(`SELECT * FROM \`${prefix}_${table}\` ORDER BY 1, 2`)));
        const before = await tables();
        await expect(MySqlSessionStore.open({ url: db.url, tablePrefix: prefix, secret: 'not the right secret' })).rejects.toThrow(/different secret/);
        expect(await tables()).toEqual(before);
    });

    it('a store of an older version (scrypt N = 2^14, unbound values) opens with its secret; new writes are sealed bound', async () => {
        const prefix = newPrefix();
        const clear = await open(prefix, undefined);
        await clear.write([delta('alice', 'placeholder')]);
        await clear.close();
        stores.splice(0);
        // The meta and a cookie blob exactly as an older version wrote them (the embedded fixture's: same sealing).
        const fixture = join('test', 'fixtures', 'legacy-store', 'encrypted', 'key_value_stores', 'crawlee-sessions');
        const meta = JSON.parse(await readFile(join(fixture, 'meta.json'), 'utf8')) as { salt: string; keyCheck: string };
        const shards = await Promise.all(['sessions-000.json', 'sessions-002.json', 'sessions-003.json'].map(async (file) => JSON.parse(await readFile(join(fixture, file), 'utf8')) as Array<{ id: string; cookies: string }>));
        const alice = shards.flat().find((record) => record.id === 'alice')!;
        expect(alice.cookies).toMatch(/^enc:v1:/);
        await mysqlQuery(`INSERT INTO \`${prefix}_meta\` (name, value) VALUES ('encryption', ?) ON DUPLICATE KEY UPDATE value = VALUES(value)`, [JSON.stringify({ salt: meta.salt, keyCheck: meta.keyCheck })]);
        await mysqlQuery(`UPDATE \`${prefix}_sessions\` SET cookies = ? WHERE id = 'alice'`, [alice.cookies]);

        await expect(MySqlSessionStore.open({ url: db.url, tablePrefix: prefix, secret: SECRET })).rejects.toThrow(/different secret/);
        const store = await open(prefix, LEGACY_SECRET);
        expect(await sidOf(store, 'alice')).toBe('legacy-alice-value');
        await store.write([delta('carol', 'CAROL-SID')]);
        const [carol] = await mysqlQuery(`SELECT cookies FROM \`${prefix}_sessions\` WHERE id = 'carol'`);
        expect(String(carol!.cookies)).toMatch(/^enc:v2:/);
        expect(await sidOf(store, 'carol')).toBe('CAROL-SID');
    });
});
