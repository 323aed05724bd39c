/**
 * The MySQL (MariaDB) the store and multi-process scenarios use: the URL, a reachability check and throw-away
 * table prefixes that are dropped afterwards.
 */
import mysql from 'mysql2/promise';

/** `CRAWLEE_SESSIONS_MYSQL_URL`, else the project's test database on loopback. */
export function benchMySqlUrl(): string {
    return process.env.CRAWLEE_SESSIONS_MYSQL_URL || 'mysql://root@127.0.0.1:3306/test';
}

/** Why MySQL cannot be used (a message without password), or undefined when it answers. */
export async function mysqlUnavailable(url: string): Promise<string | undefined> {
    try {
        const connection = await mysql.createConnection({ uri: url, connectTimeout: 3000 });
        await connection.query('SELECT 1');
        await connection.end();
        return undefined;
    } catch (error) {
        const { host, port } = new URL(url);
        return `MySQL at ${host}:${port || 3306} is not reachable (${(error as { code?: string }).code ?? (error as Error).message})`;
    }
}

/** A table prefix no other run uses: `bench_<pid>_<n>_<random>`. */
export function uniqueTablePrefix(label: string): string {
    return `bench_${label}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
}

/** Drops every table the store created under `prefix`. */
export async function dropStoreTables(url: string, prefix: string): Promise<void> {
    const connection = await mysql.createConnection({ uri: url });
    try {
        for (const suffix of ['sessions', 'entries', 'meta', 'schema_version']) {
            await connection.query(`DROP TABLE IF EXISTS \`${prefix}_${suffix}\``);
        }
    } finally {
        await connection.end();
    }
}
