/**
 * `expiry: { learn: true }`: a site whose logins last 2 s and say nothing about it (a session cookie, an opaque
 * token). The first logins are found ended by the crawl's validity check; from the third observation on, the
 * learned lifetime is renewed ahead of, and nothing more is answered logged out.
 */
import { Configuration, HttpCrawler, log, type RequestOptions } from 'crawlee';
import { afterEach, describe, expect, it } from 'vitest';

import { defineLogin, loginRenewal } from '../src/acquisition/index.js';
import { createSessionCheck, Sessions, withSessions } from '../src/index.js';
import { LEARNED_LIFETIMES_COLLECTION, LifetimeLearner, medianLifetime } from '../src/renewal/lifetime-learner.js';
import { MemorySessionStore } from '../src/stores/memory-store.js';
import { startExpirySite } from './support/expiry-site.js';

log.setLevel(log.LEVELS.OFF);

const opened: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
    for (const each of opened.splice(0).reverse()) await each.close();
});

describe('learned login lifetimes', () => {
    it('median of the last seven, from the third observation', () => {
        expect(medianLifetime([2000, 2100])).toBeUndefined();
        expect(medianLifetime([2100, 2000, 9000])).toBe(2100);
        expect(medianLifetime([300, 2000, 2050, 2100])).toBe(2000); // one early end does not make logins short
    });

    it('a damaged stored entry counts as nothing learned and is replaced; absurd ages are not observations', async () => {
        const store = new MemorySessionStore();
        const warnings: string[] = [];
        const quiet = log.child({ prefix: 'test' });
        quiet.warning = (message: string) => void warnings.push(message);
        for (const damaged of [{ observations: [2000, 'x', 2000] }, { observations: Array(500).fill(2000) }, 'junk', { observations: [1e300, 2000, 2000] }]) {
            await store.putEntry(LEARNED_LIFETIMES_COLLECTION, 'r', damaged);
            const learner = new LifetimeLearner(store, quiet);
            expect(await learner.lifetimeOf('r')).toBeUndefined();
            await learner.observe('r', 2100);
            expect((await store.getEntry<{ observations: number[] }>(LEARNED_LIFETIMES_COLLECTION, 'r'))?.value.observations).toEqual([2100]);
        }
        expect(warnings.length).toBe(4 * 2); // read on first ask and again before the write
        expect(warnings[0]).toContain('learned-lifetimes/r');
        const learner = new LifetimeLearner(store, quiet);
        for (const age of [Number.NaN, -5, 10, Infinity, 1e15]) await learner.observe('r', age);
        expect((await store.getEntry<{ observations: number[] }>(LEARNED_LIFETIMES_COLLECTION, 'r'))?.value.observations).toEqual([2100]);
    });

    it('learns a silent site’s login lifetime from logged-out checks, then renews ahead of it', async () => {
        const site = await startExpirySite({ lifetimeSecs: 2, announce: false, pageDelayMillis: 20 });
        opened.push(site);
        const recipe = defineLogin({
            name: 'silent',
            accounts: { s0: { user: 'u0', password: 'pw-u0' } },
            steps: [{ url: `${site.url}/login`, json: { user: '{{user}}', password: '{{password}}' } }],
            extract: [{ name: 'token', from: { json: '$.token' } }],
            apply: { headers: { Authorization: 'Bearer {{token}}' } },
            expiry: { learn: true },
        });
        const store = new MemorySessionStore();
        const sessions = await Sessions.open({ store, flushOnSignals: false, login: loginRenewal(recipe) });
        opened.push(sessions);
        await sessions.renew('s0');
        expect(sessions.expiresAt('s0')).toBeUndefined(); // nothing announced, nothing learned yet

        const check = createSessionCheck({ indicators: [{ in: 'body', text: 'id="state">logged-in', means: 'valid' }] });
        const durationMillis = 16_000;
        const deadline = Date.now() + durationMillis;
        let serial = 0;
        let learnedAt: number | undefined;
        let loggedOutWhenLearned = 0;
        const next = (): RequestOptions => ({ url: `${site.url}/page/${serial++}`, userData: { sessionId: 's0' } });
        const crawler = new HttpCrawler(
            withSessions(
                sessions,
                {
                    maxConcurrency: 3,
                    maxRequestRetries: 2,
                    async requestHandler({ crawler: self }) {
                        if (learnedAt === undefined && sessions.expiresAt('s0') !== undefined) {
                            learnedAt = Date.now();
                            loggedOutWhenLearned = site.loggedOut;
                        }
                        if (Date.now() < deadline) await self.addRequests([next()]);
                    },
                },
                { check },
            ),
            new Configuration({ persistStorage: false, purgeOnStart: true }),
        );
        const stats = await crawler.run(Array.from({ length: 3 }, next));

        expect(stats.requestsFailed).toBe(0);
        const stored = await store.getEntry<{ observations: number[] }>(LEARNED_LIFETIMES_COLLECTION, 'silent');
        expect(stored?.value.observations.length).toBeGreaterThanOrEqual(3);
        for (const age of stored!.value.observations) expect(age).toBeGreaterThanOrEqual(1800);
        expect(learnedAt).toBeDefined();
        // Learned within the first half of the crawl (three 2-second logins, found ended), and after that nothing is
        // answered logged out: the learned end is renewed ahead of.
        expect(learnedAt! - (deadline - durationMillis)).toBeLessThan(durationMillis / 2);
        expect(loggedOutWhenLearned).toBeGreaterThanOrEqual(3);
        expect(site.loggedOut).toBe(loggedOutWhenLearned);
        const learned = medianLifetime(stored!.value.observations)!;
        expect(learned).toBeGreaterThanOrEqual(1800);
        expect(learned).toBeLessThan(2600); // the age at which the end was found: the lifetime plus the detection lag
        expect(sessions.expiresAt('s0')! - Date.now()).toBeLessThanOrEqual(learned);
    }, 60_000);
});
