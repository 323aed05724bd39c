import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { Configuration, HttpCrawler, log } from 'crawlee';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Sessions, defineProfiles, withSessions } from '../src/index.js';
import { EmbeddedSessionStore } from '../src/stores/embedded-store.js';
import { StoreSecretError, StoreUnavailableError } from '../src/model/types.js';
import { startProxies, type TestProxies } from './support/proxies.js';
import { startTestSite, type TestSite } from './support/site.js';

log.setLevel(log.LEVELS.OFF);

let site: TestSite;
let proxies: TestProxies;
const dirs: string[] = [];

beforeAll(async () => {
    site = await startTestSite();
    proxies = await startProxies(3);
});

afterAll(async () => {
    await site?.close();
    await proxies?.close();
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function storageDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'crawlee-sessions-embedded-'));
    dirs.push(dir);
    return dir;
}

function diskConfig(dir: string): Configuration {
    return new Configuration({ persistStorage: true, storageClientOptions: { localDataDirectory: dir } });
}

function profiles() {
    return defineProfiles(proxies.urls.map((proxy, i) => ({ proxy, userAgent: `UA-Restart/${i}` })));
}

/** Every file of the store, concatenated: what an attacker with the disk would read. */
async function storeFiles(dir: string, name = 'crawlee-sessions'): Promise<string> {
    const folder = join(dir, 'key_value_stores', name);
    const files = (await readdir(folder)).filter((file) => !file.startsWith('lock.')).sort();
    const contents = await Promise.all(files.map((file) => readFile(join(folder, file), 'utf8')));
    return contents.join('\n');
}


