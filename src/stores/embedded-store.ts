import { hostname } from 'node:os';

import { Configuration, KeyValueStore } from '@crawlee/core';
import { z } from 'zod';

import { parseWithZod } from '../shared/validation.js';
import { applySessionDelta } from '../model/merge.js';
import { SingleProcessStore } from './single-process-store.js';
import { openJson, openSecretBox, sealJson, type EncryptionMeta, type SecretBox } from './secrets.js';
import {
    StoreUnavailableError,
    type SessionAuth,
    type SessionDelta,
    type SessionRecord,
    type StoreEntry,
    type StoredCookie,
} from '../model/types.js';

/** Options of the embedded store (`Sessions.open({ store: { embedded: { … } } })`). */
export interface EmbeddedStoreOptions {
    /**
     * Name of the Crawlee key-value store the sessions live in. Named stores are not purged when a crawl starts,
     * so sessions survive restarts. Default `'crawlee-sessions'`.
     */
    name?: string;
    /**
     * The Crawlee configuration whose storage client (and so storage directory, `CRAWLEE_STORAGE_DIR`, default
     * `./storage`) is used. Default: the global configuration.
     */
    config?: Configuration;
    /** Encrypts cookie values, login values and secret entries at rest (AES-256-GCM). Default: none. */
    secret?: string;
    /**
     * How many records the sessions are spread over. A flush rewrites only the shards holding changed sessions.
     * Fixed when the store is created. Default 16.
     */
    shards?: number;
}

const optionsSchema = z.strictObject({
    name: z
        .string()
        .regex(/^[a-zA-Z0-9-]{1,63}$/, 'must be 1–63 letters, digits or dashes (a Crawlee store name)')
        .optional(),
    config: z.instanceof(Configuration).optional(),
    secret: z.string().optional(),
    shards: z.number().int().min(1).max(1024).optional(),
});

/** The record describing the store itself. */
interface EmbeddedMeta extends EncryptionMeta {
    format: 1;
    shards: number;
}

/** Which process uses the store; embedded stores are single-process. */
interface LockRecord {
    pid: number;
    host: string;
    since: string;
}

/** A record as serialized in a shard: cookies and auth may be sealed strings. */
type SerializedRecord = Omit<SessionRecord, 'cookies' | 'auth'> & { cookies: unknown; auth: unknown };

const META_KEY = 'meta';
const LOCK_KEY = 'lock';

/**
 * The default store: sessions in a named Crawlee key-value store on local disk, for one crawler process at a
 * time (use MySQL to share sessions between processes). Sessions are spread over a fixed number of shard
 * records; the store keeps every session's serialized form in memory and a write rewrites the shards it touched,
 * so a batch of thousands of sessions costs a handful of file writes.
 */
export class EmbeddedSessionStore extends SingleProcessStore {
    readonly kind = 'embedded';
    /** Serialized records (JSON) per shard. */
    private readonly shardRecords: Map<string, string>[];
    private writing: Promise<unknown> = Promise.resolve();

    private constructor(
        private readonly kvs: KeyValueStore,
        readonly description: string,
        private readonly box: SecretBox | undefined,
        private readonly meta: EmbeddedMeta,
    ) {
        super();
        this.shardRecords = Array.from({ length: meta.shards }, () => new Map());
    }

    /**
     * Opens (or creates) the store and loads every session. Fails with a clear error when another live process on
     * this machine uses the store, or when the secret does not fit.
     */
    static async open(options: EmbeddedStoreOptions = {}): Promise<EmbeddedSessionStore> {
        const parsed = parseWithZod(optionsSchema, options, 'embedded store options');
        const name = parsed.name ?? 'crawlee-sessions';
        const config = parsed.config ?? Configuration.getGlobalConfig();
        const description = `embedded store "${name}" in ${config.get('storageClientOptions')?.localDataDirectory ?? process.env.CRAWLEE_STORAGE_DIR ?? './storage'}`;
        let kvs: KeyValueStore;
        try {
            kvs = await KeyValueStore.open(name, { config });
        } catch (error) {
            throw new StoreUnavailableError(`Cannot open the ${description}: ${(error as Error).message}`, error);
        }
        await checkLock(kvs, description);
        const stored = await kvs.getValue<EmbeddedMeta>(META_KEY);
        const meta: EmbeddedMeta = stored ?? { format: 1, shards: parsed.shards ?? 16 };
        const { box, update } = openSecretBox(meta, parsed.secret, description);
        const store = new EmbeddedSessionStore(kvs, description, box, { ...meta, ...update });
        await store.load();
        // Only now that the secret fits and everything was read does the store write anything.
        await kvs.setValue(LOCK_KEY, { pid: process.pid, host: hostname(), since: new Date().toISOString() } satisfies LockRecord);
        if (!stored || update) await kvs.setValue(META_KEY, store.meta);
        return store;
    }

    private async load(): Promise<void> {
        for (let shard = 0; shard < this.meta.shards; shard++) {
            const records = await this.kvs.getValue<SerializedRecord[]>(shardKey(shard));
            for (const record of records ?? []) {
                // Decrypt once up front: a wrong or missing secret fails here, before anything is written.
                this.deserialize(record);
                this.shardRecords[shard]!.set(record.id, JSON.stringify(record));
            }
        }
    }

    async loadAll(): Promise<SessionRecord[]> {
        const records: SessionRecord[] = [];
        for (const shard of this.shardRecords) {
            for (const json of shard.values()) records.push(this.deserialize(JSON.parse(json) as SerializedRecord));
        }
        return records;
    }

