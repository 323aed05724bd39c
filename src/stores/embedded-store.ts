import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, unlinkSync } from 'node:fs';
import { copyFile, link, mkdir, open, readdir, readFile, rename, stat, unlink, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, join, resolve } from 'node:path';

import { log as crawleeLog } from '@crawlee/core';
import { z } from 'zod';

import { CrawleeSessionsError, ERROR_CODES } from '../shared/errors.js';
import { parseWithZod } from '../shared/validation.js';
import { applySessionDelta } from '../model/merge.js';
import { SingleProcessStore } from './single-process-store.js';
import { boundMeta, openJson, openSecretBox, sealJson, SecretBox, type EncryptionMeta, type SealedField } from './secrets.js';
import {
    StoreSecretError,
    StoreUnavailableError,
    type SessionAuth,
    type SessionDelta,
    type SessionRecord,
    type StoreEntry,
    type StoredCookie,
} from '../model/types.js';

/** What the embedded store needs of a Crawlee `Configuration`: where its storage directory is. */
export interface StorageConfigLike {
    get(key: string): unknown;
}

/** Options of the embedded store (`Sessions.open({ store: { embedded: { … } } })`). */
export interface EmbeddedStoreOptions {
    /**
     * Name of the store: its files live in `<storage directory>/key_value_stores/<name>/`, beside Crawlee's own
     * key-value stores. Crawlee never purges a named store, so sessions survive restarts.
     * @default 'crawlee-sessions'
     */
    name?: string;
    /**
     * Crawlee's storage directory, where the store's folder lives.
     * @default the directory of `config` (its storage client's `localDataDirectory`, `storageClientOptions.localDataDirectory`),
     * else `CRAWLEE_STORAGE_DIR`, else `./crawlee_storage` if it exists, else `./storage` — as Crawlee chooses it
     */
    storageDir?: string;
    /**
     * A Crawlee `Configuration` whose storage directory is used when `storageDir` is not given. Only the directory is
     * read from it: the store never opens a Crawlee storage, so it never triggers Crawlee's purge of the default
     * dataset, request queue and key-value store (`purgeOnStart`), whatever the configuration says.
     * @default the global configuration
     */
    config?: StorageConfigLike;
    /** Encrypts cookie values, login values and every entry at rest (AES-256-GCM). @default none (`CRAWLEE_SESSIONS_SECRET` through `openStore`) */
    secret?: string;
    /**
     * How many files the sessions are spread over. A flush rewrites only the files holding changed sessions. Fixed
     * when the store is created.
     * @default 16
     */
    shards?: number;
    /**
     * Open a consistent snapshot for reading, without the store's lock: works while a crawl uses the store. Every
     * write is refused with a `StoreReadOnlyError`; nothing is written, moved or deleted.
     * @default false
     */
    readOnly?: boolean;
    /**
     * Open a store with damaged files anyway: load every session and entry that is readable, move each damaged file
     * aside (renamed `<file>.damaged-<timestamp>`), log what was skipped, and write a fresh consistent set of files.
     * Without it, `open()` fails with a `StoreDamagedError` naming the damaged files and changes nothing.
     * (`crawlee-sessions repair` does the same explicitly.)
     * @default false
     */
    ignoreDamaged?: boolean;
    /**
     * When the store's lock belongs to another machine (a storage directory shared over the network), after how many
     * seconds without a heartbeat it counts as left by a dead process and is taken over. A lock of this machine is
     * taken over as soon as its process is gone.
     * @default 60
     */
    staleLockSecs?: number;
}

const optionsSchema = z.strictObject({
    name: z
        .string()
        .regex(/^[a-zA-Z0-9-]{1,63}$/, 'must be 1–63 letters, digits or dashes (a Crawlee store name)')
        .optional(),
    storageDir: z.string().min(1).optional(),
    config: z.custom<StorageConfigLike>((value) => typeof (value as StorageConfigLike | undefined)?.get === 'function', 'must be a Crawlee Configuration').optional(),
    secret: z.string().optional(),
    shards: z.number().int().min(1).max(1024).optional(),
    readOnly: z.boolean().optional(),
    ignoreDamaged: z.boolean().optional(),
    staleLockSecs: z.number().positive().max(86_400).optional(),
});

/**
 * Thrown by `open()` when files of an embedded store are damaged (truncated, replaced, missing, not laid out as the
 * store's metadata says). The message names every damaged file and how to recover; nothing was changed.
 */
export class StoreDamagedError extends CrawleeSessionsError {
    override readonly name = 'StoreDamagedError';

    constructor(
        message: string,
        /** The damaged files (paths) and what is wrong with each. */
        readonly damaged: ReadonlyArray<{ file: string; reason: string }>,
    ) {
        super(ERROR_CODES.storeDamaged, message);
    }
}

/** Thrown by every write to a store opened with `readOnly`. */
export class StoreReadOnlyError extends CrawleeSessionsError {
    override readonly name = 'StoreReadOnlyError';

    constructor(message: string) {
        super(ERROR_CODES.storeReadOnly, message);
    }
}

/** What opening with `ignoreDamaged` (or `crawlee-sessions repair`) recovered and set aside. */
export interface RecoveryReport {
    /** Sessions loaded. */
    sessions: number;
    /** Entries (header rules, session headers, …) loaded. */
    entries: number;
    /** Damaged files and where they were moved (`movedTo` is undefined for a missing file, or in read-only mode). */
    setAside: Array<{ file: string; reason: string; movedTo?: string }>;
    /** Records that were skipped inside otherwise readable or damaged files (line and why; never values). */
    skipped: Array<{ file: string; reason: string }>;
}

// ---------------------------------------------------------------------------------------------------------------
// On-disk layout (format 2)
//
//   meta.json                        the manifest: shard count, commit number, encryption, and every data file with
//                                    its size, SHA-256 and record count. Replaced atomically (temp file, fsync, rename).
//   sessions-003.c42.jsonl           shard 3 as written by commit 42: a header line, then one session per line
//   entries-header-rules.c40.jsonl   one collection (header rules, session headers, …): a header line, one entry per line
//   lock.json                        the process holding the store (created atomically with link(2))
//
// Data files are never modified once written: a commit writes new files (fsynced), then the manifest naming them,
// then deletes the files it superseded. A crash leaves the previous commit intact; readers without the lock get a
// consistent snapshot by reading the manifest and then exactly the files it names.
//
// Format 1 (versions before this one) kept sessions-NNN.json arrays and entries-NAME.json objects written in place
// through Crawlee's key-value store; it is read, checked, and rewritten as format 2 by the first writable open.
// ---------------------------------------------------------------------------------------------------------------

const FORMAT = 2;
const META_FILE = 'meta.json';
const LOCK_FILE = 'lock.json';
const DATA_FILE = /^(sessions-(\d+)|entries-([A-Za-z0-9_-]+))\.c(\d+)\.jsonl$/;
const LEGACY_SHARD_FILE = /^sessions-(\d+)\.json$/;
const LEGACY_ENTRIES_FILE = /^entries-([A-Za-z0-9-]+)\.json$/;

type FileRef =
    | { kind: 'sessions'; shard: number; file: string; size: number; sha256: string; count: number }
    | { kind: 'entries'; collection: string; file: string; size: number; sha256: string; count: number };

interface Manifest {
    format: 2;
    shards: number;
    commit: number;
    encryption: EncryptionMeta | null;
    files: FileRef[];
}

/** The first line of a data file. */
type FileHeader =
    | { format: 2; kind: 'sessions'; shard: number; shards: number; commit: number; encryption: EncryptionMeta | null }
    | { format: 2; kind: 'entries'; collection: string; commit: number; encryption: EncryptionMeta | null };

/** A record as serialized: cookies and auth may be sealed strings. */
type SerializedRecord = Omit<SessionRecord, 'cookies' | 'auth'> & { cookies: unknown; auth: unknown };

