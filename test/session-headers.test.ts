import { log } from 'crawlee';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { Sessions } from '../src/index.js';
import { HeaderPipeline } from '../src/headers/pipeline.js';
import { describeSessionHeader } from '../src/headers/redact.js';
import { SESSION_HEADERS_COLLECTION, SessionHeaders, entryKey } from '../src/headers/session-headers.js';
import type { RequestHeaders } from '../src/headers/strategies.js';
import { MemorySessionStore } from '../src/stores/memory-store.js';
import { MySqlSessionStore } from '../src/stores/mysql-store.js';
import { ConfigValidationError } from '../src/shared/validation.js';
import { mysqlForTests, mysqlQuery, useTablePrefixes } from './support/mysql.js';

log.setLevel(log.LEVELS.OFF);

afterEach(() => {
    vi.useRealTimers();
});

const noTimers = { refreshIntervalMillis: 0, cleanupIntervalMillis: 0 };

function apply(pipeline: HeaderPipeline, headers: RequestHeaders, sessionId: string, url = 'https://example.com/') {
    const copy = { ...headers };
    pipeline.apply(copy, { url: new URL(url), method: 'GET', sessionId });
    return copy;
}

describe('sessions.setHeader and friends', () => {
    it('sets, batch-sets, gets, updates (same id, updatedAt bumped), removes and clears', async () => {
        const sessions = await Sessions.open({ store: 'memory' });
        try {
            const first = await sessions.headers.set('alice', { name: 'X-Tenant', value: 'a', ttlSecs: 600 });
            expect(first).toMatchObject({ sessionId: 'alice', name: 'X-Tenant', value: 'a', ttlSecs: 600, strategy: 'UPSERT', priority: 50, active: true });
            expect(first.expiresAt - first.createdAt).toBe(600_000);

            await new Promise((resolve) => setTimeout(resolve, 5));
            const again = await sessions.headers.set('alice', { name: 'x-tenant', value: 'b', ttlSecs: 120 });
            expect(again.id).toBe(first.id);
            expect(again.createdAt).toBe(first.createdAt);
            expect(again.updatedAt).toBeGreaterThan(first.updatedAt);
            expect(again.expiresAt).toBe(again.updatedAt + 120_000);

            const patched = await sessions.headers.update('alice', 'X-TENANT', { priority: 90 });
            expect(patched).toMatchObject({ id: first.id, value: 'b', priority: 90, expiresAt: again.expiresAt });
            expect(patched.updatedAt).toBeGreaterThan(again.updatedAt);

            const batch = await sessions.headers.setMany('alice', [
                { name: 'X-One', value: '1' },
                { name: 'X-Two', value: '2', active: false },
            ]);
            expect(batch).toHaveLength(2);
            expect((await sessions.headers.get('alice')).map((header) => header.name)).toEqual(['X-One', 'x-tenant']);
            expect((await sessions.headers.get('alice', { all: true })).map((header) => header.name).sort()).toEqual(['X-One', 'X-Two', 'x-tenant']);
            expect(await sessions.headers.get('bob')).toEqual([]);

            expect(await sessions.headers.remove('alice', 'x-one')).toBe(true);
            expect(await sessions.headers.remove('alice', 'x-one')).toBe(false);
            expect(await sessions.headers.clear('alice')).toBe(2);
            expect(await sessions.headers.get('alice', { all: true })).toEqual([]);
            expect(await sessions.store.listEntries(SESSION_HEADERS_COLLECTION)).toEqual([]);
        } finally {
            await sessions.close();
        }
    });

    it('validates: TTL 60–86400 s, header names, injection refused naming the field, all-or-nothing batches', async () => {
        const sessions = await Sessions.open({ store: 'memory' });
        try {
            const refused = async (promise: Promise<unknown>) => {
                const error = await promise.then(() => undefined, (caught: unknown) => caught);
                expect(error).toBeInstanceOf(ConfigValidationError);
                return (error as Error).message;
            };
            expect(await refused(sessions.headers.set('a', { name: 'X-A', value: '1', ttlSecs: 59 }))).toContain('sessionHeader.ttlSecs: must be at least 60');
            expect(await refused(sessions.headers.set('a', { name: 'X-A', value: '1', ttlSecs: 86_401 }))).toContain('sessionHeader.ttlSecs: must be at most 86400');
            const injection = await refused(sessions.headers.set('a', { name: 'Authorization', value: 'Bearer s3cr3t\r\nX-Evil: 1' }));
            expect(injection).toContain('sessionHeader.value: must not contain CR, LF, NUL');
            expect(injection).not.toContain('s3cr3t');
            expect(await refused(sessions.headers.set('a', { name: 'Bad Name', value: '1' }))).toContain('sessionHeader.name');
            expect(await refused(sessions.headers.set('a', { name: 'Cookie', value: 'a=1' }))).toContain('sessions.addCookies()');
            expect(await refused(sessions.headers.set('a', { name: 'X-A', value: '1', priority: 101 }))).toContain('sessionHeader.priority');
            expect(await refused(sessions.headers.set('a', { name: 'X-A', value: '1', scope: { urlRegex: '(' } }))).toContain(
                'sessionHeader.scope.urlRegex: is not a valid regular expression',
            );
            const batch = await refused(sessions.headers.setMany('a', [{ name: 'X-Ok', value: '1' }, { name: 'X-Bad', value: 'x\ny' }]));
            expect(batch).toContain('sessionHeaders[1].value');
            expect(await sessions.headers.get('a', { all: true })).toEqual([]);
        } finally {
            await sessions.close();
        }
    });
});

