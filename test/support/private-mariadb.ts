/**
 * A private MariaDB server for fault tests: its own data directory and port, so a test can really stop and start
 * it mid-crawl, or run it with server settings of its own (`sql_mode`, `max_allowed_packet`), without disturbing
 * the shared server on 3306 (which other tests use at the same time).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import mysql from 'mysql2/promise';

/** A running private server. */
export interface PrivateMariaDb {
    /** `mysql://root@127.0.0.1:<port>/test`. */
    readonly url: string;
    /** Stops the server (SIGTERM, then waits for the process to exit). */
    stop(): Promise<void>;
    /** Starts it again on the same data directory and port, and waits until it answers. */
    start(): Promise<void>;
    /** Stops it and deletes its data directory. */
    destroy(): Promise<void>;
}

const SERVER = '/usr/sbin/mariadbd';
const INSTALL = '/usr/bin/mariadb-install-db';

/** Server settings of a private server; the server's defaults where omitted. */
export interface PrivateMariaDbOptions {
    /** The server's global `sql_mode`, e.g. `NO_BACKSLASH_ESCAPES`. */
    sqlMode?: string;
    /** The server's `max_allowed_packet`, in bytes (at least 1024). */
    maxAllowedPacket?: number;
}

/** Whether this machine can run a private server (the MariaDB server binaries are installed). */
export function canRunPrivateMariaDb(): boolean {
    return existsSync(SERVER) && existsSync(INSTALL);
}

/** Initialises a data directory and starts a private server on a free port. */
export async function startPrivateMariaDb(options: PrivateMariaDbOptions = {}): Promise<PrivateMariaDb> {
    const dir = await mkdtemp(join(tmpdir(), 'crawlee-sessions-mariadb-'));
    const install = spawnSync(
        INSTALL,
        ['--no-defaults', `--datadir=${join(dir, 'data')}`, '--user=root', '--auth-root-authentication-method=normal', '--skip-test-db'],
        { encoding: 'utf8' },
    );
    if (install.status !== 0) throw new Error(`mariadb-install-db failed: ${install.stderr || install.stdout}`);
    const port = await freePort();
    const url = `mysql://root@127.0.0.1:${port}/test`;
    let server: ChildProcess | undefined;

    const start = async () => {
        server = spawn(
            SERVER,
            [
                '--no-defaults',
                `--datadir=${join(dir, 'data')}`,
                `--port=${port}`,
                '--bind-address=127.0.0.1',
                `--socket=${join(dir, 'sock')}`,
                '--user=root',
                '--skip-grant-tables',
                '--skip-log-bin',
                '--innodb-buffer-pool-size=32M',
                ...(options.sqlMode !== undefined ? [`--sql-mode=${options.sqlMode}`] : []),
                ...(options.maxAllowedPacket !== undefined ? [`--max-allowed-packet=${options.maxAllowedPacket}`] : []),
            ],
            { stdio: 'ignore' },
        );
        for (let i = 0; i < 100; i++) {
            try {
                const connection = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root' });
                await connection.query('CREATE DATABASE IF NOT EXISTS test');
                await connection.end();
                return;
            } catch {
                await sleep(200);
            }
        }
        throw new Error(`the private MariaDB on port ${port} did not start`);
    };
    const stop = async () => {
        const running = server;
        server = undefined;
        if (!running || running.exitCode !== null) return;
        const exited = new Promise((resolve) => running.once('exit', resolve));
        running.kill('SIGTERM');
        await exited;
    };
    try {
        await start();
    } catch (error) {
        await stop();
        await rm(dir, { recursive: true, force: true });
        throw error;
    }
    return {
        url,
        start,
        stop,
        async destroy() {
            await stop();
            await rm(dir, { recursive: true, force: true });
        },
    };
}

async function freePort(): Promise<number> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    return port;
}
