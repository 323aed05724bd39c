/**
 * Renewal ahead of expiry across processes: two crawler processes share one session in MySQL whose logins last 3 s.
 * Each expiry is renewed ahead once, by one of them (the session's renewal lease); the other adopts the new login.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

import { log } from 'crawlee';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { defineLogin, loginRenewal, Sessions } from '../src/index.js';
import { startExpirySite, type ExpirySite } from './support/expiry-site.js';
import { mysqlForTests, useTablePrefixes } from './support/mysql.js';

log.setLevel(log.LEVELS.OFF);

const mysqlDb = await mysqlForTests();

interface AheadResult {
    handled: number;
    loggedOut: number;
    failed: number;
    generations: number[];
}

function startCrawler(args: Record<string, unknown>): Promise<AheadResult> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/ahead-crawler.ts', JSON.stringify(args)], {
        stdio: ['ignore', 'pipe', 'inherit'],
    });
    return new Promise<AheadResult>((resolve, reject) => {
        const lines = createInterface({ input: child.stdout! });
        lines.on('line', (line) => {
            if (line.startsWith('DONE ')) resolve(JSON.parse(line.slice(5)) as AheadResult);
        });
        child.on('exit', (code, signal) => reject(new Error(`crawler exited (${signal ?? code}) without DONE`)));
    });
}

describe.skipIf(!mysqlDb.available)(mysqlDb.suiteName('Renewal ahead on MySQL'), () => {
    const newPrefix = useTablePrefixes();
    let site: ExpirySite;

    beforeAll(async () => {
        site = await startExpirySite({ lifetimeSecs: 3, pageDelayMillis: 20 });
    });
    afterAll(async () => {
        await site?.close();
    });

    it('two processes: one renewal ahead per expiry across both, nothing answered logged out', async () => {
        const tablePrefix = newPrefix();
        const store = { mysql: { url: mysqlDb.url, tablePrefix } };
        const recipe = defineLogin({
            name: 'expiring',
            accounts: { s0: { user: 'u0', password: 'pw-u0' } },
            steps: [{ url: `${site.url}/login`, json: { user: '{{user}}', password: '{{password}}' } }],
            extract: [{ name: 'token', from: { json: '$.token' } }],
            apply: { headers: { Authorization: 'Bearer {{token}}' } },
        });
        const first = await Sessions.open({ store, login: loginRenewal(recipe), renewAhead: false, flushOnSignals: false });
        await first.renew('s0');
        await first.close();
        const loginsBefore = site.logins.u0 ?? 0;

        const args = { mysqlUrl: mysqlDb.url, tablePrefix, siteUrl: site.url, durationMillis: 10_000 };
        const results = await Promise.all([startCrawler(args), startCrawler(args)]);

        for (const result of results) {
            expect(result.failed).toBe(0);
            expect(result.loggedOut).toBe(0);
            expect(result.handled).toBeGreaterThan(20);
        }
        expect(site.loggedOut).toBe(0);
        expect(site.stale).toBe(0);
        const generations = results.flatMap((result) => result.generations);
        // Every login during the crawl was one process's renewal ahead, each filling a generation no other filled.
        expect(generations.length).toBeGreaterThan(1);
        expect(new Set(generations).size).toBe(generations.length);
        expect((site.logins.u0 ?? 0) - loginsBefore).toBe(generations.length);
    }, 90_000);
});
