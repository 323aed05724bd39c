import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import mysql from 'mysql2/promise';
import type { Pool, PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { z } from 'zod';

import { renameDeprecated } from '../shared/deprecation.js';
import { ConfigValidationError, parseWithZod } from '../shared/validation.js';
import { applySessionDelta } from '../model/merge.js';
import { META_ENCRYPTION, META_REVISION, migrateMySqlSchema, mySqlTableNames, type MySqlTableNames } from './mysql-schema.js';
import { openSecretBox, openStoredText, type EncryptionMeta, type SealedField, type SecretBox } from './secrets.js';
import {
    StoreSecretError,
    StoreUnavailableError,
    StoreWriteRejectedError,
    type RenewalLease,
    type SessionAuth,
    type SessionDelta,
    type SessionRecord,
    type SessionStore,
    type StoredCookie,
    type StoreEntry,
    type WriterTotals,
} from '../model/types.js';
import { MAX_SESSION_ID_LENGTH, SessionIdError } from '../shared/ids.js';

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
    connectTimeoutMillis?: number;
    /**
     * How long one statement may run before the store gives up on it, drops the connection and rejects with a
     * {@link StoreUnavailableError}, in milliseconds: a server that stopped answering never makes a call hang.
     * Row-lock waits are bounded to a third of it on the server side.
     * @default 30000
     */
    queryTimeoutMillis?: number;
    /**
     * How long a connection may stay unused in the pool before the store closes it, in milliseconds. Whatever
     * this is, an unused connection never keeps the process alive (a program that forgets `close()` still exits).
     * @default 60000
     */
    idleTimeoutMillis?: number;
    /** @deprecated Renamed to `connectTimeoutMillis` (Crawlee's unit names); still accepted, with a warning. */
    connectTimeoutMs?: number;
    /** @deprecated Renamed to `queryTimeoutMillis`; still accepted, with a warning. */
    queryTimeoutMs?: number;
    /** @deprecated Renamed to `idleTimeoutMillis`; still accepted, with a warning. */
    idleTimeoutMs?: number;
}

/** Options renamed to Crawlee's unit names: old → new. */
const DEPRECATED_OPTIONS = {
    connectTimeoutMs: 'connectTimeoutMillis',
    queryTimeoutMs: 'queryTimeoutMillis',
    idleTimeoutMs: 'idleTimeoutMillis',
} as const;

const DEFAULT_TABLE_PREFIX = 'crawlee_sessions';
const DEFAULT_CONNECTION_LIMIT = 10;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_QUERY_TIMEOUT_MS = 30_000;
const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
/** How long `open()` waits for another process that is migrating the same tables. */
const MIGRATION_LOCK_TIMEOUT_SECONDS = 60;
/** How long one migration statement may run: converting a large table rebuilds it. */
const MIGRATION_DDL_TIMEOUT_MS = 15 * 60_000;
/**
 * Most rows (or ids) per multi-row statement. Statements hold a power of two of them (see
 * {@link powerOfTwoChunks}), so each kind of statement comes in 9 shapes and the prepared statements stay few.
 */
const ROWS_PER_STATEMENT = 256;
/** A soft bound on a multi-row statement's size; one row may be larger, up to the server's packet limit. */
const BYTES_PER_STATEMENT = 2 * 1024 * 1024;
/** Bytes of `max_allowed_packet` kept for the protocol's own fields when deciding whether a row fits. */
const PACKET_HEADROOM_BYTES = 4096;
/**
 * Prepared statements each connection keeps (mysql2's LRU cache, which closes evicted ones on the server). The
 * store uses about 60 distinct statements, so they all stay cached; mysql2's default (16 000) is far above the
 * server's `max_prepared_stmt_count` (16 382 by default), which every connection of every process shares.
 */
const PREPARED_STATEMENTS_PER_CONNECTION = 100;
/** Attempts of a transaction that hits a deadlock or a lock wait timeout. */
const CONFLICT_ATTEMPTS = 6;
/** The largest profile index the `profile_index INT` column holds. */
const MAX_PROFILE_INDEX = 2 ** 31 - 1;
/** The longest key (session id, lease owner, entry collection or key), in UTF-16 code units. */
const MAX_KEY_LENGTH = MAX_SESSION_ID_LENGTH;

/**
 * The `sql_mode` of every connection, whatever the server's default (a server's mode is the DBA's choice, and
 * changes what the same statement does):
 * - `STRICT_ALL_TABLES`: a value that does not fit its column fails its statement instead of being cut or
 *   replaced silently (a cut id would merge two sessions, cut JSON would be unreadable); `write()` then sets that
 *   one session aside ({@link StoreWriteRejectedError}) and writes the others.
 * - `NO_ENGINE_SUBSTITUTION`: the tables are InnoDB or creating them fails; row locks and transactions are what
 *   keep concurrent writers from losing updates.
 * - Neither `NO_BACKSLASH_ESCAPES`, `ANSI_QUOTES` nor `PIPES_AS_CONCAT`: the store's own SQL text (identifiers in
 *   backticks, a few constant literals) means the same on every server.
 *
 * Data is never part of SQL text in the first place: every value travels as a parameter of a server-side
 * prepared statement (mysql2 `execute`), so no cookie, id or key can change what a statement does.
 */
const SQL_MODE = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION';

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
    connectTimeoutMillis: z.int().min(1).optional(),
    queryTimeoutMillis: z.int().min(100).optional(),
    idleTimeoutMillis: z.int().min(1).optional(),
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

/**
 * Server errors about the data of one row, with what they mean: the statement failed and was rolled back, the
 * transaction and the connection are fine. That row can never be written as it is; the others can.
 */
