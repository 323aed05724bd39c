import { CheerioCrawler, Configuration, PlaywrightCrawler, log } from 'crawlee';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import {
    LOGIN_STATES_COLLECTION,
    LoginError,
    acquire,
    defineLogin,
    loginCheck,
    loginRenewal,
    type LoginState,
} from '../src/acquisition/index.js';
import { Sessions, defineProfiles, withSessions } from '../src/index.js';
import { MemorySessionStore } from '../src/stores/memory-store.js';
import { startLoginSite, type LoginSite } from './support/login-site.js';
import { startProxies, type TestProxies } from './support/proxies.js';

log.setLevel(log.LEVELS.OFF);

const PASSWORD = 'hunter2-Login-Pass';
const PASSWORD_ENV = 'CRAWLEE_SESSIONS_TEST_BROWSER_PASSWORD';

function freshConfig(): Configuration {
    return new Configuration({ persistStorage: false, purgeOnStart: true });
}

let site: LoginSite;
let proxies: TestProxies;

beforeAll(async () => {
    process.env[PASSWORD_ENV] = PASSWORD;
    site = await startLoginSite();
    proxies = await startProxies(1);
});

afterAll(async () => {
    delete process.env[PASSWORD_ENV];
    await site?.close();
    await proxies?.close();
});

afterEach(() => site.reset());

/** The single-page app: its JavaScript signs in through the JSON API and keeps the token in localStorage. */
function spaRecipe() {
    return defineLogin({
        name: 'spa',
        credentials: { user: 'alice', password: { env: PASSWORD_ENV } },
        startUrl: `${site.url}/app`,
        async login({ page, credentials }) {
            await page.fill('#user', credentials.user);
            await page.fill('#password', credentials.password);
            await page.click('#submit');
            await page.waitForSelector('#signed-in');
        },
        // The app calls /api/me?view=profile: the collection URL's (empty) query is a subset of it.
        collect: [`${site.url}/api/me/`],
        extract: [
            { name: 'token', from: { localStorage: 'token' } },
            { name: 'apiKey', from: { sessionStorage: 'apiKey' } },
            { name: 'authorization', from: { requestHeader: 'authorization' } },
            { name: 'userAgent', from: { requestHeader: 'user-agent' } },
            { name: 'profileUser', from: { json: '$.user' } },
            { name: 'view', from: { query: 'view' } },
        ],
        apply: { headers: { Authorization: 'Bearer {{token}}' } },
        check: { request: { url: `${site.url}/api/me` }, indicators: [{ in: 'status', status: [401], means: 'invalid' }] },
    });
}

/** The classic form, filled in by a browser (what `playwright codegen` records). */
function browserFormRecipe() {
    return defineLogin({
        name: 'browser-form',
        credentials: { user: 'alice', password: { env: PASSWORD_ENV } },
        startUrl: `${site.url}/login`,
        async login({ page, credentials }) {
            await page.locator('input[name="user"]').fill(credentials.user);
            await page.locator('input[name="password"]').fill(credentials.password);
            await Promise.all([page.waitForURL('**/account'), page.getByRole('button', { name: 'Log in' }).click()]);
        },
        extract: [{ name: 'sid', from: { cookie: 'sid' } }],
        check: { request: { url: `${site.url}/account` }, indicators: [{ in: 'body', text: 'Log out', means: 'valid' }] },
    });
}

