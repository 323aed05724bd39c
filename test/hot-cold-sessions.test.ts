/**
 * Hot and cold sessions (`maxLiveSessions`): beyond the limit, idle sessions are written and dropped from memory, and
 * loaded again on first use with everything they had; a session with a request under way or a renewal is never
 * dropped. Real crawls against the loopback test site, on the embedded store and on MySQL.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { Configuration, HttpCrawler, log } from 'crawlee';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { internalsOf } from '../src/core/internals.js';
import { Sessions, isCrawleeSessionsError, withSessions, type SessionsOptions } from '../src/index.js';
import { mysqlForTests, useTablePrefixes } from './support/mysql.js';
import { startTestSite, type TestSite } from './support/site.js';

log.setLevel(log.LEVELS.OFF);

const mysqlDb = await mysqlForTests();
const crawleeConfig = () => new Configuration({ persistStorage: false, purgeOnStart: true });

/** What a session is, as far as eviction must keep it. */
function snapshot(sessions: Sessions, id: string) {
    const row = sessions.list().find((each) => each.id === id)!;
    const { lastUsedAt, status, ...kept } = row;
    void lastUsedAt;
    return { row: { ...kept, status }, cookies: sessions.get(id, { format: 'dict' }), identity: sessions.getIdentity(id), profile: sessions.getProfile(id) };
}

const liveIds = (sessions: Sessions) => sessions.list().map((row) => row.id).sort();