/** What a store folder held, as read and checked. */
interface Layout {
    /** undefined: a new store (no files). */
    manifest: Manifest | undefined;
    legacy: boolean;
    shards: number;
    encryption: EncryptionMeta | null;
    /** Serialized records (JSON) by id, all shards together (checked to belong to their shard). */
    records: Map<string, string>;
    /** collection → key → entry (value possibly sealed). */
    collections: Map<string, Map<string, StoreEntry>>;
    damaged: Array<{ file: string; reason: string }>;
    skipped: Array<{ file: string; reason: string }>;
    /** Files of older layouts or commits to delete once a commit no longer needs them. */
    obsolete: string[];
    /** The highest commit number of any data file in the folder: the next commit must be above it. */
    highestCommit: number;
}

/** A file of a snapshot was replaced while it was being read (a reader without the lock): read the snapshot again. */
class SnapshotMoved extends Error {}

/**
 * The default store: sessions in files in Crawlee's storage directory (`<dir>/key_value_stores/<name>/`), for one
 * process at a time (use MySQL to share sessions between processes; other processes may read a snapshot with
 * `readOnly`). Sessions are spread over a fixed number of shard files; the store keeps every session's serialized
 * form in memory, and a write commits the shard files it touched atomically (new files, then the manifest), so a
 * batch of thousands of sessions costs a handful of file writes and a crash never leaves half a write.
 *
 * The store writes its files itself rather than through Crawlee's `KeyValueStore`: `KeyValueStore.open()` purges the
 * default storages of the process (unless `purgeOnStart` is false), and its writes replace files in place, without
 * fsync, one record at a time — a crash mid-write truncates a shard, and a batch spanning shards is never atomic.
 */
export class EmbeddedSessionStore extends SingleProcessStore {
    readonly kind = 'embedded';
    /** Serialized records (JSON) per shard. */
    private shardRecords: Map<string, string>[];
    private collections: Map<string, Map<string, StoreEntry>>;
    private manifest: Manifest;
    private closed = false;
    private pending: Array<{ apply: (stage: Stage) => unknown; resolve: (value: unknown) => void; reject: (error: unknown) => void }> = [];
    private committing: Promise<void> | undefined;
    private readonly log = crawleeLog.child({ prefix: 'EmbeddedSessionStore' });

    private constructor(
        readonly description: string,
        private readonly folder: string,
        private box: SecretBox | undefined,
        manifest: Manifest,
        layout: Layout,
        private readonly lock: FileLock | undefined,
        /** What `ignoreDamaged` recovered; undefined when nothing was damaged. */
        readonly recovery: RecoveryReport | undefined,
    ) {
        super();
        this.manifest = manifest;
        this.shardRecords = Array.from({ length: manifest.shards }, () => new Map());
        for (const [id, json] of layout.records) this.shardRecords[shardOf(id, manifest.shards)]!.set(id, json);
        this.collections = layout.collections;
    }

    /** How many sessions and entries the store holds. */
    counts(): { sessions: number; entries: number } {
        return {
            sessions: this.shardRecords.reduce((sum, records) => sum + records.size, 0),
            entries: [...this.collections.values()].reduce((sum, entries) => sum + entries.size, 0),
        };
    }

    /** Whether the store was opened with `readOnly` (a snapshot). */
    get readOnly(): boolean {
        return this.lock === undefined;
    }

    /**
     * Opens (or creates) the store and loads every session. Fails with a clear error when another live process uses
     * the store (unless `readOnly`), when the secret does not fit, or when a file is damaged (unless `ignoreDamaged`);
     * a failed open changes nothing.
     */
    static async open(options: EmbeddedStoreOptions = {}): Promise<EmbeddedSessionStore> {
        const parsed = parseWithZod(optionsSchema, options, 'embedded store options');
        const name = parsed.name ?? 'crawlee-sessions';
        const storageDir = parsed.storageDir ?? storageDirOf(parsed.config);
        const folder = join(storageDir, 'key_value_stores', name);
        const description = `embedded store "${name}" in ${storageDir}`;
        const readOnly = parsed.readOnly ?? false;

        let lock: FileLock | undefined;
        if (!readOnly) {
            try {
                await mkdir(folder, { recursive: true });
            } catch (error) {
                throw new StoreUnavailableError(`Cannot open the ${description}: ${(error as Error).message}`, error);
            }
            // The lock comes first: nothing is read before this process is the only one that may write.
            lock = await FileLock.acquire(folder, description, (parsed.staleLockSecs ?? 60) * 1000);
        }
        try {
            return await EmbeddedSessionStore.load(folder, description, parsed, lock);
        } catch (error) {
            await lock?.release();
            throw error;
        }
    }

    private static async load(
        folder: string,
        description: string,
        parsed: z.infer<typeof optionsSchema>,
        lock: FileLock | undefined,
    ): Promise<EmbeddedSessionStore> {
        const readOnly = lock === undefined;
        const layout = await readLayoutRetrying(folder, readOnly);
        const log = crawleeLog.child({ prefix: 'EmbeddedSessionStore' });

        const hasData = layout.records.size > 0 || layout.collections.size > 0;
        const opened = await openSecretBox(layout.encryption ?? {}, parsed.secret, description, { holdsClearValues: hasData });
        let box = opened.box;
        let encryption = opened.update ?? layout.encryption;

        // Every sealed value is opened once up front: a value moved from another record fails here, before anything is
        // written. With ignoreDamaged, such records are skipped like damaged lines.
        const unreadable: Array<{ file: string; reason: string }> = [];
        for (const [id, json] of layout.records) {
            try {
                deserialize(box, JSON.parse(json) as SerializedRecord, description);
            } catch (error) {
                if (!(error instanceof StoreSecretError) || !parsed.ignoreDamaged) throw error;
                unreadable.push({ file: `session ${JSON.stringify(id)}`, reason: error.message });
                layout.records.delete(id);
            }
        }
        for (const [collection, entries] of box ? layout.collections : []) {
            for (const [key, entry] of entries) {
                try {
                    openJson(box, entry.value, description, entryField(collection, key));
                } catch (error) {
                    if (!(error instanceof StoreSecretError) || !parsed.ignoreDamaged) throw error;
                    unreadable.push({ file: `entry ${JSON.stringify(key)} of ${JSON.stringify(collection)}`, reason: error.message });
                    entries.delete(key);
                }
            }
        }

        if (layout.damaged.length > 0 && !parsed.ignoreDamaged) throw damagedError(description, folder, layout.damaged, readOnly);

        const shards = layout.manifest?.shards ?? (layout.legacy ? layout.shards : (parsed.shards ?? layout.shards));
        const damagedOrSkipped = layout.damaged.length > 0 || layout.skipped.length > 0 || unreadable.length > 0;
        let recovery: RecoveryReport | undefined;
        if (damagedOrSkipped) {
            recovery = {
                sessions: layout.records.size,
                entries: [...layout.collections.values()].reduce((sum, entries) => sum + entries.size, 0),
                setAside: layout.damaged.map((damage) => ({ ...damage })),
                skipped: [...layout.skipped, ...unreadable],
            };
        }

        // What must be rewritten in full: a new store, an older layout, values of older versions (clear, or sealed
        // without binding), or what was recovered from damaged files.
        const rewrite =
            !readOnly && (!layout.manifest || layout.legacy || box?.acceptsLegacy === true || opened.update !== undefined || damagedOrSkipped);
        const migrating = box?.acceptsLegacy === true;
        const baseManifest: Manifest = layout.manifest ?? { format: FORMAT, shards, commit: 0, encryption, files: [] };
        const store = new EmbeddedSessionStore(
            description,
            folder,
            box,
            // Above every file in the folder, so that no commit overwrites a file (a damaged one to set aside, leftovers).
            { ...baseManifest, shards, encryption, commit: Math.max(baseManifest.commit, layout.highestCommit) },
            layout,
            lock,
            recovery,
        );
        if (!rewrite) {
            if (recovery) store.logRecovery(recovery, false);
            if (!readOnly) await store.removeUnreferenced([]);
            return store;
        }

        if (migrating) {
            // Re-seal every value bound to its record under the same key, then stop accepting older ones.
            store.reseal();
            box = box!.strict();
            encryption = boundMeta(box, encryption!);
            store.box = box;
            store.manifest = { ...store.manifest, encryption };
        }
        // Damaged files are copied aside before the commit that replaces them, so that a crash in between loses nothing;
        // the originals go once the new files are committed.
        const stamp = timestamp();
        const setAside = new Set<string>();
        for (const damage of recovery?.setAside ?? []) {
            if (setAside.has(damage.file) || !existsSync(damage.file)) continue;
            setAside.add(damage.file);
            damage.movedTo = `${damage.file}.damaged-${stamp}`;
            await copyFile(damage.file, damage.movedTo);
        }
        for (const damage of recovery?.setAside ?? []) damage.movedTo ??= setAside.has(damage.file) ? `${damage.file}.damaged-${stamp}` : undefined;
        await store.commitAll();
        // Files of the older layout, superseded commits, leftovers of a crashed commit, damaged files (copied aside).
        await store.removeUnreferenced([...layout.obsolete, ...[...setAside].filter((file) => file !== join(folder, META_FILE)).map((file) => basename(file))]);
        if (recovery) store.logRecovery(recovery, true);
        if (layout.legacy) log.info(`Rewrote the ${description} in the current file format (${layout.records.size} sessions).`);
        return store;
    }

