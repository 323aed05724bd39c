import { z } from 'zod';

import { parseWithZod } from '../shared/validation.js';
import { EmbeddedSessionStore, type EmbeddedStoreOptions } from './embedded-store.js';
import { MemorySessionStore } from './memory-store.js';
import { SECRET_ENV } from './secrets.js';
import type { SessionStore } from '../model/types.js';

/** The environment variable that selects MySQL (a `mysql://user:pass@host:port/db` URL) when no store is given. */
export const MYSQL_URL_ENV = 'CRAWLEE_SESSIONS_MYSQL_URL';

/** Options of the MySQL store as given to `Sessions.open({ store: { mysql } })`. */
export interface MySqlStoreChoice {
    /** `mysql://user:pass@host:port/database`. */
    url: string;
    /** Prefix of the store's table names. Default `crawlee_sessions`. */
    tablePrefix?: string;
    /** Connections in the pool. Default 10. */
    connectionLimit?: number;
    /**
     * How long connecting may take before the store counts as unreachable, in ms.
     * @default 10000
     */
    connectTimeoutMillis?: number;
    /**
     * How long one statement may run before the store gives up on it, in ms.
     * @default 30000
     */
    queryTimeoutMillis?: number;
    /** @deprecated Renamed to `connectTimeoutMillis` (Crawlee's unit names); still accepted, with a warning. */
    connectTimeoutMs?: number;
    /** @deprecated Renamed to `queryTimeoutMillis`; still accepted, with a warning. */
    queryTimeoutMs?: number;
}

/**
 * Where sessions are kept:
 * - omitted: MySQL if `CRAWLEE_SESSIONS_MYSQL_URL` is set, else the embedded store;
 * - `{ embedded: { name?, storageDir?, config?, shards?, ignoreDamaged?, staleLockSecs? } }`: files in Crawlee's
 *   storage directory on local disk (one process; see {@link EmbeddedStoreOptions});
 * - `{ mysql: url }` or `{ mysql: { url, tablePrefix?, … } }`: MySQL, shared by many processes;
 * - `'memory'`: nothing is persisted;
 * - a {@link SessionStore} instance of your own.
 */
export type StoreChoice =
    | 'memory'
    | { embedded: Omit<EmbeddedStoreOptions, 'secret' | 'readOnly'> }
    | { mysql: string | MySqlStoreChoice }
    | SessionStore;

const mysqlUrl = z
    .string()
    .refine((value) => /^mysql:\/\/[^/]+/.test(value) && URL.canParse(value), 'must be a URL like mysql://user:pass@host:3306/db');

const choiceSchema = z.union([
    z.literal('memory'),
    z.strictObject({
        // Checked in full by the embedded store.
        embedded: z.strictObject({
            name: z.string().optional(),
            storageDir: z.string().optional(),
            config: z.unknown().optional(),
            shards: z.number().optional(),
            ignoreDamaged: z.boolean().optional(),
            staleLockSecs: z.number().optional(),
        }),
    }),
    z.strictObject({
        mysql: z.union([
            mysqlUrl,
            z.strictObject({
                url: mysqlUrl,
                tablePrefix: z.string().optional(),
                connectionLimit: z.number().optional(),
                connectTimeoutMillis: z.number().optional(),
                queryTimeoutMillis: z.number().optional(),
                // The old names, renamed (with a warning) by MySqlSessionStore.open().
                connectTimeoutMs: z.number().optional(),
                queryTimeoutMs: z.number().optional(),
            }),
        ]),
    }),
]);

/** Options of {@link openStore}. */
export interface OpenStoreOptions {
    /**
     * Only read: an embedded store is opened as a consistent snapshot without its lock (so it works while a crawl uses
     * it) and refuses every write. No effect on MySQL, which many processes share anyway.
     * @default false
     */
    readOnly?: boolean;
}

/**
 * Opens the store a {@link StoreChoice} names. `secret` (default: `CRAWLEE_SESSIONS_SECRET`) encrypts cookie values,
 * login values and entries at rest. Opening a store never opens a Crawlee storage, so it never purges anything.
 */
export async function openStore(
    choice: StoreChoice | undefined,
    secret = process.env[SECRET_ENV] || undefined,
    options: OpenStoreOptions = {},
): Promise<SessionStore> {
    if (choice !== undefined && typeof choice === 'object' && 'write' in choice && typeof choice.write === 'function') {
        return choice;
    }
    const envUrl = process.env[MYSQL_URL_ENV];
    const parsed = parseWithZod(choiceSchema, choice ?? (envUrl ? { mysql: envUrl } : { embedded: {} }), 'store');
    if (parsed === 'memory') return new MemorySessionStore();
    if ('embedded' in parsed) {
        const embedded = parsed.embedded as EmbeddedStoreOptions;
        return EmbeddedSessionStore.open({ ...embedded, secret, ...(options.readOnly ? { readOnly: true } : {}) });
    }
    const { MySqlSessionStore } = await import('./mysql-store.js');
    const mysql = typeof parsed.mysql === 'string' ? { url: parsed.mysql } : parsed.mysql;
    return MySqlSessionStore.open({ ...mysql, secret });
}