describe('embedded store', () => {
    it('resumes every session after the process is stopped with SIGTERM mid-flush-interval: cookies, profile, identity, generation, counters', async () => {
        site.reset();
        const dir = await storageDir();
        const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/embedded-crawl.ts', dir, site.url, JSON.stringify(proxies.urls), '4'], {
            stdio: ['ignore', 'pipe', 'inherit'],
        });
        const ready = await new Promise<string>((resolve, reject) => {
            const lines = createInterface({ input: child.stdout! });
            lines.on('line', (line) => line.startsWith('READY ') && resolve(line.slice(6)));
            child.on('exit', (code) => reject(new Error(`fixture exited with ${code} before READY`)));
        });
        const before = JSON.parse(ready) as { states: string[]; profileIndexes: Record<string, number> };
        expect(before.states).toEqual(Array(12).fill('logged-in'));
        const exited = new Promise<string>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? `code ${code}`)));
        child.kill('SIGTERM');
        // The handler flushes, then lets SIGTERM end the process as it would have without it.
        expect(await exited).toBe('SIGTERM');
        const loginsBefore = site.logins;
        expect(loginsBefore).toBe(4);

        const sessions = await Sessions.open({ store: { embedded: { config: diskConfig(dir) } }, profiles: profiles() });
        const rows = sessions.list().sort((a, b) => a.id.localeCompare(b.id));
        expect(rows.map((row) => row.id)).toEqual(['user0', 'user1', 'user2', 'user3']);
        for (const row of rows) {
            expect(row.generation).toBe(1);
            expect(row.renewals).toBe(1);
            expect(row.requests).toBe(3);
            expect(row.successes).toBe(3);
            expect(row.cookies).toBe(1);
        }
        // Profiles were resumed as assigned, not re-dealt.
        expect(Object.fromEntries(rows.map((row) => [row.id, row.profileIndex]))).toEqual(before.profileIndexes);

        // The site binds each login to client IP + User-Agent + Accept-Language: the resumed sessions must present
        // exactly the same identity through the same proxy to stay logged in, with no new login.
        site.reset();
        const states: string[] = [];
        const crawler = new HttpCrawler(
            withSessions(sessions, {
                async requestHandler({ body }) {
                    states.push(/id="state">([^<]*)/.exec(String(body))?.[1] ?? '?');
                },
            }),
            new Configuration({ persistStorage: false, purgeOnStart: true }),
        );
        await crawler.run(rows.map((row) => ({ url: `${site.url}/page/9?again=${row.id}`, userData: { sessionId: row.id } })));
        expect(states).toEqual(Array(4).fill('logged-in'));
        expect(site.logins).toBe(0);
        await sessions.close();

        const reopened = await Sessions.open({ store: { embedded: { config: diskConfig(dir) } }, profiles: profiles() });
        expect(reopened.list().find((row) => row.id === 'user0')?.requests).toBe(4);
        await reopened.close();
    });

    it('writes behind the crawl in a few batches, not per request', async () => {
        const dir = await storageDir();
        const store = await EmbeddedSessionStore.open({ config: diskConfig(dir) });
        let writes = 0;
        let deltas = 0;
        const write = store.write.bind(store);
        store.write = async (batch) => {
            writes++;
            deltas += batch.length;
            return write(batch);
        };
        const sessions = await Sessions.open({ store, persistence: { flushIntervalMillis: 50 } });
        const crawler = new HttpCrawler(
            withSessions(sessions, { maxConcurrency: 10, async requestHandler() {} }),
            new Configuration({ persistStorage: false, purgeOnStart: true }),
        );
        await crawler.run(Array.from({ length: 200 }, (_, n) => ({ url: `${site.url}/set?n=${n}&name=c${n % 5}`, userData: { sessionId: `s${n % 10}` } })));
        await sessions.close();
        expect(writes).toBeGreaterThan(0);
        // 200 requests (each setting a cookie and counting twice) on 10 sessions: coalesced into far fewer writes.
        expect(deltas).toBeLessThan(200);
        const resumed = await Sessions.open({ store: { embedded: { config: diskConfig(dir) } } });
        const rows = resumed.list();
        expect(rows).toHaveLength(10);
        expect(rows.reduce((sum, row) => sum + row.requests, 0)).toBe(200);
        expect(rows.reduce((sum, row) => sum + row.successes, 0)).toBe(200);
        await resumed.close();
    });

    it('encrypts cookie values at rest with a secret; a wrong or missing secret fails clearly and changes nothing', async () => {
        const dir = await storageDir();
        const secretValue = 'tok-3f9a2c-very-secret-cookie-value';
        const sessions = await Sessions.open({ store: { embedded: { config: diskConfig(dir) } }, secret: 'correct horse battery' });
        sessions.addCookies('enc', [`auth=${secretValue}; Path=/`], site.url);
        await sessions.close();
        const before = await storeFiles(dir);
        expect(before).toContain('enc:v2:');
        expect(before).not.toContain(secretValue);

        const wrong = Sessions.open({ store: { embedded: { config: diskConfig(dir) } }, secret: 'wrong horse battery' });
        await expect(wrong).rejects.toBeInstanceOf(StoreSecretError);
        await expect(Sessions.open({ store: { embedded: { config: diskConfig(dir) } }, secret: 'wrong horse battery' })).rejects.toThrow(
            /different secret/,
        );
        await expect(Sessions.open({ store: { embedded: { config: diskConfig(dir) } } })).rejects.toThrow(/CRAWLEE_SESSIONS_SECRET/);
        expect(await storeFiles(dir)).toBe(before); // nothing was rewritten

        const right = await Sessions.open({ store: { embedded: { config: diskConfig(dir) } }, secret: 'correct horse battery' });
        expect(right.get('enc', { format: 'dict' })).toEqual({ auth: secretValue });
        await right.close();
    });

    it('refuses to open a store another live process is using', async () => {
        const dir = await storageDir();
        const other = spawn('sleep', ['30']);
        try {
            const folder = join(dir, 'key_value_stores', 'crawlee-sessions');
            await mkdir(folder, { recursive: true });
            await writeFile(join(folder, 'lock.json'), JSON.stringify({ pid: other.pid, host: hostname(), since: 'test' }));
            const opening = Sessions.open({ store: { embedded: { config: diskConfig(dir) } } });
            await expect(opening).rejects.toBeInstanceOf(StoreUnavailableError);
            await expect(Sessions.open({ store: { embedded: { config: diskConfig(dir) } } })).rejects.toThrow(
                new RegExp(`in use by process ${other.pid}.*MySQL`),
            );
        } finally {
            other.kill();
        }
        // Once that process is gone, its stale lock no longer blocks.
        await new Promise((resolve) => setTimeout(resolve, 100));
        const sessions = await Sessions.open({ store: { embedded: { config: diskConfig(dir) } } });
        await sessions.close();
    });

    it('a read-only open is a consistent snapshot while another process commits: every session of a commit or none', async () => {
        const dir = await storageDir();
        const writer = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/snapshot-writer.ts', dir], { stdio: ['pipe', 'pipe', 'inherit'] });
        const lines = createInterface({ input: writer.stdout! });
        const line = (prefix: string) => new Promise<string>((resolve) => lines.on('line', (text) => text.startsWith(prefix) && resolve(text)));
        const exited = new Promise<number | null>((resolve) => writer.on('exit', (code) => resolve(code)));
        await line('READY');
        const seen = new Set<number>();
        let snapshots = 0;
        // Until three different commits were seen (the writer goes on meanwhile), at most 500 snapshots.
        while (seen.size < 3 && snapshots < 500) {
            const snapshot = await EmbeddedSessionStore.open({ storageDir: dir, readOnly: true });
            const records = await snapshot.loadAll();
            expect(records).toHaveLength(200);
            const requests = new Set(records.map((record) => record.counters.requests));
            const commits = new Set(records.map((record) => record.cookies[0]?.value));
            expect(requests.size, `a snapshot mixed commits: ${[...requests].join(', ')}`).toBe(1);
            expect(commits.size).toBe(1);
            expect(Number([...commits][0]) + 1).toBe([...requests][0]);
            seen.add([...requests][0]!);
            await expect(snapshot.write([])).resolves.toEqual([]);
            await expect(snapshot.putEntry('x', 'y', 1)).rejects.toThrow('was opened read-only (a snapshot)');
            await snapshot.close();
            snapshots++;
        }
        writer.stdin!.end('stop\n');
        const done = Number((await line('DONE')).slice(5));
        expect(await exited).toBe(0);
        expect(seen.size).toBe(3);
        const final = await EmbeddedSessionStore.open({ storageDir: dir });
        expect(new Set((await final.loadAll()).map((record) => record.counters.requests))).toEqual(new Set([done]));
        await final.close();
    });

    it('refuses bad store options with the field named', async () => {
        await expect(Sessions.open({ store: { embedded: { name: 'bad name!' } } })).rejects.toThrow(/name/);
        await expect(Sessions.open({ store: { mysql: 'postgres://x' } } as never)).rejects.toThrow(/mysql/);
        await expect(Sessions.open({ store: 'memory', persistence: { flushIntervalMillis: -1 } })).rejects.toThrow(/persistence\.flushIntervalMillis/);
        await expect(Sessions.open({ store: 'memory', secret: 'short' })).rejects.toThrow(/secret/);
    });
});
