/**
 * Pacing and cooldowns, measured by the site (a worker thread that records when each session's requests arrive).
 */
import { Configuration, HttpCrawler, log } from 'crawlee';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { ConfigValidationError, Sessions, withSessions, type CooldownEvent } from '../src/index.js';
import { pacingSettings } from '../src/pacing/options.js';
import { retryAfterMillis, SessionPacer } from '../src/pacing/pacer.js';
import { SessionPacing } from '../src/pacing/pacing.js';
import { maxPerSecond, startTimingSite, type TimingSite } from './support/timing-site.js';

log.setLevel(log.LEVELS.OFF);
vi.setConfig({ testTimeout: 120_000 });

function freshConfig(): Configuration {
    return new Configuration({ persistStorage: false, purgeOnStart: true });
}

const sites: TimingSite[] = [];
afterEach(async () => {
    await Promise.all(sites.splice(0).map((site) => site.close()));
});

describe('retryAfterMillis', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    it.each([
        ['2', 2000],
        [' 120 ', 120_000],
        ['0', 0],
        ['Thu, 01 Jan 2026 00:00:05 GMT', 5000],
        ['Wed, 31 Dec 2025 23:59:00 GMT', 0],
        [['3', '9'], 3000],
    ] as const)('reads %j', (header, expected) => {
        expect(retryAfterMillis(header as never, now)).toBe(expected);
    });

    it.each(['', '-1', '1.5', 'soon', '1e3', '1'.repeat(13), `Thu, 01 Jan 2026 00:00:05 GMT${' '.repeat(60)}`, 'Thu, 99 Foo 2026 99:99:99 GMT'])(
        'ignores %j',
        (header) => {
            expect(retryAfterMillis(header, now)).toBeUndefined();
        },
    );
});

describe('SessionPacer (its own clock)', () => {
    it('spaces transmissions exactly, jitter only lengthening the gaps between hand-outs', () => {
        const pacer = new SessionPacer(pacingSettings({ maxRequestsPerMinute: 120, jitter: 1 }));
        expect(pacer.transmit(1000)).toBe(0);
        expect(pacer.transmit(1499)).toBe(1);
        expect(pacer.transmit(1500)).toBe(0);
        for (let n = 0, now = 10_000; n < 200; n++) {
            const wait = pacer.readyInMillis(now);
            now += wait;
            pacer.handOut(now);
            const gap = pacer.readyInMillis(now);
            expect(gap).toBeGreaterThanOrEqual(500);
            expect(gap).toBeLessThanOrEqual(1000);
            expect(pacer.transmit(now)).toBe(0);
        }
    });

    it('cools down for Retry-After within maxCooldownSecs, else doubling from cooldownSecs; a good answer resets it', () => {
        const pacing = new SessionPacing({ cooldownSecs: 10, maxCooldownSecs: 35 });
        expect(pacing.answered('a', 429, '3', 0)).toBe(3000);
        expect(pacing.answered('a', 503, undefined, 0)).toBe(20_000); // the second in a row
        expect(pacing.answered('a', 429, undefined, 0)).toBe(35_000); // 40 s, capped
        expect(pacing.answered('a', 429, '99999999', 0)).toBe(35_000); // a hostile Retry-After, capped
        expect(pacing.pacerOf('a')!.readyInMillis(1000)).toBe(34_000);
        expect(pacing.answered('a', 200, undefined, 40_000)).toBeUndefined();
        expect(pacing.pacerOf('a')).toBeUndefined(); // nothing left to hold: forgotten
        expect(pacing.answered('a', 429, 'garbage', 50_000)).toBe(10_000);
        expect(pacing.answered('b', 418, '5', 0)).toBeUndefined();
    });

    it('setPacing overrides only the fields it names; undefined gives the common pacing back', () => {
        const pacing = new SessionPacing({ maxRequestsPerMinute: 60, cooldownStatuses: [429] });
        pacing.set('a', { minDelayMillis: 5000 });
        expect(pacing.settingsOf('a')).toMatchObject({ spacingMillis: 5000, cooldownStatuses: new Set([429]) });
        pacing.set('a', { maxRequestsPerMinute: undefined });
        expect(pacing.settingsOf('a').spacingMillis).toBe(0);
        pacing.set('a', undefined);
        expect(pacing.settingsOf('a').spacingMillis).toBe(1000);
        expect(pacing.settingsOf('b').spacingMillis).toBe(1000);
    });
});

describe('pacing options', () => {
    it('refuses hostile values, naming the field', async () => {
        const cases: Array<[unknown, string]> = [
            [{ maxRequestsPerMinute: 0 }, 'pacing.maxRequestsPerMinute'],
            [{ maxRequestsPerMinute: Number.POSITIVE_INFINITY }, 'pacing.maxRequestsPerMinute'],
            [{ minDelayMillis: -1 }, 'pacing.minDelayMillis'],
            [{ jitter: 2 }, 'pacing.jitter'],
            [{ cooldownStatuses: [99] }, 'pacing.cooldownStatuses[0]'],
            [{ cooldownSecs: 100, maxCooldownSecs: 10 }, 'pacing.cooldownSecs'],
            [{ maxRequestsPerMinut: 10 }, 'pacing'],
        ];
        for (const [pacing, path] of cases) {
            const error = await Sessions.open({ store: 'memory', pacing: pacing as never }).catch((caught: unknown) => caught);
            expect(error, JSON.stringify(pacing)).toBeInstanceOf(ConfigValidationError);
            expect((error as Error).message).toContain(path);
        }
        const sessions = await Sessions.open({ store: 'memory' });
        expect(() => sessions.setPacing('a', { jitter: -1 })).toThrow(/jitter/);
        await sessions.close();
    });
});