describe('hot and cold sessions (maxLiveSessions)', () => {
    let site: TestSite;
    let dir: string;
    const newPrefix = mysqlDb.available ? useTablePrefixes() : () => '';

    beforeAll(async () => {
        site = await startTestSite();
        dir = await mkdtemp(path.join(tmpdir(), 'hot-cold-'));
    });
    afterAll(async () => {
        await site?.close();
        await rm(dir, { recursive: true, force: true });
    });

    const stores: Array<[string, () => SessionsOptions['store'], boolean]> = [
        [
            'embedded',
            () => ({
                embedded: {
                    name: `hc-${Math.random().toString(36).slice(2)}`,
                    config: new Configuration({ persistStorage: true, storageClientOptions: { localDataDirectory: dir } }),
                },
            }),
            true,
        ],
        ['MySQL', () => ({ mysql: { url: mysqlDb.url, tablePrefix: newPrefix() } }), mysqlDb.available],
    ];

    for (const [name, store, available] of stores) {
        it.skipIf(!available)(`${name}: a session dropped and loaded again keeps its cookies, generation, identity and counters`, async () => {
            site.reset();
            const storeChoice = store();
            const sessions = await Sessions.open({
                store: storeChoice,
                maxLiveSessions: 2,
                persistence: { flushIntervalMillis: 60_000, syncIntervalMillis: 0 },
                flushOnSignals: false,
            });
            try {
                const ids = ['a', 'b', 'c', 'd'];
                await sessions.clear('a', { renewal: { url: `${site.url}/login`, form: { user: 'alice', password: 'secret' } } });
                const crawler = new HttpCrawler(
                    withSessionsQuiet(sessions, { maxConcurrency: 1, async requestHandler() {} }),
                    crawleeConfig(),
                );
                await crawler.run(ids.flatMap((id, n) => Array.from({ length: n + 1 }, (_, k) => ({
                    url: `${site.url}/set?c_${id}=${id}${k}&k=${k}`, uniqueKey: `${id}-${k}`, userData: { sessionId: id },
                }))));
                // Nothing was flushed yet (60 s interval), so nothing could be dropped: everything is live.
                expect(liveIds(sessions)).toEqual(ids);
                const before = Object.fromEntries(ids.map((id) => [id, snapshot(sessions, id)]));
                expect(before.a!.row.generation).toBe(1);
                expect(before.d!.row.requests).toBe(4);

                await sessions.flush(); // written: the two least recently used are dropped
                expect(liveIds(sessions)).toEqual(['c', 'd']);
                expect(sessions.stats().sessions).toBe(4);
                let thrown: unknown;
                try {
                    sessions.get('a');
                } catch (error) {
                    thrown = error;
                }
                expect(isCrawleeSessionsError(thrown, 'ERR_SESSION_NOT_LOADED')).toBe(true);
                expect(sessions.has('a')).toBe(true);
                expect(String(thrown)).toMatch(/Session "a" is not in memory/);

                await sessions.load('a');
                await sessions.load('b');
                expect(snapshot(sessions, 'a')).toEqual(before.a);
                expect(snapshot(sessions, 'b')).toEqual(before.b);

                // A request bound to a dropped session loads it by itself and sends its cookies.
                await sessions.flush();
                expect(liveIds(sessions)).toEqual(['a', 'b']);
                const second = new HttpCrawler(withSessionsQuiet(sessions, { async requestHandler() {} }), crawleeConfig());
                await second.run([{ url: `${site.url}/echo?from=d`, userData: { sessionId: 'd' } }]);
                const echoed = site.log.find((entry) => entry.path === '/echo');
                expect(echoed?.cookies).toEqual(before.d!.cookies);
                expect(snapshot(sessions, 'd').row).toEqual({ ...before.d!.row, requests: 5, successes: 5 });
                expect(sessions.stats()).toMatchObject({ sessions: 4 });
                await sessions.flush();
                expect(liveIds(sessions)).toEqual(['b', 'd']); // d used last, b loaded after a
                await sessions.load('a');
                await sessions.load('c');
                const final = Object.fromEntries(ids.map((id) => [id, snapshot(sessions, id)]));
                await sessions.close();

                // A new process with the limit starts with the most recently used sessions (by their last request);
                // the others come back on use.
                const reopened = await Sessions.open({ store: storeChoice, maxLiveSessions: 2, flushOnSignals: false });
                try {
                    expect(liveIds(reopened)).toEqual(['c', 'd']);
                    expect(() => reopened.get('a')).toThrow(/Session "a" is not in memory/);
                    await reopened.load('a');
                    await reopened.load('b');
                    for (const id of ids) expect(snapshot(reopened, id)).toEqual(final[id]);
                    expect(reopened.stats().sessions).toBe(4);
                } finally {
                    await reopened.close();
                }
            } finally {
                await sessions.close();
            }
        });
    }

    it('a session with a request under way, or a renewal, is never dropped; the idle ones are', async () => {
        site.reset();
        const sessions = await Sessions.open({
            store: stores[0]![1](),
            maxLiveSessions: 1,
            persistence: { flushIntervalMillis: 60_000 },
            flushOnSignals: false,
        });
        try {
            let liveInHandler: string[] = [];
            const crawler = new HttpCrawler(
                withSessionsQuiet(sessions, {
                    async requestHandler() {
                        // 'busy' is the least recently used session now, but its request is under way.
                        sessions.addCookies('other', ['x=1'], site.url);
                        await sessions.flush();
                        liveInHandler = liveIds(sessions);
                    },
                }),
                crawleeConfig(),
            );
            await crawler.run([{ url: `${site.url}/set?busy=1`, userData: { sessionId: 'busy' } }]);
            expect(liveInHandler).toEqual(['busy']);
            await sessions.load('other');

            // A renewal under way pins its session too.
            let release!: () => void;
            const gate = new Promise<void>((resolve) => (release = resolve));
            let started!: () => void;
            const inRenewal = new Promise<void>((resolve) => (started = resolve));
            const renewing = sessions.clear('busy', {
                renewal: async ({ http }) => {
                    started();
                    await gate;
                    await http.request({ url: `${site.url}/login`, method: 'POST', form: { user: 'alice', password: 'secret' } });
                },
            });
            await inRenewal;
            sessions.addCookies('other', ['y=2'], site.url);
            await sessions.flush();
            expect(liveIds(sessions)).toContain('busy');
            expect(internalsOf(sessions).registry.isCold('other')).toBe(true);
            release();
            await renewing;
            await sessions.flush();
            expect(liveIds(sessions)).toEqual(['busy']);
            await sessions.load('other');
            expect(sessions.get('other', { format: 'dict' })).toEqual({ x: '1', y: '2' });
        } finally {
            await sessions.close();
        }
    });

    it('refuses a maxLiveSessions that is not a positive integer, naming it', async () => {
        await expect(Sessions.open({ store: 'memory', maxLiveSessions: 0 })).rejects.toThrow(/maxLiveSessions/);
        await expect(Sessions.open({ store: 'memory', maxLiveSessions: 1.5 })).rejects.toThrow(/maxLiveSessions/);
    });
});

/** withSessions without retries: a failing request fails the test's expectations at once. */
function withSessionsQuiet(sessions: Sessions, options: Parameters<typeof withSessions>[1]) {
    return withSessions(sessions, { maxRequestRetries: 0, ...options });
}
