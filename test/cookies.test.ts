import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { Configuration, HttpCrawler, log } from 'crawlee';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { mergeCookieHeaders, parseCookieHeader } from '../src/shared/cookies.js';
import { Sessions, withSessions } from '../src/index.js';

log.setLevel(log.LEVELS.OFF);

let server: http.Server;
let base: string;
const received: string[] = [];

beforeAll(async () => {
    server = http.createServer((req, res) => {
        received.push(req.headers.cookie ?? '');
        res.setHeader('set-cookie', ['jwt=eyJhbGciOi.J9==.sig=; Path=/', 'scoped=1; Path=/private']);
        res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => {
    server.closeAllConnections();
    server.close();
});

describe('cookie values and rules', () => {
    it('keeps values containing "=" intact when parsing and merging Cookie headers', () => {
        expect(parseCookieHeader('a=b=c; token=x==; flag')).toEqual([['a', 'b=c'], ['token', 'x=='], ['', 'flag']]);
        expect(mergeCookieHeaders('a=1; b=q=r', 'a=2')).toBe('b=q=r; a=2');
    });

    it('round-trips "=" in values through a crawl and applies path rules', async () => {
        const sessions = await Sessions.open({ store: 'memory' });
        sessions.addCookies('eq', ['pre=a=b; Path=/'], base);
        const crawler = new HttpCrawler(
            withSessions(sessions, { async requestHandler() {} }),
            new Configuration({ persistStorage: false, purgeOnStart: true }),
        );
        await crawler.run([
            { url: `${base}/first`, userData: { sessionId: 'eq' } },
            { url: `${base}/private/page`, userData: { sessionId: 'eq' } },
        ]);
        expect(received[0]).toBe('pre=a=b');
        expect(sessions.get('eq', { format: 'dict' })).toMatchObject({ pre: 'a=b', jwt: 'eyJhbGciOi.J9==.sig=' });
        // "scoped" has Path=/private: only sent there.
        expect(sessions.get('eq', { format: 'header', url: `${base}/first` })).not.toContain('scoped');
        expect(sessions.get('eq', { format: 'header', url: `${base}/private/x` })).toContain('scoped=1');
        await sessions.close();
    });

    it('sends same-named cookies of different paths all, most specific first, as a browser does', async () => {
        const sessions = await Sessions.open({ store: 'memory' });
        sessions.addCookies('paths', ['pref=root; Path=/', 'pref=deep; Path=/private'], base);
        received.length = 0;
        const crawler = new HttpCrawler(
            withSessions(sessions, { async requestHandler() {} }),
            new Configuration({ persistStorage: false, purgeOnStart: true }),
        );
        await crawler.run([{ url: `${base}/private/page`, userData: { sessionId: 'paths' } }]);
        expect(parseCookieHeader(received[0]).filter(([name]) => name === 'pref')).toEqual([
            ['pref', 'deep'],
            ['pref', 'root'],
        ]);
        await sessions.close();
    });
});