    async loadAll(): Promise<SessionRecord[]> {
        const records: SessionRecord[] = [];
        for (const shard of this.shardRecords) {
            for (const json of shard.values()) records.push(deserialize(this.box, JSON.parse(json) as SerializedRecord, this.description));
        }
        return records;
    }

    async read(id: string): Promise<SessionRecord | undefined> {
        const json = this.shardRecords[shardOf(id, this.manifest.shards)]!.get(id);
        return json === undefined ? undefined : deserialize(this.box, JSON.parse(json) as SerializedRecord, this.description);
    }

    async write(deltas: readonly SessionDelta[]): Promise<SessionRecord[]> {
        if (deltas.length === 0) return [];
        return this.mutate((stage) => {
            const now = Date.now();
            return deltas.map((delta) => {
                const records = stage.shard(shardOf(delta.id, this.manifest.shards));
                const json = records.get(delta.id);
                const stored = json === undefined ? undefined : deserialize(this.box, JSON.parse(json) as SerializedRecord, this.description);
                const record = applySessionDelta(stored, delta, now);
                records.set(delta.id, JSON.stringify(serialize(this.box, record)));
                return record;
            });
        });
    }

    async remove(ids: readonly string[]): Promise<void> {
        if (!ids.some((id) => this.shardRecords[shardOf(id, this.manifest.shards)]!.has(id))) return;
        await this.mutate((stage) => {
            for (const id of ids) {
                const shard = shardOf(id, this.manifest.shards);
                if (stage.peekShard(shard).has(id)) stage.shard(shard).delete(id);
            }
        });
    }

    async listEntries<T>(collection: string): Promise<StoreEntry<T>[]> {
        return [...(this.collections.get(collection)?.values() ?? [])].map((entry) => this.openEntry<T>(collection, entry));
    }

    async getEntry<T>(collection: string, key: string): Promise<StoreEntry<T> | undefined> {
        const entry = this.collections.get(collection)?.get(key);
        return entry && this.openEntry<T>(collection, entry);
    }

    /** With a secret, every entry is sealed (whatever `secret` says), so that an entry in clear can be refused. */
    async putEntry(collection: string, key: string, value: unknown): Promise<void> {
        if (JSON.stringify(value) === undefined) throw new TypeError(`The value of entry "${key}" in "${collection}" cannot be stored as JSON.`);
        await this.mutate((stage) => {
            stage.collection(collection).set(key, {
                key,
                value: sealJson(this.box, structuredClone(value), entryField(collection, key)),
                updatedAt: Date.now(),
            });
        });
    }

    async deleteEntry(collection: string, key: string): Promise<boolean> {
        return this.mutate((stage) => (stage.peekCollection(collection)?.has(key) ? stage.collection(collection).delete(key) : false));
    }

    async close(): Promise<void> {
        if (this.closed) return;
        this.closed = true;
        while (this.committing) await this.committing.catch(() => undefined);
        await this.lock?.release();
    }

    private openEntry<T>(collection: string, entry: StoreEntry): StoreEntry<T> {
        // A clear store's entry is whatever was put, even a string that looks sealed.
        const value = this.box ? openJson<T>(this.box, entry.value, this.description, entryField(collection, entry.key)) : (entry.value as T);
        return { ...entry, value: structuredClone(value) };
    }

    // --- commits ---

    /**
     * Queues a change and resolves once a commit holding it is on disk. Changes queued while a commit runs are
     * committed together by the next one. A failed commit changes nothing in memory: its changes are rejected.
     */
    private mutate<T>(apply: (stage: Stage) => T): Promise<T> {
        if (this.lock === undefined) {
            return Promise.reject(new StoreReadOnlyError(`The ${this.description} was opened read-only (a snapshot): it cannot be changed.`));
        }
        if (this.closed) return Promise.reject(new StoreUnavailableError(`The ${this.description} is closed.`));
        return new Promise<T>((resolve, reject) => {
            this.pending.push({ apply, resolve: resolve as (value: unknown) => void, reject });
            this.committing ??= this.drain();
        });
    }

    private async drain(): Promise<void> {
        try {
            while (this.pending.length > 0) {
                const batch = this.pending;
                this.pending = [];
                const stage = new Stage(this.shardRecords, this.collections);
                const results: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = batch.map((mutation) => {
                    try {
                        return { ok: true, value: mutation.apply(stage) };
                    } catch (error) {
                        return { ok: false, error };
                    }
                });
                try {
                    await this.commit(stage);
                } catch (error) {
                    for (const mutation of batch) mutation.reject(error);
                    continue;
                }
                stage.install(this);
                batch.forEach((mutation, index) => {
                    const result = results[index]!;
                    if (result.ok) mutation.resolve(result.value);
                    else mutation.reject(result.error);
                });
            }
        } finally {
            this.committing = undefined;
        }
    }

    /** @internal Used by {@link Stage.install}. */
    replaceState(shards: Map<string, string>[], collections: Map<string, Map<string, StoreEntry>>): void {
        this.shardRecords = shards;
        this.collections = collections;
    }

    private async commit(stage: Stage): Promise<void> {
        if (stage.dirtyShards.size === 0 && stage.dirtyCollections.size === 0) return;
        const shards = stage.shardsView();
        const collections = stage.collectionsView();
        await this.writeCommit(
            [...stage.dirtyShards].map((shard) => ({ kind: 'sessions' as const, shard, lines: [...shards[shard]!.values()] })),
            [...stage.dirtyCollections].map((collection) => ({
                kind: 'entries' as const,
                collection,
                lines: [...(collections.get(collection)?.values() ?? [])].map((entry) => JSON.stringify(entry)),
            })),
        );
    }

    /** Rewrites every shard and collection (new store, older layout, after a recovery or a migration). */
    private async commitAll(): Promise<void> {
        await this.writeCommit(
            this.shardRecords.map((records, shard) => ({ kind: 'sessions' as const, shard, lines: [...records.values()] })),
            [...this.collections].map(([collection, entries]) => ({
                kind: 'entries' as const,
                collection,
                lines: [...entries.values()].map((entry) => JSON.stringify(entry)),
            })),
            true,
        );
    }

