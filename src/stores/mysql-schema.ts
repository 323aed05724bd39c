import { hostname } from 'node:os';

import type { PoolConnection, RowDataPacket } from 'mysql2/promise';

/** The names of the tables of one MySQL session store; every name starts with the store's table prefix. */
export interface MySqlTableNames {
    /** The migration log: one row per applied migration; the schema version is the highest `version`. */
    schemaVersion: string;
    /** Key/value metadata: the revision sequence and the encryption salt and key check. */
    meta: string;
    /** One row per session. */
    sessions: string;
    /** Named collections of entries (header rules, quick-login states, …). */
    entries: string;
}

/** The table names for a (validated) prefix. */
export function mySqlTableNames(prefix: string): MySqlTableNames {
    return {
        schemaVersion: `${prefix}_schema_version`,
        meta: `${prefix}_meta`,
        sessions: `${prefix}_sessions`,
        entries: `${prefix}_entries`,
    };
}

/** The meta row holding the global, commit-ordered revision sequence (in its `number` column). */
export const META_REVISION = 'revision';
/** The meta row holding the encryption salt and key check, as JSON (`{ salt, keyCheck }`). */
export const META_ENCRYPTION = 'encryption';

interface Migration {
    version: number;
    description: string;
    /** Statements run in order. DDL commits implicitly in MySQL, so each statement must be safe to run twice. */
    statements(tables: MySqlTableNames): string[];
}

// Text columns are utf8mb4 (any JS string, emoji included). Keys are VARBINARY since version 2 (see there).
const TABLE_OPTIONS = 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin';

/**
 * The type of every key column (session ids, lease owners, entry collections and keys): the key's UTF-8 bytes.
 * Keys are at most 200 UTF-16 code units (at most 600 bytes); 800 bytes is what version 1's `VARCHAR(200)`
 * utf8mb4 could hold, so converting old rows never fails.
 */
const KEY_COLUMN_TYPE = 'VARBINARY(800)';

const MIGRATIONS: readonly Migration[] = [
    {
        version: 1,
        description: 'sessions, entries and meta tables',
        statements: (t) => [
            `CREATE TABLE IF NOT EXISTS \`${t.meta}\` (
                name VARCHAR(64) NOT NULL,
                value LONGTEXT NULL,
                number BIGINT NOT NULL DEFAULT 0,
                PRIMARY KEY (name)
            ) ${TABLE_OPTIONS}`,
            `INSERT IGNORE INTO \`${t.meta}\` (name, value, number) VALUES ('${META_REVISION}', NULL, 0)`,
            `CREATE TABLE IF NOT EXISTS \`${t.sessions}\` (
                id VARCHAR(200) NOT NULL,
                lease_only TINYINT(1) NOT NULL DEFAULT 0 COMMENT '1: the row only holds a renewal lease, no session state yet',
                generation BIGINT NOT NULL DEFAULT 0,
                profile_index INT NULL,
                identity LONGTEXT NULL COMMENT 'JSON',
                cookies LONGTEXT NOT NULL COMMENT 'JSON array, or a sealed string when the store is encrypted',
                auth LONGTEXT NULL COMMENT 'JSON (headers, query values a login extracted), or a sealed string',
                requests BIGINT NOT NULL DEFAULT 0,
                successes BIGINT NOT NULL DEFAULT 0,
                failures BIGINT NOT NULL DEFAULT 0,
                renewals BIGINT NOT NULL DEFAULT 0,
                last_used_at BIGINT NULL COMMENT 'ms since the epoch',
                last_renewal_error TEXT NULL,
                revision BIGINT NOT NULL DEFAULT 0 COMMENT 'the revision of the transaction that last wrote the row',
                lease_owner VARCHAR(200) NULL,
                lease_expires_at BIGINT NULL COMMENT 'ms since the epoch, by the database clock',
                updated_at BIGINT NOT NULL COMMENT 'ms since the epoch',
                PRIMARY KEY (id),
                KEY revision_idx (revision)
            ) ${TABLE_OPTIONS}`,
            `CREATE TABLE IF NOT EXISTS \`${t.entries}\` (
                collection VARCHAR(200) NOT NULL,
                entry_key VARCHAR(200) NOT NULL,
                value LONGTEXT NOT NULL COMMENT 'JSON, or a sealed string',
                secret TINYINT(1) NOT NULL DEFAULT 0 COMMENT '1: written as a secret (sealed when the store has a key)',
                revision BIGINT NOT NULL DEFAULT 0,
                updated_at BIGINT NOT NULL COMMENT 'ms since the epoch',
                PRIMARY KEY (collection, entry_key)
            ) ${TABLE_OPTIONS}`,
        ],
    },
    {
        version: 2,
        description: 'exact keys: session ids, lease owners, entry collections and keys as VARBINARY',
        // `VARCHAR … utf8mb4_bin` is a PAD SPACE collation: "alice" and "alice " were one key. VARBINARY compares the
        // bytes, so two keys are equal exactly when the JS strings are (the store refuses lone surrogates, the only
        // strings whose UTF-8 form is not unique). It works on every MySQL and MariaDB, unlike a NO PAD collation
        // (`utf8mb4_nopad_bin` is MariaDB's, `utf8mb4_0900_bin` MySQL 8's). The conversion keeps every row: the
        // stored bytes are the same, and keys distinct under the old collation are distinct under the new one.
        statements: (t) => [
            `ALTER TABLE \`${t.sessions}\` MODIFY id ${KEY_COLUMN_TYPE} NOT NULL, MODIFY lease_owner ${KEY_COLUMN_TYPE} NULL`,
            `ALTER TABLE \`${t.entries}\` MODIFY collection ${KEY_COLUMN_TYPE} NOT NULL, MODIFY entry_key ${KEY_COLUMN_TYPE} NOT NULL`,
        ],
    },
    {
        version: 3,
        description: 'writer totals: a write retried after a lost COMMIT answer is not counted twice',
        statements: (t) => [
            `ALTER TABLE \`${t.sessions}\` ADD COLUMN IF NOT EXISTS writers LONGTEXT NULL COMMENT 'JSON: per writer, the counters already counted from it'`,
        ],
    },
    {
        version: 4,
        description: 'recent sessions by index: opening with maxLiveSessions reads no cookie column of cold sessions',
        // `loadRecent` reads the most recently used sessions (a backward scan of this index, then a lookup per
        // session) and the ids of the others (this index covers them: InnoDB's secondary indexes hold the key).
        // Without it, both read every row in full, cookies included: 33 s for a million sessions here.
        statements: (t) => [`ALTER TABLE \`${t.sessions}\` ADD INDEX recent_idx (lease_only, last_used_at)`],
    },
];