describe('browser-mode login recipes', () => {
    it('extracts a token the page keeps in localStorage, and a CheerioCrawler uses it', async () => {
        const sessions = await Sessions.open({ store: 'memory' });
        await sessions.clear('spa-user', { renewal: loginRenewal(spaRecipe()) });
        expect(site.apiLoginPosts).toBe(1);

        const items: Array<{ state: string }> = [];
        const crawler = new CheerioCrawler(
            withSessions(sessions, {
                async requestHandler({ json }) {
                    items.push(json as { state: string });
                },
            }),
            freshConfig(),
        );
        await crawler.run(Array.from({ length: 10 }, (_, n) => ({ url: `${site.url}/api/items/${n}`, userData: { sessionId: 'spa-user' } })));
        expect(items.map((item) => item.state)).toEqual(Array(10).fill('logged-in'));
        const fetched = site.protectedRequests.filter((r) => r.path.startsWith('/api/items/'));
        expect(fetched.map((r) => r.via)).toEqual(Array(10).fill('bearer'));
        await sessions.close();
    });

    it('records the source of every captured value', async () => {
        const session = await acquire(spaRecipe(), { profile: { userAgent: 'UA-Login-Test/1.0' } });
        const { values } = session;
        const origin = new URL(site.url).origin;
        expect(values.token?.source).toBe(`localStorage:token @ ${origin}`);
        expect(values.apiKey?.source).toBe(`sessionStorage:apiKey @ ${origin}`);
        expect(values.authorization?.value).toBe(`Bearer ${values.token?.value}`);
        expect(values.authorization?.source).toBe('request-header:authorization @ GET /api/me');
        expect(values.profileUser).toEqual({ value: 'alice', source: 'body:$.user @ GET /api/me' });
        expect(values.view).toEqual({ value: 'profile', source: 'query:view @ GET /api/me' });
        // The browser presented the session's identity.
        expect(values.userAgent?.value).toBe('UA-Login-Test/1.0');
        expect(session.auth.headers).toEqual({ Authorization: `Bearer ${values.token?.value}` });
    });

    it("logs in through the session's proxy", async () => {
        const before = proxies.requestCounts[0]!;
        const sessions = await Sessions.open({ store: 'memory', profiles: defineProfiles([{ proxy: proxies.urls[0]!, userAgent: 'UA-Proxied/2.0' }]) });
        await sessions.clear('proxied', { renewal: loginRenewal(browserFormRecipe()) });
        expect(site.formLoginPosts).toBe(1);
        expect(proxies.requestCounts[0]! - before).toBeGreaterThanOrEqual(3); // login page, POST, redirect, check
        expect(sessions.get('proxied', { format: 'dict' }).sid).toBeTruthy();
        await sessions.close();
    });

    it('restores the last good login without posting the form again, and logs in when it no longer passes', async () => {
        const store = new MemorySessionStore();
        const recipe = browserFormRecipe();

        // First process: a full login; its state is stored.
        const first = await Sessions.open({ store: 'memory' });
        await first.clear('q', { renewal: loginRenewal(recipe, { quickLogin: { store } }) });
        expect(site.formLoginPosts).toBe(1);
        const firstSid = first.get('q', { format: 'dict' }).sid;
        await first.close();
        const stored = await store.getEntry<LoginState>(LOGIN_STATES_COLLECTION, 'browser-form:q');
        expect(stored?.value.cookies.map((cookie) => cookie.name).sort()).toEqual(['pre', 'sid']);
        expect(stored?.value.values.sid?.value).toBe(firstSid);

        // Second process: the state is restored and verified; no form is posted, no browser opened.
        const second = await Sessions.open({ store: 'memory' });
        await second.clear('q', { renewal: loginRenewal(recipe, { quickLogin: { store } }) });
        expect(site.formLoginPosts).toBe(1);
        expect(second.get('q', { format: 'dict' }).sid).toBe(firstSid);
        const states: string[] = [];
        const crawler = new CheerioCrawler(
            withSessions(second, {
                async requestHandler({ $ }) {
                    states.push($('#state').text());
                },
            }),
            freshConfig(),
        );
        await crawler.run([{ url: `${site.url}/page/1`, userData: { sessionId: 'q' } }]);
        expect(states).toEqual(['logged-in']);
        await second.close();

        // The site forgets every login: the stored state fails its check, so the form is posted again.
        site.expireAll();
        const third = await Sessions.open({ store: 'memory' });
        await third.clear('q', { renewal: loginRenewal(recipe, { quickLogin: { store } }) });
        expect(site.formLoginPosts).toBe(2);
        const thirdSid = third.get('q', { format: 'dict' }).sid;
        expect(thirdSid).toBeTruthy();
        expect(thirdSid).not.toBe(firstSid);
        expect((await store.getEntry<LoginState>(LOGIN_STATES_COLLECTION, 'browser-form:q'))?.value.values.sid?.value).toBe(thirdSid);
        await third.close();
    });

    it('keeps the localStorage of the last login in the stored state', async () => {
        const store = new MemorySessionStore();
        await acquire(spaRecipe(), { quickLogin: { store }, sessionId: 'ls' });
        const state = (await store.getEntry<LoginState>(LOGIN_STATES_COLLECTION, 'spa:ls'))?.value;
        const origin = state?.origins.find((entry) => entry.origin === new URL(site.url).origin);
        expect(origin?.localStorage.find((item) => item.name === 'token')?.value).toBe(state?.values.token?.value);

        // Quick login restores it: the bearer token passes the check, no API login is posted.
        const posts = site.apiLoginPosts;
        const again = await acquire(spaRecipe(), { quickLogin: { store }, sessionId: 'ls' });
        expect(again.quick).toBe(true);
        expect(site.apiLoginPosts).toBe(posts);
        expect(again.auth.headers.Authorization).toBe(`Bearer ${state?.values.token?.value}`);
    });

    it('renews a session a PlaywrightCrawler finds logged out, and retries the page', async () => {
        const short = await startLoginSite({ sessionLifetimeRequests: 3 });
        try {
            const recipe = defineLogin({
                name: 'form-http',
                credentials: { user: 'alice', password: { env: PASSWORD_ENV } },
                steps: [
                    { url: `${short.url}/login`, extract: [{ name: 'csrf', from: { formField: 'csrf' } }] },
                    { url: `${short.url}/login`, method: 'POST', form: { user: '{{user}}', password: '{{password}}', csrf: '{{csrf}}' } },
                ],
                check: { indicators: [{ in: 'body', text: 'Please sign in', means: 'invalid' }] },
            });
            const sessions = await Sessions.open({ store: 'memory' });
            const states: string[] = [];
            const failed: string[] = [];
            const crawler = new PlaywrightCrawler(
                withSessions(
                    sessions,
                    {
                        maxConcurrency: 1,
                        maxRequestRetries: 0,
                        async requestHandler({ page }) {
                            states.push(await page.locator('#state').innerText());
                        },
                        failedRequestHandler({ request }, error) {
                            failed.push(`${request.url}: ${error.message}`);
                        },
                    },
                    { crawler: 'browser', check: loginCheck(recipe) },
                ),
                freshConfig(),
            );
            await crawler.run(Array.from({ length: 5 }, (_, n) => ({ url: `${short.url}/page/${n}`, userData: { sessionId: 'pw' } })));
            expect(failed).toEqual([]);
            expect(states).toEqual(Array(5).fill('logged-in'));
            // Each login lives 3 requests, one of which is the redirect to /account after the POST.
            expect(short.formLoginPosts).toBe(3);
            await sessions.close();
        } finally {
            await short.close();
        }
    });

    it('scrubs the password from an error thrown by the login function', async () => {
        const recipe = defineLogin({
            name: 'clumsy',
            credentials: { password: { env: PASSWORD_ENV } },
            async login({ credentials }) {
                throw new Error(`could not type "${credentials.password}" into the form`);
            },
        });
        const error = await acquire(recipe).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(LoginError);
        expect((error as LoginError).kind).toBe('browser');
        expect((error as LoginError).message).toContain('could not type "***" into the form');
        expect(`${(error as Error).stack}`).not.toContain(PASSWORD);
    });
});
