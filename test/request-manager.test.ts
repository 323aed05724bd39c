/**
 * The request manager withSessions() puts between a crawler and its queue: waiting sessions hold no slot, a crawler
 * run twice crawls again (as in Crawlee), and the user's own queue and list keep working with it.
 */
import { Configuration, HttpCrawler, PlaywrightCrawler, RequestList, RequestQueue, log } from 'crawlee';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { Sessions, withSessions } from '../src/index.js';
import { startTimingSite, type TimingSite } from './support/timing-site.js';

log.setLevel(log.LEVELS.OFF);
vi.setConfig({ testTimeout: 120_000 });

function freshConfig(): Configuration {
    return new Configuration({ persistStorage: false, purgeOnStart: true });
}

let site: TimingSite;
beforeAll(async () => {
    site = await startTimingSite();
});
afterAll(async () => {
    await site?.close();
});

describe('a renewing session', () => {
    it('holds no slot: with both slots free, the other session crawls during the renewal, and every request is handled', async () => {
        const run = `slot-${Date.now()}`;
        const sessions = await Sessions.open({ store: 'memory' });
        let renewal: { start: number; end: number } | undefined;
        let started = false;
        const handled: string[] = [];
        const crawler = new HttpCrawler(
            withSessions(sessions, {
                maxConcurrency: 2,
                async requestHandler({ request }) {
                    handled.push(String(request.userData.sessionId));
                    if (!started && request.userData.sessionId === 'slow') {
                        started = true;
                        const start = Date.now();
                        // Not awaited: the handler returns, the session renews with a slow login meanwhile.
                        void sessions.clear('slow', { renewal: { url: `${site.url}/s/${run}-login/0?delay=1500` } }).then(() => {
                            renewal = { start, end: Date.now() };
                        });
                    }
                },
            }),
            freshConfig(),
        );
        const requests = (id: string, count: number, delay: number) =>
            Array.from({ length: count }, (_, n) => ({ url: `${site.url}/s/${run}-${id}/${n}?delay=${delay}`, userData: { sessionId: id } }));
        // The renewing session's requests come first: if they held the two slots while waiting, nobody would crawl.
        const stats = await crawler.run([...requests('slow', 30, 0), ...requests('other', 60, 20)]);

        expect(stats.requestsFailed).toBe(0);
        expect(handled.filter((id) => id === 'slow')).toHaveLength(30);
        expect(handled.filter((id) => id === 'other')).toHaveLength(60);
        expect(renewal).toBeDefined();
        const seen = await site.log();
        const during = (id: string) =>
            seen.filter((entry) => entry.session === `${run}-${id}` && entry.at > renewal!.start + 100 && entry.at < renewal!.end - 100).length;
        expect(during('slow')).toBe(0);
        expect(during('other')).toBeGreaterThan(5);
        await sessions.close();
    });
});

describe('a crawler run twice', () => {
    it('crawls the same URL again the second time (Crawlee drops its default queue) and still guards and inherits', async () => {
        const run = `twice-${Date.now()}`;
        const sessions = await Sessions.open({ store: 'memory' });
        const handled: Array<{ path: string; sessionId: unknown }> = [];
        const crawler = new HttpCrawler(
            withSessions(sessions, {
                async requestHandler({ request, addRequests }) {
                    handled.push({ path: new URL(request.url).pathname, sessionId: request.userData.sessionId });
                    if (request.userData.start) await addRequests([`${site.url}/s/${run}/logout`, `${site.url}/s/${run}/linked`]);
                },
            }),
            freshConfig(),
        );
        const start = { url: `${site.url}/s/${run}/start`, userData: { sessionId: 'eve', start: true } };
        await crawler.run([start]);
        await crawler.run([start]);
        const paths = (await site.log()).filter((entry) => entry.session === run).map((entry) => entry.path);
        expect(paths.filter((path) => path === `/s/${run}/start`)).toHaveLength(2);
        expect(paths.filter((path) => path === `/s/${run}/linked`)).toHaveLength(2);
        expect(paths).not.toContain(`/s/${run}/logout`);
        expect(sessions.stats().logoutSkipped).toBe(2);
        expect(handled.filter((entry) => entry.path.endsWith('/linked')).map((entry) => entry.sessionId)).toEqual(['eve', 'eve']);
        await sessions.close();
    });
});

describe("the user's own queue and list", () => {
    it('a RequestQueue and a RequestList given to the crawler are used, and links still inherit the session', async () => {
        const run = `own-${Date.now()}`;
        const config = freshConfig();
        const queue = await RequestQueue.open(`own-${Date.now()}`, { config });
        const list = await RequestList.open(null, [{ url: `${site.url}/s/${run}/from-list`, userData: { sessionId: 'frank', start: true } }]);
        const sessions = await Sessions.open({ store: 'memory' });
        const handled: Array<{ path: string; sessionId: unknown }> = [];
        const crawler = new HttpCrawler(
            withSessions(sessions, {
                requestQueue: queue,
                requestList: list,
                async requestHandler({ request, enqueueLinks }) {
                    handled.push({ path: new URL(request.url).pathname, sessionId: request.userData.sessionId });
                    if (request.userData.start) await enqueueLinks({ urls: [`${site.url}/s/${run}/enqueued`, `${site.url}/s/${run}/sign-out`] });
                },
            }),
            config,
        );
        await crawler.run();
        expect(handled).toEqual([
            { path: `/s/${run}/from-list`, sessionId: 'frank' },
            { path: `/s/${run}/enqueued`, sessionId: 'frank' },
        ]);
        expect(sessions.stats().logoutSkipped).toBe(1);
        expect(await queue.handledCount()).toBeGreaterThanOrEqual(2);
        await queue.drop();
        await sessions.close();
    });
});

describe('a cooldown in PlaywrightCrawler', () => {
    it('pauses the session after a 429 page and retries it without counting', async () => {
        const run = `pw-cool-${Date.now()}`;
        const throttled = await startTimingSite({ throttle: { [`${run}`]: { count: 1, retryAfter: '1' } } });
        try {
            const sessions = await Sessions.open({ store: 'memory' });
            const retries: number[] = [];
            const crawler = new PlaywrightCrawler(
                withSessions(sessions, {
                    maxRequestRetries: 0,
                    launchContext: { launchOptions: { headless: true } },
                    async requestHandler({ request }) {
                        retries.push(request.retryCount);
                    },
                }),
                freshConfig(),
            );
            const stats = await crawler.run([{ url: `${throttled.url}/s/${run}/page`, userData: { sessionId: 'grace' } }]);
            expect(stats.requestsFailed).toBe(0);
            expect(retries).toEqual([0]);
            const seen = (await throttled.log()).filter((entry) => entry.session === run);
            expect(seen.map((entry) => entry.status)).toEqual([429, 200]);
            expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(1000);
            expect(sessions.stats().cooldowns).toBe(1);
            await sessions.close();
        } finally {
            await throttled.close();
        }
    });
});