    async read(id: string): Promise<SessionRecord | undefined> {
        const json = this.shardRecords[shardOf(id, this.meta.shards)]!.get(id);
        return json === undefined ? undefined : this.deserialize(JSON.parse(json) as SerializedRecord);
    }

    async write(deltas: readonly SessionDelta[]): Promise<SessionRecord[]> {
        const now = Date.now();
        const touched = new Set<number>();
        const results = deltas.map((delta) => {
            const shard = shardOf(delta.id, this.meta.shards);
            const records = this.shardRecords[shard]!;
            const json = records.get(delta.id);
            const stored = json === undefined ? undefined : this.deserialize(JSON.parse(json) as SerializedRecord);
            const record = applySessionDelta(stored, delta, now);
            records.set(delta.id, JSON.stringify(this.serialize(record)));
            touched.add(shard);
            return record;
        });
        await this.persistShards(touched);
        return results;
    }

    async remove(ids: readonly string[]): Promise<void> {
        const touched = new Set<number>();
        for (const id of ids) {
            const shard = shardOf(id, this.meta.shards);
            if (this.shardRecords[shard]!.delete(id)) touched.add(shard);
        }
        await this.persistShards(touched);
    }

    async listEntries<T>(collection: string): Promise<StoreEntry<T>[]> {
        const entries = await this.collection(collection);
        return Object.values(entries).map((entry) => this.openEntry<T>(entry));
    }

    async getEntry<T>(collection: string, key: string): Promise<StoreEntry<T> | undefined> {
        const entry = (await this.collection(collection))[key];
        return entry && this.openEntry<T>(entry);
    }

    async putEntry(collection: string, key: string, value: unknown, options: { secret?: boolean } = {}): Promise<void> {
        await this.serialized(async () => {
            const entries = await this.collection(collection);
            entries[key] = { key, value: options.secret ? sealJson(this.box, value) : value, updatedAt: Date.now() };
            await this.setValue(collectionKey(collection), entries);
        });
    }

    async deleteEntry(collection: string, key: string): Promise<boolean> {
        return this.serialized(async () => {
            const entries = await this.collection(collection);
            if (!(key in entries)) return false;
            delete entries[key];
            await this.setValue(collectionKey(collection), entries);
            return true;
        });
    }

    async close(): Promise<void> {
        await this.writing.catch(() => undefined);
        const lock = await this.kvs.getValue<LockRecord>(LOCK_KEY).catch(() => null);
        if (lock?.pid === process.pid && lock.host === hostname()) await this.kvs.setValue(LOCK_KEY, null).catch(() => undefined);
    }

    private async collection(collection: string): Promise<Record<string, StoreEntry>> {
        return (await this.kvs.getValue<Record<string, StoreEntry>>(collectionKey(collection))) ?? {};
    }

    private openEntry<T>(entry: StoreEntry): StoreEntry<T> {
        return { ...entry, value: openJson<T>(this.box, entry.value, this.description) };
    }

    private serialize(record: SessionRecord): SerializedRecord {
        return { ...record, cookies: sealJson(this.box, record.cookies), auth: record.auth && sealJson(this.box, record.auth) };
    }

    private deserialize(record: SerializedRecord): SessionRecord {
        return {
            ...record,
            cookies: openJson<StoredCookie[]>(this.box, record.cookies, this.description),
            auth: record.auth ? openJson<SessionAuth>(this.box, record.auth, this.description) : null,
        };
    }

    private async persistShards(shards: ReadonlySet<number>): Promise<void> {
        if (shards.size === 0) return;
        await this.serialized(async () => {
            for (const shard of [...shards].sort((a, b) => a - b)) {
                const body = `[${[...this.shardRecords[shard]!.values()].join(',')}]`;
                await this.setValue(shardKey(shard), body, 'application/json; charset=utf-8');
            }
        });
    }

    private async setValue(key: string, value: unknown, contentType?: string): Promise<void> {
        try {
            await this.kvs.setValue(key, value, contentType ? { contentType } : undefined);
        } catch (error) {
            throw new StoreUnavailableError(`Cannot write to the ${this.description}: ${(error as Error).message}`, error);
        }
    }

    /** Runs file writes one after the other, so a shard is never written by two writes at once. */
    private serialized<T>(task: () => Promise<T>): Promise<T> {
        const result = this.writing.then(task, task);
        this.writing = result.catch(() => undefined);
        return result;
    }
}

async function checkLock(kvs: KeyValueStore, description: string): Promise<void> {
    const lock = await kvs.getValue<LockRecord>(LOCK_KEY);
    if (lock && lock.host === hostname() && lock.pid !== process.pid && isAlive(lock.pid)) {
        throw new StoreUnavailableError(
            `The ${description} is in use by process ${lock.pid} (since ${lock.since}). The embedded store serves one ` +
                'process at a time: stop the other process, or share sessions between processes with MySQL ' +
                '(store: { mysql: url } or CRAWLEE_SESSIONS_MYSQL_URL).',
        );
    }
}

function isAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (error) {
        return (error as NodeJS.ErrnoException).code === 'EPERM';
    }
}

function shardKey(shard: number): string {
    return `sessions-${String(shard).padStart(3, '0')}`;
}

function collectionKey(collection: string): string {
    return `entries-${collection.replace(/[^a-zA-Z0-9-]/g, '-')}`;
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
