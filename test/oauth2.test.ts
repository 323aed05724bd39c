/**
 * OAuth2 recipes against a loopback token endpoint: client credentials renewed ahead of `expires_in` with nothing
 * answered logged out and no token sent to another origin; the password grant with rotated refresh tokens used
 * first, a refused refresh falling back to the grant; refusals as LoginErrors with the RFC 6749 code and no secret.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { log, Configuration, HttpCrawler, type RequestOptions } from 'crawlee';
import { afterEach, describe, expect, it } from 'vitest';

import { OAUTH2_REFRESH_COLLECTION } from '../src/acquisition/oauth2.js';
import { acquire, defineLogin, loginRenewal, LoginError, Sessions, SessionRenewalError, withSessions } from '../src/index.js';
import { listenOnLoopback } from './support/loopback.js';
import { startOAuth2Site, type OAuth2Site } from './support/oauth2-site.js';

log.setLevel(log.LEVELS.OFF);

const SECRET = 'client-secret-Qx81';
const opened: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
    for (const each of opened.splice(0).reverse()) await each.close();
});

async function site(options: Parameters<typeof startOAuth2Site>[0] = {}): Promise<OAuth2Site> {
    const started = await startOAuth2Site(options);
    opened.push(started);
    return started;
}

/** Another origin that records the Authorization headers it receives. */
async function otherOrigin(): Promise<{ url: string; authorizations: string[] }> {
    const authorizations: string[] = [];
    const server = http.createServer((request, response) => {
        if (request.headers.authorization) authorizations.push(request.headers.authorization);
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"state":"public"}');
    });
    const listener = await listenOnLoopback(server, '127.0.0.2');
    opened.push(listener);
    return { url: listener.url, authorizations };
}

