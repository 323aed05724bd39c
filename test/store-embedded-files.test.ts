/**
 * The embedded store's files under damage: every damaged layout makes open() fail with an error naming the file and
 * the way to recover, changing nothing; ignoreDamaged keeps every readable session and moves the damaged files aside;
 * no write ever overwrites a damaged file. Also: stores written by older versions (format 1) open and are rewritten,
 * an interrupted commit leaves the previous state, and names such as `__proto__` are ordinary names.
 */
import { cp, mkdtemp, readFile, readdir, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { log } from 'crawlee';
import { afterAll, describe, expect, it } from 'vitest';

import { HeaderRules } from '../src/headers/header-rules.js';
import { EmbeddedSessionStore, StoreDamagedError, type EmbeddedStoreOptions } from '../src/stores/embedded-store.js';
import { MemorySessionStore } from '../src/stores/memory-store.js';
import type { SessionDelta, SessionRecord, SessionStore } from '../src/model/types.js';

log.setLevel(log.LEVELS.OFF);

const dirs: string[] = [];
afterAll(async () => {
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'crawlee-sessions-files-'));
    dirs.push(dir);
    return dir;
}

const folderOf = (dir: string) => join(dir, 'key_value_stores', 'crawlee-sessions');

function delta(id: string, value: string): SessionDelta {
    return {
        id,
        generation: 0,
        reset: false,
        assignment: { profileIndex: null, identity: null, auth: null },
        upserts: [{ key: 'sid', value, domain: 'files.example', path: '/' }],
        removals: [],
        counters: { requests: 1, successes: 1, failures: 0, renewals: 0 },
        lastUsedAt: null,
    };
}

/** A store of 200 sessions and two entries; returns each session's cookie value. */
async function filledStore(dir: string): Promise<Map<string, string>> {
    const store = await EmbeddedSessionStore.open({ storageDir: dir });
    const values = new Map(Array.from({ length: 200 }, (_, n) => [`user-${n}`, `value-${n}`]));
    await store.write([...values].map(([id, value]) => delta(id, value)));
    await store.putEntry('header-rules', 'trace', { header: 'X-Trace', value: 'on' });
    await store.putEntry('header-rules', 'tenant', { header: 'X-Tenant', value: 't1' });
    await store.close();
    return values;
}

interface ManifestFile {
    kind: string;
    shard?: number;
    file: string;
    count: number;
}

async function manifest(dir: string): Promise<{ shards: number; commit: number; files: ManifestFile[] }> {
    return JSON.parse(await readFile(join(folderOf(dir), 'meta.json'), 'utf8')) as { shards: number; commit: number; files: ManifestFile[] };
}

/** The fullest shard file (so that damaging it loses sessions). */
async function biggestShard(dir: string): Promise<ManifestFile> {
    const { files } = await manifest(dir);
    return files.filter((file) => file.kind === 'sessions').sort((a, b) => b.count - a.count)[0]!;
}

/** Every file of the store folder and its bytes. */
async function snapshot(dir: string): Promise<Record<string, string>> {
    const folder = folderOf(dir);
    const files: Record<string, string> = {};
    for (const name of (await readdir(folder)).sort()) files[name] = (await readFile(join(folder, name))).toString('base64');
    return files;
}