    private async writeCommit(
        sessionFiles: Array<{ kind: 'sessions'; shard: number; lines: string[] }>,
        entryFiles: Array<{ kind: 'entries'; collection: string; lines: string[] }>,
        full = false,
    ): Promise<void> {
        const commit = this.manifest.commit + 1;
        const { shards, encryption } = this.manifest;
        try {
            const written = await Promise.all([
                ...sessionFiles.map(async ({ shard, lines }): Promise<FileRef> => {
                    const header: FileHeader = { format: FORMAT, kind: 'sessions', shard, shards, commit, encryption };
                    const file = `${shardName(shard)}.c${commit}.jsonl`;
                    const { size, sha256 } = await writeDataFile(join(this.folder, file), header, lines);
                    return { kind: 'sessions', shard, file, size, sha256, count: lines.length };
                }),
                ...entryFiles
                    .filter(({ lines }) => lines.length > 0)
                    .map(async ({ collection, lines }): Promise<FileRef> => {
                        const header: FileHeader = { format: FORMAT, kind: 'entries', collection, commit, encryption };
                        const file = `${collectionName(collection)}.c${commit}.jsonl`;
                        const { size, sha256 } = await writeDataFile(join(this.folder, file), header, lines);
                        return { kind: 'entries', collection, file, size, sha256, count: lines.length };
                    }),
            ]);
            const replaced = (ref: FileRef) =>
                full ||
                (ref.kind === 'sessions'
                    ? sessionFiles.some((changed) => changed.shard === ref.shard)
                    : entryFiles.some((changed) => changed.collection === ref.collection));
            const superseded = this.manifest.files.filter(replaced);
            const files = [...this.manifest.files.filter((ref) => !replaced(ref)), ...written].sort(compareRefs);
            const manifest: Manifest = { format: FORMAT, shards, commit, encryption, files };
            await this.lock!.verify();
            await writeFileAtomic(this.folder, META_FILE, `${JSON.stringify(manifest, null, 2)}\n`);
            this.manifest = manifest;
            await Promise.all(superseded.map((ref) => unlink(join(this.folder, ref.file)).catch(() => undefined)));
        } catch (error) {
            if (error instanceof CrawleeSessionsError) throw error;
            throw new StoreUnavailableError(`Cannot write to the ${this.description}: ${(error as Error).message}`, error);
        }
    }

    /** Deletes data files the manifest does not name (older layout, superseded commits, a crashed commit's files). */
    private async removeUnreferenced(obsolete: readonly string[]): Promise<void> {
        const referenced = new Set([META_FILE, LOCK_FILE, ...this.manifest.files.map((ref) => ref.file)]);
        const names = await readdir(this.folder).catch(() => [] as string[]);
        // Only the lock holder writes meta.json's temp files: any left is a crashed commit's.
        const leftovers = names.filter((file) => (DATA_FILE.test(file) || /^meta\.json\..*\.tmp$/.test(file)) && !referenced.has(file));
        await Promise.all([...new Set([...obsolete, ...leftovers])].filter((file) => !referenced.has(file)).map((file) => unlink(join(this.folder, file)).catch(() => undefined)));
    }

    /** Re-serializes every record and entry with the current box (bound sealing). */
    private reseal(): void {
        for (const records of this.shardRecords) {
            for (const [id, json] of records) {
                records.set(id, JSON.stringify(serialize(this.box, deserialize(this.box, JSON.parse(json) as SerializedRecord, this.description))));
            }
        }
        for (const [collection, entries] of this.collections) {
            for (const [key, entry] of entries) {
                const field = entryField(collection, key);
                entries.set(key, { ...entry, value: sealJson(this.box, openJson(this.box, entry.value, this.description, field), field) });
            }
        }
    }

    private logRecovery(recovery: RecoveryReport, wrote: boolean): void {
        for (const { file, reason, movedTo } of recovery.setAside) {
            this.log.warning(`Damaged file ${file}: ${reason}${movedTo ? `; moved to ${movedTo}` : ''}.`);
        }
        for (const { file, reason } of recovery.skipped) this.log.warning(`Skipped ${file}: ${reason}`);
        this.log.warning(
            `Opened the ${this.description} with damaged files ignored: loaded ${recovery.sessions} sessions and ${recovery.entries} entries` +
                (wrote ? ', and wrote a consistent set of files.' : ' (read-only: nothing was changed).'),
        );
    }
}

/**
 * The changes of one commit, copy-on-write over the committed state: touched shards and collections are copied on
 * first change, so a failed commit leaves the committed state as it was.
 */
class Stage {
    readonly dirtyShards = new Set<number>();
    readonly dirtyCollections = new Set<string>();
    private readonly shards: Map<string, string>[];
    private readonly collections: Map<string, Map<string, StoreEntry>>;

    constructor(shards: Map<string, string>[], collections: Map<string, Map<string, StoreEntry>>) {
        this.shards = [...shards];
        this.collections = new Map(collections);
    }

    peekShard(shard: number): Map<string, string> {
        return this.shards[shard]!;
    }

    shard(shard: number): Map<string, string> {
        if (!this.dirtyShards.has(shard)) {
            this.shards[shard] = new Map(this.shards[shard]);
            this.dirtyShards.add(shard);
        }
        return this.shards[shard]!;
    }

    peekCollection(collection: string): Map<string, StoreEntry> | undefined {
        return this.collections.get(collection);
    }

    collection(collection: string): Map<string, StoreEntry> {
        if (!this.dirtyCollections.has(collection)) {
            this.collections.set(collection, new Map(this.collections.get(collection)));
            this.dirtyCollections.add(collection);
        }
        return this.collections.get(collection)!;
    }

    shardsView(): readonly Map<string, string>[] {
        return this.shards;
    }

    collectionsView(): ReadonlyMap<string, Map<string, StoreEntry>> {
        return this.collections;
    }

    install(store: { replaceState(shards: Map<string, string>[], collections: Map<string, Map<string, StoreEntry>>): void }): void {
        for (const [collection, entries] of this.collections) if (entries.size === 0) this.collections.delete(collection);
        store.replaceState(this.shards, this.collections);
    }
}

// --- serialization ---

function sessionField(id: string, field: 'cookies' | 'auth'): SealedField {
    return { kind: 'session', id, field };
}

function entryField(collection: string, key: string): SealedField {
    return { kind: 'entry', collection, key };
}

function serialize(box: SecretBox | undefined, { writers: _oneProcess, ...record }: SessionRecord): SerializedRecord {
    // Writer totals guard against commits whose answer was lost on a network; a local commit has no such case.
    return {
        ...record,
        cookies: sealJson(box, record.cookies, sessionField(record.id, 'cookies')),
        auth: record.auth && sealJson(box, record.auth, sessionField(record.id, 'auth')),
    };
}

function deserialize(box: SecretBox | undefined, record: SerializedRecord, where: string): SessionRecord {
    return {
        ...record,
        cookies: openJson<StoredCookie[]>(box, record.cookies, where, sessionField(record.id, 'cookies')),
        auth: record.auth ? openJson<SessionAuth>(box, record.auth, where, sessionField(record.id, 'auth')) : null,
    };
}

// --- reading and checking a store folder ---

async function readLayoutRetrying(folder: string, readOnly: boolean): Promise<Layout> {
    // A reader without the lock may see a commit replace the files it is reading: it reads the new snapshot.
    for (let attempt = 0; ; attempt++) {
        try {
            return await readLayout(folder, readOnly);
        } catch (error) {
            if (!(error instanceof SnapshotMoved) || attempt >= 50) {
                if (error instanceof SnapshotMoved) {
                    throw new StoreUnavailableError(`The files in ${folder} kept changing while they were read: try again.`);
                }
                throw error;
            }
            await new Promise((resolve) => setTimeout(resolve, Math.min(200, 5 * (attempt + 1))));
        }
    }
}