describe('OAuth2 recipes', () => {
    it('client credentials: the token is renewed ahead of expires_in, nothing is answered logged out, no token leaves its origin', async () => {
        const oauth = await site({ expiresInSecs: 2 });
        const other = await otherOrigin();
        const recipe = defineLogin({
            name: 'api-cc',
            oauth2: { tokenUrl: `${oauth.url}/token`, grant: 'client_credentials', clientId: 'crawler-client', clientSecret: SECRET, scope: 'read' },
        });
        const sessions = await Sessions.open({ store: 'memory', flushOnSignals: false, login: loginRenewal(recipe) });
        opened.push(sessions);
        await sessions.renew('api');
        expect(sessions.expiresAt('api')).toBeGreaterThan(Date.now());
        expect(sessions.list()[0]!.expiresAt).toBe(sessions.expiresAt('api'));

        const deadline = Date.now() + 5000;
        let serial = 0;
        const next = (): RequestOptions[] => [
            { url: `${oauth.url}/api/${serial}`, userData: { sessionId: 'api' } },
            { url: `${other.url}/public/${serial++}`, userData: { sessionId: 'api' } },
        ];
        let handled = 0;
        const crawler = new HttpCrawler(
            withSessions(sessions, {
                maxConcurrency: 5,
                maxRequestRetries: 0,
                async requestHandler({ crawler: self, request }) {
                    handled++;
                    if (request.url.startsWith(oauth.url) && Date.now() < deadline) await self.addRequests(next());
                },
            }),
            new Configuration({ persistStorage: false, purgeOnStart: true }),
        );
        const stats = await crawler.run([...next(), ...next()]);
        expect(handled).toBeGreaterThan(20);
        expect(stats.requestsFailed).toBe(0);
        expect(oauth.apiLoggedOut).toBe(0);
        expect(oauth.grants.client_credentials).toBeGreaterThanOrEqual(3); // the first, and renewals ahead of a 2 s token
        expect(other.authorizations).toEqual([]);
        expect(sessions.stats().renewalsAhead).toBeGreaterThan(0);
    }, 60_000);

    it('password grant: the rotated refresh token is stored and used first; a refused refresh falls back to the grant', async () => {
        const oauth = await site();
        const recipe = defineLogin({
            name: 'api-pw',
            accounts: { a: { user: 'alice', password: 'alice-Pass-77' } },
            oauth2: { tokenUrl: `${oauth.url}/token`, grant: 'password', clientId: 'crawler-client', clientSecret: { env: 'OAUTH2_TEST_SECRET' } },
        });
        process.env.OAUTH2_TEST_SECRET = SECRET;
        const sessions = await Sessions.open({ store: 'memory', flushOnSignals: false, login: loginRenewal(recipe) });
        opened.push(sessions);
        await sessions.renew('a');
        expect(oauth.grants).toEqual({ password: 1 });
        const first = await sessions.store.getEntry<{ refreshToken: string }>(OAUTH2_REFRESH_COLLECTION, 'api-pw:a');
        expect(first?.value.refreshToken).toMatch(/^[0-9a-f]+$/);

        await sessions.renew('a');
        await sessions.renew('a'); // works only with the token rotated by the previous refresh
        expect(oauth.grants).toEqual({ password: 1, refresh_token: 2 });
        const rotated = await sessions.store.getEntry<{ refreshToken: string }>(OAUTH2_REFRESH_COLLECTION, 'api-pw:a');
        expect(rotated?.value.refreshToken).not.toBe(first?.value.refreshToken);

        oauth.revokeRefreshTokens();
        await sessions.renew('a');
        expect(oauth.refused.invalid_grant).toBe(1);
        expect(oauth.grants).toEqual({ password: 2, refresh_token: 2 });
        // The request body of every grant carried the client's secret, never the token endpoint's answers back.
        expect(oauth.bodies.every((body) => body.includes('client_id=crawler-client'))).toBe(true);
    });

    it('the refresh_token grant: a given refresh token works once; a dead one and a wrong client fail clearly, without secrets', async () => {
        const oauth = await site();
        const given = oauth.issueRefreshToken();
        const recipe = defineLogin({
            name: 'api-rt',
            credentials: { refreshToken: given },
            oauth2: { tokenUrl: `${oauth.url}/token`, grant: 'refresh_token', clientId: 'crawler-client', clientSecret: SECRET },
        });
        const acquired = await acquire(recipe);
        expect(acquired.auth.headers.Authorization).toMatch(/^Bearer [0-9a-f]+$/);
        expect(acquired.auth.expiresAt).toBeGreaterThan(Date.now());
        expect(acquired.auth.origins).toEqual([oauth.url]);

        // No store: the rotated token is not kept, and the given one is dead now.
        const dead = await acquire(recipe).catch((error: unknown) => error);
        expect(dead).toBeInstanceOf(LoginError);
        expect((dead as LoginError).message).toContain('invalid_grant');
        expect((dead as LoginError).refused).toBe(true);
        expect((dead as LoginError).message).not.toContain(given);

        const wrong = defineLogin({
            name: 'api-wrong',
            oauth2: { tokenUrl: `${oauth.url}/token`, grant: 'client_credentials', clientId: 'crawler-client', clientSecret: 'not-the-secret-9' },
        });
        const sessions = await Sessions.open({ store: 'memory', flushOnSignals: false, login: loginRenewal(wrong) });
        opened.push(sessions);
        const failure = await sessions.renew('x').catch((error: unknown) => error);
        expect(failure).toBeInstanceOf(SessionRenewalError);
        const message = String((failure as Error).message);
        expect(message).toContain('401 invalid_client');
        expect(message).not.toContain('not-the-secret-9');
        expect(message).not.toContain('refused:'); // the server's error_description quotes the request: never repeated
        expect(oauth.refused.invalid_client).toBe(1); // a refusal is not retried
    });

    it('refuses bad oauth2 settings, naming the field', () => {
        expect(() => defineLogin({ name: 'x', oauth2: { tokenUrl: 'ftp://x/token', grant: 'client_credentials', clientId: 'c' } })).toThrow(/oauth2\.tokenUrl/);
        expect(() => defineLogin({ name: 'x', oauth2: { tokenUrl: 'http://x/token', grant: 'implicit' as never, clientId: 'c' } })).toThrow(/oauth2\.grant/);
        expect(() =>
            defineLogin({ name: 'x', oauth2: { tokenUrl: 'http://x/token', grant: 'client_credentials', clientId: 'c' }, steps: [{ url: 'http://x/' }] }),
        ).toThrow(/oauth2: cannot be combined with steps/);
        expect(() => defineLogin({ name: 'x', oauth2: { tokenUrl: 'http://x/token', grant: 'password', clientId: 'c', clientSecret: '' } })).toThrow(
            /oauth2\.clientSecret/,
        );
    });

    it('with a secret, the stored refresh and access tokens are sealed at rest (embedded store)', async () => {
        const oauth = await site();
        const dir = await mkdtemp(join(tmpdir(), 'crawlee-sessions-oauth2-'));
        opened.push({ close: () => rm(dir, { recursive: true, force: true }) });
        const recipe = defineLogin({
            name: 'api-sealed',
            credentials: { user: 'alice', password: 'alice-Pass-77' },
            oauth2: { tokenUrl: `${oauth.url}/token`, grant: 'password', clientId: 'crawler-client', clientSecret: SECRET },
        });
        const config = new Configuration({ persistStorage: true, storageClientOptions: { localDataDirectory: dir } });
        const sessions = await Sessions.open({ store: { embedded: { config } }, secret: 'oauth2-test-secret-4711', login: loginRenewal(recipe), flushOnSignals: false });
        await sessions.renew('a');
        await sessions.renew('a'); // the refresh grant: a rotated refresh token stored
        expect(oauth.grants).toEqual({ password: 1, refresh_token: 1 });
        await sessions.close();
        const files: string[] = [];
        const walk = async (folder: string) => {
            for (const entry of await readdir(folder, { withFileTypes: true })) {
                if (entry.isDirectory()) await walk(join(folder, entry.name));
                else files.push(await readFile(join(folder, entry.name), 'utf8'));
            }
        };
        await walk(dir);
        expect(files.join('\n')).toContain('oauth2-refresh-tokens'); // the entry is there…
        for (const token of oauth.issued) expect(files.join('\n')).not.toContain(token); // …sealed, as the session's auth
        expect(files.join('\n')).not.toContain(SECRET);
    });
});
