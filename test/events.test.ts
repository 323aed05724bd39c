/**
 * `sessions.on(event, listener)`: renewals, failed renewals, token rotations and store outages are reported with typed
 * payloads that carry no secret, and a listener that throws does not disturb anything.
 */
import http from 'node:http';

import { log } from 'crawlee';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Sessions, type SessionEventMap } from '../src/index.js';
import { listenOnLoopback, type LoopbackListener } from './support/loopback.js';
import { mysqlForTests, startTcpRelay, useTablePrefixes } from './support/mysql.js';

log.setLevel(log.LEVELS.OFF);

const PASSWORD = 'events-Pass-9';
let server: LoopbackListener;
let rotation = 0;

beforeAll(async () => {
    server = await listenOnLoopback(
        http.createServer((req, res) => {
            const url = new URL(req.url ?? '/', 'http://site.invalid');
            if (url.pathname === '/login') {
                const ok = url.searchParams.get('password') === PASSWORD;
                res.writeHead(ok ? 200 : 401, ok ? { 'set-cookie': 'PHPSESSID=first-value; Path=/' } : {});
                return void res.end(ok ? 'welcome' : 'refused');
            }
            if (url.pathname === '/rotate') {
                res.writeHead(200, { 'set-cookie': `PHPSESSID=rotated-${++rotation}; Path=/` });
                return void res.end('rotated');
            }
            res.writeHead(404).end();
        }),
    );
});
afterAll(async () => {
    await server?.close();
});

function collect<E extends keyof SessionEventMap>(sessions: Sessions, event: E): Array<SessionEventMap[E]> {
    const seen: Array<SessionEventMap[E]> = [];
    sessions.on(event, (payload) => seen.push(payload));
    return seen;
}

describe('session events', () => {
    it('reports renewals, failed renewals and token rotations, without secrets; a throwing listener changes nothing', async () => {
        const sessions = await Sessions.open({ store: 'memory' });
        try {
            const renewed = collect(sessions, 'renewed');
            const failed = collect(sessions, 'renewalFailed');
            const rotated = collect(sessions, 'tokenRotated');
            sessions.on('renewed', () => {
                throw new Error('a listener that throws');
            });

            await sessions.clear('alice', { renewal: { url: `${server.url}/login?password=${PASSWORD}` } });
            expect(renewed).toEqual([{ sessionId: 'alice', generation: 1, attempts: 1, durationMillis: expect.any(Number) }]);
            expect(sessions.list()[0]).toMatchObject({ id: 'alice', status: 'ready', renewals: 1 });

            const refused = await sessions.clear('bob', { renewal: { url: `${server.url}/login?password=wrong-${PASSWORD}` } }).catch((e: unknown) => e);
            expect(refused).toBeInstanceOf(Error);
            expect(failed).toHaveLength(1);
            expect(failed[0]).toMatchObject({ sessionId: 'bob', attempts: 1 });
            expect(failed[0]!.error).toMatch(/answered 401/);
            expect(JSON.stringify(failed)).not.toContain(PASSWORD);

            // The site rotates alice's PHPSESSID: one event, fingerprints only.
            await sessions.clear('alice', {
                renewal: async ({ http: client }) => {
                    await client.request({ url: `${server.url}/login?password=${PASSWORD}` });
                    await client.request({ url: `${server.url}/rotate` });
                },
            });
            expect(rotated).toHaveLength(1);
            expect(rotated[0]).toMatchObject({ sessionId: 'alice', token: 'PHPSESSID', rotations: 1 });
            expect(JSON.stringify(rotated)).not.toContain('first-value');
            expect(JSON.stringify(rotated)).not.toContain('rotated-');
        } finally {
            await sessions.close();
        }
    });
});

const mysqlDb = await mysqlForTests();

describe.skipIf(!mysqlDb.available)(mysqlDb.suiteName('store outage events'), () => {
    const newPrefix = useTablePrefixes();

    it('reports the start and the end of a store outage once each', async () => {
        const target = new URL(mysqlDb.url);
        const relay = await startTcpRelay(target.hostname, Number(target.port || 3306));
        const viaRelay = new URL(mysqlDb.url);
        viaRelay.host = `127.0.0.1:${relay.port}`;
        const sessions = await Sessions.open({
            store: { mysql: { url: viaRelay.href, tablePrefix: newPrefix(), connectTimeoutMillis: 1000, queryTimeoutMillis: 1000 } },
            persistence: { flushIntervalMillis: 60_000, syncIntervalMillis: 0 },
            flushOnSignals: false,
        });
        try {
            const outages = collect(sessions, 'storeOutage');
            const recoveries = collect(sessions, 'storeRecovered');
            sessions.addCookies('alice', ['a=1; Path=/'], server.url);
            await sessions.flush();
            relay.cut();
            sessions.addCookies('alice', ['b=2; Path=/'], server.url);
            await expect(sessions.flush()).rejects.toThrow();
            sessions.addCookies('alice', ['c=3; Path=/'], server.url);
            await expect(sessions.flush()).rejects.toThrow();
            expect(outages).toHaveLength(1);
            expect(outages[0]).toMatchObject({ pendingSessions: 1 });
            expect(outages[0]!.store).toContain(`127.0.0.1:${relay.port}`);
            expect(recoveries).toEqual([]);
            relay.restore();
            await sessions.flush();
            expect(recoveries).toHaveLength(1);
            expect(recoveries[0]).toMatchObject({ written: 1, outageMillis: expect.any(Number) });
        } finally {
            relay.restore();
            await sessions.close();
            await relay.close();
        }
    });
});