describe('a paced session', () => {
    it('never exceeds its rate at the site, logins included, while unpaced sessions in the same crawl keep their pace', async () => {
        const site = await startTimingSite();
        sites.push(site);
        const run = `pace-${Date.now()}`;
        const sessions = await Sessions.open({ store: 'memory' });
        sessions.setPacing('slow', { maxRequestsPerMinute: 120 });
        sessions.setPacing('jittery', { maxRequestsPerMinute: 120, jitter: 0.5 });
        // Two logins in a row go through the pace too.
        const login = { url: `${site.url}/s/${run}-slow/login` };
        await sessions.clear('slow', { renewal: login });
        await sessions.clear('slow', { renewal: login });

        const handled = new Map<string, number>();
        const crawler = new HttpCrawler(
            withSessions(sessions, {
                maxConcurrency: 4,
                async requestHandler({ request }) {
                    const id = String(request.userData.sessionId);
                    handled.set(id, (handled.get(id) ?? 0) + 1);
                },
            }),
            freshConfig(),
        );
        const requests = (id: string, count: number) =>
            Array.from({ length: count }, (_, n) => ({ url: `${site.url}/s/${run}-${id}/${n}`, userData: { sessionId: id } }));
        // The paced sessions' requests come first in the queue: waiting, they must not hold the crawler's slots.
        const stats = await crawler.run([...requests('slow', 14), ...requests('jittery', 8), ...requests('fast1', 100), ...requests('fast2', 100)]);

        expect(stats.requestsFailed).toBe(0);
        expect(Object.fromEntries(handled)).toEqual({ slow: 14, jittery: 8, fast1: 100, fast2: 100 });
        const seen = await site.log();
        const slow = seen.filter((entry) => entry.session === `${run}-slow`);
        expect(slow).toHaveLength(14 + 2);
        expect(maxPerSecond(seen, `${run}-slow`)).toBeLessThanOrEqual(2);
        expect(maxPerSecond(seen, `${run}-jittery`)).toBeLessThanOrEqual(2);
        // The unpaced sessions ran at full speed meanwhile: most of their requests arrived before the paced ones ended.
        const slowEnd = slow.at(-1)!.at;
        const fast = seen.filter((entry) => entry.session === `${run}-fast1` || entry.session === `${run}-fast2`);
        expect(fast.filter((entry) => entry.at < slowEnd).length).toBeGreaterThan(150);
        expect(maxPerSecond(seen, `${run}-fast1`)).toBeGreaterThan(10);
        await sessions.close();
    });
});

describe('a cooldown', () => {
    it('pauses only the session that got 429 for its Retry-After, then its request succeeds without counting as a retry', async () => {
        const run = `cool-${Date.now()}`;
        const site = await startTimingSite({ throttle: { [`${run}-hot`]: { count: 3, retryAfter: '2' } } });
        sites.push(site);
        const sessions = await Sessions.open({ store: 'memory' });
        const cooldowns: CooldownEvent[] = [];
        sessions.on('cooldown', (event) => cooldowns.push(event));
        const retries: number[] = [];
        const crawler = new HttpCrawler(
            withSessions(sessions, {
                maxConcurrency: 3,
                maxRequestRetries: 1,
                async requestHandler({ request }) {
                    if (request.userData.sessionId === 'hot') retries.push(request.retryCount);
                },
            }),
            freshConfig(),
        );
        const requests = (id: string, count: number, delay = 0) =>
            Array.from({ length: count }, (_, n) => ({ url: `${site.url}/s/${run}-${id}/${n}?delay=${delay}`, userData: { sessionId: id } }));
        const stats = await crawler.run([...requests('hot', 6), ...requests('other', 150, 15)]);

        expect(stats.requestsFailed).toBe(0);
        expect(retries).toEqual([0, 0, 0, 0, 0, 0]);
        const seen = await site.log();
        const hot = seen.filter((entry) => entry.session === `${run}-hot`);
        const refused = hot.filter((entry) => entry.status === 429);
        expect(refused.length).toBeGreaterThanOrEqual(1);
        const firstRefusal = refused[0]!.at;
        const served = hot.filter((entry) => entry.status === 200);
        expect(served).toHaveLength(6);
        for (const entry of served) expect(entry.at - firstRefusal).toBeGreaterThanOrEqual(2000);
        // Meanwhile the other session went on.
        const others = seen.filter((entry) => entry.session === `${run}-other` && entry.at > firstRefusal && entry.at < firstRefusal + 2000);
        expect(others.length).toBeGreaterThan(10);
        expect(cooldowns.length).toBeGreaterThanOrEqual(1);
        expect(cooldowns[0]).toMatchObject({ sessionId: 'hot', status: 429, waitMillis: 2000 });
        expect(sessions.stats().cooldowns).toBe(cooldowns.length);
        await sessions.close();
    });
});