async function readLayout(folder: string, readOnly: boolean): Promise<Layout> {
    const layout: Layout = {
        manifest: undefined,
        legacy: false,
        shards: 16,
        encryption: null,
        records: new Map(),
        collections: new Map(),
        damaged: [],
        skipped: [],
        obsolete: [],
        highestCommit: 0,
    };
    const names = await readdir(folder).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return [] as string[];
        throw new StoreUnavailableError(`Cannot read ${folder}: ${error.message}`, error);
    });
    layout.highestCommit = Math.max(0, ...names.map(commitOf));
    const metaPath = join(folder, META_FILE);
    const metaText = await readFile(metaPath, 'utf8').catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return undefined;
        throw new StoreUnavailableError(`Cannot read ${metaPath}: ${error.message}`, error);
    });

    if (metaText === undefined) {
        const dataFiles = names.filter((file) => DATA_FILE.test(file) || LEGACY_SHARD_FILE.test(file) || LEGACY_ENTRIES_FILE.test(file));
        if (dataFiles.length === 0) return layout; // a new store
        layout.damaged.push({
            file: metaPath,
            reason: `is missing, but the folder holds ${dataFiles.length} data file(s): the store's layout (shard count, which files are current) is unknown`,
        });
        await recoverWithoutManifest(folder, names, layout);
        return layout;
    }

    let meta: unknown;
    try {
        meta = JSON.parse(metaText);
    } catch {
        layout.damaged.push({ file: metaPath, reason: `is not JSON (${metaText.length} bytes: truncated or overwritten)` });
        await recoverWithoutManifest(folder, names, layout);
        return layout;
    }
    if (isObject(meta) && meta.format === 1) return readLegacyLayout(folder, names, meta, layout);
    const problem = checkManifest(meta);
    if (problem) {
        layout.damaged.push({ file: metaPath, reason: problem });
        await recoverWithoutManifest(folder, names, layout);
        return layout;
    }
    const manifest = meta as Manifest;
    layout.manifest = manifest;
    layout.shards = manifest.shards;
    layout.encryption = manifest.encryption;
    for (const ref of manifest.files) {
        const path = join(folder, ref.file);
        let content: Buffer;
        try {
            content = await readFile(path);
        } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new StoreUnavailableError(`Cannot read ${path}: ${(error as Error).message}`, error);
            // Without the lock, a commit may have replaced the file since the manifest was read.
            if (readOnly && (await readFile(metaPath, 'utf8').catch(() => undefined)) !== metaText) throw new SnapshotMoved();
            layout.damaged.push({ file: path, reason: `is missing (${META_FILE} lists it, commit ${manifest.commit})` });
            continue;
        }
        const checked = checkDataFile(content, ref, manifest);
        if (checked.reason) layout.damaged.push({ file: path, reason: checked.reason });
        layout.skipped.push(...checked.skipped.map((reason) => ({ file: path, reason })));
        addContent(layout, checked, path);
    }
    layout.obsolete = names.filter((file) => LEGACY_SHARD_FILE.test(file) || LEGACY_ENTRIES_FILE.test(file));
    return layout;
}

/** Reads a file the folder listed: gone meanwhile means another process changed the folder (a reader without the lock). */
async function readMaybeMoved(path: string): Promise<string> {
    try {
        return await readFile(path, 'utf8');
    } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new SnapshotMoved();
        throw new StoreUnavailableError(`Cannot read ${path}: ${(error as Error).message}`, error);
    }
}

/** What one data file held, as checked: its records or entries (the readable ones when damaged). */
interface CheckedFile {
    reason?: string;
    skipped: string[];
    records: Array<{ id: string; json: string; line: number }>;
    entries: Array<{ collection: string; entry: StoreEntry }>;
    header?: FileHeader;
}

function checkDataFile(content: Buffer, ref: FileRef, manifest: Manifest): CheckedFile {
    const result = parseDataFile(content.toString('utf8'));
    const header = result.header;
    const problems: string[] = [];
    if (content.length !== ref.size) {
        problems.push(
            content.length < ref.size
                ? `is truncated (${content.length} of ${ref.size} bytes)`
                : `is longer than ${META_FILE} says (${content.length} instead of ${ref.size} bytes)`,
        );
    }
    if (!header) {
        problems.push(result.headerProblem ?? 'has no header line');
    } else if (
        header.kind !== ref.kind ||
        header.commit !== commitOf(ref.file) ||
        (header.kind === 'sessions' && ref.kind === 'sessions' && (header.shard !== ref.shard || header.shards !== manifest.shards)) ||
        (header.kind === 'entries' && ref.kind === 'entries' && header.collection !== ref.collection)
    ) {
        problems.push(
            header.kind === 'sessions' && header.shards !== manifest.shards
                ? `was written for ${header.shards} shards, but ${META_FILE} says ${manifest.shards}: the shard count is wrong`
                : `is not the file ${META_FILE} lists (its header says ${describeHeader(header)})`,
        );
    }
    const skipped = [...result.skipped];
    const records = result.records.filter((record) => {
        if (ref.kind === 'sessions' && shardOf(record.id, manifest.shards) !== ref.shard) {
            skipped.push(`line ${record.line}: session ${JSON.stringify(record.id)} does not belong in shard ${ref.shard} of ${manifest.shards}`);
            return false;
        }
        return true;
    });
    if (ref.kind === 'sessions' && result.entries.length > 0) problems.push('holds entries, not sessions');
    if (ref.kind === 'entries' && result.records.length > 0) problems.push('holds sessions, not entries');
    const count = ref.kind === 'sessions' ? records.length : result.entries.length;
    if (problems.length === 0 && (skipped.length > 0 || count !== ref.count)) {
        problems.push(`holds ${count} readable ${ref.kind === 'sessions' ? 'sessions' : 'entries'} of ${ref.count}`);
    }
    if (problems.length === 0 && sha256(content) !== ref.sha256) problems.push(`was modified (its SHA-256 does not match ${META_FILE})`);
    const entries = ref.kind === 'entries' ? result.entries.map(({ entry }) => ({ collection: ref.collection, entry })) : [];
    return {
        ...(problems.length ? { reason: problems.join('; ') } : {}),
        skipped: problems.length ? skipped : [],
        records: ref.kind === 'sessions' ? records : [],
        entries,
        ...(header ? { header } : {}),
    };
}

/** Parses a format-2 data file line by line, keeping every readable line (a damaged file is salvaged line by line). */
function parseDataFile(text: string): {
    header?: FileHeader;
    headerProblem?: string;
    records: Array<{ id: string; json: string; line: number }>;
    entries: Array<{ entry: StoreEntry; line: number }>;
    skipped: string[];
} {
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    const result: ReturnType<typeof parseDataFile> = { records: [], entries: [], skipped: [] };
    let header: unknown;
    try {
        header = JSON.parse(lines[0] ?? '');
    } catch {
        result.headerProblem = text.length === 0 ? 'is empty' : 'is not a store data file (its first line is not JSON)';
    }
    if (header !== undefined) {
        if (isObject(header) && header.format === FORMAT && (header.kind === 'sessions' || header.kind === 'entries')) result.header = header as FileHeader;
        else result.headerProblem = 'is not a store data file (its first line is not a header)';
    }
    for (let index = 1; index < lines.length; index++) {
        const line = index + 1;
        let value: unknown;
        try {
            value = JSON.parse(lines[index]!);
        } catch {
            result.skipped.push(`line ${line} is not JSON (cut off or damaged)`);
            continue;
        }
        if (result.header?.kind === 'entries') {
            const problem = checkEntry(value);
            if (problem) result.skipped.push(`line ${line}: ${problem}`);
            else result.entries.push({ entry: value as StoreEntry, line });
        } else {
            const problem = checkRecord(value);
            if (problem) result.skipped.push(`line ${line}: ${problem}`);
            else result.records.push({ id: (value as SerializedRecord).id, json: lines[index]!, line });
        }
    }
    return result;
}