/** The schema version this code creates and understands. */
export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** How {@link migrateMySqlSchema} runs. */
export interface MigrateOptions {
    /** The server-wide name of the advisory lock that serializes migrations of these tables (at most 64 characters). */
    lockName: string;
    /** How long to wait for another process's migration, in seconds. */
    lockTimeoutSeconds: number;
    /** How long one DDL statement may run, in ms: converting a large table rebuilds it. */
    ddlTimeoutMs: number;
    /** Runs one statement on the connection (with the store's query timeout unless `timeoutMs` is given). */
    run(connection: PoolConnection, sql: string, values?: unknown[], timeoutMs?: number): Promise<unknown>;
}

/**
 * Brings the tables up to {@link LATEST_SCHEMA_VERSION}. Safe when several processes start together: the
 * version is read, and only if it is behind, an advisory lock (`GET_LOCK`) is taken and the version read again
 * before anything is applied, so each migration runs once. Returns the versions this call applied.
 * Use a connection that is closed afterwards: should releasing the lock fail, closing it releases the lock.
 */
export async function migrateMySqlSchema(
    connection: PoolConnection,
    tables: MySqlTableNames,
    options: MigrateOptions,
): Promise<number[]> {
    const { run } = options;
    await run(
        connection,
        `CREATE TABLE IF NOT EXISTS \`${tables.schemaVersion}\` (
            id INT NOT NULL AUTO_INCREMENT,
            version INT NOT NULL,
            description VARCHAR(200) NOT NULL,
            applied_at BIGINT NOT NULL COMMENT 'ms since the epoch',
            applied_by VARCHAR(200) NOT NULL COMMENT 'host and process id',
            PRIMARY KEY (id)
        ) ${TABLE_OPTIONS}`,
    );
    if ((await currentVersion(connection, tables, run)) >= LATEST_SCHEMA_VERSION) return [];

    const lockTimeoutMs = options.lockTimeoutSeconds * 1000;
    const locked = (await run(connection, 'SELECT GET_LOCK(?, ?) AS locked', [options.lockName, options.lockTimeoutSeconds], lockTimeoutMs + 5_000)) as RowDataPacket[];
    if (Number(locked[0]?.locked) !== 1) {
        throw new Error(
            `Timed out after ${options.lockTimeoutSeconds} s waiting for another process to finish migrating the tables ${tables.schemaVersion} and co.`,
        );
    }
    try {
        const version = await currentVersion(connection, tables, run);
        const applied: number[] = [];
        for (const migration of MIGRATIONS) {
            if (migration.version <= version) continue;
            for (const statement of migration.statements(tables)) await run(connection, statement, undefined, options.ddlTimeoutMs);
            await run(
                connection,
                `INSERT INTO \`${tables.schemaVersion}\` (version, description, applied_at, applied_by) VALUES (?, ?, ?, ?)`,
                [migration.version, migration.description, Date.now(), `${hostname()}:${process.pid}`],
            );
            applied.push(migration.version);
        }
        return applied;
    } finally {
        // A failed release must not hide the migration's own error; the lock also ends with the connection.
        await run(connection, 'SELECT RELEASE_LOCK(?)', [options.lockName]).catch(() => undefined);
    }
}

async function currentVersion(connection: PoolConnection, tables: MySqlTableNames, run: MigrateOptions['run']): Promise<number> {
    const rows = (await run(connection, `SELECT MAX(version) AS version FROM \`${tables.schemaVersion}\``)) as RowDataPacket[];
    const version = Number(rows[0]?.version ?? 0);
    if (version > LATEST_SCHEMA_VERSION) {
        throw new Error(
            `The tables ${tables.sessions} and co. have schema version ${version}, made by a newer crawlee-sessions ` +
                `(this one knows up to version ${LATEST_SCHEMA_VERSION}): upgrade crawlee-sessions or use another table prefix.`,
        );
    }
    return version;
}
