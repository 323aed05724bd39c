/**
 * Options renamed to Crawlee's unit names (`…Millis`) keep working under their old names for one version: the value
 * is used, and one warning per old name and process goes through Crawlee's `log`.
 */
import { log, Logger, LogLevel } from 'crawlee';
import { afterEach, describe, expect, it } from 'vitest';

import { defineCheck } from '../src/acquisition/check.js';
import { defineLogin } from '../src/acquisition/recipe.js';
import { Sessions } from '../src/core/sessions.js';
import { parseStoredSessionHeader } from '../src/headers/rule.js';
import { defineMaintainerConfig } from '../src/maintainer/config.js';
import { compileSchedule } from '../src/maintainer/schedule.js';
import { openStore } from '../src/stores/open-store.js';
import { mysqlForTests, useTablePrefixes } from './support/mysql.js';

const db = await mysqlForTests();

const warnings: string[] = [];
class Capture extends Logger {
    override _log(level: LogLevel, message: string) {
        if (level === LogLevel.WARNING) warnings.push(message);
    }
}
const previous = log.getOptions();
log.setOptions({ logger: new Capture({}), level: LogLevel.DEBUG });
afterEach(() => {
    warnings.length = 0;
});

const recipe = defineLogin({ name: 'units', steps: [{ url: 'http://127.0.0.1:9/login', method: 'POST', form: { user: 'x' } }] });

describe('old unit names', () => {
    it('maintainer: retry.backoffMs, retry.maxBackoffMs, leaseMs and an interval schedule’s everyMs', () => {
        const config = defineMaintainerConfig({
            store: 'memory',
            recipes: [{ recipe, sessions: ['a'], schedule: { kind: 'interval', everyMs: 120_000 } }],
            retry: { backoffMs: 250, maxBackoffMs: 2_000 },
            leaseMs: 30_000,
        });
        expect(config.retry).toEqual({ maxAttempts: 4, backoffMillis: 250, maxBackoffMillis: 2_000 });
        expect(config.leaseMillis).toBe(30_000);
        expect(config.recipes[0]!.schedule).toEqual({ kind: 'interval', everyMillis: 120_000 });
        expect(warnings.sort()).toEqual([
            'defineMaintainerConfig(): "leaseMs" is deprecated and will be removed in the next version; use "leaseMillis" instead.',
            'defineMaintainerConfig(): "retry.backoffMs" is deprecated and will be removed in the next version; use "retry.backoffMillis" instead.',
            'defineMaintainerConfig(): "retry.maxBackoffMs" is deprecated and will be removed in the next version; use "retry.maxBackoffMillis" instead.',
            'interval schedule: "everyMs" is deprecated and will be removed in the next version; use "everyMillis" instead.',
        ]);

        // Once per process: using them again warns no more.
        warnings.length = 0;
        const again = compileSchedule({ kind: 'interval', everyMs: 60_000 });
        expect(again.next(0, 0)).toBe(60_000);
        defineMaintainerConfig({ store: 'memory', recipes: [{ recipe, sessions: ['b'], schedule: { kind: 'once' } }], leaseMs: 5_000 });
        expect(warnings).toEqual([]);
    });

    it('a check’s every.seconds', () => {
        const check = defineCheck({ indicators: [{ in: 'body', text: 'Log out', means: 'valid' }], every: { requests: 5, seconds: 30 } });
        expect(check.every).toEqual({ requests: 5, intervalSecs: 30 });
        const inRecipe = defineLogin({
            name: 'units-check',
            steps: [{ url: 'http://127.0.0.1:9/login', method: 'POST', form: { user: 'x' } }],
            check: { indicators: [{ in: 'body', text: 'Log out', means: 'valid' }], every: { seconds: 10 } },
        });
        expect(inRecipe.check?.every).toEqual({ intervalSecs: 10 });
        expect(warnings).toEqual(['check: "every.seconds" is deprecated and will be removed in the next version; use "every.intervalSecs" instead.']);
    });

    it('the new names need no warning; both names at once are refused with the old one named', () => {
        const config = defineMaintainerConfig({
            store: 'memory',
            recipes: [{ recipe, sessions: ['c'], schedule: { kind: 'interval', everyMillis: 90_000 } }],
            retry: { backoffMillis: 10 },
            leaseMillis: 2_000,
        });
        expect(config.retry.backoffMillis).toBe(10);
        expect(config.leaseMillis).toBe(2_000);
        expect(warnings).toEqual([]);
        expect(() => compileSchedule({ kind: 'interval', everyMillis: 60_000, everyMs: 60_000 } as never)).toThrow(/schedule: has unknown key "everyMs"/);
        expect(() =>
            defineMaintainerConfig({ store: 'memory', recipes: [{ recipe, sessions: ['d'], schedule: { kind: 'once' } }], leaseMillis: 2_000, leaseMs: 3_000 }),
        ).toThrow(/has unknown key "leaseMs"/);
    });
});

describe('a session header’s ttl', () => {
    it('is accepted as ttlSecs with one warning, in set and update; records stored with ttl read back as ttlSecs', async () => {
        const sessions = await Sessions.open({ store: 'memory', flushOnSignals: false });
        try {
            const before = Date.now();
            const header = await sessions.headers.set('a', { name: 'X-Tenant', value: 't', ttl: 600 });
            expect(header.ttlSecs).toBe(600);
            expect(header.expiresAt).toBeGreaterThanOrEqual(before + 600_000);
            expect(header).not.toHaveProperty('ttl');
            const updated = await sessions.headers.update('a', 'X-Tenant', { ttl: 120 });
            expect(updated.ttlSecs).toBe(120);
            expect(updated.expiresAt).toBeLessThan(header.expiresAt);
            const kept = await sessions.headers.update('a', 'X-Tenant', { value: 'u' });
            expect(kept.expiresAt).toBe(updated.expiresAt);
            expect(warnings).toEqual(['Session header: "ttl" is deprecated and will be removed in the next version; use "ttlSecs" instead.']);
        } finally {
            await sessions.close();
        }
        const now = Date.now();
        const stored = { id: 'h1', sessionId: 'a', name: 'X-Old', value: 'v', ttl: 900, expiresAt: now + 900_000, createdAt: now, updatedAt: now };
        expect(parseStoredSessionHeader(stored, 'stored header')).toMatchObject({ name: 'X-Old', ttlSecs: 900 });
    });
});

describe.skipIf(!db.available)(db.suiteName('old unit names of the MySQL store'), () => {
    const newPrefix = useTablePrefixes();
    it('connectTimeoutMs and queryTimeoutMs still open the store, with one warning each', async () => {
        const store = await openStore({ mysql: { url: db.url, tablePrefix: newPrefix(), connectTimeoutMs: 5_000, queryTimeoutMs: 20_000 } });
        try {
            await store.write([]);
            expect(await store.read('nobody')).toBeUndefined();
        } finally {
            await store.close();
        }
        expect(warnings.sort()).toEqual([
            'MySQL store options: "connectTimeoutMs" is deprecated and will be removed in the next version; use "connectTimeoutMillis" instead.',
            'MySQL store options: "queryTimeoutMs" is deprecated and will be removed in the next version; use "queryTimeoutMillis" instead.',
        ]);
    });
});

process.on('exit', () => log.setOptions(previous));
