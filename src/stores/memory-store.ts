import { applySessionDelta } from '../model/merge.js';
import { SingleProcessStore } from './single-process-store.js';
import type { SessionDelta, SessionRecord, StoreEntry } from '../model/types.js';

/**
 * A store that keeps everything in this process's memory and forgets it on exit. For tests, benchmarks and
 * crawls that must not persist anything (`Sessions.open({ store: 'memory' })`). It behaves like a shared store
 * reduced to one process: leases are always granted.
 */
export class MemorySessionStore extends SingleProcessStore {
    readonly kind: string = 'memory';
    readonly description: string = 'memory (not persisted)';
    private readonly records = new Map<string, SessionRecord>();
    private readonly collections = new Map<string, Map<string, StoreEntry>>();

    async loadAll(): Promise<SessionRecord[]> {
        return [...this.records.values()].map(clone);
    }

    async read(id: string): Promise<SessionRecord | undefined> {
        const record = this.records.get(id);
        return record && clone(record);
    }

    async write(deltas: readonly SessionDelta[]): Promise<SessionRecord[]> {
        const now = Date.now();
        return deltas.map((delta) => {
            const record = applySessionDelta(this.records.get(delta.id), delta, now);
            this.records.set(delta.id, record);
            return clone(record);
        });
    }

    async remove(ids: readonly string[]): Promise<void> {
        for (const id of ids) this.records.delete(id);
    }

    async listEntries<T>(collection: string): Promise<StoreEntry<T>[]> {
        return [...(this.collections.get(collection)?.values() ?? [])].map((entry) => structuredClone(entry) as StoreEntry<T>);
    }

    async getEntry<T>(collection: string, key: string): Promise<StoreEntry<T> | undefined> {
        const entry = this.collections.get(collection)?.get(key);
        return entry && (structuredClone(entry) as StoreEntry<T>);
    }

    async putEntry(collection: string, key: string, value: unknown): Promise<void> {
        let entries = this.collections.get(collection);
        if (!entries) this.collections.set(collection, (entries = new Map()));
        entries.set(key, { key, value: structuredClone(value), updatedAt: Date.now() });
    }

    async deleteEntry(collection: string, key: string): Promise<boolean> {
        return this.collections.get(collection)?.delete(key) ?? false;
    }

    async close(): Promise<void> {}
}

function clone(record: SessionRecord): SessionRecord {
    return structuredClone(record);
}
