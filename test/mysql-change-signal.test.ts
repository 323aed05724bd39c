/**
 * The change signal of a shared store: a process polls one row (the store's revision) and fetches sessions only when
 * it moved, so another process's renewal is adopted within a poll or two. Asserted on poll counts and revisions,
 * never on time.
 */
import { setTimeout as sleep } from 'node:timers/promises';

import { log } from 'crawlee';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { internalsOf } from '../src/core/internals.js';
import { Sessions } from '../src/index.js';
import { MySqlSessionStore } from '../src/stores/mysql-store.js';
import { mysqlForTests, mysqlQuery, useTablePrefixes } from './support/mysql.js';
import { startTestSite, type TestSite } from './support/site.js';

log.setLevel(log.LEVELS.OFF);

const mysqlDb = await mysqlForTests();

/** Waits until `sessions` has started its `count`th poll of the store. */
async function pollsReached(sessions: Sessions, count: number): Promise<void> {
    const counters = internalsOf(sessions).syncCounters;
    while (counters.polls < count) await sleep(5);
}

describe.skipIf(!mysqlDb.available)(mysqlDb.suiteName('The change signal of a shared store'), () => {
    const newPrefix = useTablePrefixes();
    let site: TestSite;
    const login = () => ({ renewal: { url: `${site.url}/login`, form: { user: 'alice', password: 'secret' } } });

    beforeAll(async () => {
        site = await startTestSite();
    });
    afterAll(async () => {
        await site?.close();
    });

    it('MySQL: the signal is the revision of the last committed write; it moves with each write and only then', async () => {
        const tablePrefix = newPrefix();
        const store = await MySqlSessionStore.open({ url: mysqlDb.url, tablePrefix });
        try {
            const start = await store.changeSignal();
            expect(await store.changeSignal()).toBe(start);
            expect((await store.changes(undefined)).cursor).toBe(start);
            await store.write([
                {
                    id: 'a',
                    generation: 0,
                    reset: false,
                    assignment: { profileIndex: null, identity: null, auth: null },
                    upserts: [],
                    removals: [],
                    counters: { requests: 1, successes: 1, failures: 0, renewals: 0 },
                    lastUsedAt: null,
                },
            ]);
            const moved = await store.changeSignal();
            expect(BigInt(moved)).toBeGreaterThan(BigInt(start));
            const [row] = await mysqlQuery(`SELECT revision FROM \`${tablePrefix}_sessions\` WHERE id = 'a'`);
            expect(String(row?.revision)).toBe(moved);
            expect(await store.changeSignal()).toBe(moved);
        } finally {
            await store.close();
        }
    });

    it('a renewal in one process is adopted by another within two polls; idle polls fetch no rows', async () => {
        site.reset();
        const store = { mysql: { url: mysqlDb.url, tablePrefix: newPrefix() } };
        const renewer = await Sessions.open({ store, persistence: { syncIntervalMillis: 0 }, flushOnSignals: false });
        const watcher = await Sessions.open({ store, persistence: { syncIntervalMillis: 10 }, flushOnSignals: false });
        try {
            await renewer.clear('shared', login());
            await renewer.flush();
            const counters = internalsOf(watcher).syncCounters;
            // The watcher did not know the session. The poll after this one started after the write, and it has
            // finished once the one after it starts (polls never overlap): by then the session is loaded.
            await pollsReached(watcher, counters.polls + 2);
            expect(watcher.list().find((row) => row.id === 'shared')?.generation).toBe(1);

            // Idle: the signal does not move, nothing is fetched.
            const idleFrom = { polls: counters.polls, pulls: counters.pulls };
            await pollsReached(watcher, idleFrom.polls + 10);
            expect(counters.pulls).toBe(idleFrom.pulls);

            // A renewal committed by the other process: the next poll to start sees the revision moved and adopts it.
            const oldSid = watcher.get('shared', { format: 'dict' }).sid;
            await renewer.clear('shared', login());
            const committedAt = counters.polls;
            await pollsReached(watcher, committedAt + 2);
            expect(watcher.list().find((row) => row.id === 'shared')?.generation).toBe(2);
            expect(counters.pulls).toBeGreaterThan(idleFrom.pulls);
            expect(counters.lastPullAtPoll).toBeGreaterThan(idleFrom.polls + 10);
            const adopted = watcher.get('shared', { format: 'dict' }).sid;
            expect(adopted).toBe(renewer.get('shared', { format: 'dict' }).sid);
            expect(adopted).not.toBe(oldSid);
            expect(site.logins).toBe(2);
        } finally {
            await watcher.close();
            await renewer.close();
        }
    });
});
