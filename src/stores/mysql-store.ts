import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import mysql from 'mysql2/promise';
import type { Pool, PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { z } from 'zod';

import { parseWithZod } from '../shared/validation.js';
import { applySessionDelta } from '../model/merge.js';
import { META_ENCRYPTION, META_REVISION, migrateMySqlSchema, mySqlTableNames, type MySqlTableNames } from './mysql-schema.js';
import { openJson, openSecretBox, SecretBox, type EncryptionMeta } from './secrets.js';
import {
    StoreSecretError,
    StoreUnavailableError,
    type RenewalLease,
    type SessionAuth,
    type SessionDelta,
    type SessionRecord,
    type SessionStore,
    type StoredCookie,
    type StoreEntry,
} from '../model/types.js';
import { MAX_SESSION_ID_LENGTH } from '../shared/ids.js';

/**
 * Options of {@link MySqlSessionStore.open}.
 */
export interface MySqlStoreOptions {
    /**
     * Where the store lives: `mysql://user:password@host:port/database` (`mariadb://` works too; percent-encode
     * special characters of the user and password). The port defaults to 3306. The database must exist; the
     * store creates its own tables in it. The password never appears in messages.
     */
    url: string;
    /**
     * Encrypts cookies, login values (`auth`) and secret entries at rest (AES-256-GCM, key derived with scrypt);
     * at least 8 characters. A store created with a secret can only be opened with the same secret. Without it cookies are
     * stored in clear. The store does not read `CRAWLEE_SESSIONS_SECRET` itself: the caller passes it here.
     * @default undefined
     */
    secret?: string;
    /**
     * Prefix of the store's table names (`<prefix>_sessions`, `<prefix>_entries`, `<prefix>_meta`,
     * `<prefix>_schema_version`): 1 to 40 letters, digits or underscores. Different prefixes give independent
     * stores in one database.
     * @default 'crawlee_sessions'
     */
    tablePrefix?: string;
    /**
     * Most connections the pool opens to the server.
     * @default 10
     */
    connectionLimit?: number;
    /**
     * How long establishing one connection may take, in milliseconds.
     * @default 10000
     */
    connectTimeoutMs?: number;
    /**
     * How long one statement may run before the store gives up on it, drops the connection and rejects with a
     * {@link StoreUnavailableError}, in milliseconds: a server that stopped answering never makes a call hang.
     * Row-lock waits are bounded to a third of it on the server side.
     * @default 30000
     */
    queryTimeoutMs?: number;
}

const DEFAULT_TABLE_PREFIX = 'crawlee_sessions';
const DEFAULT_CONNECTION_LIMIT = 10;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_QUERY_TIMEOUT_MS = 30_000;
/** How long `open()` waits for another process that is migrating the same tables. */
const MIGRATION_LOCK_TIMEOUT_SECONDS = 60;
/** Rows per multi-row statement, and a soft bound on a statement's size (the server's packet limit is ≥ 4 MB). */
const ROWS_PER_STATEMENT = 500;
const BYTES_PER_STATEMENT = 2 * 1024 * 1024;
/** Attempts of a transaction that hits a deadlock or a lock wait timeout. */
const CONFLICT_ATTEMPTS = 6;
const MAX_ID_LENGTH = MAX_SESSION_ID_LENGTH;

const optionsSchema = z.strictObject({
    url: z.string().refine((url) => typeof parseMySqlUrl(url) !== 'string', {
        message: 'must be a URL like mysql://user:password@host:3306/database',
    }),
    secret: z.string().optional(),
    tablePrefix: z
        .string()
        .regex(/^[A-Za-z0-9_]{1,40}$/, 'must be 1 to 40 letters, digits or underscores')
        .optional(),
    connectionLimit: z.int().min(1).max(1000).optional(),
    connectTimeoutMs: z.int().min(1).optional(),
    queryTimeoutMs: z.int().min(100).optional(),
});

/** Where the store connects; the password is kept apart so that it can be left out of every message. */
interface MySqlTarget {
    host: string;
    port: number;
    user: string;
    password: string;
    database: string;
}

/** Parses a `mysql://` URL; returns a reason (string) when it is not one. */
function parseMySqlUrl(url: string): MySqlTarget | string {
    let parsed: URL;
    try {
        parsed = new URL(url);
    } catch {
        return 'not a URL';
    }
    if (parsed.protocol !== 'mysql:' && parsed.protocol !== 'mariadb:') return 'not a mysql:// URL';
    const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
    const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
    if (!host || !database || database.includes('/')) return 'no host or database';
    return {
        host,
        port: parsed.port ? Number(parsed.port) : 3306,
        user: decodeURIComponent(parsed.username),
        password: decodeURIComponent(parsed.password),
        database,
    };
}

/** Errors that mean the connection or the server is gone; the connection cannot be used any more. */
const CONNECTION_FAULT_CODES = new Set([
    'ECONNREFUSED',
    'ECONNRESET',
    'ETIMEDOUT',
    'EHOSTUNREACH',
    'ENETUNREACH',
    'ENOTFOUND',
    'EAI_AGAIN',
    'EPIPE',
    'PROTOCOL_CONNECTION_LOST',
    'PROTOCOL_SEQUENCE_TIMEOUT',
    'PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR',
    'PROTOCOL_ENQUEUE_AFTER_QUIT',
    'ER_SERVER_SHUTDOWN',
    'ER_CONNECTION_KILLED',
]);

/** Server errors that mean the store cannot work right now (as opposed to a bug): reported as unavailable. */
const UNAVAILABLE_CODES = new Set([
    'ER_ACCESS_DENIED_ERROR',
    'ER_DBACCESS_DENIED_ERROR',
    'ER_TABLEACCESS_DENIED_ERROR',
    'ER_BAD_DB_ERROR',
    'ER_CON_COUNT_ERROR',
    'ER_TOO_MANY_USER_CONNECTIONS',
    'ER_HOST_IS_BLOCKED',
    'ER_HOST_NOT_PRIVILEGED',
    'ER_DISK_FULL',
    'ER_RECORD_FILE_FULL',
    'ER_OPTION_PREVENTS_STATEMENT',
    'ER_QUERY_INTERRUPTED',
    'ER_LOCK_DEADLOCK',
    'ER_LOCK_WAIT_TIMEOUT',
    'ER_NET_READ_ERROR',
    'ER_NET_READ_INTERRUPTED',
    'ER_NET_ERROR_ON_WRITE',
    'ER_NET_WRITE_INTERRUPTED',
]);

/** Conflicts between concurrent transactions: the transaction was rolled back and can simply be run again. */
const CONFLICT_CODES = new Set(['ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT']);

function errorCode(error: unknown): string | undefined {
    const code = (error as { code?: unknown } | null)?.code;
    return typeof code === 'string' ? code : undefined;
}

function isConnectionFault(error: unknown): boolean {
    const code = errorCode(error);
    return (error as { fatal?: unknown } | null)?.fatal === true || (code !== undefined && CONNECTION_FAULT_CODES.has(code));
}

function isConflict(error: unknown): boolean {
    const code = errorCode(error);
    return code !== undefined && CONFLICT_CODES.has(code);
}

/** The server's clock in ms since the epoch (connections use UTC, see `prepareConnection`). */
const DB_NOW_MS = 'FLOOR(UNIX_TIMESTAMP(NOW(3)) * 1000)';

const RECORD_COLUMNS =
    'id, lease_only, generation, profile_index, identity, cookies, auth, requests, successes, failures, renewals, ' +
    'last_used_at, last_renewal_error, updated_at';

/** A `sessions` row as read with {@link RECORD_COLUMNS}. */
interface SessionRow extends RowDataPacket {
    id: string;
    lease_only: number;
    generation: number | string;
    profile_index: number | null;
    identity: string | null;
    cookies: string;
    auth: string | null;
    requests: number | string;
    successes: number | string;
    failures: number | string;
    renewals: number | string;
    last_used_at: number | string | null;
    last_renewal_error: string | null;
    updated_at: number | string;
}

/** A row read for a lease decision: the record columns plus the lease. */
interface LeaseRow extends SessionRow {
    lease_owner: string | null;
    lease_remaining_ms: number | string | null;
}

type Connection = PoolConnection;

type FormatValues = Parameters<typeof mysql.format>[1];

/** One SQL statement and the values of its `?` placeholders. */
type Statement = [sql: string, values?: unknown[]];

/** The statements of one transaction (see `MySqlSessionStore.transaction`). */
interface Transaction {
    /**
     * Sends `statements` in one round trip and returns one result per statement. The first call also starts
     * the transaction; with `commit`, the transaction commits in the same round trip.
     */
    run(statements: readonly Statement[], options?: { commit?: boolean }): Promise<unknown[]>;
}

/** Throws unless the statement of `takeRevision()` found the sequence's row. */
function checkRevisionTaken(result: unknown): void {
    if ((result as ResultSetHeader).affectedRows !== 1) throw new Error('The revision row is missing from the meta table.');
}

/** The SQL expression `LAST_INSERT_ID()` as a value of a formatted statement: the revision just taken. */
const LAST_INSERT_ID = { toSqlString: () => 'LAST_INSERT_ID()' };

/**
 * A session store in MySQL (or MariaDB), shared by every crawler process of a deployment.
 *
 * - **No lost updates.** `write()` runs one transaction per batch: it locks the batch's rows in id order
 *   (creating placeholders for new ones, then `SELECT … FOR UPDATE`), merges each delta with
 *   {@link applySessionDelta}, and writes the results back with multi-row upserts. Deadlocks and lock wait
 *   timeouts are retried. Two round trips for a batch of up to 500 sessions.
 * - **Changes.** Every transaction that writes takes the next value of a global revision sequence in the round
 *   trip that commits it (a row lock held only while the server runs that round trip), and stamps it on its rows.
 *   Revisions thus commit in order, and `changes(cursor)` returns exactly the rows written since the cursor.
 * - **Renewal leases** live in the session rows and expire by the database clock, so process clocks do not matter.
 * - **Secrets at rest.** With a secret, cookie lists, login values (`auth`) and secret entries are sealed with
 *   AES-256-GCM; the salt and a key check live in the meta table, so a wrong secret is detected at `open()` before
 *   anything is read or written. Ids, profile indexes, identities, counters and timestamps stay in clear.
 * - **Faults.** Calls reject with {@link StoreUnavailableError} (naming host, port and cause, never the password)
 *   when the server cannot be reached or stops answering (`queryTimeoutMs`); the pool reconnects by itself.
 *
 * Tables are created and migrated at `open()` (see `mysql-schema.ts`).
 *
 * ```ts
 * const store = await MySqlSessionStore.open({ url: 'mysql://crawler:pw@db:3306/crawls', secret: process.env.CRAWLEE_SESSIONS_SECRET });
 * ```
 */
export class MySqlSessionStore implements SessionStore {
    readonly kind = 'mysql';
    readonly shared = true;
    readonly description: string;

    private readonly tables: MySqlTableNames;
    /** Connections whose session settings (time zone, isolation, lock wait) are set. */
    private readonly prepared = new WeakSet<object>();
    private box: SecretBox | undefined;
    private closed = false;

    private constructor(
        private readonly pool: Pool,
        private readonly target: MySqlTarget,
        private readonly tablePrefix: string,
        private readonly queryTimeoutMs: number,
    ) {
        this.tables = mySqlTableNames(tablePrefix);
        const user = target.user ? `${encodeURIComponent(target.user)}@` : '';
        this.description = `mysql://${user}${hostPort(target)}/${target.database} (tables ${tablePrefix}_*)`;
    }

    /**
     * Connects, creates or migrates the tables, and checks the secret. Rejects with a
     * {@link StoreUnavailableError} when the server cannot be reached or refuses the login or the database, with a
     * {@link StoreSecretError} when the store is encrypted and the secret is missing or wrong, and with a
     * `ConfigValidationError` for invalid options.
     */
    static async open(options: MySqlStoreOptions): Promise<MySqlSessionStore> {
        const parsed = parseWithZod(optionsSchema, options, 'mysqlStoreOptions');
        const target = parseMySqlUrl(parsed.url) as MySqlTarget;
        const connectTimeout = parsed.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
        const pool = mysql.createPool({
            host: target.host,
            port: target.port,
            user: target.user,
            password: target.password,
            database: target.database,
            connectionLimit: parsed.connectionLimit ?? DEFAULT_CONNECTION_LIMIT,
            maxIdle: parsed.connectionLimit ?? DEFAULT_CONNECTION_LIMIT,
            connectTimeout,
            waitForConnections: true,
            resetOnRelease: false,
            enableKeepAlive: true,
            supportBigNumbers: true,
            charset: 'utf8mb4',
            // Transactions send several statements per round trip; every value is escaped by mysql.format.
            multipleStatements: true,
        });
        const store = new MySqlSessionStore(
            pool,
            target,
            parsed.tablePrefix ?? DEFAULT_TABLE_PREFIX,
            parsed.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS,
        );
        try {
            await store.initialize(parsed.secret);
            return store;
        } catch (error) {
            await pool.end().catch(() => undefined);
            store.closed = true;
            if (error instanceof StoreSecretError || error instanceof StoreUnavailableError) throw error;
            if (isConnectionFault(error) || UNAVAILABLE_CODES.has(errorCode(error) ?? '')) {
                throw new StoreUnavailableError(
                    `Cannot open the session store: MySQL at ${hostPort(target)}, database "${target.database}": ${store.describeCause(error)}`,
                    error,
                );
            }
            throw error;
        }
    }

    private async initialize(secret: string | undefined): Promise<void> {
        const connection = await this.pool.getConnection();
        try {
            await this.prepareConnection(connection);
            await migrateMySqlSchema(connection, this.tables, {
                lockName: migrationLockName(this.target.database, this.tablePrefix),
                lockTimeoutSeconds: MIGRATION_LOCK_TIMEOUT_SECONDS,
                run: (conn, sql, values, timeoutMs) => this.query(conn, sql, values, timeoutMs),
            });
            this.box = await this.openEncryption(connection, secret);
        } finally {
            // A fresh session for everything else; this one may hold the migration lock if releasing it failed.
            connection.destroy();
        }
    }

    private async openEncryption(connection: Connection, secret: string | undefined): Promise<SecretBox | undefined> {
        const readMeta = async (): Promise<EncryptionMeta> => {
            const rows = (await this.query(connection, `SELECT value FROM \`${this.tables.meta}\` WHERE name = ?`, [META_ENCRYPTION])) as RowDataPacket[];
            const value = rows[0]?.value as string | null | undefined;
            return value ? (JSON.parse(value) as EncryptionMeta) : {};
        };
        const where = this.description;
        const { box, update } = openSecretBox(await readMeta(), secret, where);
        if (!update) return box;
        // Several processes may encrypt a new store at once: the first salt written wins, the others adopt it.
        await this.query(connection, `INSERT IGNORE INTO \`${this.tables.meta}\` (name, value) VALUES (?, ?)`, [
            META_ENCRYPTION,
            JSON.stringify(update),
        ]);
        return openSecretBox(await readMeta(), secret, where).box;
    }

    async loadAll(): Promise<SessionRecord[]> {
        return this.call('loading sessions', () =>
            this.withConnection(async (connection) => {
                const rows = (await this.query(
                    connection,
                    `SELECT ${RECORD_COLUMNS} FROM \`${this.tables.sessions}\` WHERE lease_only = 0 ORDER BY id`,
                )) as SessionRow[];
                return rows.map((row) => this.decodeRecord(row));
            }),
        );
    }

    async read(id: string): Promise<SessionRecord | undefined> {
        return this.call('reading a session', () =>
            this.withConnection(async (connection) => {
                const rows = (await this.query(
                    connection,
                    `SELECT ${RECORD_COLUMNS} FROM \`${this.tables.sessions}\` WHERE id = ? AND lease_only = 0`,
                    [id],
                )) as SessionRow[];
                return rows[0] && this.decodeRecord(rows[0]);
            }),
        );
    }

    async write(deltas: readonly SessionDelta[]): Promise<SessionRecord[]> {
        if (deltas.length === 0) return [];
        for (const delta of deltas) checkLength('session id', delta.id);
        return this.call('writing sessions', () =>
            this.transaction(async (tx) => {
                // Sorted, so that concurrent batches lock shared rows in the same order.
                const ids = [...new Set(deltas.map((delta) => delta.id))].sort();
                const current = new Map<string, SessionRecord | undefined>();
                for (const chunk of chunks(ids, ROWS_PER_STATEMENT)) {
                    const [, rows] = await tx.run([this.ensureRows(chunk), this.lockRows(chunk)]);
                    for (const row of rows as SessionRow[]) current.set(row.id, row.lease_only ? undefined : this.decodeRecord(row));
                }
                const now = Date.now();
                const results = deltas.map((delta) => {
                    const record = applySessionDelta(current.get(delta.id), delta, now);
                    current.set(delta.id, record);
                    return record;
                });
                await this.commitRecords(
                    tx,
                    ids.map((id) => current.get(id)!),
                );
                return results.map((record) => structuredClone(record));
            }),
        );
    }

    async remove(ids: readonly string[]): Promise<void> {
        if (ids.length === 0) return;
        await this.call('removing sessions', () =>
            this.withConnection(async (connection) => {
                for (const chunk of chunks([...new Set(ids)].sort(), ROWS_PER_STATEMENT)) {
                    await this.query(connection, `DELETE FROM \`${this.tables.sessions}\` WHERE id IN (?)`, [chunk]);
                }
            }),
        );
    }

    async changes(cursor: string | undefined): Promise<{ records: SessionRecord[]; cursor: string }> {
        if (cursor !== undefined && !/^\d+$/.test(cursor)) throw new Error(`Not a cursor of a MySQL session store: "${cursor}".`);
        return this.call('reading changes', () =>
            this.withConnection(async (connection) => {
                if (cursor === undefined) {
                    const rows = (await this.query(connection, `SELECT number FROM \`${this.tables.meta}\` WHERE name = ?`, [
                        META_REVISION,
                    ])) as RowDataPacket[];
                    return { records: [], cursor: String(rows[0]?.number ?? 0) };
                }
                const rows = (await this.query(
                    connection,
                    `SELECT ${RECORD_COLUMNS}, revision FROM \`${this.tables.sessions}\` WHERE revision > ? AND lease_only = 0 ORDER BY revision, id`,
                    [cursor],
                )) as (SessionRow & { revision: number | string })[];
                const last = rows.at(-1);
                return {
                    records: rows.map((row) => this.decodeRecord(row)),
                    cursor: last ? String(last.revision) : cursor,
                };
            }),
        );
    }

    async beginRenewal(id: string, fromGeneration: number, owner: string, leaseMs: number): Promise<RenewalLease> {
        checkLength('session id', id);
        checkLength('lease owner', owner);
        return this.call('taking a renewal lease', () =>
            this.transaction(async (tx): Promise<RenewalLease> => {
                const [, rows] = await tx.run([
                    this.ensureRows([id]),
                    [
                        `SELECT ${RECORD_COLUMNS}, lease_owner, lease_expires_at - ${DB_NOW_MS} AS lease_remaining_ms
                         FROM \`${this.tables.sessions}\` WHERE id = ? FOR UPDATE`,
                        [id],
                    ],
                ]);
                const row = (rows as LeaseRow[])[0];
                if (!row) throw new Error(`The row of session "${id}" vanished inside its own transaction.`);
                const record = row.lease_only ? undefined : this.decodeRecord(row);
                if (record && record.generation > fromGeneration) return { granted: false, reason: 'advanced', record };
                const remaining = Number(row.lease_remaining_ms ?? 0);
                if (row.lease_owner !== null && row.lease_owner !== owner && remaining > 0) {
                    return { granted: false, reason: 'busy', record, leaseExpiresAt: Date.now() + remaining };
                }
                await tx.run(
                    [[`UPDATE \`${this.tables.sessions}\` SET lease_owner = ?, lease_expires_at = ${DB_NOW_MS} + ? WHERE id = ?`, [owner, leaseMs, id]]],
                    { commit: true },
                );
                return { granted: true };
            }),
        );
    }

    async extendRenewal(id: string, owner: string, leaseMs: number): Promise<boolean> {
        return this.call('extending a renewal lease', () =>
            this.withConnection(async (connection) => {
                const result = (await this.query(
                    connection,
                    `UPDATE \`${this.tables.sessions}\` SET lease_expires_at = ${DB_NOW_MS} + ? WHERE id = ? AND lease_owner = ?`,
                    [leaseMs, id, owner],
                )) as ResultSetHeader;
                return result.affectedRows > 0;
            }),
        );
    }

    async completeRenewal(owner: string, delta: SessionDelta): Promise<SessionRecord> {
        checkLength('session id', delta.id);
        return this.call('completing a renewal', () =>
            this.transaction(async (tx) => {
                const [, rows] = await tx.run([
                    this.ensureRows([delta.id]),
                    [`SELECT ${RECORD_COLUMNS}, lease_owner FROM \`${this.tables.sessions}\` WHERE id = ? FOR UPDATE`, [delta.id]],
                ]);
                const row = (rows as LeaseRow[])[0];
                if (!row) throw new Error(`The row of session "${delta.id}" vanished inside its own transaction.`);
                const stored = row.lease_only ? undefined : this.decodeRecord(row);
                const held = row.lease_owner === owner;
                // Lease lost to another process: its outcome wins. Without any stored state there is nothing to
                // keep, so the delta creates the record (leaving the other process's lease in place).
                if (!held && stored) return stored;
                const record = applySessionDelta(stored, delta, Date.now());
                const releaseLease: Statement = [
                    `UPDATE \`${this.tables.sessions}\` SET lease_owner = NULL, lease_expires_at = NULL WHERE id = ?`,
                    [delta.id],
                ];
                await this.commitRecords(tx, [record], held ? [releaseLease] : []);
                return record;
            }),
        );
    }

    async abandonRenewal(id: string, owner: string): Promise<void> {
        await this.call('releasing a renewal lease', () =>
            this.withConnection(async (connection) => {
                await this.query(connection, `DELETE FROM \`${this.tables.sessions}\` WHERE id = ? AND lease_owner = ? AND lease_only = 1`, [
                    id,
                    owner,
                ]);
                await this.query(
                    connection,
                    `UPDATE \`${this.tables.sessions}\` SET lease_owner = NULL, lease_expires_at = NULL WHERE id = ? AND lease_owner = ?`,
                    [id, owner],
                );
            }),
        );
    }

    async listEntries<T = unknown>(collection: string): Promise<StoreEntry<T>[]> {
        return this.call('listing entries', () =>
            this.withConnection(async (connection) => {
                const rows = (await this.query(
                    connection,
                    `SELECT entry_key, value, updated_at FROM \`${this.tables.entries}\` WHERE collection = ? ORDER BY entry_key`,
                    [collection],
                )) as RowDataPacket[];
                return rows.map((row) => this.decodeEntry<T>(row));
            }),
        );
    }

    async getEntry<T = unknown>(collection: string, key: string): Promise<StoreEntry<T> | undefined> {
        return this.call('reading an entry', () =>
            this.withConnection(async (connection) => {
                const rows = (await this.query(
                    connection,
                    `SELECT entry_key, value, updated_at FROM \`${this.tables.entries}\` WHERE collection = ? AND entry_key = ?`,
                    [collection, key],
                )) as RowDataPacket[];
                return rows[0] && this.decodeEntry<T>(rows[0]);
            }),
        );
    }

    async putEntry(collection: string, key: string, value: unknown, options: { secret?: boolean } = {}): Promise<void> {
        checkLength('collection', collection);
        checkLength('entry key', key);
        const json = JSON.stringify(value);
        if (json === undefined) throw new TypeError(`The value of entry "${key}" in "${collection}" cannot be stored as JSON.`);
        const stored = options.secret && this.box ? this.box.seal(json) : json;
        await this.call('writing an entry', () =>
            this.transaction(async (tx) => {
                const [taken] = await tx.run(
                    [
                        this.takeRevision(),
                        [
                            `INSERT INTO \`${this.tables.entries}\` (collection, entry_key, value, secret, revision, updated_at)
                             VALUES (?, ?, ?, ?, LAST_INSERT_ID(), ?)
                             ON DUPLICATE KEY UPDATE value = VALUES(value), secret = VALUES(secret), revision = VALUES(revision),
                                updated_at = VALUES(updated_at)`,
                            [collection, key, stored, options.secret ? 1 : 0, Date.now()],
                        ],
                    ],
                    { commit: true },
                );
                checkRevisionTaken(taken);
            }),
        );
    }

    async deleteEntry(collection: string, key: string): Promise<boolean> {
        return this.call('deleting an entry', () =>
            this.withConnection(async (connection) => {
                const result = (await this.query(connection, `DELETE FROM \`${this.tables.entries}\` WHERE collection = ? AND entry_key = ?`, [
                    collection,
                    key,
                ])) as ResultSetHeader;
                return result.affectedRows > 0;
            }),
        );
    }

    /** Ends the pool. Further calls reject. Safe to call twice. */
    async close(): Promise<void> {
        if (this.closed) return;
        this.closed = true;
        await this.pool.end();
    }

    // --- sessions: encoding and locking ---

    /**
     * Takes the next revision: later statements of the transaction read it as `LAST_INSERT_ID()`. The sequence's
     * row stays locked until the transaction ends, so revisions commit in order.
     */
    private takeRevision(): Statement {
        return [`UPDATE \`${this.tables.meta}\` SET number = LAST_INSERT_ID(number + 1) WHERE name = ?`, [META_REVISION]];
    }

    /**
     * Creates a placeholder row (`lease_only`, no state) for each of `ids` that has none, and locks every one of
     * them. A locking read alone would not lock a missing row: two transactions could then both create it.
     */
    private ensureRows(ids: readonly string[]): Statement {
        const now = Date.now();
        return [
            `INSERT INTO \`${this.tables.sessions}\` (id, lease_only, generation, cookies, revision, updated_at) VALUES ?
             ON DUPLICATE KEY UPDATE id = id`,
            [ids.map((id) => [id, 1, 0, '[]', 0, now])],
        ];
    }

    /** Reads the (locked) rows of `ids`. */
    private lockRows(ids: readonly string[]): Statement {
        return [`SELECT ${RECORD_COLUMNS} FROM \`${this.tables.sessions}\` WHERE id IN (?) ORDER BY id FOR UPDATE`, [ids]];
    }

    /**
     * Writes `records` (whose rows this transaction has locked) stamped with a new revision, then `extra`, and
     * commits. The revision is taken in the round trip of the first upsert, and a batch that fits one statement
     * commits in that same round trip: the sequence, which every writer waits for, is then locked only while
     * the server runs those statements, never across a round trip to a client.
     */
    private async commitRecords(tx: Transaction, records: readonly SessionRecord[], extra: Statement[] = []): Promise<void> {
        const upserts = this.upsertRecords(records);
        const trips: Statement[][] = upserts.map((upsert, i) => (i === 0 ? [this.takeRevision(), upsert] : [upsert]));
        trips[trips.length - 1]!.push(...extra);
        for (const [i, statements] of trips.entries()) {
            const results = await tx.run(statements, { commit: i === trips.length - 1 });
            if (i === 0) checkRevisionTaken(results[0]);
        }
    }

    /** Multi-row upserts writing `records`; the lease columns of existing rows are left alone. */
    private upsertRecords(records: readonly SessionRecord[]): Statement[] {
        const encoded = records.map((record) => [
            record.id,
            0,
            record.generation,
            record.profileIndex,
            record.identity === null ? null : JSON.stringify(record.identity),
            this.encodeSecret(record.cookies),
            record.auth === null ? null : this.encodeSecret(record.auth),
            record.counters.requests,
            record.counters.successes,
            record.counters.failures,
            record.counters.renewals,
            record.lastUsedAt,
            record.lastRenewalError,
            LAST_INSERT_ID,
            record.updatedAt,
        ]);
        return chunksBySize(encoded).map(
            (rows): Statement => [
                `INSERT INTO \`${this.tables.sessions}\` (id, lease_only, generation, profile_index, identity, cookies, auth,
                    requests, successes, failures, renewals, last_used_at, last_renewal_error, revision, updated_at)
                 VALUES ?
                 ON DUPLICATE KEY UPDATE lease_only = 0, generation = VALUES(generation), profile_index = VALUES(profile_index),
                    identity = VALUES(identity), cookies = VALUES(cookies), auth = VALUES(auth), requests = VALUES(requests),
                    successes = VALUES(successes), failures = VALUES(failures), renewals = VALUES(renewals),
                    last_used_at = VALUES(last_used_at), last_renewal_error = VALUES(last_renewal_error),
                    revision = VALUES(revision), updated_at = VALUES(updated_at)`,
                [rows],
            ],
        );
    }

    /** JSON, sealed when the store has a key (cookies and auth are secret). */
    private encodeSecret(value: unknown): string {
        const json = JSON.stringify(value);
        return this.box ? this.box.seal(json) : json;
    }

    private decodeSecret<T>(text: string): T {
        return SecretBox.isSealed(text) ? openJson<T>(this.box, text, this.description) : (JSON.parse(text) as T);
    }

    private decodeRecord(row: SessionRow): SessionRecord {
        return {
            id: row.id,
            generation: Number(row.generation),
            profileIndex: row.profile_index === null ? null : Number(row.profile_index),
            identity: row.identity === null ? null : (JSON.parse(row.identity) as SessionRecord['identity']),
            cookies: this.decodeSecret<StoredCookie[]>(row.cookies),
            auth: row.auth === null ? null : this.decodeSecret<SessionAuth>(row.auth),
            counters: {
                requests: Number(row.requests),
                successes: Number(row.successes),
                failures: Number(row.failures),
                renewals: Number(row.renewals),
            },
            lastUsedAt: row.last_used_at === null ? null : Number(row.last_used_at),
            lastRenewalError: row.last_renewal_error,
            updatedAt: Number(row.updated_at),
        };
    }

    private decodeEntry<T>(row: RowDataPacket): StoreEntry<T> {
        return { key: row.entry_key as string, value: this.decodeSecret<T>(row.value as string), updatedAt: Number(row.updated_at) };
    }

    // --- connections, transactions and errors ---

    /** Runs `work` and turns backend failures into {@link StoreUnavailableError}s naming `what` was being done. */
    private async call<T>(what: string, work: () => Promise<T>): Promise<T> {
        if (this.closed) throw new Error(`The session store ${this.description} is closed.`);
        try {
            return await work();
        } catch (error) {
            if (error instanceof StoreSecretError || error instanceof StoreUnavailableError) throw error;
            if (this.closed) throw new Error(`The session store ${this.description} was closed while ${what}.`, { cause: error });
            const code = errorCode(error);
            if (isConnectionFault(error) || (code && UNAVAILABLE_CODES.has(code)) || isClosedPoolError(error)) {
                throw new StoreUnavailableError(
                    `MySQL at ${hostPort(this.target)} (database "${this.target.database}") failed while ${what}: ${this.describeCause(error)}`,
                    error,
                );
            }
            throw error;
        }
    }

    /**
     * Runs `work` on a pooled connection. A connection that failed (lost, timed out) is destroyed rather than
     * returned to the pool, so the pool replaces it with a fresh one.
     */
    private async withConnection<T>(work: (connection: Connection) => Promise<T>): Promise<T> {
        const connection = await this.pool.getConnection();
        try {
            await this.prepareConnection(connection);
            const result = await work(connection);
            connection.release();
            return result;
        } catch (error) {
            if (isConnectionFault(error)) connection.destroy();
            else connection.release();
            throw error;
        }
    }

    /**
     * Runs `work` in a transaction, again (with a short random pause) when it loses a deadlock or a lock wait.
     * `work` sends its statements through {@link Transaction.run}, several per round trip: fewer round trips
     * while the revision sequence is locked means more writers per second. Commits when `work` did not.
     */
    private async transaction<T>(work: (tx: Transaction) => Promise<T>): Promise<T> {
        for (let attempt = 1; ; attempt++) {
            try {
                return await this.withConnection(async (connection) => {
                    let started = false;
                    let committed = false;
                    const tx: Transaction = {
                        run: async (statements, options = {}) => {
                            if (committed) throw new Error('The transaction was already committed.');
                            const sql = statements.map(([text, values]) => mysql.format(text, (values ?? []) as FormatValues));
                            const skip = started ? 0 : 1;
                            if (!started) sql.unshift('START TRANSACTION');
                            if (options.commit) sql.push('COMMIT');
                            started = true;
                            const result = await this.query(connection, sql.join(';\n'));
                            if (options.commit) committed = true;
                            const results = sql.length === 1 ? [result] : (result as unknown[]);
                            return results.slice(skip, skip + statements.length);
                        },
                    };
                    try {
                        const result = await work(tx);
                        if (started && !committed) await tx.run([], { commit: true });
                        return result;
                    } catch (error) {
                        if (started && !isConnectionFault(error)) {
                            // A connection that cannot even roll back must not go back to the pool.
                            await this.query(connection, 'ROLLBACK').catch(() => connection.destroy());
                        }
                        throw error;
                    }
                });
            } catch (error) {
                if (!isConflict(error) || attempt >= CONFLICT_ATTEMPTS) throw error;
                await sleep(Math.min(500, 10 * 2 ** attempt) * (0.5 + Math.random()));
            }
        }
    }

    /**
     * Session settings of every connection: UTC, so that `NOW()` converts to epoch ms exactly; READ COMMITTED,
     * so that locking reads of missing rows take no gap locks; and a row-lock wait shorter than the query
     * timeout, so that the server gives up a wait (and keeps the connection usable) before the client does.
     */
    private async prepareConnection(connection: Connection): Promise<void> {
        const core = (connection as unknown as { connection: object }).connection;
        if (this.prepared.has(core)) return;
        const lockWaitSeconds = Math.max(1, Math.floor(this.queryTimeoutMs / 3000));
        await this.query(connection, `SET SESSION time_zone = '+00:00', SESSION innodb_lock_wait_timeout = ${lockWaitSeconds}`);
        await this.query(connection, 'SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED');
        this.prepared.add(core);
    }

    private async query(connection: Connection, sql: string, values?: unknown[], timeoutMs = this.queryTimeoutMs): Promise<unknown> {
        const [result] = await connection.query({ sql, values, timeout: timeoutMs });
        return result;
    }

    /** The cause of a failure in a few words: the driver's message and code, never the password. */
    private describeCause(error: unknown): string {
        const err = error as { message?: unknown; code?: unknown; errors?: unknown } | null;
        let message = typeof err?.message === 'string' ? err.message : String(error);
        // Node reports a refused connection to a host with several addresses as an AggregateError without a message.
        if (!message && Array.isArray(err?.errors)) {
            message = err.errors.map((inner: { message?: unknown }) => String(inner?.message ?? inner)).join('; ');
        }
        if (errorCode(error) === 'PROTOCOL_SEQUENCE_TIMEOUT') message = `no answer within ${this.queryTimeoutMs} ms`;
        const code = errorCode(error);
        let cause = message || code || 'unknown error';
        if (code && !cause.includes(code)) cause += ` (${code})`;
        const { password } = this.target;
        return password ? cause.split(password).join('***') : cause;
    }
}

function isClosedPoolError(error: unknown): boolean {
    return error instanceof Error && error.message === 'Pool is closed.';
}

function hostPort(target: MySqlTarget): string {
    return target.host.includes(':') ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`;
}

/** GET_LOCK names are server-wide and at most 64 characters: a hash of the database and the prefix. */
function migrationLockName(database: string, prefix: string): string {
    return `crawlee_sessions_migrate_${createHash('sha256').update(`${database}\0${prefix}`).digest('hex').slice(0, 32)}`;
}

function checkLength(what: string, value: string): void {
    if (value.length > MAX_ID_LENGTH) throw new RangeError(`A ${what} longer than ${MAX_ID_LENGTH} characters cannot be stored in MySQL.`);
}

function chunks<T>(items: readonly T[], size: number): T[][] {
    const result: T[][] = [];
    for (let i = 0; i < items.length; i += size) result.push(items.slice(i, i + size));
    return result;
}

/** Splits upsert rows so that no statement exceeds {@link ROWS_PER_STATEMENT} rows or about {@link BYTES_PER_STATEMENT}. */
function chunksBySize(rows: readonly unknown[][]): unknown[][][] {
    const result: unknown[][][] = [];
    let current: unknown[][] = [];
    let bytes = 0;
    for (const row of rows) {
        const size = row.reduce<number>((sum, value) => sum + (typeof value === 'string' ? value.length * 2 : 16), 0);
        if (current.length > 0 && (current.length >= ROWS_PER_STATEMENT || bytes + size > BYTES_PER_STATEMENT)) {
            result.push(current);
            current = [];
            bytes = 0;
        }
        current.push(row);
        bytes += size;
    }
    if (current.length > 0) result.push(current);
    return result;
}