function addContent(layout: Layout, checked: Pick<CheckedFile, 'records' | 'entries'>, path: string): void {
    for (const { id, json, line } of checked.records) {
        if (layout.records.has(id)) {
            layout.skipped.push({ file: path, reason: `line ${line}: session ${JSON.stringify(id)} appears twice (the first one is kept)` });
            continue;
        }
        layout.records.set(id, json);
    }
    for (const { collection, entry } of checked.entries) {
        let entries = layout.collections.get(collection);
        if (!entries) layout.collections.set(collection, (entries = new Map()));
        if (!entries.has(entry.key)) entries.set(entry.key, entry);
    }
}

/**
 * Without a usable manifest: the current file of each shard and collection is the readable one of the highest commit;
 * the shard count and encryption come from the files' headers. Every record is then re-sharded by id.
 */
async function recoverWithoutManifest(folder: string, names: readonly string[], layout: Layout): Promise<void> {
    const newest = new Map<string, { file: string; commit: number }>();
    for (const file of names) {
        const match = DATA_FILE.exec(file);
        if (!match) continue;
        const slot = match[1]!;
        const commit = Number(match[4]);
        if ((newest.get(slot)?.commit ?? -1) < commit) newest.set(slot, { file, commit });
    }
    let latest = -1;
    for (const { file, commit } of newest.values()) {
        const path = join(folder, file);
        const parsed = parseDataFile(await readMaybeMoved(path));
        if (!parsed.header) {
            layout.damaged.push({ file: path, reason: parsed.headerProblem ?? 'has no header line' });
            continue;
        }
        if (commit > latest) {
            latest = commit;
            layout.encryption = parsed.header.encryption;
            if (parsed.header.kind === 'sessions') layout.shards = parsed.header.shards;
        }
        if (parsed.skipped.length > 0) {
            layout.damaged.push({ file: path, reason: `has ${parsed.skipped.length} unreadable line(s)` });
            layout.skipped.push(...parsed.skipped.map((reason) => ({ file: path, reason })));
        }
        const header = parsed.header;
        addContent(
            layout,
            {
                records: header.kind === 'sessions' ? parsed.records : [],
                entries: header.kind === 'entries' ? parsed.entries.map(({ entry }) => ({ collection: header.collection, entry })) : [],
            },
            path,
        );
    }
    // Format-1 files too (a deleted meta.json of an older store).
    await readLegacyFiles(folder, names, layout, undefined);
    layout.obsolete = names.filter((file) => DATA_FILE.test(file) || LEGACY_SHARD_FILE.test(file) || LEGACY_ENTRIES_FILE.test(file));
    layout.legacy = true;
}

async function readLegacyLayout(folder: string, names: readonly string[], meta: Record<string, unknown>, layout: Layout): Promise<Layout> {
    layout.legacy = true;
    const metaPath = join(folder, META_FILE);
    const shards = meta.shards;
    if (!Number.isInteger(shards) || (shards as number) < 1 || (shards as number) > 1024) {
        layout.damaged.push({ file: metaPath, reason: `says the store has ${JSON.stringify(shards)} shards (an integer 1–1024 is expected)` });
        await readLegacyFiles(folder, names, layout, undefined);
    } else {
        layout.shards = shards as number;
        const encryption: EncryptionMeta = {};
        if (typeof meta.salt === 'string') encryption.salt = meta.salt;
        if (typeof meta.keyCheck === 'string') encryption.keyCheck = meta.keyCheck;
        layout.encryption = encryption.salt ? encryption : null;
        await readLegacyFiles(folder, names, layout, layout.shards);
    }
    layout.obsolete = names.filter((file) => DATA_FILE.test(file) || LEGACY_SHARD_FILE.test(file) || LEGACY_ENTRIES_FILE.test(file));
    return layout;
}

/** Reads format-1 shard and entry files; with `shards` known, checks that every file and session is where it belongs. */
async function readLegacyFiles(folder: string, names: readonly string[], layout: Layout, shards: number | undefined): Promise<void> {
    for (const file of [...names].sort()) {
        const path = join(folder, file);
        const shardMatch = LEGACY_SHARD_FILE.exec(file);
        const entriesMatch = LEGACY_ENTRIES_FILE.exec(file);
        if (!shardMatch && !entriesMatch) continue;
        const text = await readMaybeMoved(path);
        let value: unknown;
        try {
            value = JSON.parse(text);
        } catch {
            layout.damaged.push({ file: path, reason: `is not JSON (${text.length} bytes: truncated or overwritten)` });
            continue;
        }
        if (shardMatch) {
            const shard = Number(shardMatch[1]);
            if (shards !== undefined && shard >= shards) {
                layout.damaged.push({
                    file: join(folder, META_FILE),
                    reason: `says the store has ${shards} shards, but ${file} exists: the shard count is wrong`,
                });
                shards = undefined; // the sessions below are kept by id, whatever their shard
            }
            if (!Array.isArray(value)) {
                layout.damaged.push({ file: path, reason: `is not a list of sessions (it holds ${describeJson(value)})` });
                continue;
            }
            const problems: string[] = [];
            value.forEach((record: unknown, index) => {
                const problem = checkRecord(record);
                if (problem) return problems.push(`session #${index + 1}: ${problem}`);
                const { id } = record as SerializedRecord;
                if (shards !== undefined && shardOf(id, shards) !== shard) return problems.push(`session ${JSON.stringify(id)} does not belong in shard ${shard} of ${shards}`);
                if (!layout.records.has(id)) layout.records.set(id, JSON.stringify(record));
                return undefined;
            });
            if (problems.length > 0) {
                layout.damaged.push({ file: path, reason: `holds ${problems.length} unreadable session(s)` });
                layout.skipped.push(...problems.map((reason) => ({ file: path, reason })));
            }
        } else {
            const collection = entriesMatch![1]!;
            if (!isObject(value) || Array.isArray(value)) {
                layout.damaged.push({ file: path, reason: `is not a collection of entries (it holds ${describeJson(value)})` });
                continue;
            }
            const entries = new Map<string, StoreEntry>();
            for (const [key, entry] of Object.entries(value)) {
                const problem = checkEntry(entry);
                if (problem || (entry as StoreEntry).key !== key) {
                    layout.damaged.push({ file: path, reason: `entry ${JSON.stringify(key)}: ${problem ?? 'its key does not match'}` });
                    continue;
                }
                entries.set(key, entry as StoreEntry);
            }
            if (entries.size > 0) layout.collections.set(collection, entries);
        }
    }
}

function checkManifest(meta: unknown): string | undefined {
    if (!isObject(meta)) return `does not hold the store's metadata (it holds ${describeJson(meta)})`;
    if (meta.format !== FORMAT) return `has an unknown format ${JSON.stringify(meta.format)} (written by a newer version?)`;
    const { shards, commit, files, encryption } = meta;
    if (!Number.isInteger(shards) || (shards as number) < 1 || (shards as number) > 1024) return `says the store has ${JSON.stringify(shards)} shards (an integer 1–1024 is expected)`;
    if (!Number.isInteger(commit) || (commit as number) < 1) return 'has no valid commit number';
    if (encryption !== null && !isObject(encryption)) return 'has invalid encryption metadata';
    if (!Array.isArray(files)) return 'has no list of files';
    const seenShards = new Set<number>();
    const seenCollections = new Set<string>();
    for (const ref of files as unknown[]) {
        if (!isObject(ref) || typeof ref.file !== 'string' || !DATA_FILE.test(ref.file) || !Number.isInteger(ref.size) || typeof ref.sha256 !== 'string' || !Number.isInteger(ref.count)) {
            return `lists a file it cannot describe (${describeJson(ref)})`;
        }
        if (ref.kind === 'sessions') {
            if (!Number.isInteger(ref.shard) || (ref.shard as number) < 0 || (ref.shard as number) >= (shards as number)) {
                return `says the store has ${shards as number} shards, but lists ${ref.file} for shard ${JSON.stringify(ref.shard)}: the shard count is wrong`;
            }
            if (seenShards.has(ref.shard as number)) return `lists two files for shard ${ref.shard as number}`;
            seenShards.add(ref.shard as number);
        } else if (ref.kind === 'entries' && typeof ref.collection === 'string') {
            if (seenCollections.has(ref.collection)) return `lists two files for collection ${JSON.stringify(ref.collection)}`;
            seenCollections.add(ref.collection);
        } else {
            return `lists a file of unknown kind (${ref.file})`;
        }
    }
    if (seenShards.size !== shards) {
        return `says the store has ${shards as number} shards, but lists ${seenShards.size} shard files: the shard count is wrong`;
    }
    return undefined;
}