const ROW_DATA_ERRORS = new Map([
    ['ER_DATA_TOO_LONG', 'too long for its column'],
    ['ER_WARN_DATA_OUT_OF_RANGE', "out of its column's range"],
    ['ER_TRUNCATED_WRONG_VALUE', 'not a valid value for its column'],
    ['ER_TRUNCATED_WRONG_VALUE_FOR_FIELD', 'not a valid value for its column'],
    ['ER_INVALID_CHARACTER_STRING', "not valid in its column's character set"],
    ['ER_BAD_NULL_ERROR', 'null in a column that needs a value'],
    ['ER_TOO_BIG_ROWSIZE', 'a row too large for the table'],
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

/**
 * Why the server refused a row, when `error` is about one row's data (see {@link ROW_DATA_ERRORS}): the column
 * and the problem, never the value (the server's message quotes it for some errors).
 */
function rowErrorReason(error: unknown): string | undefined {
    const code = errorCode(error);
    const meaning = code === undefined ? undefined : ROW_DATA_ERRORS.get(code);
    if (meaning === undefined || isConnectionFault(error)) return undefined;
    const message = (error as { message?: unknown }).message;
    const column = typeof message === 'string' ? /column '([a-z_]+)'/.exec(message)?.[1] : undefined;
    return `the server refused its ${column ?? 'row'}: ${meaning} (${code})`;
}

/** The server's clock in ms since the epoch (connections use UTC, see `prepareConnection`). */
const DB_NOW_MS = 'FLOOR(UNIX_TIMESTAMP(NOW(3)) * 1000)';

const RECORD_COLUMNS =
    'id, lease_only, generation, profile_index, identity, cookies, auth, requests, successes, failures, renewals, ' +
    'last_used_at, last_renewal_error, updated_at';

/** The record columns a write reads under its row lock: with what the row counted from each writer. */
const LOCKED_RECORD_COLUMNS = `${RECORD_COLUMNS}, writers`;

/**
 * Where the upsert of a transaction marks its rows until it takes a revision: connection ids are unique among the
 * server's live connections, so only this transaction's uncommitted rows carry it (see `commitRecords`).
 */
const REVISION_MARKER = '-CONNECTION_ID()';

/** A key column (VARBINARY) as read: mysql2 returns binary columns as Buffers. */
type KeyValue = Buffer | string;

/** A `sessions` row as read with {@link RECORD_COLUMNS}. */
interface SessionRow extends RowDataPacket {
    id: KeyValue;
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
    /** Only in reads with {@link LOCKED_RECORD_COLUMNS}. */
    writers?: string | null;
}

/** A row read for a lease decision: the record columns plus the lease. */
interface LeaseRow extends SessionRow {
    lease_owner: KeyValue | null;
    lease_remaining_ms: number | string | null;
}

type Connection = PoolConnection;

/** The callback connection under a promise one: its queries are event emitters of their rows. */
interface StreamingConnection {
    query(sql: string): NodeJS.EventEmitter;
}

/** The driver's connection under a pooled one: its socket is what keeps a process alive. */
interface CoreConnection {
    stream?: { ref(): unknown; unref(): unknown };
}

function coreOf(connection: Connection): CoreConnection {
    return (connection as unknown as { connection: CoreConnection }).connection;
}

/** What the store knows about one connection once its session is set up (see `prepareConnection`). */
interface ConnectionState {
    /** The server's `max_allowed_packet`: no statement may be larger. */
    maxAllowedPacket: number;
    /** The largest row a statement can carry. */
    maxRowBytes: number;
}

/** A value bound to a placeholder. */
type SqlValue = string | number | null;

/** One SQL statement and the values of its `?` placeholders. */
type Statement = [sql: string, values: SqlValue[]];

/** The statements of one transaction (see `MySqlSessionStore.transaction`). */
interface Transaction {
    /** Runs one statement (a server-side prepared statement) in the transaction and returns its result. */
    run(statement: Statement): Promise<unknown>;
    /** The connection's limits. */
    readonly limits: ConnectionState;
}

/** A session record as the values of one upsert row, with their encoded size. */
interface EncodedRow {
    id: string;
    values: SqlValue[];
    bytes: number;
}

/** What one transaction of `write()` did: a result per delta (undefined where refused) and the refused ids. */
interface BatchOutcome {
    results: (SessionRecord | undefined)[];
    rejected: Map<string, string>;
}

/** Throws unless the statement of `takeRevision()` found the sequence's row. */
function checkRevisionTaken(result: unknown): void {
    if ((result as ResultSetHeader).affectedRows !== 1) throw new Error('The revision row is missing from the meta table.');
}

/**
 * A session store in MySQL (or MariaDB), shared by every crawler process of a deployment.
 *
 * - **Data never becomes SQL.** Every value is a parameter of a server-side prepared statement (mysql2
 *   `execute`), and every connection pins its `sql_mode` ({@link SQL_MODE}): no cookie, id or key a crawled site
 *   chooses can change a statement, whatever the server's settings.
 * - **Exact keys.** Session ids, lease owners, entry collections and keys are stored as their UTF-8 bytes
 *   (VARBINARY): `"alice"`, `"alice "`, `"Alice"` and the NFC and NFD forms of `"é"` are four sessions. Strings
 *   with lone surrogates (which have no UTF-8 form of their own) are refused.
 * - **No lost updates.** `write()` runs one transaction per batch: it locks the batch's rows in id order
 *   (creating placeholders for new ones, then `SELECT … FOR UPDATE`), merges each delta with
 *   {@link applySessionDelta}, and writes the results back with multi-row upserts. Deadlocks and lock wait
 *   timeouts are retried. A batch of up to 256 sessions takes six statements (eight when some are new), each a
 *   round trip: without multi-statement packets, that is the price of never putting data into SQL text.
 * - **One bad session never blocks its batch.** A row the server can never take (larger than
 *   `max_allowed_packet`, a value too long or out of range for its column) is set aside: the rest of the batch
 *   is written, and `write()` throws a {@link StoreWriteRejectedError} naming the refused sessions and why.
 *   Outages stay {@link StoreUnavailableError}s, with nothing of the batch written.
 * - **Changes.** Every transaction that writes takes the next value of a global revision sequence just before
 *   it commits, and stamps it on its rows. Revisions thus commit in order, and `changes(cursor)` returns exactly
 *   the rows written since the cursor.
 * - **Renewal leases** live in the session rows and expire by the database clock, so process clocks do not matter.
 * - **Secrets at rest.** With a secret, cookie lists, login values (`auth`) and secret entries are sealed with
 *   AES-256-GCM; the salt and a key check live in the meta table, so a wrong secret is detected at `open()` before
 *   anything is read or written. Ids, profile indexes, identities, counters and timestamps stay in clear.
 * - **Faults.** Calls reject with {@link StoreUnavailableError} (naming host, port and cause, never the password)
 *   when the server cannot be reached or stops answering (`queryTimeoutMillis`); the pool reconnects by itself.
 * - **Idle connections** never keep the process alive (their sockets are unreferenced while unused) and are
 *   closed after `idleTimeoutMillis`: a program that forgets `close()` exits, and its `beforeExit` flush still runs.
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
    /** Connections whose session settings (sql_mode, time zone, isolation, lock wait) are set, with their limits. */
    private readonly prepared = new WeakMap<CoreConnection, ConnectionState>();
    /** Connections given up on (failed, timed out): never returned to the pool. */
    private readonly discarded = new WeakSet<CoreConnection>();
    /** The timer closing each unused connection after `idleTimeoutMs`. */
    private readonly idleTimers = new Map<CoreConnection, NodeJS.Timeout>();
    private box: SecretBox | undefined;
    private closed = false;

    private constructor(
        private readonly pool: Pool,
        private readonly target: MySqlTarget,
        private readonly tablePrefix: string,
        private readonly queryTimeoutMs: number,
        private readonly idleTimeoutMs: number,
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
        const parsed = parseWithZod(optionsSchema, renameDeprecated(options, 'MySQL store options', DEPRECATED_OPTIONS), 'mysqlStoreOptions');
        const target = parseMySqlUrl(parsed.url) as MySqlTarget;
        const connectionLimit = parsed.connectionLimit ?? DEFAULT_CONNECTION_LIMIT;
        const pool = mysql.createPool({
            host: target.host,
            port: target.port,
            user: target.user,
            password: target.password,
            database: target.database,
            connectionLimit,
            // mysql2 closes idle connections only when maxIdle < connectionLimit, with a timer that keeps the process
            // alive; the store closes them itself (see `release`).
            maxIdle: connectionLimit,
            connectTimeout: parsed.connectTimeoutMillis ?? DEFAULT_CONNECT_TIMEOUT_MS,
            waitForConnections: true,
            resetOnRelease: false,
            enableKeepAlive: true,
            supportBigNumbers: true,
            charset: 'utf8mb4',
            maxPreparedStatements: PREPARED_STATEMENTS_PER_CONNECTION,
        });
        const store = new MySqlSessionStore(
            pool,
            target,
            parsed.tablePrefix ?? DEFAULT_TABLE_PREFIX,
            parsed.queryTimeoutMillis ?? DEFAULT_QUERY_TIMEOUT_MS,
            parsed.idleTimeoutMillis ?? DEFAULT_IDLE_TIMEOUT_MS,
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
                ddlTimeoutMs: Math.max(this.queryTimeoutMs, MIGRATION_DDL_TIMEOUT_MS),
                run: (conn, sql, values, timeoutMs) => this.execute(conn, sql, (values ?? []) as SqlValue[], timeoutMs),
            });
            this.box = await this.openEncryption(connection, secret);
        } finally {
            // A fresh session for everything else; this one may hold the migration lock if releasing it failed.
            connection.destroy();
        }
    }

    private async openEncryption(connection: Connection, secret: string | undefined): Promise<SecretBox | undefined> {
        const readMeta = async (): Promise<EncryptionMeta> => {
            const rows = (await this.execute(connection, `SELECT value FROM \`${this.tables.meta}\` WHERE name = ?`, [META_ENCRYPTION])) as RowDataPacket[];
            const value = rows[0]?.value as string | null | undefined;
            return value ? (JSON.parse(value) as EncryptionMeta) : {};
        };
        const where = this.description;
        const meta = await readMeta();
        // A store encrypted now that already holds rows keeps accepting their clear values until they are rewritten.
        const hasRows = async (table: string) => ((await this.execute(connection, `SELECT 1 FROM \`${table}\` LIMIT 1`, [])) as RowDataPacket[]).length > 0;
        const holdsClearValues = !meta.keyCheck && !!secret && ((await hasRows(this.tables.sessions)) || (await hasRows(this.tables.entries)));
        const { box, update } = await openSecretBox(meta, secret, where, { holdsClearValues });
        if (!update) return box;
        // Several processes may encrypt a new store at once: the first salt written wins, the others adopt it.
        await this.execute(connection, `INSERT IGNORE INTO \`${this.tables.meta}\` (name, value) VALUES (?, ?)`, [
            META_ENCRYPTION,
            JSON.stringify(update),
        ]);
        const stored = await readMeta();
        return JSON.stringify(stored) === JSON.stringify(update) ? box : (await openSecretBox(stored, secret, where)).box;
    }

    async loadAll(): Promise<SessionRecord[]> {
        return this.call('loading sessions', () =>
            this.withConnection(async (connection) => {
                const rows = (await this.execute(
                    connection,
                    `SELECT ${RECORD_COLUMNS} FROM \`${this.tables.sessions}\` WHERE lease_only = 0 ORDER BY id`,
                    [],
                )) as SessionRow[];
                return rows.map((row) => this.decodeRecord(row));
            }),
        );
    }

    /**
     * The `limit` most recently used sessions, and the ids of all the others (for `maxLiveSessions`: the others are
     * not read until used).
     */
    async loadRecent(limit: number): Promise<{ records: SessionRecord[]; otherIds: string[] }> {
        return this.call('loading sessions', () =>
            this.withConnection(async (connection) => {
                const rows = (await this.execute(
                    connection,
                    `SELECT ${RECORD_COLUMNS} FROM \`${this.tables.sessions}\` WHERE lease_only = 0
                     ORDER BY last_used_at DESC, id DESC LIMIT ${Math.max(0, Math.floor(limit))}`,
                    [],
                )) as SessionRow[];
                const records = rows.map((row) => this.decodeRecord(row));
                const loaded = new Set(records.map((record) => record.id));
                // Streamed: a million ids read into one result are a million row objects and buffers at once. The
                // query is covered by the recent-sessions index (an index scan, no row is read).
                const otherIds: string[] = [];
                await this.streamRows(connection, `SELECT id FROM \`${this.tables.sessions}\` WHERE lease_only = 0`, (row) => {
                    const id = (row as { id: Buffer | string }).id;
                    const text = typeof id === 'string' ? id : id.toString('utf8');
                    if (!loaded.has(text)) otherIds.push(text);
                });
                return { records, otherIds };
            }),
        );
    }

    async read(id: string): Promise<SessionRecord | undefined> {
        checkSessionId(id, 'id');
        return this.call('reading a session', () =>
            this.withConnection(async (connection) => {
                const rows = (await this.execute(
                    connection,
                    `SELECT ${RECORD_COLUMNS} FROM \`${this.tables.sessions}\` WHERE id = ? AND lease_only = 0`,
                    [id],
                )) as SessionRow[];
                return rows[0] && this.decodeRecord(rows[0]);
            }),
        );
    }

    /**
     * Applies the deltas in one transaction. Deltas the store can never write (an id it cannot keep exactly, a
     * row the server refuses for good) are left out and the others written: it then throws a
     * {@link StoreWriteRejectedError} with the refused ids and the written records.
     */
    async write(deltas: readonly SessionDelta[]): Promise<SessionRecord[]> {
        if (deltas.length === 0) return [];
        const refused = new Map<string, string>();
        for (const delta of deltas) {
            const problem = keyProblem(delta.id);
            if (problem !== undefined) refused.set(delta.id, `its id ${problem}`);
        }
        const accepted = refused.size === 0 ? deltas : deltas.filter((delta) => !refused.has(delta.id));
        const outcome: BatchOutcome =
            accepted.length === 0
                ? { results: [], rejected: new Map() }
                : await this.call('writing sessions', () => this.transaction((tx) => this.writeBatch(tx, accepted)));
        let next = 0;
        const records = deltas.map((delta) => (refused.has(delta.id) ? undefined : outcome.results[next++]));
        const rejected = [...refused, ...outcome.rejected].map(([id, reason]) => ({ id, reason }));
        if (rejected.length > 0) throw new StoreWriteRejectedError(rejected, records);
        return records as SessionRecord[];
    }

    private async writeBatch(tx: Transaction, deltas: readonly SessionDelta[]): Promise<BatchOutcome> {
        // Sorted, so that concurrent batches lock shared rows in the same order.
        const ids = [...new Set(deltas.map((delta) => delta.id))].sort();
        const current = await this.lockSessions(tx, ids);
        const now = Date.now();
        const results = deltas.map((delta) => {
            const record = applySessionDelta(current.get(delta.id), delta, now);
            current.set(delta.id, record);
            return record;
        });
        const rejected = await this.commitRecords(
            tx,
            ids.map((id) => current.get(id)!),
        );
        return { results: results.map((record) => (rejected.has(record.id) ? undefined : structuredClone(record))), rejected };
    }

    async remove(ids: readonly string[]): Promise<void> {
        if (ids.length === 0) return;
        ids.forEach((id, index) => checkSessionId(id, `ids[${index}]`));
        await this.call('removing sessions', () =>
            this.withConnection(async (connection) => {
                for (const chunk of idChunks([...new Set(ids)].sort())) {
                    await this.execute(connection, `DELETE FROM \`${this.tables.sessions}\` WHERE id IN ${placeholders(chunk.length)}`, chunk);
                }
            }),
        );
    }

    async changes(cursor: string | undefined): Promise<{ records: SessionRecord[]; cursor: string }> {
        if (cursor !== undefined && !/^\d+$/.test(cursor)) throw new Error(`Not a cursor of a MySQL session store: "${cursor}".`);
        return this.call('reading changes', () =>
            this.withConnection(async (connection) => {
                if (cursor === undefined) return { records: [], cursor: await this.readRevision(connection) };
                const rows = (await this.execute(
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

    /**
     * The revision of the last committed write: the sequence row of the meta table, a primary-key read (measured as
     * cheap as `SELECT MAX(revision)` on the indexed column, about 0.2 ms a round trip on loopback). A non-locking
     * read: writers holding the sequence row do not block it, and it only shows committed revisions.
     */
    async changeSignal(): Promise<string> {
        return this.call('reading the revision', () => this.withConnection((connection) => this.readRevision(connection)));
    }

    private async readRevision(connection: Connection): Promise<string> {
        const rows = (await this.execute(connection, `SELECT number FROM \`${this.tables.meta}\` WHERE name = ?`, [META_REVISION])) as RowDataPacket[];
        return String(rows[0]?.number ?? 0);
    }

    async beginRenewal(id: string, fromGeneration: number, owner: string, leaseMs: number): Promise<RenewalLease> {
        checkSessionId(id, 'id');
        checkLeaseOwner(owner);
        return this.call('taking a renewal lease', () =>
            this.transaction(async (tx): Promise<RenewalLease> => {
                await tx.run(this.ensureRows([id]));
                const rows = (await tx.run([
                    `SELECT ${RECORD_COLUMNS}, lease_owner, lease_expires_at - ${DB_NOW_MS} AS lease_remaining_ms
                     FROM \`${this.tables.sessions}\` WHERE id = ? FOR UPDATE`,
                    [id],
                ])) as LeaseRow[];
                const row = rows[0];
                if (!row) throw new Error(`The row of session "${id}" vanished inside its own transaction.`);
                const record = row.lease_only ? undefined : this.decodeRecord(row);
                if (record && record.generation > fromGeneration) return { granted: false, reason: 'advanced', record };
                const remaining = Number(row.lease_remaining_ms ?? 0);
                if (row.lease_owner !== null && keyText(row.lease_owner) !== owner && remaining > 0) {
                    return { granted: false, reason: 'busy', record, leaseExpiresAt: Date.now() + remaining };
                }
                await tx.run([`UPDATE \`${this.tables.sessions}\` SET lease_owner = ?, lease_expires_at = ${DB_NOW_MS} + ? WHERE id = ?`, [owner, leaseMs, id]]);
                return { granted: true };
            }),
        );
    }

    async extendRenewal(id: string, owner: string, leaseMs: number): Promise<boolean> {
        checkSessionId(id, 'id');
        checkLeaseOwner(owner);
        return this.call('extending a renewal lease', () =>
            this.withConnection(async (connection) => {
                const result = (await this.execute(
                    connection,
                    `UPDATE \`${this.tables.sessions}\` SET lease_expires_at = ${DB_NOW_MS} + ? WHERE id = ? AND lease_owner = ?`,
                    [leaseMs, id, owner],
                )) as ResultSetHeader;
                return result.affectedRows > 0;
            }),
        );
    }

    /**
     * Commits a renewal (see {@link SessionStore.completeRenewal}). Throws a {@link StoreWriteRejectedError}, and
     * changes nothing, when the server can never take the renewed session (e.g. larger than `max_allowed_packet`).
     */
    async completeRenewal(owner: string, delta: SessionDelta): Promise<SessionRecord> {
        checkSessionId(delta.id, 'delta.id');
        checkLeaseOwner(owner);
        return this.call('completing a renewal', () =>
            this.transaction(async (tx) => {
                await tx.run(this.ensureRows([delta.id]));
                const rows = (await tx.run([
                    `SELECT ${LOCKED_RECORD_COLUMNS}, lease_owner FROM \`${this.tables.sessions}\` WHERE id = ? FOR UPDATE`,
                    [delta.id],
                ])) as LeaseRow[];
                const row = rows[0];
                if (!row) throw new Error(`The row of session "${delta.id}" vanished inside its own transaction.`);
                const stored = row.lease_only ? undefined : this.decodeRecord(row);
                const held = row.lease_owner !== null && keyText(row.lease_owner) === owner;
                // Lease lost to another process: its outcome wins. Without any stored state there is nothing to
                // keep, so the delta creates the record (leaving the other process's lease in place).
                if (!held && stored) return stored;
                const record = applySessionDelta(stored, delta, Date.now());
                const releaseLease: Statement = [
                    `UPDATE \`${this.tables.sessions}\` SET lease_owner = NULL, lease_expires_at = NULL WHERE id = ?`,
                    [delta.id],
                ];
                const reason = (await this.commitRecords(tx, [record], held ? [releaseLease] : [])).get(record.id);
                // Thrown inside the transaction: it rolls back, the lease stays with its owner.
                if (reason !== undefined) throw new StoreWriteRejectedError([{ id: record.id, reason }], [undefined]);
                return record;
            }),
        );
    }

    async abandonRenewal(id: string, owner: string): Promise<void> {
        checkSessionId(id, 'id');
        checkLeaseOwner(owner);
        await this.call('releasing a renewal lease', () =>
            this.withConnection(async (connection) => {
                await this.execute(connection, `DELETE FROM \`${this.tables.sessions}\` WHERE id = ? AND lease_owner = ? AND lease_only = 1`, [
                    id,
                    owner,
                ]);
                await this.execute(
                    connection,
                    `UPDATE \`${this.tables.sessions}\` SET lease_owner = NULL, lease_expires_at = NULL WHERE id = ? AND lease_owner = ?`,
                    [id, owner],
                );
            }),
        );
    }

    async listEntries<T = unknown>(collection: string): Promise<StoreEntry<T>[]> {
        checkEntryKey('collection', collection);
        return this.call('listing entries', () =>
            this.withConnection(async (connection) => {
                const rows = (await this.execute(
                    connection,
                    `SELECT entry_key, value, updated_at FROM \`${this.tables.entries}\` WHERE collection = ? ORDER BY entry_key`,
                    [collection],
                )) as RowDataPacket[];
                return rows.map((row) => this.decodeEntry<T>(row, collection));
            }),
        );
    }

    async getEntry<T = unknown>(collection: string, key: string): Promise<StoreEntry<T> | undefined> {
        checkEntryKey('collection', collection);
        checkEntryKey('key', key);
        return this.call('reading an entry', () =>
            this.withConnection(async (connection) => {
                const rows = (await this.execute(
                    connection,
                    `SELECT entry_key, value, updated_at FROM \`${this.tables.entries}\` WHERE collection = ? AND entry_key = ?`,
                    [collection, key],
                )) as RowDataPacket[];
                return rows[0] && this.decodeEntry<T>(rows[0], collection);
            }),
        );
    }

    async putEntry(collection: string, key: string, value: unknown, options: { secret?: boolean } = {}): Promise<void> {
        checkEntryKey('collection', collection);
        checkEntryKey('key', key);
        const json = JSON.stringify(value);
        if (json === undefined) throw new TypeError(`The value of entry "${key}" in "${collection}" cannot be stored as JSON.`);
        // With a key every entry is sealed, so that an entry in clear can be refused as planted.
        const stored = this.box ? this.box.seal(json, { kind: 'entry', collection, key }) : json;
        await this.call('writing an entry', () =>
            this.transaction(async (tx) => {
                const values: SqlValue[] = [collection, key, stored, options.secret ? 1 : 0, Date.now()];
                const bytes = encodedSize(values);
                if (bytes > tx.limits.maxRowBytes) {
                    throw new ConfigValidationError('entry', [{ path: 'value', message: tooLargeReason('is', bytes, tx.limits) }]);
                }
                checkRevisionTaken(await tx.run(this.takeRevision()));
                await tx.run([
                    `INSERT INTO \`${this.tables.entries}\` (collection, entry_key, value, secret, revision, updated_at)
                     VALUES (?, ?, ?, ?, LAST_INSERT_ID(), ?)
                     ON DUPLICATE KEY UPDATE value = VALUES(value), secret = VALUES(secret), revision = VALUES(revision),
                        updated_at = VALUES(updated_at)`,
                    values,
                ]);
            }),
        );
    }

    async deleteEntry(collection: string, key: string): Promise<boolean> {
        checkEntryKey('collection', collection);
        checkEntryKey('key', key);
        return this.call('deleting an entry', () =>
            this.withConnection(async (connection) => {
                const result = (await this.execute(connection, `DELETE FROM \`${this.tables.entries}\` WHERE collection = ? AND entry_key = ?`, [
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
        for (const timer of this.idleTimers.values()) clearTimeout(timer);
        this.idleTimers.clear();
        await this.pool.end();
    }

    // --- sessions: encoding and locking ---

    /**
     * Locks and reads the rows of `ids`, creating the missing ones first (see {@link ensureRows}). Existing rows
     * are locked without that step: sessions written again (the usual case) take one statement less.
     */
    private async lockSessions(tx: Transaction, ids: readonly string[]): Promise<Map<string, SessionRecord | undefined>> {
        const current = new Map<string, SessionRecord | undefined>();
        const lock = async (chunk: string[]) => {
            const rows = (await tx.run([
                `SELECT ${LOCKED_RECORD_COLUMNS} FROM \`${this.tables.sessions}\` WHERE id IN ${placeholders(chunk.length)} ORDER BY id FOR UPDATE`,
                chunk,
            ])) as SessionRow[];
            for (const row of rows) current.set(keyText(row.id), row.lease_only ? undefined : this.decodeRecord(row));
        };
        for (const chunk of idChunks(ids)) await lock(chunk);
        for (const chunk of idChunks(ids.filter((id) => !current.has(id)))) {
            await tx.run(this.ensureRows(chunk));
            await lock(chunk);
        }
        return current;
    }

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
            `INSERT INTO \`${this.tables.sessions}\` (id, lease_only, generation, cookies, revision, updated_at)
             VALUES ${repeatTuple("(?, 1, 0, '[]', 0, ?)", ids.length)}
             ON DUPLICATE KEY UPDATE id = id`,
            ids.flatMap((id) => [id, now]),
        ];
    }

    /**
     * Writes `records` (whose rows this transaction has locked), then `extra`, then stamps a new revision on the
     * written rows; returns the ids of the records the server refused for good, with why.
     *
     * The upserts mark their rows with {@link REVISION_MARKER}; the revision is taken only after them, so the
     * sequence, which every writer waits for, stays locked for two small statements and the commit, never for
     * the upserts themselves.
     */
    private async commitRecords(tx: Transaction, records: readonly SessionRecord[], extra: Statement[] = []): Promise<Map<string, string>> {
        const rejected = new Map<string, string>();
        const rows: EncodedRow[] = [];
        for (const record of records) {
            const row = this.encodeRow(record, tx.limits);
            if (typeof row === 'string') rejected.set(record.id, row);
            else rows.push(row);
        }
        let written = 0;
        for (const chunk of rowChunks(rows, Math.min(BYTES_PER_STATEMENT, tx.limits.maxRowBytes))) {
            written += await this.upsertIsolating(tx, chunk, rejected);
        }
        for (const statement of extra) await tx.run(statement);
        // Rows created by `ensureRows` for refused sessions that had none: nothing must remain of them.
        for (const chunk of idChunks([...rejected.keys()].sort())) {
            await tx.run([
                `DELETE FROM \`${this.tables.sessions}\` WHERE id IN ${placeholders(chunk.length)} AND lease_only = 1 AND lease_owner IS NULL`,
                chunk,
            ]);
        }
        if (written === 0) return rejected;
        checkRevisionTaken(await tx.run(this.takeRevision()));
        const stamped = (await tx.run([
            `UPDATE \`${this.tables.sessions}\` SET revision = LAST_INSERT_ID() WHERE revision = ${REVISION_MARKER}`,
            [],
        ])) as ResultSetHeader;
        if (stamped.affectedRows !== written) {
            throw new Error(`Stamped ${stamped.affectedRows} session row(s) with the new revision instead of the ${written} written.`);
        }
        return rejected;
    }

    /**
     * Upserts `rows` (a power of two of them) in one statement. When the server refuses one row's data, the
     * failed statement changed nothing: the halves are written separately, down to the refused rows, which go
     * into `rejected`. Returns how many rows were written.
     */
    private async upsertIsolating(tx: Transaction, rows: readonly EncodedRow[], rejected: Map<string, string>): Promise<number> {
        try {
            await tx.run(this.upsertRecords(rows));
            return rows.length;
        } catch (error) {
            const reason = rowErrorReason(error);
            if (reason === undefined) throw error;
            if (rows.length === 1) {
                rejected.set(rows[0]!.id, reason);
                return 0;
            }
            const half = rows.length / 2;
            return (await this.upsertIsolating(tx, rows.slice(0, half), rejected)) + (await this.upsertIsolating(tx, rows.slice(half), rejected));
        }
    }

    /** One multi-row upsert writing `rows`; the lease columns of existing rows are left alone. */
    private upsertRecords(rows: readonly EncodedRow[]): Statement {
        return [
            `INSERT INTO \`${this.tables.sessions}\` (id, lease_only, generation, profile_index, identity, cookies, auth,
                requests, successes, failures, renewals, last_used_at, last_renewal_error, revision, updated_at, writers)
             VALUES ${repeatTuple(`(?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ${REVISION_MARKER}, ?, ?)`, rows.length)}
             ON DUPLICATE KEY UPDATE lease_only = 0, generation = VALUES(generation), profile_index = VALUES(profile_index),
                identity = VALUES(identity), cookies = VALUES(cookies), auth = VALUES(auth), requests = VALUES(requests),
                successes = VALUES(successes), failures = VALUES(failures), renewals = VALUES(renewals),
                last_used_at = VALUES(last_used_at), last_renewal_error = VALUES(last_renewal_error),
                revision = VALUES(revision), updated_at = VALUES(updated_at), writers = VALUES(writers)`,
            rows.flatMap((row) => row.values),
        ];
    }

    /** The values of a record's upsert row, or why it cannot be written (without any secret value). */
    private encodeRow(record: SessionRecord, limits: ConnectionState): EncodedRow | string {
        const problem = recordProblem(record);
        if (problem !== undefined) return problem;
        const values: SqlValue[] = [
            record.id,
            record.generation,
            record.profileIndex,
            record.identity === null ? null : JSON.stringify(record.identity),
            this.encodeSecret(record.cookies, { kind: 'session', id: record.id, field: 'cookies' }),
            record.auth === null ? null : this.encodeSecret(record.auth, { kind: 'session', id: record.id, field: 'auth' }),
            record.counters.requests,
            record.counters.successes,
            record.counters.failures,
            record.counters.renewals,
            record.lastUsedAt,
            record.lastRenewalError,
            record.updatedAt,
            record.writers === undefined ? null : JSON.stringify(record.writers),
        ];
        const bytes = encodedSize(values);
        if (bytes > limits.maxRowBytes) return tooLargeReason('its row is', bytes, limits);
        return { id: record.id, values, bytes };
    }

    /** JSON, sealed when the store has a key (cookies and auth are secret). */
    private encodeSecret(value: unknown, field: SealedField): string {
        const json = JSON.stringify(value);
        return this.box ? this.box.seal(json, field) : json;
    }

    /** Opens a sealed value bound to `field`; a value in clear is refused once the store is encrypted. */
    private decodeSecret<T>(text: string, field: SealedField): T {
        return openStoredText<T>(this.box, text, this.description, field);
    }

    private decodeRecord(row: SessionRow): SessionRecord {
        return {
            id: keyText(row.id),
            generation: Number(row.generation),
            profileIndex: row.profile_index === null ? null : Number(row.profile_index),
            identity: row.identity === null ? null : (JSON.parse(row.identity) as SessionRecord['identity']),
            cookies: this.decodeSecret<StoredCookie[]>(row.cookies, { kind: 'session', id: keyText(row.id), field: 'cookies' }),
            auth: row.auth === null ? null : this.decodeSecret<SessionAuth>(row.auth, { kind: 'session', id: keyText(row.id), field: 'auth' }),
            counters: {
                requests: Number(row.requests),
                successes: Number(row.successes),
                failures: Number(row.failures),
                renewals: Number(row.renewals),
            },
            lastUsedAt: row.last_used_at === null ? null : Number(row.last_used_at),
            lastRenewalError: row.last_renewal_error,
            updatedAt: Number(row.updated_at),
            ...(row.writers ? { writers: parseWriterTotals(row.writers) } : {}),
        };
    }

    private decodeEntry<T>(row: RowDataPacket, collection: string): StoreEntry<T> {
        const key = keyText(row.entry_key as KeyValue);
        return { key, value: this.decodeSecret<T>(row.value as string, { kind: 'entry', collection, key }), updatedAt: Number(row.updated_at) };
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
    private async withConnection<T>(work: (connection: Connection, state: ConnectionState) => Promise<T>): Promise<T> {
        const connection = await this.pool.getConnection();
        this.hold(connection);
        try {
            const result = await work(connection, await this.prepareConnection(connection));
            this.release(connection);
            return result;
        } catch (error) {
            if (isConnectionFault(error)) this.discard(connection);
            else this.release(connection);
            throw error;
        }
    }

    /** A connection taken from the pool keeps the process alive while the store uses it: a flush under way completes. */
    private hold(connection: Connection): void {
        const core = coreOf(connection);
        clearTimeout(this.idleTimers.get(core));
        this.idleTimers.delete(core);
        core.stream?.ref();
    }

    /**
     * Returns a connection to the pool. An unused connection must not keep the process alive (a program that
     * forgets `close()` would never exit, and its `beforeExit` flush never run): its socket is unreferenced, and
     * the connection closed after `idleTimeoutMs` unless it is used again.
     */
    private release(connection: Connection): void {
        const core = coreOf(connection);
        if (this.discarded.has(core)) return;
        core.stream?.unref();
        if (!this.closed) {
            const timer = setTimeout(() => {
                this.idleTimers.delete(core);
                this.discard(connection);
            }, this.idleTimeoutMs);
            timer.unref();
            this.idleTimers.set(core, timer);
        }
        connection.release();
    }

    /** Closes a connection for good (it leaves the pool); its socket no longer keeps the process alive either. */
    private discard(connection: Connection): void {
        const core = coreOf(connection);
        if (this.discarded.has(core)) return;
        this.discarded.add(core);
        core.stream?.unref();
        connection.destroy();
    }

    /**
     * Runs `work` in a transaction, again (with a short random pause) when it loses a deadlock or a lock wait.
     * Commits when `work` resolves, rolls back when it throws.
     */
    private async transaction<T>(work: (tx: Transaction) => Promise<T>): Promise<T> {
        for (let attempt = 1; ; attempt++) {
            try {
                return await this.withConnection(async (connection, limits) => {
                    await this.fixed(connection, 'START TRANSACTION');
                    try {
                        const result = await work({ run: ([sql, values]) => this.execute(connection, sql, values), limits });
                        await this.fixed(connection, 'COMMIT');
                        return result;
                    } catch (error) {
                        // A connection that cannot even roll back must not go back to the pool.
                        if (!isConnectionFault(error)) await this.fixed(connection, 'ROLLBACK').catch(() => this.discard(connection));
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
     * Session settings of every connection: the store's {@link SQL_MODE}; UTC, so that `NOW()` converts to epoch
     * ms exactly; READ COMMITTED, so that locking reads of missing rows take no gap locks; and a row-lock wait
     * shorter than the query timeout, so that the server gives up a wait (and keeps the connection usable) before
     * the client does. Also reads the connection's packet limit.
     */
    private async prepareConnection(connection: Connection): Promise<ConnectionState> {
        const core = coreOf(connection);
        const known = this.prepared.get(core);
        if (known) return known;
        const lockWaitSeconds = Math.max(1, Math.floor(this.queryTimeoutMs / 3000));
        await this.fixed(
            connection,
            `SET SESSION sql_mode = '${SQL_MODE}', SESSION time_zone = '+00:00', SESSION innodb_lock_wait_timeout = ${lockWaitSeconds}`,
        );
        await this.fixed(connection, 'SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED');
        const [row] = (await this.fixed(connection, 'SELECT @@SESSION.max_allowed_packet AS max_allowed_packet')) as RowDataPacket[];
        const maxAllowedPacket = Number(row?.max_allowed_packet);
        const state = { maxAllowedPacket, maxRowBytes: maxAllowedPacket - Math.min(PACKET_HEADROOM_BYTES, maxAllowedPacket / 4) };
        this.prepared.set(core, state);
        return state;
    }

    /** Runs a statement as a server-side prepared statement: `values` travel apart from the SQL text. */
    private async execute(connection: Connection, sql: string, values: SqlValue[], timeoutMs = this.queryTimeoutMs): Promise<unknown> {
        const [result] = await this.withDeadline(connection, connection.execute(sql, values), timeoutMs);
        return result;
    }

    /**
     * Runs a constant query and hands its rows to `onRow` one at a time as they arrive, keeping none (mysql2 keeps a
     * query's rows only when it has a callback). Bounded by the query timeout like every statement.
     */
    private async streamRows(connection: Connection, sql: string, onRow: (row: unknown) => void): Promise<void> {
        const core = (connection as unknown as { connection: StreamingConnection }).connection;
        const streamed = new Promise<void>((resolve, reject) => {
            core.query(sql)
                .on('result', (row: unknown) => {
                    try {
                        onRow(row);
                    } catch (error) {
                        reject(error);
                    }
                })
                .on('error', reject)
                .on('end', () => resolve());
        });
        await this.withDeadline(connection, streamed, this.queryTimeoutMs);
    }

    /** Runs a constant statement that carries no data (transaction control, session settings) as plain text. */
    private async fixed(connection: Connection, sql: string): Promise<unknown> {
        const [result] = await this.withDeadline(connection, connection.query(sql), this.queryTimeoutMs);
        return result;
    }

    /**
     * Bounds a statement by `timeoutMs`, after which the connection is dropped. mysql2's own `timeout` does not
     * cover the prepare step of `execute`, so a server that stops answering there would hang the call.
     */
    private async withDeadline<T>(connection: Connection, pending: Promise<T>, timeoutMs: number): Promise<T> {
        let timer: NodeJS.Timeout | undefined;
        const expired = new Promise<never>((_, reject) => {
            timer = setTimeout(() => {
                this.discard(connection);
                reject(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'PROTOCOL_SEQUENCE_TIMEOUT', fatal: true }));
            }, timeoutMs);
        });
        try {
            return await Promise.race([pending, expired]);
        } finally {
            clearTimeout(timer);
        }
    }

    /** The cause of a failure in a few words: the driver's message and code, never the password. */
    private describeCause(error: unknown): string {
        const err = error as { message?: unknown; code?: unknown; errors?: unknown } | null;
        let message = typeof err?.message === 'string' ? err.message : String(error);
        // Node reports a refused connection to a host with several addresses as an AggregateError without a message.
        if (!message && Array.isArray(err?.errors)) {
            message = err.errors.map((inner: { message?: unknown }) => String(inner?.message ?? inner)).join('; ');
        }
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

// --- keys and rows ---

/**
 * Why a string cannot be a key of the store (session id, lease owner, entry collection or key), or undefined.
 * A lone surrogate has no UTF-8 form: the driver would send U+FFFD instead, so two different strings would
 * name one row.
 */
function keyProblem(value: unknown): string | undefined {
    if (typeof value !== 'string') return `must be a string; got ${value === null ? 'null' : typeof value}`;
    if (value.length > MAX_KEY_LENGTH) return `must be at most ${MAX_KEY_LENGTH} characters long; got ${value.length}`;
    if (!value.isWellFormed()) return 'must be well-formed Unicode (it contains a lone surrogate, which MySQL cannot store exactly)';
    return undefined;
}

function checkSessionId(value: unknown, field: string): void {
    const problem = keyProblem(value);
    if (problem !== undefined) throw new SessionIdError(field, problem);
}

function checkEntryKey(field: 'collection' | 'key', value: unknown): void {
    const problem = keyProblem(value);
    if (problem !== undefined) throw new ConfigValidationError('entry', [{ path: field, message: problem }]);
}

function checkLeaseOwner(value: unknown): void {
    const problem = keyProblem(value);
    if (problem !== undefined) throw new ConfigValidationError('lease', [{ path: 'owner', message: problem }]);
}

/** A key column's value as a string (the bytes are UTF-8). */
function keyText(value: KeyValue): string {
    return typeof value === 'string' ? value : value.toString('utf8');
}

/** Why a record's numbers cannot be stored exactly (the server would round or zero them), or undefined. */
function recordProblem(record: SessionRecord): string | undefined {
    const integers: Array<[string, number | null, boolean]> = [
        ['generation', record.generation, false],
        ['profileIndex', record.profileIndex, true],
        ['counters.requests', record.counters.requests, false],
        ['counters.successes', record.counters.successes, false],
        ['counters.failures', record.counters.failures, false],
        ['counters.renewals', record.counters.renewals, false],
        ['lastUsedAt', record.lastUsedAt, true],
        ['updatedAt', record.updatedAt, false],
    ];
    for (const [field, value, nullable] of integers) {
        if (value === null && nullable) continue;
        if (!Number.isSafeInteger(value)) return `its ${field} is not a safe integer (${String(value)})`;
    }
    if (record.profileIndex !== null && (record.profileIndex < 0 || record.profileIndex > MAX_PROFILE_INDEX)) {
        return `its profileIndex is not an integer from 0 to ${MAX_PROFILE_INDEX} (${record.profileIndex})`;
    }
    if (record.lastRenewalError !== null && typeof record.lastRenewalError !== 'string') return 'its lastRenewalError is not a string';
    return undefined;
}

/**
 * An upper bound of the bytes `values` take in a COM_STMT_EXECUTE packet: per value a type (2 bytes), a length
 * prefix or a number (at most 9) and a string's UTF-8 bytes.
 */
function encodedSize(values: readonly SqlValue[]): number {
    let bytes = 0;
    for (const value of values) bytes += 11 + (typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : 0);
    return bytes;
}

function tooLargeReason(subject: string, bytes: number, limits: ConnectionState): string {
    return `${subject} ${formatBytes(bytes)} encoded, more than the server accepts in one statement (max_allowed_packet ${formatBytes(limits.maxAllowedPacket)})`;
}

function formatBytes(bytes: number): string {
    return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${Math.ceil(bytes / 1024)} kB`;
}

// --- statement shapes ---

/** `(?, ?, …)` with `count` placeholders. */
function placeholders(count: number): string {
    return `(${repeatTuple('?', count)})`;
}

/** `tuple` repeated `count` times, comma-separated. */
function repeatTuple(tuple: string, count: number): string {
    return Array.from({ length: count }, () => tuple).join(', ');
}

function largestPowerOfTwoAtMost(n: number): number {
    return 2 ** Math.floor(Math.log2(n));
}

/**
 * Ids in chunks of at most {@link ROWS_PER_STATEMENT}, each padded to a power of two by repeating its last id
 * (harmless in `IN (…)` and in the placeholder upsert). Few statement shapes: each is prepared once per
 * connection and then stays in mysql2's cache.
 */
function idChunks(ids: readonly string[]): string[][] {
    const result: string[][] = [];
    for (let i = 0; i < ids.length; i += ROWS_PER_STATEMENT) {
        const chunk = ids.slice(i, i + ROWS_PER_STATEMENT);
        const size = 2 ** Math.ceil(Math.log2(chunk.length));
        while (chunk.length < size) chunk.push(chunk[chunk.length - 1]!);
        result.push(chunk);
    }
    return result;
}

/**
 * Upsert rows in chunks of a power of two rows (at most {@link ROWS_PER_STATEMENT}) and about `budget` bytes;
 * a row larger than the budget goes alone. Powers of two keep the statement shapes few, and let
 * `upsertIsolating` halve a chunk without creating new ones.
 */
function rowChunks(rows: readonly EncodedRow[], budget: number): EncodedRow[][] {
    const result: EncodedRow[][] = [];
    let start = 0;
    while (start < rows.length) {
        let count = 0;
        let bytes = 0;
        while (start + count < rows.length && count < ROWS_PER_STATEMENT) {
            const next = rows[start + count]!.bytes;
            if (count > 0 && bytes + next > budget) break;
            bytes += next;
            count++;
        }
        count = largestPowerOfTwoAtMost(count);
        result.push(rows.slice(start, start + count));
        start += count;
    }
    return result;
}

/**
 * The `writers` column. It only makes retried writes count once: a damaged value is dropped (the next write counts
 * its delta's increments and rewrites the column) instead of failing the session.
 */
const COUNT = z.number().int().nonnegative();
const WRITER_TOTALS = z.record(z.string(), z.object({ requests: COUNT, successes: COUNT, failures: COUNT, renewals: COUNT, at: COUNT }));

function parseWriterTotals(text: string): WriterTotals | undefined {
    try {
        const parsed = WRITER_TOTALS.safeParse(JSON.parse(text));
        return parsed.success ? Object.assign(Object.create(null) as WriterTotals, parsed.data) : undefined;
    } catch {
        return undefined;
    }
}
