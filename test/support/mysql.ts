/**
 * The real MySQL/MariaDB for tests: where it is, whether it answers, per-test table prefixes that are dropped
 * afterwards, raw queries to look at what a store wrote, and a TCP relay that can cut or silence the connection
 * to the server (to test faults without stopping the shared server).
 *
 * ```ts
 * const mysqlDb = await mysqlForTests();
 * describe.skipIf(!mysqlDb.available)(mysqlDb.suiteName('MySqlSessionStore'), () => {
 *     const newPrefix = useTablePrefixes();
 *     it('…', async () => { const store = await MySqlSessionStore.open({ url: mysqlDb.url, tablePrefix: newPrefix() }); … });
 * });
 * ```
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';

import mysql from 'mysql2/promise';
import { afterEach } from 'vitest';

/** The environment variable that points the tests (and crawlee-sessions) at another server. */
export const MYSQL_URL_ENV = 'CRAWLEE_SESSIONS_MYSQL_URL';

const DEFAULT_TEST_URL = 'mysql://root@127.0.0.1:3306/test';

/** The test database's URL: `CRAWLEE_SESSIONS_MYSQL_URL`, else root without password on 127.0.0.1:3306, database `test`. */
export function mysqlTestUrl(): string {
    return process.env[MYSQL_URL_ENV] || DEFAULT_TEST_URL;
}

/** What {@link mysqlForTests} found out. */
export interface MysqlTestDatabase {
    /** Whether the MySQL tests run: the server answered, or `CI=true` (then they run and fail if it did not). */
    available: boolean;
    /** The URL the tests use. */
    url: string;
    /** Why the server could not be used, when it could not. */
    problem?: string;
    /** `name`, or `name` followed by why it is skipped, so that the skip shows in the test report. */
    suiteName(name: string): string;
}

let probe: Promise<string | undefined> | undefined;

/**
 * Checks once per process that the test database answers. When it does not: prints a visible warning and
 * reports it unavailable (test files then `describe.skipIf(!available)`), except under `CI=true`, where the
 * tests must run: it reports it available so that they run, and fail.
 */
export async function mysqlForTests(): Promise<MysqlTestDatabase> {
    const url = mysqlTestUrl();
    probe ??= ping(url);
    const problem = await probe;
    const inCi = process.env.CI === 'true';
    const shownUrl = url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
    if (problem) {
        const message = inCi
            ? `MySQL at ${shownUrl} is unreachable (${problem}) and CI=true: the MySQL tests run and fail.`
            : `SKIPPING the MySQL tests: MySQL at ${shownUrl} is unreachable (${problem}). Start MariaDB or set ${MYSQL_URL_ENV}.`;
        console.warn(`\n*** ${message}\n`);
    }
    const available = !problem || inCi;
    return {
        available,
        url,
        ...(problem ? { problem } : {}),
        suiteName: (name) => (available ? name : `${name} (SKIPPED: MySQL at ${shownUrl} unreachable: ${problem})`),
    };
}

async function ping(url: string): Promise<string | undefined> {
    try {
        const connection = await mysql.createConnection({ uri: url, connectTimeout: 3_000 });
        try {
            await connection.query('SELECT 1');
        } finally {
            await connection.end().catch(() => connection.destroy());
        }
        return undefined;
    } catch (error) {
        const err = error as { code?: string; message?: string };
        return err.code ?? err.message ?? String(error);
    }
}

/** Runs one statement on the test database with a short-lived connection and returns its rows or result. */
export async function mysqlQuery<T = mysql.RowDataPacket[]>(sql: string, values?: unknown[]): Promise<T> {
    const connection = await mysql.createConnection({ uri: mysqlTestUrl(), connectTimeout: 5_000 });
    try {
        const [result] = await connection.query(sql, values);
        return result as T;
    } finally {
        await connection.end().catch(() => connection.destroy());
    }
}

/**
 * Runs one statement on the server at `url` (e.g. a private MariaDB) with a short-lived connection, as a prepared
 * statement (values never become SQL text, whatever the server's `sql_mode`), and returns its rows or result.
 */
export async function mysqlQueryAt<T = mysql.RowDataPacket[]>(url: string, sql: string, values: Array<string | number | null> = []): Promise<T> {
    const connection = await mysql.createConnection({ uri: url, connectTimeout: 5_000, charset: 'utf8mb4' });
    try {
        const [result] = await connection.execute(sql, values);
        return result as T;
    } finally {
        await connection.end().catch(() => connection.destroy());
    }
}