function checkRecord(value: unknown): string | undefined {
    if (!isObject(value)) return `not a session (${describeJson(value)})`;
    const record = value as Partial<SerializedRecord>;
    if (typeof record.id !== 'string' || record.id.length === 0) return 'a session without an id';
    const name = `session ${JSON.stringify(record.id)}`;
    if (!Number.isInteger(record.generation) || record.generation! < 0) return `${name}: generation is not a non-negative integer`;
    if (record.profileIndex !== null && !(Number.isInteger(record.profileIndex) && record.profileIndex! >= 0)) return `${name}: profileIndex is invalid`;
    if (record.identity !== null && !isObject(record.identity)) return `${name}: identity is invalid`;
    if (!Array.isArray(record.cookies) && typeof record.cookies !== 'string') return `${name}: cookies are neither a list nor a sealed value`;
    if (record.auth !== null && record.auth !== undefined && !isObject(record.auth) && typeof record.auth !== 'string') return `${name}: auth is invalid`;
    const counters = record.counters as unknown;
    if (!isObject(counters) || !['requests', 'successes', 'failures', 'renewals'].every((key) => typeof counters[key] === 'number')) {
        return `${name}: counters are invalid`;
    }
    if (record.lastUsedAt !== null && typeof record.lastUsedAt !== 'number') return `${name}: lastUsedAt is invalid`;
    if (record.lastRenewalError !== null && record.lastRenewalError !== undefined && typeof record.lastRenewalError !== 'string') return `${name}: lastRenewalError is invalid`;
    if (typeof record.updatedAt !== 'number') return `${name}: updatedAt is invalid`;
    return undefined;
}

function checkEntry(value: unknown): string | undefined {
    if (!isObject(value)) return `not an entry (${describeJson(value)})`;
    if (typeof value.key !== 'string') return 'an entry without a key';
    if (!('value' in value)) return `entry ${JSON.stringify(value.key)} has no value`;
    if (typeof value.updatedAt !== 'number') return `entry ${JSON.stringify(value.key)}: updatedAt is invalid`;
    return undefined;
}

function damagedError(description: string, folder: string, damaged: ReadonlyArray<{ file: string; reason: string }>, readOnly: boolean): StoreDamagedError {
    const storageDir = resolve(folder, '..', '..');
    const name = basename(folder);
    const list = damaged.map(({ file, reason }) => `${file} ${reason}`).join('; ');
    return new StoreDamagedError(
        `The ${description} is damaged: ${list}. Nothing was ${readOnly ? 'read' : 'changed'}. To keep every readable session and move the ` +
            `damaged files aside, run \`crawlee-sessions repair --storage-dir ${storageDir}${name === 'crawlee-sessions' ? '' : ` --store-name ${name}`}\` (or open the store with ` +
            '{ embedded: { ignoreDamaged: true } }).',
        damaged,
    );
}

// --- files ---

/** Writes a data file (header line, then one line per record), fsynced. Returns its size and SHA-256. */
async function writeDataFile(path: string, header: FileHeader, lines: readonly string[]): Promise<{ size: number; sha256: string }> {
    const content = Buffer.from(`${[JSON.stringify(header), ...lines].join('\n')}\n`, 'utf8');
    const handle = await open(path, 'w', 0o600);
    try {
        await handle.writeFile(content);
        await handle.sync();
    } finally {
        await handle.close();
    }
    return { size: content.length, sha256: sha256(content) };
}

