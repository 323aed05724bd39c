/**
 * Nothing crawlee-sessions opens may purge anything: not the CLI, not Sessions.open()/close(). Crawlee purges its default
 * storages (dataset, request queue, key-value store) the first time a process opens any storage unless `purgeOnStart`
 * is false; the store never opens a Crawlee storage, so a user's crawl in the same process still gets Crawlee's normal
 * behaviour for its own storages. Real child processes on a real storage directory.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

import { afterAll, describe, expect, it, vi } from 'vitest';

vi.setConfig({ testTimeout: 180_000 });

const BIN = join(process.cwd(), 'bin', 'crawlee-sessions.js');
const dirs: string[] = [];

afterAll(async () => {
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
    delete childEnv.CRAWLEE_SESSIONS_MYSQL_URL;
    delete childEnv.CRAWLEE_SESSIONS_SECRET;
    Object.assign(childEnv, env);
    return new Promise((resolve) => {
        execFile(process.execPath, args, { env: childEnv, timeout: 120_000 }, (error, stdout, stderr) => {
            resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
        });
    });
}

function fixture(dir: string, mode: string) {
    return run(['--import', 'tsx', 'test/fixtures/storage-purge.ts', mode], { CRAWLEE_STORAGE_DIR: dir });
}

/** Every file of the crawl's own storages (not the sessions store), with its content. */
async function crawlFiles(dir: string): Promise<Record<string, string>> {
    const files: Record<string, string> = {};
    const walk = async (folder: string): Promise<void> => {
        for (const entry of await readdir(folder, { withFileTypes: true }).catch(() => [])) {
            const path = join(folder, entry.name);
            if (entry.isDirectory()) {
                if (path !== join(dir, 'key_value_stores', 'crawlee-sessions')) await walk(path);
            } else {
                files[relative(dir, path)] = await readFile(path, 'utf8');
            }
        }
    };
    await walk(dir);
    return files;
}

async function seeded(): Promise<{ dir: string; before: Record<string, string> }> {
    const dir = await mkdtemp(join(tmpdir(), 'crawlee-sessions-purge-'));
    dirs.push(dir);
    const seed = await fixture(dir, 'seed');
    expect(seed.code, seed.stderr).toBe(0);
    const before = await crawlFiles(dir);
    // What the test relies on: a dataset with its items, a queue with its requests, a key-value record.
    expect(Object.keys(before).filter((file) => file.startsWith('datasets/default/') && file.endsWith('.json'))).toHaveLength(3);
    expect(Object.keys(before).filter((file) => file.startsWith('request_queues/default/'))).toHaveLength(3);
    expect(before['key_value_stores/default/CRAWL-STATE.json']).toContain('"page": 3');
    return { dir, before };
}

describe('nothing crawlee-sessions opens purges Crawlee\'s storages', () => {
    it('Sessions.open() and close() in a process leave the default dataset, request queue and key-value store intact', async () => {
        const { dir, before } = await seeded();
        const result = await fixture(dir, 'sessions');
        expect(result.code, result.stderr).toBe(0);
        expect(await crawlFiles(dir)).toEqual(before);
        expect(await readdir(join(dir, 'key_value_stores', 'crawlee-sessions'))).toContain('meta.json');
    });

    it('crawlee-sessions list (and show) run as commands leave every file of the crawl intact', async () => {
        const { dir, before } = await seeded();
        expect((await fixture(dir, 'sessions')).code).toBe(0);
        const list = await run([BIN, 'list', '--storage-dir', dir], {});
        expect(list.code, list.stderr).toBe(0);
        expect(list.stdout).toMatch(/^kept\s/m);
        const show = await run([BIN, 'show', 'kept'], { CRAWLEE_STORAGE_DIR: dir });
        expect(show.code, show.stderr).toBe(0);
        expect(await crawlFiles(dir)).toEqual(before);
    });

    it('opening the sessions store first does not change what the crawl does with its own storages: Crawlee still purges them at the crawl\'s first open', async () => {
        const { dir } = await seeded();
        const result = await fixture(dir, 'sessions-then-crawl');
        expect(result.code, result.stderr).toBe(0);
        // Crawlee's normal behaviour (purgeOnStart defaults to true): the crawl starts from an empty default dataset.
        expect(JSON.parse(/^ITEMS (.*)$/m.exec(result.stdout)![1]!)).toEqual([{ fresh: true }]);
        const after = await crawlFiles(dir);
        expect(Object.keys(after).filter((file) => file.startsWith('request_queues/default/'))).toEqual([]);
        // …and the sessions store, a named store of its own, is untouched by that purge.
        const list = await run([BIN, 'list', '--json'], { CRAWLEE_STORAGE_DIR: dir });
        expect((JSON.parse(list.stdout) as Array<{ id: string }>).map((row) => row.id)).toEqual(['crawl']);
    });
});