/** A unique table prefix, e.g. `t_3f9c2a1b0d`. */
export function uniqueTablePrefix(): string {
    return `t_${randomBytes(5).toString('hex')}`;
}

/** Drops every table whose name starts with `<prefix>_`. */
export async function dropTables(prefix: string): Promise<void> {
    const rows = await mysqlQuery(
        `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name LIKE ?`,
        [`${prefix.replace(/_/g, '\\_')}\\_%`],
    );
    for (const row of rows) await mysqlQuery(`DROP TABLE IF EXISTS \`${String(row.name)}\``);
}

/**
 * For a test file: returns a function giving a fresh table prefix; the tables of every prefix given during a
 * test are dropped after that test.
 */
export function useTablePrefixes(): () => string {
    const used: string[] = [];
    afterEach(async () => {
        const prefixes = used.splice(0);
        for (const prefix of prefixes) await dropTables(prefix);
    });
    return () => {
        const prefix = uniqueTablePrefix();
        used.push(prefix);
        return prefix;
    };
}

/** A TCP relay in front of the MySQL server, whose link can be cut or silenced. */
export interface TcpRelay {
    /** The relay's port on 127.0.0.1. */
    readonly port: number;
    /** How many client connections are open through the relay. */
    readonly openConnections: number;
    /** Closes every relayed connection and refuses new ones (resets them at once): a server that went away. */
    cut(): void;
    /** Keeps connections open but forwards nothing, and accepts new ones without answering: a server that hangs. */
    silence(): void;
    /** Relays normally again; connections open while silenced are closed (bytes were lost on them). */
    restore(): void;
    /**
     * The next client packet containing `marker` (e.g. `COMMIT`) reaches the server, but the server's answer never
     * reaches the client: the connection is closed once the server has answered (it did what was asked). Settles then.
     */
    loseAnswerTo(marker: string): Promise<void>;
    /** Stops the relay. */
    close(): Promise<void>;
}

/** Starts a {@link TcpRelay} on 127.0.0.1 towards `host:port`. */
export async function startTcpRelay(host: string, port: number): Promise<TcpRelay> {
    let mode: 'open' | 'cut' | 'silent' = 'open';
    let loseAnswer: { marker: Buffer; done: () => void } | undefined;
    const sockets = new Set<net.Socket>();
    const clients = new Set<net.Socket>();
    const track = (socket: net.Socket): void => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => socket.destroy());
    };
    const server = net.createServer((client) => {
        track(client);
        clients.add(client);
        client.on('close', () => clients.delete(client));
        if (mode === 'cut') {
            client.resetAndDestroy();
            return;
        }
        if (mode === 'silent') return;
        const upstream = net.connect(port, host);
        track(upstream);
        let losing: (() => void) | undefined;
        client.on('data', (chunk: Buffer) => {
            if (mode !== 'open') return;
            if (loseAnswer && chunk.includes(loseAnswer.marker)) {
                losing = loseAnswer.done;
                loseAnswer = undefined;
            }
            upstream.write(chunk);
        });
        upstream.on('data', (chunk: Buffer) => {
            if (losing) {
                const done = losing;
                losing = undefined;
                upstream.destroy();
                client.destroy();
                done();
                return;
            }
            if (mode === 'open') client.write(chunk);
        });
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
    });
    const destroyAll = (): void => {
        for (const socket of sockets) socket.destroy();
    };
    return {
        port: (server.address() as net.AddressInfo).port,
        get openConnections() {
            return clients.size;
        },
        cut() {
            mode = 'cut';
            destroyAll();
        },
        silence() {
            mode = 'silent';
        },
        restore() {
            // Whatever was silenced lost bytes on the way: those connections cannot be used any more.
            if (mode === 'silent') destroyAll();
            mode = 'open';
        },
        loseAnswerTo(marker) {
            return new Promise<void>((resolve) => {
                loseAnswer = { marker: Buffer.from(marker, 'latin1'), done: resolve };
            });
        },
        async close() {
            destroyAll();
            await new Promise<void>((resolve) => server.close(() => resolve()));
        },
    };
}