describe('SessionHeaders', () => {
    it('never applies an expired header, and the cleanup deletes it from memory and the store', async () => {
        vi.useFakeTimers();
        const store = new MemorySessionStore();
        const pipeline = new HeaderPipeline(store, { refreshIntervalMillis: 0, cleanupIntervalMillis: 45_000 });
        await pipeline.ready();
        await pipeline.sessionHeaders.set('s', { name: 'X-Short', value: 'short', ttlSecs: 60 });
        await pipeline.sessionHeaders.set('s', { name: 'X-Long', value: 'long', ttlSecs: 600 });
        expect(apply(pipeline, {}, 's')).toEqual({ 'x-short': 'short', 'x-long': 'long' });

        await vi.advanceTimersByTimeAsync(59_999);
        expect(apply(pipeline, {}, 's')).toEqual({ 'x-short': 'short', 'x-long': 'long' });
        await vi.advanceTimersByTimeAsync(1);
        // Expired: no longer applied nor returned, even before the cleanup ran.
        expect(apply(pipeline, {}, 's')).toEqual({ 'x-long': 'long' });
        expect((await pipeline.sessionHeaders.get('s')).map((header) => header.name)).toEqual(['X-Long']);
        expect((await pipeline.sessionHeaders.get('s', { all: true })).map((header) => header.name).sort()).toEqual(['X-Long', 'X-Short']);
        expect(await store.getEntry(SESSION_HEADERS_COLLECTION, entryKey('s', 'X-Short'))).toBeDefined();

        await vi.advanceTimersByTimeAsync(30_000); // the cleanup tick at 90 s
        expect((await pipeline.sessionHeaders.get('s', { all: true })).map((header) => header.name)).toEqual(['X-Long']);
        expect(await store.getEntry(SESSION_HEADERS_COLLECTION, entryKey('s', 'X-Short'))).toBeUndefined();
        expect((await store.listEntries(SESSION_HEADERS_COLLECTION)).length).toBe(1);

        await vi.advanceTimersByTimeAsync(600_000);
        expect(await store.listEntries(SESSION_HEADERS_COLLECTION)).toEqual([]);
        expect(pipeline.sessionHeaders.has('s')).toBe(false);
        pipeline.close();
        expect(vi.getTimerCount()).toBe(0);
    });

    it('cleans up expired headers another process left in the store', async () => {
        vi.useFakeTimers();
        const store = new MemorySessionStore();
        const other = new SessionHeaders(store, noTimers);
        await other.set('x', { name: 'X-Left', value: '1', ttlSecs: 60 });
        const mine = new SessionHeaders(store, noTimers);
        vi.advanceTimersByTime(61_000);
        expect(await mine.cleanup()).toBe(1);
        expect(await store.listEntries(SESSION_HEADERS_COLLECTION)).toEqual([]);
    });

    it('stops its timers once its owner is closed', async () => {
        vi.useFakeTimers();
        let closed = false;
        const headers = new SessionHeaders(new MemorySessionStore(), { refreshIntervalMillis: 1000, cleanupIntervalMillis: 1000, isClosed: () => closed });
        await headers.ready();
        expect(vi.getTimerCount()).toBe(2);
        closed = true;
        await vi.advanceTimersByTimeAsync(1000);
        expect(vi.getTimerCount()).toBe(0);
    });

    it('override the persistent rules of the same header name, for their session only', async () => {
        const pipeline = new HeaderPipeline(new MemorySessionStore(), noTimers);
        await pipeline.ready();
        await pipeline.rules.add({ name: 'tags', header: 'X-Tags', value: 'rule', strategy: 'APPEND' });
        await pipeline.rules.add({ name: 'key', header: 'X-Key', value: 'shared', priority: 100 });
        await pipeline.sessionHeaders.set('alice', { name: 'x-tags', value: 'alice', strategy: 'APPEND', priority: 0 });
        await pipeline.sessionHeaders.set('alice', { name: 'X-Key', value: 'alice-key', strategy: 'REPLACE', priority: 0 });

        // alice: the rules on X-Tags and X-Key are skipped, her session headers apply to the request's own values.
        expect(apply(pipeline, { 'x-tags': 'orig' }, 'alice')).toEqual({ 'x-tags': 'orig, alice', 'x-key': undefined });
        expect(apply(pipeline, { 'x-tags': 'orig', 'x-key': 'mine' }, 'alice')).toEqual({ 'x-tags': 'orig, alice', 'x-key': 'alice-key' });
        // bob has no session headers: the rules apply.
        expect(apply(pipeline, { 'x-tags': 'orig' }, 'bob')).toEqual({ 'x-tags': 'orig, rule', 'x-key': 'shared' });

        // An inactive or expired session header does not override anything.
        await pipeline.sessionHeaders.update('alice', 'X-Tags', { active: false });
        expect(apply(pipeline, { 'x-tags': 'orig' }, 'alice')['x-tags']).toBe('orig, rule');
    });

    it('applies session headers in priority order, within their scope', async () => {
        const pipeline = new HeaderPipeline(new MemorySessionStore(), noTimers);
        await pipeline.sessionHeaders.setMany('s', [
            { name: 'X-Api', value: 'api-only', scope: { host: 'api.example.com' } },
            { name: 'X-Path', value: 'v2', scope: { urlGlob: 'https://*/v2/**' } },
            { name: 'X-Both', value: 'both', scope: { host: 'api.example.com', urlRegex: '/v2/' } },
        ]);
        expect(Object.keys(apply(pipeline, {}, 's', 'https://api.example.com/v1/x')).sort()).toEqual(['x-api']);
        expect(Object.keys(apply(pipeline, {}, 's', 'https://api.example.com/v2/x')).sort()).toEqual(['x-api', 'x-both', 'x-path']);
        expect(Object.keys(apply(pipeline, {}, 's', 'https://www.example.com/v2/x')).sort()).toEqual(['x-path']);
    });

    it('undoes a hop\'s changes before the next hop, so APPEND is never applied twice', async () => {
        const pipeline = new HeaderPipeline(new MemorySessionStore(), noTimers);
        await pipeline.rules.add({ name: 'tags', header: 'X-Tags', value: 'r', strategy: 'APPEND', match: { host: 'a.example' } });
        await pipeline.sessionHeaders.set('s', { name: 'X-Only-B', value: 'b', scope: { host: 'b.example' } });
        const headers: RequestHeaders = { 'x-tags': 'orig' };
        const hop = (url: string, previous?: ReturnType<HeaderPipeline['apply']>) =>
            pipeline.apply(headers, { url: new URL(url), method: 'GET', sessionId: 's' }, previous);
        let applied = hop('https://a.example/1');
        expect(headers).toEqual({ 'x-tags': 'orig, r' });
        applied = hop('https://a.example/2', applied);
        expect(headers).toEqual({ 'x-tags': 'orig, r' });
        applied = hop('https://b.example/3', applied);
        expect(headers).toEqual({ 'x-tags': 'orig', 'x-only-b': 'b' });
        hop('https://c.example/4', applied);
        expect(headers).toEqual({ 'x-tags': 'orig' });
    });

    it('shares headers through the store: another instance loads them, secrets are marked for sealing', async () => {
        const flags = new Map<string, boolean>();
        const store = new (class extends MemorySessionStore {
            override async putEntry(collection: string, key: string, value: unknown, options?: { secret?: boolean }) {
                flags.set(key, options?.secret === true);
                await super.putEntry(collection, key, value);
            }
        })();
        const a = new SessionHeaders(store, noTimers);
        const auth = await a.set('s', { name: 'Authorization', value: 'Bearer xyz' });
        await a.set('s', { name: 'X-Plain', value: 'p' });
        await a.set('s', { name: 'X-Marked', value: 'm', secret: true });
        expect(flags.get(entryKey('s', 'authorization'))).toBe(true);
        expect(flags.get(entryKey('s', 'x-plain'))).toBe(true); // every session header is stored as a secret, whatever its name
        expect(flags.get(entryKey('s', 'x-marked'))).toBe(true);

        const b = new SessionHeaders(store, noTimers);
        const loaded = await b.get('s');
        expect(loaded.find((header) => header.name === 'Authorization')).toEqual(auth);
        expect(describeSessionHeader(auth).value).toBe('Bearer ***');
        expect(JSON.stringify(b.describeAll())).not.toContain('xyz');
        expect(JSON.stringify(b.describeAll())).not.toContain('"m"');
    });
});

