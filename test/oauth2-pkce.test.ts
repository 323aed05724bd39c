/**
 * OAuth2 authorization code with PKCE against a loopback authorization server: the session's own client (its
 * profile's proxy and user agent) goes through the authorization endpoint, logs in with the recipe's steps on the
 * server's login form (CSRF field and Keycloak-style absolute action taken from the page), the redirect to
 * `redirect_uri` is captured and never fetched, the code is redeemed with the S256 verifier, and a real crawler
 * crawls with the token; later logins refresh first and run the full flow only when the refresh is refused. Hostile
 * servers: another state, no code, `error=`, a redirect or a form to another origin, oversized or malformed token
 * answers; no code, verifier, token or password in any log line or error.
 */
import http from 'node:http';

import { log, Configuration, HttpCrawler, Logger, LogLevel } from 'crawlee';
import { chromium, type Browser } from 'playwright';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import {
    acquire,
    chromiumLaunchArgs,
    defineLogin,
    defineProfiles,
    findChromiumExecutable,
    loginRenewal,
    LoginError,
    Sessions,
    withSessions,
} from '../src/index.js';
import { listenOnLoopback } from './support/loopback.js';
import { startPkceSite, type PkceSite, type PkceSiteOptions } from './support/pkce-site.js';
import { startProxies, type TestProxies } from './support/proxies.js';

const lines: string[] = [];
class Capture extends Logger {
    override _log(level: LogLevel, message: string, data?: unknown, exception?: unknown) {
        lines.push(`${message} ${data === undefined ? '' : JSON.stringify(data)} ${exception === undefined ? '' : String(exception)}`);
    }
}
log.setOptions({ logger: new Capture({}), level: LogLevel.DEBUG });

const PASSWORD = 'alice-Pass-77';
const USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const opened: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
    for (const each of opened.splice(0).reverse()) await each.close();
    lines.length = 0;
});

let proxies: TestProxies;
beforeAll(async () => {
    proxies = await startProxies(1);
});
afterAll(async () => {
    await proxies.close();
});

/** A loopback server that counts what reaches it (the app behind redirect_uri, another origin). */
async function counter(host: string): Promise<{ url: string; hits: string[]; close(): Promise<void> }> {
    const hits: string[] = [];
    const server = http.createServer((request, response) => {
        hits.push(`${request.method} ${request.url}`);
        response.writeHead(200).end('ok');
    });
    const listener = await listenOnLoopback(server, host);
    const handle = { url: listener.url, hits, close: () => listener.close() };
    opened.push(handle);
    return handle;
}

async function world(options: Partial<PkceSiteOptions> = {}) {
    const app = await counter('127.0.0.5');
    const foreign = await counter('127.0.0.6');
    const redirectUri = `${app.url}/callback`;
    const idp: PkceSite = await startPkceSite({ redirectUri, foreignUrl: foreign.url, ...options });
    opened.push(idp);
    return { app, foreign, idp, redirectUri };
}

function pkceRecipe(idp: PkceSite, redirectUri: string, name = 'idp-app') {
    return defineLogin({
        name,
        accounts: { a: { user: 'alice', password: PASSWORD } },
        oauth2: {
            grant: 'authorization_code_pkce',
            authorizeUrl: `${idp.url}/authorize`,
            tokenUrl: `${idp.url}/token`,
            redirectUri,
            clientId: 'crawler-app',
            scope: 'api',
            loginPage: {
                extract: [
                    { name: 'csrf', from: { formField: 'csrf' } },
                    { name: 'action', from: { css: 'form#kc-form-login', attribute: 'action' } },
                ],
            },
        },
        steps: [{ url: '{{action}}', method: 'POST', form: { username: '{{user}}', password: '{{password}}', csrf: '{{csrf}}' } }],
    });
}

function expectNoSecrets(idp: PkceSite, ...texts: string[]) {
    const all = [...lines, ...texts].join('\n');
    for (const secret of idp.secrets) expect(all).not.toContain(secret);
    expect(all).not.toContain(PASSWORD);
}

