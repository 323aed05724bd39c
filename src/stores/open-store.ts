import { Configuration } from '@crawlee/core';
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
    /** How long connecting may take before the store counts as unreachable, in ms. Default 10 000. */
    connectTimeoutMs?: number;
    /** How long one statement may run before the store gives up on it, in ms. Default 30 000. */
    queryTimeoutMs?: number;
}

/**
 * Where sessions are kept:
 * - omitted: MySQL if `CRAWLEE_SESSIONS_MYSQL_URL` is set, else the embedded store;
 * - `{ embedded: { name?, config?, shards? } }`: a named Crawlee key-value store on local disk (one process);
 * - `{ mysql: url }` or `{ mysql: { url, tablePrefix?, … } }`: MySQL, shared by many processes;
 * - `'memory'`: nothing is persisted;
 * - a {@link SessionStore} instance of your own.
 */
export type StoreChoice =
    | 'memory'
    | { embedded: Omit<EmbeddedStoreOptions, 'secret'> }
    | { mysql: string | MySqlStoreChoice }
    | SessionStore;

const mysqlUrl = z
    .string()
    .refine((value) => /^mysql:\/\/[^/]+/.test(value) && URL.canParse(value), 'must be a URL like mysql://user:pass@host:3306/db');

const choiceSchema = z.union([
    z.literal('memory'),
    z.strictObject({
        embedded: z.strictObject({
            name: z.string().optional(),
            config: z.instanceof(Configuration).optional(),
            shards: z.number().optional(),
        }),
    }),
    z.strictObject({
        mysql: z.union([
            mysqlUrl,
            z.strictObject({
                url: mysqlUrl,
                tablePrefix: z.string().optional(),
                connectionLimit: z.number().optional(),
                connectTimeoutMs: z.number().optional(),
                queryTimeoutMs: z.number().optional(),
            }),
        ]),
    }),
]);

/**
 * Opens the store a {@link StoreChoice} names. `secret` (default: `CRAWLEE_SESSIONS_SECRET`) encrypts cookie values,
 * login values and secret entries at rest.
 */
export async function openStore(choice: StoreChoice | undefined, secret = process.env[SECRET_ENV] || undefined): Promise<SessionStore> {
    if (choice !== undefined && typeof choice === 'object' && 'write' in choice && typeof choice.write === 'function') {
        return choice;
    }
    const envUrl = process.env[MYSQL_URL_ENV];
    const parsed = parseWithZod(choiceSchema, choice ?? (envUrl ? { mysql: envUrl } : { embedded: {} }), 'store');
    if (parsed === 'memory') return new MemorySessionStore();
    if ('embedded' in parsed) return EmbeddedSessionStore.open({ ...parsed.embedded, secret });
    const { MySqlSessionStore } = await import('./mysql-store.js');
    const options = typeof parsed.mysql === 'string' ? { url: parsed.mysql } : parsed.mysql;
    return MySqlSessionStore.open({ ...options, secret });
}
