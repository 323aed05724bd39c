import type { RenewalLease, SessionDelta, SessionRecord, SessionStore, StoreEntry } from '../model/types.js';

/**
 * The part of the store contract that is the same for every store serving one process: nobody else writes, so
 * there are no changes to pull and every renewal lease is granted.
 */
export abstract class SingleProcessStore implements SessionStore {
    abstract readonly kind: string;
    abstract readonly description: string;
    readonly shared = false;

    abstract loadAll(): Promise<SessionRecord[]>;
    abstract read(id: string): Promise<SessionRecord | undefined>;
    abstract write(deltas: readonly SessionDelta[]): Promise<SessionRecord[]>;
    abstract remove(ids: readonly string[]): Promise<void>;
    abstract listEntries<T = unknown>(collection: string): Promise<StoreEntry<T>[]>;
    abstract getEntry<T = unknown>(collection: string, key: string): Promise<StoreEntry<T> | undefined>;
    abstract putEntry(collection: string, key: string, value: unknown, options?: { secret?: boolean }): Promise<void>;
    abstract deleteEntry(collection: string, key: string): Promise<boolean>;
    abstract close(): Promise<void>;

    async changes(): Promise<{ records: SessionRecord[]; cursor: string }> {
        return { records: [], cursor: '' };
    }

    async beginRenewal(): Promise<RenewalLease> {
        return { granted: true };
    }

    async extendRenewal(): Promise<boolean> {
        return true;
    }

    async completeRenewal(_owner: string, delta: SessionDelta): Promise<SessionRecord> {
        const [record] = await this.write([delta]);
        return record!;
    }

    async abandonRenewal(): Promise<void> {}
}