const mysqlDb = await mysqlForTests();

describe.skipIf(!mysqlDb.available)(mysqlDb.suiteName('session headers in MySQL'), () => {
    const newPrefix = useTablePrefixes();

    it('expires and cleans up headers in MySQL, seen by a second store instance', async () => {
        // Only Date is faked: the MySQL driver keeps its own real timers.
        vi.useFakeTimers({ toFake: ['Date'] });
        vi.setSystemTime(1_800_000_000_000);
        const tablePrefix = newPrefix();
        const secret = 'session-headers-test-secret';
        const storeA = await MySqlSessionStore.open({ url: mysqlDb.url, tablePrefix, secret });
        const storeB = await MySqlSessionStore.open({ url: mysqlDb.url, tablePrefix, secret });
        const a = new SessionHeaders(storeA, noTimers);
        const b = new SessionHeaders(storeB, noTimers);
        try {
            await a.set('s', { name: 'Authorization', value: 'Bearer mysql-secret', ttlSecs: 60 });
            await a.set('s', { name: 'X-Long', value: 'long', ttlSecs: 3600 });
            expect((await b.get('s')).map((header) => header.name)).toEqual(['Authorization', 'X-Long']);
            const rows = async () =>
                mysqlQuery(`SELECT entry_key, value FROM \`${tablePrefix}_entries\` WHERE collection = ?`, [SESSION_HEADERS_COLLECTION]);
            const stored = await rows();
            expect(stored).toHaveLength(2);
            expect(stored.map((row) => String(row.value)).join()).not.toContain('mysql-secret');

            vi.setSystemTime(1_800_000_061_000);
            expect((await b.get('s')).map((header) => header.name)).toEqual(['X-Long']);
            expect(b.applicable({ url: new URL('https://x.example/'), method: 'GET', sessionId: 's' }).map((h) => h.name)).toEqual(['x-long']);
            expect(await b.cleanup()).toBe(1);
            expect((await rows()).map((row) => String(row.entry_key))).toEqual([entryKey('s', 'X-Long')]);
            // The first instance drops it from memory at its own cleanup (and never applied it after expiry anyway).
            expect(await a.cleanup()).toBe(1);
            expect((await a.get('s', { all: true })).map((header) => header.name)).toEqual(['X-Long']);
        } finally {
            a.close();
            b.close();
            await storeA.close();
            await storeB.close();
        }
    });
});
