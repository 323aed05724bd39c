/**
 * `crawlee-sessions import --session-pool-state FILE`: a real Crawlee HttpCrawler with its own SessionPool
 * (`persistCookiesPerSession`, userData set in the handler) persists SDK_SESSION_POOL_STATE to disk; the CLI imports
 * it into an embedded store; a crawl through `withSessions` then sends those cookies and sees that userData.
 * Damaged and hostile files are refused with the field named and no value quoted.
 */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Configuration, HttpCrawler, log } from 'crawlee';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { Sessions, withSessions } from '../src/index.js';
import { runCli } from '../src/cli/main.js';
import { USER_DATA_COLLECTION } from '../src/core/user-data.js';
import { openStore } from '../src/stores/open-store.js';

log.setLevel(log.LEVELS.OFF);
vi.setConfig({ testTimeout: 180_000, hookTimeout: 60_000 });

const dirs: string[] = [];
async function tempDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'crawlee-sessions-pool-state-'));
    dirs.push(dir);
    return dir;
}

/** Sets `visitor=<n>` once per client; `/echo` answers with the Cookie header it received. */
let site: { url: string; close(): Promise<void> };
beforeAll(async () => {
    let visitors = 0;
    const server = createServer((req, res) => {
        if (req.url === '/echo') return void res.writeHead(200, { 'content-type': 'text/html' }).end(req.headers.cookie ?? '');
        const headers: Record<string, string> = { 'content-type': 'text/html' };
        if (!(req.headers.cookie ?? '').includes('visitor=')) headers['set-cookie'] = `visitor=v${++visitors}-SECRET; Path=/; Max-Age=3600`;
        res.writeHead(200, headers).end('<p>hello</p>');
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    site = { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((done) => server.close(() => done())) };
});
afterAll(async () => {
    await site?.close();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    let stdout = '';
    let stderr = '';
    const code = await runCli(args, {
        stdout: (text) => void (stdout += text),
        stderr: (text) => void (stderr += text),
        stdoutIsTTY: false,
        env: { CRAWLEE_LOG_LEVEL: 'OFF' },
    });
    return { code, stdout, stderr };
}

describe('import --session-pool-state', () => {
    it("imports the cookies and userData of Crawlee's own SessionPool state; a crawl with withSessions then uses them", async () => {
        const crawleeDir = await tempDir();
        const config = new Configuration({ persistStorage: true, purgeOnStart: false, storageClientOptions: { localDataDirectory: crawleeDir } });
        const crawler = new HttpCrawler(
            {
                useSessionPool: true,
                persistCookiesPerSession: true,
                sessionPoolOptions: { maxPoolSize: 2 },
                maxConcurrency: 1,
                async requestHandler({ session, request }) {
                    session!.userData.visits = ((session!.userData.visits as number | undefined) ?? 0) + 1;
                    session!.userData.lastUrl = request.url;
                },
            },
            config,
        );
        await crawler.run(Array.from({ length: 6 }, (_, index) => `${site.url}/page/${index}`));
        const stateFile = join(crawleeDir, 'key_value_stores', 'default', 'SDK_SESSION_POOL_STATE.json');
        const state = JSON.parse(await readFile(stateFile, 'utf8')) as { sessions: Array<{ id: string; userData: { visits?: number } }> };
        const used = state.sessions.filter((session) => session.userData.visits);
        expect(used.length).toBeGreaterThan(0);

        const storeDir = await tempDir();
        const imported = await run(['import', '--session-pool-state', stateFile, '--json', '--storage-dir', storeDir]);
        expect(imported.code, imported.stderr).toBe(0);
        const result = JSON.parse(imported.stdout) as { sessions: number; created: number; cookies: number; withUserData: number };
        expect(result).toMatchObject({ sessions: state.sessions.length, created: state.sessions.length, withUserData: used.length });
        expect(result.cookies).toBe(used.length); // one visitor cookie per session that fetched a page
        expect(imported.stdout).not.toContain('SECRET');

        const store = await openStore({ embedded: { storageDir: storeDir } });
        const values = new Map<string, string>();
        try {
            for (const session of used) {
                const record = await store.read(session.id);
                expect(record!.cookies.map((cookie) => cookie.key)).toEqual(['visitor']);
                values.set(session.id, record!.cookies[0]!.value);
                expect(await readFile(stateFile, 'utf8')).toMatch(new RegExp(`"value": ?"${record!.cookies[0]!.value}"`));
                expect((await store.getEntry(USER_DATA_COLLECTION, session.id))?.value).toEqual(session.userData);
            }
        } finally {
            await store.close();
        }

        // The imported session in a crawl through withSessions: its cookie is sent, its userData is there.
        const id = used[0]!.id;
        const sessions = await Sessions.open({ store: { embedded: { storageDir: storeDir } } });
        const seen: Array<{ cookie: string; visits: unknown }> = [];
        const crawl = new HttpCrawler(
            withSessions(sessions, {
                async requestHandler({ body, session }) {
                    seen.push({ cookie: String(body), visits: session!.userData.visits });
                },
            }),
            new Configuration({ persistStorage: false, purgeOnStart: false }),
        );
        await crawl.run([{ url: `${site.url}/echo`, userData: { sessionId: id } }]);
        await sessions.close();
        expect(values.get(id)).toMatch(/^v\d+-SECRET$/);
        expect(seen).toEqual([{ cookie: `visitor=${values.get(id)}`, visits: used[0]!.userData.visits }]);
    });

    it('refuses damaged and hostile files with the field named, never quoting a value; skips retired sessions', async () => {
        const dir = await tempDir();
        const storage = ['--storage-dir', join(dir, 'store')];
        const file = join(dir, 'state.json');
        const jar = (cookies: unknown[]) => ({ version: 'tough-cookie@6', storeType: 'MemoryCookieStore', rejectPublicSuffixes: true, cookies });
        const good = { key: 'sid', value: 'VALUE-NEVER-SHOWN', domain: 'example.test', path: '/', hostOnly: true, creation: new Date().toISOString() };
        const cases: Array<[unknown, RegExp]> = [
            [{ sessions: [{ id: 'a', cookieJar: jar([{ ...good, key: 42 }]) }] }, /sessions\[0\]\.cookieJar\.cookies\[0\]\.key: /],
            [{ sessions: [{ id: 'a', cookieJar: jar([{ ...good, value: { evil: 'VALUE-NEVER-SHOWN' } }]) }] }, /sessions\[0\]\.cookieJar\.cookies\[0\]\.value: /],
            [{ sessions: [{ id: 'x'.repeat(500), cookieJar: jar([]) }] }, /sessions\[0\]\.id: must be at most 200 characters/],
            [{ sessions: [{ id: 'a\nb', cookieJar: jar([]) }] }, /sessions\[0\]\.id: must not contain control characters/],
            [{ sessions: [{ id: 'a', cookieJar: jar([]) }, { id: 'a', cookieJar: jar([]) }] }, /sessions\[1\]\.id: session "a" appears twice/],
            [{ sessions: [{ id: 'a', cookieJar: jar([]), userData: { blob: 'VALUE-NEVER-SHOWN'.repeat(5000) } }] }, /sessions\[0\]\.userData: must be at most 65536 bytes/],
            [{ sessions: 'nope' }, /sessions: /],
            [[1, 2, 3], /\(the file\)|expected/],
        ];
        for (const [content, message] of cases) {
            await writeFile(file, JSON.stringify(content));
            const refused = await run(['import', '--session-pool-state', file, ...storage]);
            expect(refused.code, JSON.stringify(content).slice(0, 80)).toBe(1);
            expect(refused.stderr).toMatch(new RegExp(`^crawlee-sessions import: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
            expect(refused.stderr).toMatch(message);
            expect(refused.stderr).not.toContain('VALUE-NEVER-SHOWN');
            expect(refused.stderr.trimEnd().split('\n')).toHaveLength(1);
        }
        await writeFile(file, '{"sessions": [');
        expect((await run(['import', '--session-pool-state', file, ...storage])).stderr).toMatch(/is not JSON .*expected Crawlee's SDK_SESSION_POOL_STATE/);
        expect(await readdir(dir)).toEqual(['state.json']); // nothing refused created a store

        // Retired (error score at its maximum) and expired sessions are what Crawlee would not use again: skipped.
        const future = new Date(Date.now() + 3_600_000).toISOString();
        await writeFile(
            file,
            JSON.stringify({
                usableSessionsCount: 1,
                retiredSessionsCount: 2,
                sessions: [
                    { id: 'fine', cookieJar: jar([good]), userData: {}, expiresAt: future, errorScore: 0, maxErrorScore: 3, usageCount: 1, maxUsageCount: 50 },
                    { id: 'blocked', cookieJar: jar([good]), userData: {}, expiresAt: future, errorScore: 3, maxErrorScore: 3, usageCount: 1, maxUsageCount: 50 },
                    { id: 'old', cookieJar: jar([good]), userData: {}, expiresAt: new Date(Date.now() - 1000).toISOString(), errorScore: 0, maxErrorScore: 3 },
                ],
            }),
        );
        const ok = await run(['import', '--session-pool-state', file, ...storage]);
        expect(ok.code, ok.stderr).toBe(0);
        expect(ok.stdout).toBe(`Imported 1 session (1 new) with 1 cookie and 0 with user data from ${file}; skipped 2 retired or expired sessions.\n`);
        expect((await run(['import', 'x', file, '--session-pool-state', file, ...storage])).stderr).toMatch(/unexpected argument "x"/);
    });
});
