/**
 * Transport failures (a dead proxy): counted per session and per profile, held to `maxRequestRetries` (Crawlee would
 * rotate sessions up to 10 times), reported once without the proxy's password, and the session moves to a working
 * profile.
 */
import net from 'node:net';

import { CheerioCrawler, Configuration, log, Logger, LogLevel, SessionError } from 'crawlee';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Sessions, defineProfiles, withSessions, type ProfileFailedEvent } from '../src/index.js';
import { startProxies, type TestProxies } from './support/proxies.js';
import { startTestSite, type TestSite } from './support/site.js';

const PROXY_PASSWORD = 'dead-Proxy-Pass-3';

let site: TestSite;
let proxies: TestProxies;
let deadProxy: string;

/** A port on 127.0.0.1 that refuses connections (opened, then closed). */
async function refusedPort(): Promise<number> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return port;
}

beforeAll(async () => {
    site = await startTestSite();
    proxies = await startProxies(1);
    deadProxy = `http://crawler:${PROXY_PASSWORD}@127.0.0.1:${await refusedPort()}`;
});
afterAll(async () => {
    await site?.close();
    await proxies?.close();
});

/** Captures Crawlee log lines (our warnings go through Crawlee's `log`). */
function captureLog(): { lines: string[]; restore(): void } {
    const lines: string[] = [];
    class Capture extends Logger {
        override _log(_level: LogLevel, message: string) {
            lines.push(message);
        }
    }
    const previous = log.getOptions();
    log.setOptions({ logger: new Capture({}), level: LogLevel.WARNING });
    return { lines, restore: () => log.setOptions({ logger: previous.logger, level: LogLevel.OFF }) };
}

describe('a dead proxy', () => {
    it('alone: each request is tried maxRequestRetries + 1 times, every attempt counted, the profile reported once without its password', async () => {
        const captured = captureLog();
        const sessions = await Sessions.open({ store: 'memory', profiles: defineProfiles([{ proxy: deadProxy }]) });
        const events: ProfileFailedEvent[] = [];
        sessions.on('profileFailed', (event) => events.push(event));
        let attempts = 0;
        let failed = 0;
        try {
            const crawler = new CheerioCrawler(
                withSessions(sessions, {
                    maxRequestRetries: 2,
                    async requestHandler() {},
                    async errorHandler() {
                        attempts++;
                    },
                    async failedRequestHandler() {
                        failed++;
                    },
                }),
                new Configuration({ persistStorage: false }),
            );
            await crawler.run([1, 2].map((n) => ({ url: `${site.url}/page/${n}`, userData: { sessionId: 'a' } })));
            expect(failed).toBe(2);
            expect(attempts, 'errorHandler once per attempt: 3 each, not the 11 of a session rotation loop').toBe(6);
            expect(sessions.list()[0]).toMatchObject({ id: 'a', failures: 6, successes: 0 });
            expect(site.log).toEqual([]);
            expect(events).toHaveLength(1);
            expect(events[0]).toMatchObject({ profileIndex: 0, failures: 3 });
            expect(events[0]!.error).toMatch(/ECONNREFUSED/);
            const text = JSON.stringify(events) + captured.lines.join('\n');
            expect(text).not.toContain(PROXY_PASSWORD);
            expect(captured.lines.filter((line) => /Profile 0 .* failed 3 times in a row/.test(line))).toHaveLength(1);
            expect(captured.lines.join('\n')).toContain('crawler:***@127.0.0.1');
        } finally {
            captured.restore();
            await sessions.close();
        }
    });

    it('next to a working one: the sessions on it move over (renewing through their login) and every page is fetched', async () => {
        site.reset();
        const dying = await startProxies(1);
        const sessions = await Sessions.open({
            store: 'memory',
            profiles: defineProfiles([{ proxy: dying.urls[0]! }, { proxy: proxies.urls[0]! }]),
            loginFor: (id) => ({ url: `${site.url}/login`, form: { user: `user${id.slice(1)}`, password: 'secret' } }),
            profileFailureThreshold: 2,
        });
        const events: ProfileFailedEvent[] = [];
        sessions.on('profileFailed', (event) => events.push(event));
        let failed = 0;
        const reasons: string[] = [];
        try {
            const ids = ['s1', 's2', 's3', 's4'];
            for (const id of ids) sessions.getProfile(id); // two sessions per profile
            for (const id of ids) await sessions.renew(id); // logged in while both proxies work
            const onDying = ids.filter((id) => sessions.getProfile(id)!.proxy === dying.urls[0]);
            expect(onDying).toHaveLength(2);
            await dying.close(); // the proxy dies: its port refuses connections from now on
            const loginsBefore = site.logins;

            const crawler = new CheerioCrawler(
                withSessions(sessions, {
                    maxRequestRetries: 3,
                    maxConcurrency: 4,
                    async requestHandler({ $ }) {
                        if ($('#state').text() !== 'logged-in') throw new Error(`logged out: ${$('#reason').text()}`);
                    },
                    async failedRequestHandler(_context, error) {
                        failed++;
                        reasons.push(error.message.slice(0, 200));
                    },
                }),
                new Configuration({ persistStorage: false }),
            );
            await crawler.run(ids.flatMap((id, i) => [1, 2, 3].map((n) => ({ url: `${site.url}/page/${i * 10 + n}`, userData: { sessionId: id } }))));
            expect(reasons).toEqual([]);
            expect(failed).toBe(0);
            expect(events).toHaveLength(1);
            expect(events[0]).toMatchObject({ profileIndex: 0, failures: 2 });
            for (const id of ids) expect(sessions.getProfile(id)!.proxy, id).toBe(proxies.urls[0]);
            expect(site.logins - loginsBefore, 'each moved session logged in again through the working proxy').toBe(2);
            const pages = site.log.filter((entry) => entry.path.startsWith('/page/') && entry.sidState === 'live');
            expect(new Set(pages.map((entry) => entry.path)).size).toBe(12);
        } finally {
            await sessions.close();
        }
    });
});

describe('a SessionError', () => {
    it('clears the request\'s session, renews it through its login, and the retried request succeeds', async () => {
        site.reset();
        const sessions = await Sessions.open({
            store: 'memory',
            loginFor: () => ({ url: `${site.url}/login`, form: { user: 'alice', password: 'secret' } }),
        });
        try {
            await sessions.renew('alice');
            const generations: number[] = [];
            let blocked = 0;
            const crawler = new CheerioCrawler(
                withSessions(sessions, {
                    maxRequestRetries: 1,
                    async requestHandler({ $, request }) {
                        generations.push(Number($('#sid').text()));
                        if (request.retryCount === 0) {
                            blocked++;
                            throw new SessionError('the site shows a block page');
                        }
                    },
                }),
                new Configuration({ persistStorage: false }),
            );
            await crawler.run([{ url: `${site.url}/page/1`, userData: { sessionId: 'alice' } }]);
            expect(blocked).toBe(1);
            expect(site.logins, 'the first login, then one renewal for the block').toBe(2);
            expect(generations).toHaveLength(2);
            expect(generations[1]).toBeGreaterThan(generations[0]!);
            expect(sessions.list()[0]).toMatchObject({ id: 'alice', renewals: 2, failures: 1, successes: 1, generation: 2 });
        } finally {
            await sessions.close();
        }
    });
});
