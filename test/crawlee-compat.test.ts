/**
 * Code written for Crawlee's SessionPool keeps working: `context.session` is the request's bound session with Crawlee's
 * `Session` surface (cookies, persisted `userData`, `markBad`/`markGood` feeding its health, `retire()` renewing it),
 * and the crawler's status line and final statistics carry the sessions' figures (`sessions.stats()`, O(1)).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { CheerioCrawler, Configuration, log, Logger, LogLevel } from 'crawlee';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Sessions, withSessions } from '../src/index.js';
import { startTestSite, type TestSite } from './support/site.js';

let site: TestSite;

beforeAll(async () => {
    log.setLevel(log.LEVELS.OFF);
    site = await startTestSite();
});
afterAll(async () => {
    await site?.close();
});

const login = () => ({ url: `${site.url}/login`, form: { user: 'alice', password: 'secret' } });

describe('context.session', () => {
    it("is the request's bound session: its id, its cookies both ways, and userData persisted across runs", async () => {
        const dir = await mkdtemp(join(tmpdir(), 'compat-'));
        const store = { embedded: { storageDir: dir } } as const;
        try {
            for (const run of [1, 2]) {
                const sessions = await Sessions.open({ store: store as never, loginFor: login });
                try {
                    if (run === 1) await sessions.renew('alice');
                    const seen: Array<{ id: string; visits: unknown; cookie: string; usable: boolean }> = [];
                    const crawler = new CheerioCrawler(
                        withSessions(sessions, {
                            maxConcurrency: 1,
                            async requestHandler({ request, session }) {
                                const view = session!;
                                const visits = Number(view.userData.visits ?? 0) + 1;
                                view.userData.visits = visits;
                                seen.push({ id: view.id, visits, cookie: view.getCookieString(request.url), usable: view.isUsable() });
                                view.setCookie(`run${run}=${visits}; Path=/`, request.url);
                            },
                        }),
                        new Configuration({ persistStorage: false }),
                    );
                    await crawler.run([1, 2, 3].map((n) => ({ url: `${site.url}/page/${run * 10 + n}`, userData: { sessionId: 'alice' } })));
                    expect(seen.map((entry) => entry.id)).toEqual(['alice', 'alice', 'alice']);
                    expect(seen.every((entry) => entry.usable)).toBe(true);
                    expect(seen.every((entry) => /sid=/.test(entry.cookie))).toBe(true);
                    // Run 2 continues the count run 1 persisted.
                    expect(seen.map((entry) => entry.visits)).toEqual(run === 1 ? [1, 2, 3] : [4, 5, 6]);
                    expect(sessions.get('alice', { format: 'dict' })[`run${run}`]).toBe(run === 1 ? '3' : '6');
                } finally {
                    await sessions.close();
                }
            }
        } finally {
            await rm(dir, { recursive: true, force: true });
        }
    });

    it('markBad() feeds the session health: at the maximum the session is renewed through its login; retire() renews it', async () => {
        const sessions = await Sessions.open({ store: 'memory', loginFor: login });
        try {
            await sessions.renew('alice');
            const loginsBefore = site.logins;
            const crawler = new CheerioCrawler(
                withSessions(sessions, {
                    maxConcurrency: 1,
                    async requestHandler({ session, request }) {
                        if (request.label === 'bad') session!.markBad();
                        if (request.label === 'retire') session!.retire();
                    },
                }),
                new Configuration({ persistStorage: false }),
            );
            await crawler.run([
                ...[1, 2, 3].map((n) => ({ url: `${site.url}/page/${n}`, label: 'bad', userData: { sessionId: 'alice' } })),
                { url: `${site.url}/page/4`, userData: { sessionId: 'alice' } },
            ]);
            expect(site.logins - loginsBefore, 'the third markBad() renewed the session').toBe(1);
            await crawler.run([
                { url: `${site.url}/page/5`, label: 'retire', userData: { sessionId: 'alice' } },
                { url: `${site.url}/page/6`, userData: { sessionId: 'alice' } }, // waits for the renewal retire() started
            ]);
            expect(site.logins - loginsBefore, 'retire() renewed it once more').toBe(2);
            expect(sessions.list()[0]).toMatchObject({ generation: 3, status: 'ready' });
        } finally {
            await sessions.close();
        }
    });
});

describe('watching sessions', () => {
    it('stats() keeps totals as they change; the status line and the final statistics carry them', async () => {
        const lines: string[] = [];
        class Capture extends Logger {
            override _log(_level: LogLevel, message: string) {
                lines.push(message);
            }
        }
        const previous = log.getOptions();
        log.setOptions({ logger: new Capture({}), level: LogLevel.DEBUG });
        const sessions = await Sessions.open({ store: 'memory', loginFor: login });
        try {
            expect(sessions.stats()).toMatchObject({ sessions: 0, ready: 0, renewing: 0, failed: 0, requests: 0 });
            await sessions.renew('a');
            await sessions.renew('b');
            await sessions.clear('c', { renewal: { url: `${site.url}/login`, form: { user: 'alice', password: 'wrong' } } }).catch(() => undefined);
            const crawler = new CheerioCrawler(
                withSessions(sessions, {
                    maxConcurrency: 2,
                    statusMessageLoggingInterval: 1,
                    async requestHandler() {
                        await new Promise((resolve) => setTimeout(resolve, 300));
                    },
                }),
                new Configuration({ persistStorage: false }),
            );
            const final = await crawler.run(
                Array.from({ length: 10 }, (_, n) => ({ url: `${site.url}/page/${n}`, userData: { sessionId: n % 2 ? 'a' : 'b' } })),
            );
            const stats = sessions.stats();
            expect(stats).toMatchObject({ sessions: 3, ready: 2, renewing: 0, failed: 1, successes: 10, renewals: 2 });
            expect(stats.requests).toBe(10);
            const listed = sessions.list();
            expect(listed.filter((row) => row.status === 'ready')).toHaveLength(stats.ready);
            expect(listed.reduce((sum, row) => sum + row.successes, 0)).toBe(stats.successes);
            expect((final as unknown as { sessions: unknown }).sessions).toMatchObject({ ready: 2, failed: 1, successes: 10 });
            expect(lines.some((line) => /Crawled \d+.*· sessions: \d+ ready, 1 failed · 2 renewals · 0 stale retried/.test(line))).toBe(true);
        } finally {
            log.setOptions({ logger: previous.logger, level: LogLevel.OFF });
            await sessions.close();
        }
    });
});
