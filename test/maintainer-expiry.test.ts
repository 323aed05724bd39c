/**
 * The maintainer's `beforeExpiry` schedule: it refreshes each stored session ahead of the end its login announces, so
 * that a crawler sharing the store (here one without any login of its own) never meets an ended login.
 */
import { Configuration, HttpCrawler, log, type RequestOptions } from 'crawlee';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { defineLogin } from '../src/acquisition/recipe.js';
import { withSessions } from '../src/binding/with-sessions.js';
import { Sessions } from '../src/core/sessions.js';
import { defineMaintainerConfig } from '../src/maintainer/config.js';
import { Maintainer } from '../src/maintainer/maintainer.js';
import { ConfigValidationError } from '../src/shared/validation.js';
import { startExpirySite, type ExpirySite } from './support/expiry-site.js';
import { mysqlForTests, useTablePrefixes } from './support/mysql.js';

log.setLevel(log.LEVELS.OFF);

const mysqlDb = await mysqlForTests();

function recipeFor(site: ExpirySite) {
    return defineLogin({
        name: 'expiring',
        accounts: { s0: { user: 'u0', password: 'pw-u0' }, s1: { user: 'u1', password: 'pw-u1' } },
        steps: [{ url: `${site.url}/login`, json: { user: '{{user}}', password: '{{password}}' } }],
        extract: [{ name: 'token', from: { json: '$.token' } }],
        apply: { headers: { Authorization: 'Bearer {{token}}' } },
    });
}

describe('beforeExpiry schedule: validation', () => {
    it('refuses a bad margin, fraction or period with the field named', () => {
        const recipe = defineLogin({ name: 'r', steps: [{ url: 'http://127.0.0.1:9/login', form: { a: 'b' } }] });
        const refusal = (schedule: Record<string, unknown>) => {
            try {
                defineMaintainerConfig({ store: 'memory', recipes: [{ recipe, schedule: schedule as never }] });
                return undefined;
            } catch (error) {
                expect(error).toBeInstanceOf(ConfigValidationError);
                return (error as Error).message;
            }
        };
        expect(refusal({ kind: 'beforeExpiry' })).toBeUndefined();
        expect(refusal({ kind: 'beforeExpiry', fraction: 2 })).toMatch(/config\.recipes\[0\]\.schedule\.fraction/);
        expect(refusal({ kind: 'beforeExpiry', marginSecs: -1 })).toMatch(/config\.recipes\[0\]\.schedule\.marginSecs/);
        expect(refusal({ kind: 'beforeExpiry', checkEveryMillis: 10 })).toMatch(/config\.recipes\[0\]\.schedule\.checkEveryMillis/);
        expect(refusal({ kind: 'beforeExpiry', every: 1 })).toMatch(/config\.recipes\[0\]\.schedule/);
    });
});

describe.skipIf(!mysqlDb.available)(mysqlDb.suiteName('beforeExpiry schedule'), () => {
    const newPrefix = useTablePrefixes();
    let site: ExpirySite;

    beforeAll(async () => {
        site = await startExpirySite({ lifetimeSecs: 3, pageDelayMillis: 20 });
    });
    afterAll(async () => {
        await site?.close();
    });

    it('refreshes each session ahead of its announced end: a crawler without a login never meets an ended one', async () => {
        const store = { mysql: { url: mysqlDb.url, tablePrefix: newPrefix() } };
        const maintainer = await Maintainer.open({
            store,
            recipes: [{ recipe: recipeFor(site), sessions: ['s0', 's1'], schedule: { kind: 'beforeExpiry', fraction: 0.5 } }],
        });
        const sessions = await Sessions.open({ store, persistence: { syncIntervalMillis: 100 }, flushOnSignals: false });
        try {
            maintainer.start();
            // Both sessions are logged in at start (nothing stored).
            const until = Date.now() + 10_000;
            while ((await maintainer.store.read('s1'))?.generation !== 1 || (await maintainer.store.read('s0'))?.generation !== 1) {
                expect(Date.now()).toBeLessThan(until);
                await new Promise((resolve) => setTimeout(resolve, 50));
            }
            const durationMillis = 10_000;
            const deadline = Date.now() + durationMillis;
            let serial = 0;
            let handled = 0;
            let loggedOut = 0;
            const next = (): RequestOptions => ({ url: `${site.url}/page/${serial}`, userData: { sessionId: `s${serial++ % 2}` } });
            const crawler = new HttpCrawler(
                withSessions(sessions, {
                    maxConcurrency: 4,
                    maxRequestRetries: 0,
                    async requestHandler({ body, crawler: self }) {
                        handled++;
                        if (!String(body).includes('id="state">logged-in')) loggedOut++;
                        if (Date.now() < deadline) await self.addRequests([next()]);
                    },
                }),
                new Configuration({ persistStorage: false, purgeOnStart: true }),
            );
            const stats = await crawler.run(Array.from({ length: 4 }, next));

            expect(loggedOut).toBe(0);
            expect(site.loggedOut).toBe(0);
            expect(site.stale).toBe(0);
            expect(stats.requestsFailed).toBe(0);
            expect(handled).toBeGreaterThan(50);
            for (const user of ['u0', 'u1']) {
                // A login lasts 2–3 s (whole seconds) and is refreshed about halfway: one per 1–1.5 s, never a storm.
                expect(site.logins[user]).toBeGreaterThanOrEqual(1 + Math.floor(durationMillis / 3000));
                expect(site.logins[user]).toBeLessThanOrEqual(2 + Math.ceil(durationMillis / 800));
            }
            const rows = maintainer.status();
            expect(rows.map((row) => row.state).every((state) => state === 'refreshed' || state === 'valid')).toBe(true);
            expect(rows[0]!.nextRunAt! - Date.now()).toBeLessThan(3000); // woken by the next end, not the 15-min read
            expect(rows[0]!.schedule).toMatch(/^before each login's end/);
        } finally {
            await sessions.close();
            await maintainer.stop();
        }
    }, 60_000);
});