async function failure(promise: Promise<unknown>): Promise<LoginError> {
    const error = await promise.then(
        () => undefined,
        (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(LoginError);
    return error as LoginError;
}

describe('OAuth2 authorization code with PKCE', () => {
    it('logs in through the login form on the profile proxy, crawls with the token, refreshes first, and runs the full flow only when the refresh is refused', async () => {
        const { app, foreign, idp, redirectUri } = await world();
        const sessions = await Sessions.open({
            store: 'memory',
            flushOnSignals: false,
            profiles: defineProfiles([{ proxy: proxies.urls[0], userAgent: USER_AGENT }]),
            login: loginRenewal(pkceRecipe(idp, redirectUri)),
        });
        opened.push(sessions);

        const crawl = async (from: number) => {
            let handled = 0;
            const crawler = new HttpCrawler(
                withSessions(sessions, {
                    maxConcurrency: 4,
                    maxRequestRetries: 0,
                    async requestHandler({ body }) {
                        expect(JSON.parse(String(body))).toEqual({ state: 'logged-in' });
                        handled++;
                    },
                }),
                new Configuration({ persistStorage: false, purgeOnStart: true }),
            );
            const stats = await crawler.run(Array.from({ length: 12 }, (_, i) => ({ url: `${idp.url}/api/${from + i}`, userData: { sessionId: 'a' } })));
            expect(stats.requestsFailed).toBe(0);
            return handled;
        };

        log.setLevel(LogLevel.DEBUG); // a crawler's Configuration may have lowered it
        await sessions.renew('a');
        expect(idp.counts).toMatchObject({ authorize: 2, loginPages: 1, loginPosts: 1, loginRefused: 0 });
        expect(idp.grants).toEqual({ authorization_code: 1 });
        expect(sessions.expiresAt('a')).toBeGreaterThan(Date.now());
        expect(await crawl(0)).toBe(12);
        expect(idp.counts.apiLoggedOut).toBe(0);
        // Every request of the login went through the profile's proxy with its user agent.
        const logins = idp.seen.filter((each) => !each.path.startsWith('/api/'));
        expect(logins.map((each) => each.path)).toEqual(['/authorize', '/login-actions/authenticate', '/authorize', '/token']);
        expect(new Set(logins.map((each) => each.address?.replace(/^::ffff:/, '')))).toEqual(new Set([proxies.addresses[0]]));
        expect(new Set(logins.map((each) => each.userAgent))).toEqual(new Set([USER_AGENT]));

        // The next login refreshes: no authorization request at all.
        await sessions.renew('a');
        expect(idp.grants).toEqual({ authorization_code: 1, refresh_token: 1 });
        expect(idp.counts.authorize).toBe(2);

        // A refused refresh falls back to the full flow (the renewal's fresh jar: the login form again).
        idp.revokeRefreshTokens();
        await sessions.renew('a');
        expect(idp.refused.invalid_grant).toBe(1);
        expect(idp.grants).toEqual({ authorization_code: 2, refresh_token: 1 });
        expect(idp.counts).toMatchObject({ authorize: 4, loginPosts: 2 });
        expect(await crawl(100)).toBe(12);
        expect(idp.counts.apiLoggedOut).toBe(0);

        // redirect_uri was never fetched, nothing went to another origin, no secret was logged.
        expect(app.hits).toEqual([]);
        expect(foreign.hits).toEqual([]);
        expect(idp.secrets.length).toBeGreaterThan(8); // codes, verifiers, tokens, the server's session cookies
        expect(lines.some((line) => line.includes('logged in with "idp-app"'))).toBe(true); // the log was captured
        expectNoSecrets(idp);
    }, 60_000);

    it('expires_in feeds renewal ahead: a steady crawl of 2 s tokens is never answered logged out, and renewals refresh', async () => {
        const { app, idp, redirectUri } = await world({ expiresInSecs: 2 });
        const sessions = await Sessions.open({ store: 'memory', flushOnSignals: false, login: loginRenewal(pkceRecipe(idp, redirectUri)) });
        opened.push(sessions);
        await sessions.renew('a');
        const deadline = Date.now() + 4500;
        let serial = 0;
        const crawler = new HttpCrawler(
            withSessions(sessions, {
                maxConcurrency: 4,
                maxRequestRetries: 0,
                async requestHandler({ crawler: self }) {
                    if (Date.now() < deadline) await self.addRequests([{ url: `${idp.url}/api/${serial++}`, userData: { sessionId: 'a' } }]);
                },
            }),
            new Configuration({ persistStorage: false, purgeOnStart: true }),
        );
        const stats = await crawler.run([0, 1, 2, 3].map(() => ({ url: `${idp.url}/api/${serial++}`, userData: { sessionId: 'a' } })));
        expect(stats.requestsFailed).toBe(0);
        expect(idp.counts.apiRequests).toBeGreaterThan(20);
        expect(idp.counts.apiLoggedOut).toBe(0);
        expect(sessions.stats().renewalsAhead).toBeGreaterThan(0);
        // The first login went through the authorization endpoint; the renewals ahead refreshed.
        expect(idp.grants.authorization_code).toBe(1);
        expect(idp.grants.refresh_token).toBeGreaterThanOrEqual(1);
        expect(app.hits).toEqual([]);
    }, 60_000);

    it('a server that knows the session redirects at once: no steps needed, no login page', async () => {
        const { app, idp, redirectUri } = await world({ autoApprove: true });
        const recipe = defineLogin({
            name: 'sso',
            oauth2: { grant: 'authorization_code_pkce', authorizeUrl: `${idp.url}/authorize`, tokenUrl: `${idp.url}/token`, redirectUri, clientId: 'crawler-app' },
        });
        expect(recipe.mode).toBe('http');
        const acquired = await acquire(recipe);
        expect(acquired.auth.headers.Authorization).toMatch(/^Bearer [0-9a-f]+$/);
        expect(acquired.auth.origins).toEqual([idp.url]);
        expect(idp.counts).toMatchObject({ authorize: 1, loginPages: 0 });
        expect(idp.grants).toEqual({ authorization_code: 1 });
        expect(app.hits).toEqual([]);

        // Without steps, a server that asks for a login fails the login clearly.
        const { idp: strict, redirectUri: strictUri } = await world();
        const bare = defineLogin({
            name: 'bare',
            oauth2: { grant: 'authorization_code_pkce', authorizeUrl: `${strict.url}/authorize`, tokenUrl: `${strict.url}/token`, redirectUri: strictUri, clientId: 'crawler-app' },
        });
        const error = await failure(acquire(bare));
        expect(error.message).toContain('asks for a login (200 at /authorize) and the recipe has no steps');
    });

    it('a redirect with another state, without a code, or with error= fails clearly; the code is never redeemed', async () => {
        const { app, idp, redirectUri } = await world();
        const recipe = pkceRecipe(idp, redirectUri);

        idp.misbehave = 'wrong-state';
        let error = await failure(acquire(recipe, { sessionId: 'a' }));
        expect(error.kind).toBe('rejected');
        expect(error.message).toContain('carries another state than the one sent');
        expect(error.refused).toBe(true);
        expect(idp.grants).toEqual({}); // the code was not sent to the token endpoint
        expect(idp.counts.authorize).toBe(2); // not retried

        idp.misbehave = 'no-code';
        error = await failure(acquire(recipe, { sessionId: 'a' }));
        expect(error.message).toContain('carries no code');

        idp.misbehave = 'access-denied';
        error = await failure(acquire(recipe, { sessionId: 'a' }));
        expect(error.message).toContain('the authorization server refused: access_denied');
        expect(error.message).not.toContain('The user said no');
        expect(error.refused).toBe(true);

        // temporarily_unavailable is worth retrying (logged at debug level, without secrets).
        idp.misbehave = 'unavailable';
        log.setLevel(LogLevel.DEBUG);
        const before = idp.counts.authorize;
        error = await failure(acquire(recipe, { sessionId: 'a', retry: { maxAttempts: 2, backoffMillis: 1, maxBackoffMillis: 1 } }));
        expect(error.message).toContain('temporarily_unavailable');
        expect(error.retryable).toBe(true);
        expect(idp.counts.authorize - before).toBe(4); // two attempts, each through the login form
        expect(lines.some((line) => line.includes('temporarily_unavailable') && line.includes('retrying'))).toBe(true);

        expect(idp.grants).toEqual({});
        expect(app.hits).toEqual([]);
        expectNoSecrets(idp, error.message);
    });

    it('never follows the authorization to another origin, nor posts the login form there', async () => {
        const { app, foreign, idp, redirectUri } = await world();
        const recipe = pkceRecipe(idp, redirectUri);

        idp.misbehave = 'foreign-redirect';
        let error = await failure(acquire(recipe, { sessionId: 'a' }));
        expect(error.message).toContain(`redirected to ${foreign.url}, which is neither redirect_uri nor an origin of the authorization`);

        idp.misbehave = 'foreign-form';
        error = await failure(acquire(recipe, { sessionId: 'a' }));
        expect(error.message).toContain(`would go to ${foreign.url}, which is not an origin of the authorization (not sent`);

        idp.misbehave = 'script-form';
        error = await failure(acquire(recipe, { sessionId: 'a' }));
        expect(error.kind).toBe('extraction');
        expect(error.message).toContain('the URL is not an absolute http: or https: URL once filled in');
        expect(error.message).not.toContain('javascript:');

        expect(foreign.hits).toEqual([]); // neither the code nor the password reached it
        expect(app.hits).toEqual([]);
        expect(idp.grants).toEqual({});
        expectNoSecrets(idp, error.message);

        // Listed in authorizeOrigins, the other origin is followed (a federated login): here it answers a page.
        const federated = defineLogin({
            name: 'federated',
            accounts: { a: { user: 'alice', password: PASSWORD } },
            oauth2: { ...pkceRecipe(idp, redirectUri).oauth2!, authorizeOrigins: [foreign.url], loginPage: { extract: [] } },
            steps: [{ url: `${foreign.url}/login`, method: 'POST', form: { username: '{{user}}' } }],
        } as never);
        idp.misbehave = 'foreign-redirect';
        error = await failure(acquire(federated, { sessionId: 'a' }));
        expect(foreign.hits.length).toBeGreaterThan(0);
        expect(error.message).toContain('did not redirect to redirect_uri');
    });

    it('a login form that answers a page of its own: the authorization request is sent again, and the cookie lets it through', async () => {
        const { app, idp, redirectUri } = await world({ loginAnswersPage: true });
        const acquired = await acquire(pkceRecipe(idp, redirectUri), { sessionId: 'a' });
        expect(acquired.auth.headers.Authorization).toMatch(/^Bearer /);
        expect(idp.counts).toMatchObject({ authorize: 2, loginPages: 1, loginPosts: 1 });
        expect(idp.seen.map((each) => each.path)).toEqual(['/authorize', '/login-actions/authenticate', '/authorize', '/token']);
        expect(acquired.cookies.map((cookie) => cookie.key)).toEqual(['idp_sid']);
        expect(app.hits).toEqual([]);
    });

    it('refuses oversized and malformed token answers', async () => {
        const { idp, redirectUri } = await world({ autoApprove: true });
        const recipe = defineLogin({
            name: 'sso',
            oauth2: { grant: 'authorization_code_pkce', authorizeUrl: `${idp.url}/authorize`, tokenUrl: `${idp.url}/token`, redirectUri, clientId: 'crawler-app' },
        });
        idp.misbehave = 'oversized-token';
        let error = await failure(acquire(recipe));
        expect(error.message).toContain('without a JSON object (authorization_code grant)');
        idp.misbehave = 'malformed-token';
        error = await failure(acquire(recipe));
        expect(error.message).toContain('without a JSON object (authorization_code grant)');
        // An answer that does not end is abandoned at 1 MiB, not read into memory.
        idp.misbehave = 'endless-token';
        error = await failure(acquire(recipe));
        expect(error.message).toContain('the token request (authorization_code) failed: the answer is larger than 1048576 bytes');
        expect(error.refused).toBe(true);
    });

    it('abandons a login page that does not end', async () => {
        const { idp, redirectUri } = await world();
        idp.misbehave = 'endless-page';
        const error = await failure(acquire(pkceRecipe(idp, redirectUri), { sessionId: 'a' }));
        expect(error.message).toContain('the authorization request failed: the answer is larger than 5242880 bytes');
        expect(idp.counts.loginPosts).toBe(0);
    });

    it('an unknown client is answered by the authorization server, not redirected back: a clear failure', async () => {
        const { app, idp, redirectUri } = await world({ clientId: 'another-client' });
        const error = await failure(acquire(pkceRecipe(idp, redirectUri), { sessionId: 'a' }));
        expect(error.message).toContain('the authorization request answered 400 at /authorize (is the client or its redirect_uri registered?)');
        expect(error.refused).toBe(true);
        expect(idp.counts.loginPages).toBe(0);
        expect(app.hits).toEqual([]);
    });

    it('a wrong password fails the login at the authorization server', async () => {
        const { idp, redirectUri } = await world({ users: { alice: 'another-password-1' } });
        const error = await failure(acquire(pkceRecipe(idp, redirectUri), { sessionId: 'a' }));
        expect(error.message).toContain('did not redirect to redirect_uri after the login (200 at /authorize)');
        expect(idp.counts.loginRefused).toBe(1);
        expectNoSecrets(idp, error.message);
    });

    describe('in a browser (a login function on the authorization server\'s pages)', () => {
        let browser: Browser;
        beforeAll(async () => {
            browser = await chromium.launch({ executablePath: findChromiumExecutable().path, args: [...chromiumLaunchArgs] });
        });
        afterAll(async () => {
            await browser?.close();
        });

        const browserRecipe = (idp: PkceSite, redirectUri: string) =>
            defineLogin({
                name: 'idp-browser',
                accounts: { a: { user: 'alice', password: PASSWORD } },
                oauth2: { grant: 'authorization_code_pkce', authorizeUrl: `${idp.url}/authorize`, tokenUrl: `${idp.url}/token`, redirectUri, clientId: 'crawler-app' },
                async login({ page, credentials }) {
                    await page.fill('input[name=username]', credentials.user);
                    await page.fill('input[name=password]', credentials.password);
                    await page.click('button');
                },
            });

        it('signs in with the login function; the browser\'s redirect to redirect_uri is captured, never sent; the crawl uses the token', async () => {
            const { app, idp, redirectUri } = await world();
            const recipe = browserRecipe(idp, redirectUri);
            expect(recipe.mode).toBe('browser');
            const sessions = await Sessions.open({ store: 'memory', flushOnSignals: false, login: loginRenewal(recipe, { browser }) });
            opened.push(sessions);
            await sessions.renew('a');
            expect(idp.counts).toMatchObject({ authorize: 2, loginPages: 1, loginPosts: 1, loginRefused: 0 });
            expect(idp.grants).toEqual({ authorization_code: 1 });
            let handled = 0;
            const crawler = new HttpCrawler(
                withSessions(sessions, {
                    maxRequestRetries: 0,
                    async requestHandler() {
                        handled++;
                    },
                }),
                new Configuration({ persistStorage: false, purgeOnStart: true }),
            );
            await crawler.run([0, 1, 2, 3].map((i) => ({ url: `${idp.url}/api/${i}`, userData: { sessionId: 'a' } })));
            expect(handled).toBe(4);
            expect(idp.counts.apiLoggedOut).toBe(0);
            expect(app.hits).toEqual([]); // Chromium never reached redirect_uri
            expectNoSecrets(idp);
        }, 60_000);

        it('a redirect with another state fails the browser login too', async () => {
            const { app, idp, redirectUri } = await world();
            idp.misbehave = 'wrong-state';
            const error = await failure(acquire(browserRecipe(idp, redirectUri), { sessionId: 'a', browser }));
            expect(error.message).toContain('carries another state than the one sent');
            expect(idp.grants).toEqual({});
            expect(app.hits).toEqual([]);
        }, 60_000);
    });

    it('refuses bad authorization_code_pkce settings, naming the field', () => {
        const base = { tokenUrl: 'http://idp.example/token', clientId: 'c', grant: 'authorization_code_pkce' as const };
        expect(() => defineLogin({ name: 'x', oauth2: { ...base, redirectUri: 'http://127.0.0.1/cb' } })).toThrow(/oauth2\.authorizeUrl: is required/);
        expect(() => defineLogin({ name: 'x', oauth2: { ...base, authorizeUrl: 'http://idp.example/authorize' } })).toThrow(/oauth2\.redirectUri: is required/);
        const full = { ...base, authorizeUrl: 'http://idp.example/authorize', redirectUri: 'http://127.0.0.1/cb' };
        expect(() => defineLogin({ name: 'x', oauth2: { ...full, redirectUri: 'javascript:alert(1)' } })).toThrow(/oauth2\.redirectUri: must be an http/);
        expect(() => defineLogin({ name: 'x', oauth2: { ...full, redirectUri: 'http://127.0.0.1/cb#frag' } })).toThrow(/oauth2\.redirectUri: must not have a fragment/);
        expect(() => defineLogin({ name: 'x', oauth2: { ...full, authorizeParams: { state: 'fixed' } } })).toThrow(/oauth2\.authorizeParams\.state/);
        expect(defineLogin({ name: 'x', oauth2: { ...full, redirectUri: 'com.example.app:/oauth2' } }).oauth2?.redirectUri).toBe('com.example.app:/oauth2');
        expect(() =>
            defineLogin({ name: 'x', oauth2: { tokenUrl: 'http://x/token', grant: 'client_credentials', clientId: 'c', authorizeUrl: 'http://x/authorize' } }),
        ).toThrow(/oauth2\.authorizeUrl: only applies to the authorization_code_pkce grant/);
        const login = async () => undefined;
        expect(() => defineLogin({ name: 'x', oauth2: { ...full, redirectUri: 'com.example.app:/cb' }, login })).toThrow(/oauth2\.redirectUri: must be an http/);
        expect(() => defineLogin({ name: 'x', oauth2: full, login, startUrl: 'http://idp.example/' })).toThrow(/startUrl: is the authorization request/);
        expect(() => defineLogin({ name: 'x', oauth2: { ...full, grant: 'password' as never, authorizeUrl: undefined, redirectUri: undefined }, login })).toThrow(
            /login: goes with oauth2 only for the authorization_code_pkce grant/,
        );
        // A step may use the login page's values, not unknown ones.
        expect(() => defineLogin({ name: 'x', oauth2: full, steps: [{ url: '{{action}}', method: 'POST', form: { a: 'b' } }] })).toThrow(
            /uses \{\{action\}\}, which is neither a credential/,
        );
    });
});