/** Replaces `folder/name` atomically: a temp file, fsync, rename, fsync of the folder (so the rename survives a power cut). */
async function writeFileAtomic(folder: string, name: string, content: string): Promise<void> {
    const temp = join(folder, `${name}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    const handle = await open(temp, 'w', 0o600);
    try {
        await handle.writeFile(content);
        await handle.sync();
    } finally {
        await handle.close();
    }
    try {
        await rename(temp, join(folder, name));
    } catch (error) {
        await unlink(temp).catch(() => undefined);
        throw error;
    }
    await syncFolder(folder);
}

async function syncFolder(folder: string): Promise<void> {
    const handle = await open(folder, 'r').catch(() => undefined);
    if (!handle) return;
    try {
        await handle.sync();
    } catch {
        // Some file systems refuse fsync on a directory; the rename is still atomic.
    } finally {
        await handle.close();
    }
}

// --- the lock ---

/** What `lock.json` holds. */
interface LockRecord {
    pid: number;
    host: string;
    since: string;
    /** Random: tells this holder's lock from a later one of the same process id. */
    token?: string;
    /** Linux: the boot and the process's start time, so that a reused process id is not taken for the holder. */
    bootId?: string;
    startTime?: string;
}

const BOOT_ID = readProcText('/proc/sys/kernel/random/boot_id');

/**
 * The store's exclusive lock: `lock.json`, created atomically (written to a temp file, then `link(2)`, which fails
 * if the lock exists), held until `close()`. A lock whose process is gone (same machine: its pid is dead or belongs to
 * another process now; another machine: no heartbeat for `staleMs`) is taken over by renaming it away first, so that
 * of two processes taking over the same stale lock only one can succeed. The holder checks that the lock is still its
 * own before every commit.
 */
class FileLock {
    private timer: NodeJS.Timeout | undefined;
    private lost = false;

    private constructor(
        private readonly path: string,
        private readonly record: Required<Pick<LockRecord, 'token'>> & LockRecord,
        private readonly description: string,
        staleMs: number,
    ) {
        this.timer = setInterval(() => void this.heartbeat(), Math.max(1000, Math.floor(staleMs / 4)));
        this.timer.unref();
        if (heldLocks.size === 0) process.once('exit', releaseHeldLocks);
        heldLocks.add(this);
    }

    /** A process ending without close(): gives the lock back, so that the next process need not judge it stale. */
    releaseSync(): void {
        try {
            if (!this.lost && readFileSync(this.path, 'utf8').includes(this.record.token)) unlinkSync(this.path);
        } catch {
            // already gone
        }
    }

    static async acquire(folder: string, description: string, staleMs: number): Promise<FileLock> {
        const path = join(folder, LOCK_FILE);
        const record = {
            pid: process.pid,
            host: hostname(),
            since: new Date().toISOString(),
            token: randomBytes(16).toString('hex'),
            ...(BOOT_ID ? { bootId: BOOT_ID } : {}),
            ...(processStartTime(process.pid) ? { startTime: processStartTime(process.pid)! } : {}),
        };
        const temp = `${path}.${record.token}.tmp`;
        try {
            await writeFileSynced(temp, `${JSON.stringify(record)}\n`);
            for (let attempt = 0; attempt < 5; attempt++) {
                try {
                    await createExclusive(temp, path, `${JSON.stringify(record)}\n`);
                    return new FileLock(path, record, description, staleMs);
                } catch (error) {
                    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
                }
                const current = await readLock(path);
                if (current === 'gone') continue;
                const holder = current.record;
                if (!(await isStale(current, staleMs))) throw inUse(description, holder);
                // Take the stale lock away atomically: only one process can rename it; then make sure it was the one judged.
                const away = `${path}.stale-${record.token}`;
                try {
                    await rename(path, away);
                } catch (error) {
                    if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
                    throw error;
                }
                const taken = await readLock(away);
                if (taken !== 'gone' && taken.text !== current.text) {
                    // Another process took the stale lock over in between and this one renamed that fresh lock: put it back.
                    await link(away, path).catch(() => undefined);
                }
                await unlink(away).catch(() => undefined);
            }
            const current = await readLock(path);
            throw inUse(description, current === 'gone' ? undefined : current.record);
        } catch (error) {
            if (error instanceof CrawleeSessionsError) throw error;
            throw new StoreUnavailableError(`Cannot lock the ${description}: ${(error as Error).message}`, error);
        } finally {
            await unlink(temp).catch(() => undefined);
        }
    }

    /** Throws unless the lock is still this holder's (it may have been judged stale and taken over). */
    async verify(): Promise<void> {
        const current = await readLock(this.path);
        if (current === 'gone' || current.record?.token !== this.record.token) {
            this.lost = true;
            throw new StoreUnavailableError(
                `The ${this.description} is no longer locked by this process (its lock was removed or taken over by ` +
                    `${current === 'gone' || !current.record ? 'nobody' : `process ${current.record.pid} on ${current.record.host}`}): nothing more is written.`,
            );
        }
    }

    async release(): Promise<void> {
        if (this.timer) clearInterval(this.timer);
        this.timer = undefined;
        heldLocks.delete(this);
        if (heldLocks.size === 0) process.off('exit', releaseHeldLocks);
        const current = await readLock(this.path).catch(() => 'gone' as const);
        if (current !== 'gone' && current.record?.token === this.record.token) await unlink(this.path).catch(() => undefined);
    }

    /** Refreshes the lock's modification time, which other machines judge it by. */
    private async heartbeat(): Promise<void> {
        if (this.lost) return;
        try {
            await this.verify();
            const now = new Date();
            await utimes(this.path, now, now);
        } catch {
            if (this.timer) clearInterval(this.timer);
        }
    }
}

const heldLocks = new Set<FileLock>();

function releaseHeldLocks(): void {
    for (const lock of heldLocks) lock.releaseSync();
}

/**
 * Creates `path` holding `content` only if it does not exist (EEXIST otherwise): `link(2)` of a complete temp file,
 * so that nobody ever sees a half-written lock; O_EXCL where the file system has no hard links.
 */
async function createExclusive(temp: string, path: string, content: string): Promise<void> {
    try {
        await link(temp, path);
    } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw error;
        const handle = await open(path, 'wx', 0o600);
        try {
            await handle.writeFile(content);
            await handle.sync();
        } finally {
            await handle.close();
        }
    }
}

async function writeFileSynced(path: string, content: string): Promise<void> {
    const handle = await open(path, 'w', 0o600);
    try {
        await handle.writeFile(content);
        await handle.sync();
    } finally {
        await handle.close();
    }
}

async function readLock(path: string): Promise<'gone' | { text: string; record: LockRecord | undefined; mtimeMs: number }> {
    try {
        const [text, info] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
        let record: LockRecord | undefined;
        try {
            const value = JSON.parse(text) as unknown;
            if (isObject(value) && Number.isInteger(value.pid) && typeof value.host === 'string') record = value as unknown as LockRecord;
        } catch {
            // unreadable: judged below
        }
        return { text, record, mtimeMs: info.mtimeMs };
    } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
        throw error;
    }
}

async function isStale(lock: { text: string; record: LockRecord | undefined; mtimeMs: number }, staleMs: number): Promise<boolean> {
    const { record } = lock;
    if (!record) {
        // Older versions wrote `null` to release. Anything else unreadable may be a lock being written (O_EXCL
        // fallback): stale only once it is old.
        return lock.text.trim() === 'null' || Date.now() - lock.mtimeMs > 10_000;
    }
    if (record.host !== hostname()) return Date.now() - lock.mtimeMs > staleMs;
    if (record.bootId && BOOT_ID && record.bootId !== BOOT_ID) return true;
    if (!isAlive(record.pid)) return true;
    if (record.startTime && processStartTime(record.pid) && processStartTime(record.pid) !== record.startTime) return true;
    return false;
}

function inUse(description: string, holder: LockRecord | undefined): StoreUnavailableError {
    const who = holder
        ? holder.pid === process.pid && holder.host === hostname()
            ? `this process (${holder.pid}, another open instance of the store)`
            : `process ${holder.pid}${holder.host === hostname() ? '' : ` on ${holder.host}`} (since ${holder.since})`
        : 'another process';
    return new StoreUnavailableError(
        `The ${description} is in use by ${who}. The embedded store serves one process at a time: stop the other ` +
            'process, or share sessions between processes with MySQL (store: { mysql: url } or CRAWLEE_SESSIONS_MYSQL_URL). ' +
            'Reading commands (list, show, export, status) work while it runs.',
    );
}

function isAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (error) {
        return (error as NodeJS.ErrnoException).code === 'EPERM';
    }
}

function readProcText(path: string): string | undefined {
    try {
        // Synchronous and tiny; only on Linux.
        return readFileSync(path, 'utf8').trim() || undefined;
    } catch {
        return undefined;
    }
}

/** The process's start time in clock ticks since boot (Linux `/proc/<pid>/stat` field 22), or undefined. */
function processStartTime(pid: number): string | undefined {
    const stat = readProcText(`/proc/${pid}/stat`);
    if (!stat) return undefined;
    // The command name (field 2) is in parentheses and may contain spaces: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19];
}

// --- names and helpers ---

/** Crawlee's storage directory of a configuration, chosen as Crawlee's own storage client chooses it. */
function storageDirOf(config: StorageConfigLike | undefined): string {
    const client = config?.get('storageClient') as { localDataDirectory?: unknown } | undefined;
    if (typeof client?.localDataDirectory === 'string') return client.localDataDirectory;
    const options = config?.get('storageClientOptions') as { localDataDirectory?: unknown } | undefined;
    if (typeof options?.localDataDirectory === 'string') return options.localDataDirectory;
    if (process.env.CRAWLEE_STORAGE_DIR) return process.env.CRAWLEE_STORAGE_DIR;
    return existsSync('./crawlee_storage') ? './crawlee_storage' : './storage';
}

function shardName(shard: number): string {
    return `sessions-${String(shard).padStart(3, '0')}`;
}

/** A collection's file name: readable when the name is, unique whatever it is. */
function collectionName(collection: string): string {
    const safe = collection.replace(/[^a-zA-Z0-9-]/g, '_').slice(0, 48);
    return safe === collection ? `entries-${safe}` : `entries-${safe}_${sha256(Buffer.from(collection)).slice(0, 8)}`;
}

function commitOf(file: string): number {
    return Number(DATA_FILE.exec(file)?.[4] ?? -1);
}

function compareRefs(a: FileRef, b: FileRef): number {
    if (a.kind !== b.kind) return a.kind === 'sessions' ? -1 : 1;
    if (a.kind === 'sessions' && b.kind === 'sessions') return a.shard - b.shard;
    return a.file < b.file ? -1 : 1;
}

function describeHeader(header: FileHeader): string {
    return header.kind === 'sessions'
        ? `shard ${header.shard} of ${header.shards}, commit ${header.commit}`
        : `collection ${JSON.stringify(header.collection)}, commit ${header.commit}`;
}

function describeJson(value: unknown): string {
    if (Array.isArray(value)) return `a list of ${value.length}`;
    if (value === null) return 'null';
    if (typeof value === 'object') return Object.keys(value).length === 0 ? 'an empty object' : 'an object';
    return `a ${typeof value}`;
}

function isObject(value: unknown): value is Record<string, unknown> {
    return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function sha256(content: Buffer): string {
    return createHash('sha256').update(content).digest('hex');
}

function timestamp(): string {
    return new Date().toISOString().replace(/[:.]/g, '-');
}

/** FNV-1a: a stable, fast hash spreading ids over shards. */
function shardOf(id: string, shards: number): number {
    let hash = 0x811c9dc5;
    for (let i = 0; i < id.length; i++) {
        hash ^= id.charCodeAt(i);
        hash = Math.imul(hash, 0x01000193);
    }
    return (hash >>> 0) % shards;
}