async function openError(options: EmbeddedStoreOptions): Promise<StoreDamagedError> {
    const error = await EmbeddedSessionStore.open(options).then(
        async (store) => {
            await store.close();
            throw new Error('open() succeeded on a damaged store');
        },
        (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(StoreDamagedError);
    return error as StoreDamagedError;
}

async function cookieValues(store: SessionStore): Promise<Map<string, string>> {
    return new Map((await store.loadAll()).map((record: SessionRecord) => [record.id, String(record.cookies[0]?.value)]));
}

type Damage = { name: string; damage: (dir: string) => Promise<string>; lost: 'shard' | 'none' };

const DAMAGES: Damage[] = [
    {
        name: 'a shard truncated to half',
        lost: 'shard',
        damage: async (dir) => {
            const path = join(folderOf(dir), (await biggestShard(dir)).file);
            await truncate(path, Math.floor((await readFile(path)).length / 2));
            return path;
        },
    },
    {
        name: 'a shard holding {}',
        lost: 'shard',
        damage: async (dir) => {
            const path = join(folderOf(dir), (await biggestShard(dir)).file);
            await writeFile(path, '{}');
            return path;
        },
    },
    {
        name: 'a shard that is not JSON',
        lost: 'shard',
        damage: async (dir) => {
            const path = join(folderOf(dir), (await biggestShard(dir)).file);
            await writeFile(path, 'PK\u0003\u0004 not json at all\n');
            return path;
        },
    },
    {
        name: 'a deleted meta file',
        lost: 'none',
        damage: async (dir) => {
            const path = join(folderOf(dir), 'meta.json');
            await unlink(path);
            return path;
        },
    },
    {
        name: 'a wrong shard count in the meta file',
        lost: 'none',
        damage: async (dir) => {
            const path = join(folderOf(dir), 'meta.json');
            const meta = JSON.parse(await readFile(path, 'utf8')) as { shards: number };
            meta.shards = 8;
            await writeFile(path, JSON.stringify(meta, null, 2));
            return path;
        },
    },
];

describe('embedded store: damaged files', () => {
    for (const { name, damage, lost } of DAMAGES) {
        it(`${name}: open() fails naming the file and how to recover, and changes nothing; ignoreDamaged keeps every readable session`, async () => {
            const dir = await tempDir();
            const values = await filledStore(dir);
            const shard = await biggestShard(dir);
            const damagedFile = await damage(dir);
            const damagedBytes = await readFile(damagedFile).catch(() => undefined);
            const before = await snapshot(dir);

            const error = await openError({ storageDir: dir });
            expect(error.message).toContain(damagedFile);
            expect(error.message).toContain(`crawlee-sessions repair --storage-dir ${dir}`);
            expect(error.message).toContain('ignoreDamaged');
            expect(error.damaged.map((entry) => entry.file)).toContain(damagedFile);
            expect(error.code).toBe('ERR_STORE_DAMAGED');
            // A read-only open (the CLI's list) refuses the same way.
            await openError({ storageDir: dir, readOnly: true });
            expect(await snapshot(dir)).toEqual(before);

            const recovered = await EmbeddedSessionStore.open({ storageDir: dir, ignoreDamaged: true });
            const kept = await cookieValues(recovered);
            expect(recovered.recovery?.setAside.map((entry) => entry.file)).toContain(damagedFile);
            if (lost === 'none') {
                expect(kept).toEqual(values);
            } else {
                // Every session of the other shards, each exactly as stored; at most that shard's are lost.
                expect(kept.size).toBeGreaterThanOrEqual(values.size - shard.count);
                expect(kept.size).toBeLessThan(values.size);
                for (const [id, value] of kept) expect(value).toBe(values.get(id));
            }
            expect((await recovered.listEntries('header-rules')).map((entry) => entry.key).sort()).toEqual(['tenant', 'trace']);
            // The damaged file was moved aside as it was, never overwritten; later writes do not touch it either.
            const moved = recovered.recovery!.setAside.find((entry) => entry.file === damagedFile)!;
            if (damagedBytes !== undefined) {
                expect(moved.movedTo).toMatch(/\.damaged-\d{4}-\d\d-\d\dT/);
                expect(await readFile(moved.movedTo!)).toEqual(damagedBytes);
            }
            await recovered.write([delta('after-repair', 'new')]);
            await recovered.close();
            if (damagedBytes !== undefined) expect(await readFile(moved.movedTo!)).toEqual(damagedBytes);

            // The store is consistent again: a plain open reads what was kept, plus the new session.
            const reopened = await EmbeddedSessionStore.open({ storageDir: dir });
            expect((await cookieValues(reopened)).size).toBe(kept.size + 1);
            expect(reopened.recovery).toBeUndefined();
            expect((await manifest(dir)).shards).toBe(16);
            await reopened.close();
        });
    }

    it('a shard file replaced by one of another shard, and a record edited in place, are detected (checksum, header, shard of each id)', async () => {
        const dir = await tempDir();
        await filledStore(dir);
        const { files } = await manifest(dir);
        const [a, b] = files.filter((file) => file.kind === 'sessions' && file.count > 0);
        await cp(join(folderOf(dir), b!.file), join(folderOf(dir), a!.file));
        const swapped = await openError({ storageDir: dir });
        expect(swapped.message).toContain(join(folderOf(dir), a!.file));

        const other = await tempDir();
        await filledStore(other);
        const shard = await biggestShard(other);
        const path = join(folderOf(other), shard.file);
        const text = await readFile(path, 'utf8');
        await writeFile(path, text.replace('"requests":1', '"requests":9'));
        const edited = await openError({ storageDir: other });
        expect(edited.message).toContain(`${path} was modified`);
    });

    it('an interrupted commit (its new files written, the manifest not yet replaced) leaves the previous state, and its leftovers are removed', async () => {
        const dir = await tempDir();
        const values = await filledStore(dir);
        const { commit, files } = await manifest(dir);
        const folder = folderOf(dir);
        // What a process killed in the middle of a commit leaves: data files of the next commit, a temp manifest.
        const leftover = files[0]!.file.replace(/\.c\d+\./, `.c${commit + 1}.`);
        await writeFile(join(folder, leftover), '{"format":2,"kind":"sessions"');
        await writeFile(join(folder, `meta.json.${process.pid}.abcd.tmp`), '{"format":2');
        const store = await EmbeddedSessionStore.open({ storageDir: dir });
        expect(await cookieValues(store)).toEqual(values);
        expect(await readdir(folder)).not.toContain(leftover);
        await store.write([delta('user-1', 'changed')]);
        await store.close();
        const names = await readdir(folder);
        expect(names.filter((name) => name.endsWith('.tmp'))).toEqual([]);
        // Exactly the files the manifest names (and nothing superseded) remain.
        expect(names.filter((name) => name.endsWith('.jsonl')).sort()).toEqual((await manifest(dir)).files.map((file) => file.file).sort());
    });
});

describe('embedded store: files of older versions (format 1)', () => {
    async function legacyCopy(kind: 'clear' | 'encrypted'): Promise<string> {
        const dir = await tempDir();
        await cp(join('test', 'fixtures', 'legacy-store', kind), dir, { recursive: true });
        return dir;
    }

    it('a clear store of an older version opens with its sessions and rules, and is rewritten in the current format', async () => {
        const dir = await legacyCopy('clear');
        const store = await EmbeddedSessionStore.open({ storageDir: dir });
        expect(await cookieValues(store)).toEqual(
            new Map([
                ['alice', 'legacy-alice-value'],
                ['bob', 'legacy-bob-value'],
                ['carol', 'legacy-carol-value'],
            ]),
        );
        const rules = new HeaderRules(store, { refreshIntervalMillis: 0 });
        expect((await rules.list({ reveal: true })).map((rule) => [rule.name, rule.value])).toEqual([
            ['api-key', 'legacy-rule-value'],
            ['trace', 'on'],
        ]);
        await store.close();
        const names = await readdir(folderOf(dir));
        expect(names.filter((name) => /^sessions-\d+\.json$/.test(name) || /^entries-[\w-]+\.json$/.test(name))).toEqual([]);
        expect((await manifest(dir)).shards).toBe(4); // the shard count it was created with
        const reopened = await EmbeddedSessionStore.open({ storageDir: dir });
        expect((await cookieValues(reopened)).size).toBe(3);
        await reopened.close();
    });

    it('format 1 damage: a deleted meta file, a {} shard, a truncated shard each fail naming the file; repair keeps the rest', async () => {
        const noMeta = await legacyCopy('clear');
        await unlink(join(folderOf(noMeta), 'meta.json'));
        const before = await snapshot(noMeta);
        const missing = await openError({ storageDir: noMeta });
        expect(missing.message).toContain(`${join(folderOf(noMeta), 'meta.json')} is missing`);
        expect(await snapshot(noMeta)).toEqual(before);
        const recovered = await EmbeddedSessionStore.open({ storageDir: noMeta, ignoreDamaged: true });
        expect((await cookieValues(recovered)).size).toBe(3); // not "107 of 200": every session is found by id
        await recovered.close();

        const empty = await legacyCopy('clear');
        const shard = join(folderOf(empty), 'sessions-000.json');
        await writeFile(shard, '{}');
        expect((await openError({ storageDir: empty })).message).toContain(`${shard} is not a list of sessions (it holds an empty object)`);

        const cut = await legacyCopy('clear');
        const cutShard = join(folderOf(cut), 'sessions-002.json');
        await truncate(cutShard, 40);
        expect((await openError({ storageDir: cut })).message).toContain(`${cutShard} is not JSON`);
        const kept = await EmbeddedSessionStore.open({ storageDir: cut, ignoreDamaged: true });
        expect((await cookieValues(kept)).size).toBe(2);
        await kept.close();
    });
});

describe('names that are properties of plain objects are ordinary names', () => {
    const NAMES = ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf'];

    for (const kind of ['embedded', 'memory'] as const) {
        it(`${kind} store: header rules named ${NAMES.join(', ')}: add, list, update, remove, reopen`, async () => {
            const dir = await tempDir();
            const open = async (): Promise<SessionStore> => (kind === 'embedded' ? EmbeddedSessionStore.open({ storageDir: dir }) : memory);
            const memory = new MemorySessionStore();
            let store = await open();
            let rules = new HeaderRules(store, { refreshIntervalMillis: 0 });
            for (const name of NAMES) await rules.add({ name, header: 'X-Name', value: `v-${name}` });
            expect((await rules.list()).map((rule) => rule.name).sort()).toEqual([...NAMES].sort());
            for (const name of NAMES) await rules.update(name, { value: `updated-${name}` });
            // Session ids of those names too.
            await store.write(NAMES.map((name) => delta(name, `cookie-${name}`)));
            if (kind === 'embedded') {
                await store.close();
                store = await open();
                rules = new HeaderRules(store, { refreshIntervalMillis: 0 });
            }
            expect(Object.fromEntries((await rules.list({ reveal: true })).map((rule) => [rule.name, rule.value]))).toEqual(
                Object.fromEntries(NAMES.map((name) => [name, `updated-${name}`])),
            );
            expect(await cookieValues(store)).toEqual(new Map(NAMES.map((name) => [name, `cookie-${name}`])));
            for (const name of NAMES) expect(await rules.remove(name)).toBe(true);
            expect(await rules.list()).toEqual([]);
            await expect(rules.update('__proto__', { value: 'x' })).rejects.toThrow('There is no header rule named "__proto__".');
            if (kind === 'embedded') {
                await store.close();
                store = await open();
                expect(await new HeaderRules(store, { refreshIntervalMillis: 0 }).list()).toEqual([]);
            }
            await store.close();
        });
    }
});
