/**
 * Exercises the test support servers directly with got-scraping (no Crawlee): the protected site's session
 * binding, expiry, redirect cookies and stale-request counting, and the loopback proxies.
 */
import http from 'node:http';
import { gotScraping } from 'got-scraping';
import { CookieJar } from 'tough-cookie';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProxies, type TestProxies } from './support/proxies.js';
import { startTestSite, type TestSite } from './support/site.js';

const USER_AGENT = 'support-test/1.0';
const ACCEPT_LANGUAGE = 'en-GB';

interface ClientOptions {
    proxyUrl?: string;
    lineage?: string;
}

/** A tiny HTTP client with its own cookie jar and a fixed client identity. */
function makeClient(options: ClientOptions = {}) {
    const cookieJar = new CookieJar();
    const headers: Record<string, string> = { 'user-agent': USER_AGENT, 'accept-language': ACCEPT_LANGUAGE };
    if (options.lineage) headers['x-lineage'] = options.lineage;
    const base = {
        cookieJar,
        headers,
        proxyUrl: options.proxyUrl,
        useHeaderGenerator: false,
        throwHttpErrors: false,
        retry: { limit: 0 },
    };
    return {
        cookieJar,
        /** Logs in with a form post; does not follow the redirect. */
        login: (url: string, user = 'alice', password = 'secret', proxyUrl = options.proxyUrl) =>
            gotScraping({ ...base, proxyUrl, url: `${url}/login`, method: 'POST', form: { user, password }, followRedirect: false }),
        /** GETs a path and returns the response; `json` asks for a JSON answer. */
        get: (url: string, proxyUrl = options.proxyUrl, json = false) =>
            gotScraping({
                ...base,
                proxyUrl,
                url,
                headers: json ? { ...headers, accept: 'application/json' } : headers,
            }),
    };
}

describe('test site with proxies', () => {
    let site: TestSite;
    let proxies: TestProxies;

    beforeAll(async () => {
        site = await startTestSite({ sessionLifetimeRequests: 3 });
        proxies = await startProxies(2);
    });
    afterAll(async () => {
        await proxies?.close();
        await site?.close();
    });

    it('binds a session to the proxy IP it logged in from', async () => {
        site.reset();
        const client = makeClient({ proxyUrl: proxies.urls[0] });
        const login = await client.login(site.url);
        expect(login.statusCode).toBe(302);
        expect(login.headers.location).toBe('/welcome');
        expect(String(login.headers['set-cookie'])).toMatch(/^sid=[0-9a-f]+; Path=\/; HttpOnly/);
        expect(site.logins).toBe(1);
        expect(site.sessionsIssued[0]).toMatchObject({ ip: '127.0.0.2', userAgent: USER_AGENT, lineage: 'default' });

        const me = await client.get(`${site.url}/whoami`, proxies.urls[0], true);
        expect(me.statusCode).toBe(200);
        const body = JSON.parse(me.body) as { state: string; ip: string; userAgent: string; acceptLanguage: string };
        expect(body).toMatchObject({ state: 'logged-in', ip: '127.0.0.2', userAgent: USER_AGENT, acceptLanguage: ACCEPT_LANGUAGE });
        expect(me.headers['x-session-generation']).toBe(String(site.sessionsIssued[0].generation));

        const elsewhere = await client.get(`${site.url}/whoami`, proxies.urls[1]);
        expect(elsewhere.body).toContain('<h1 id="state">logged-out</h1>');
        expect(elsewhere.body).toContain('identity-mismatch');
        expect(site.log.at(-1)).toMatchObject({ path: '/whoami', ip: '127.0.0.3', sidState: 'identity-mismatch' });
        expect(proxies.requestCounts).toEqual([2, 1]);
    });

    it('expires a session after sessionLifetimeRequests protected requests', async () => {
        const client = makeClient({ proxyUrl: proxies.urls[1] });
        expect((await client.login(site.url)).statusCode).toBe(302);
        const states: string[] = [];
        for (let n = 1; n <= 4; n++) {
            const page = await client.get(`${site.url}/page/${n}`);
            states.push(/<h1 id="state">([a-z-]+)<\/h1>/.exec(page.body)?.[1] ?? '?');
        }
        expect(states).toEqual(['logged-in', 'logged-in', 'logged-in', 'logged-out']);
        expect(site.log.at(-1)).toMatchObject({ path: '/page/4', sidState: 'expired' });
        const last = await client.get(`${site.url}/whoami`);
        expect(last.body).toContain('<p id="reason">expired</p>');
    });

    it('reports no-session and unknown sessions', async () => {
        const anonymous = makeClient();
        expect((await anonymous.get(`${site.url}/whoami`)).body).toContain('<p id="reason">no-session</p>');
        await anonymous.cookieJar.setCookie('sid=feedface', site.url);
        expect((await anonymous.get(`${site.url}/whoami`)).body).toContain('<p id="reason">unknown</p>');
    });

    it('sets cookies on every hop of the redirect chain and records what each hop received', async () => {
        site.reset();
        const client = makeClient();
        const response = await client.get(`${site.url}/redirect-chain`);
        expect(response.statusCode).toBe(200);
        expect(JSON.parse(response.body)).toEqual({ cookiesSeen: { hop1: 'a', hop2: 'b' } });
        expect(site.log.map((entry) => [entry.path, entry.cookies])).toEqual([
            ['/redirect-chain', {}],
            ['/redirect-chain/2', { hop1: 'a' }],
            ['/redirect-chain/3', { hop1: 'a', hop2: 'b' }],
        ]);
    });

    it('sets and echoes cookies', async () => {
        const client = makeClient({ proxyUrl: proxies.urls[1] });
        const set = await client.get(`${site.url}/set?color=blue&size=9`);
        expect(JSON.parse(set.body)).toEqual({ color: 'blue', size: '9' });
        const echo = JSON.parse((await client.get(`${site.url}/echo`)).body) as {
            cookies: Record<string, string>; headers: Record<string, string>; ip: string;
        };
        expect(echo.cookies).toEqual({ color: 'blue', size: '9' });
        expect(echo.headers['user-agent']).toBe(USER_AGENT);
        expect(echo.ip).toBe('127.0.0.3');
    });

    it('rejects bad credentials', async () => {
        const response = await makeClient().login(site.url, 'alice', 'wrong');
        expect(response.statusCode).toBe(401);
        expect(response.body).toBe('bad credentials');
    });
});

describe('stale request detection', () => {
    let site: TestSite;

    beforeAll(async () => {
        site = await startTestSite({ loginDelayMs: 300 });
    });
    afterAll(async () => {
        await site?.close();
    });

    it('counts old-sid requests sent after a newer login of the same lineage, not before', async () => {
        const first = makeClient({ lineage: 'worker-1' });
        const second = makeClient({ lineage: 'worker-1' });
        const otherLineage = makeClient({ lineage: 'worker-2' });
        await first.login(site.url);
        await otherLineage.login(site.url, 'user7');

        // The newer login is still waiting for its answer: requests with the old sid are not stale yet.
        const renewal = second.login(site.url, 'user2');
        await new Promise((resolve) => setTimeout(resolve, 100));
        expect((await first.get(`${site.url}/whoami`)).body).toContain('logged-in');
        expect(site.staleRequests).toBe(0);
        expect((await renewal).statusCode).toBe(302);

        // Once the newer login has been answered, every use of the old sid counts.
        expect((await first.get(`${site.url}/page/1`)).body).toContain('logged-in');
        await first.get(`${site.url}/echo`);
        expect(site.staleRequests).toBe(2);
        expect(site.log.filter((entry) => entry.stale).map((entry) => entry.path)).toEqual(['/page/1', '/echo']);

        // The new sid and other lineages are not stale.
        expect((await second.get(`${site.url}/whoami`)).body).toContain('logged-in');
        expect((await otherLineage.get(`${site.url}/whoami`)).body).toContain('logged-in');
        expect(site.staleRequests).toBe(2);
        expect(site.sessionsIssued.map((s) => [s.generation, s.lineage])).toEqual([
            [1, 'worker-1'],
            [2, 'worker-2'],
            [3, 'worker-1'],
        ]);
    });

    it('fails the first N logins with 500 when asked', async () => {
        const failing = await startTestSite({ failLogins: 2 });
        try {
            const client = makeClient();
            const statuses = [];
            for (let i = 0; i < 3; i++) statuses.push((await client.login(failing.url)).statusCode);
            expect(statuses).toEqual([500, 500, 302]);
            expect(failing.loginAttempts).toBe(3);
            expect(failing.logins).toBe(1);
        } finally {
            await failing.close();
        }
    });
});

describe('proxy authentication', () => {
    let proxies: TestProxies;
    let target: http.Server;
    let targetUrl: string;
    const seenIps: string[] = [];

    beforeAll(async () => {
        proxies = await startProxies(2, { auth: { username: 'crawler', password: 'pa:ss' } });
        target = http.createServer((req, res) => {
            seenIps.push(req.socket.remoteAddress ?? '');
            res.end('ok');
        });
        await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
        targetUrl = `http://127.0.0.1:${(target.address() as { port: number }).port}/`;
    });
    afterAll(async () => {
        await proxies?.close();
        target?.closeAllConnections();
        await new Promise((resolve) => target?.close(resolve));
    });

    it('answers 407 without credentials and forwards with them from distinct loopback addresses', async () => {
        const bare = proxies.urls[0].replace(/\/\/[^@]+@/, '//');
        expect(bare).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
        const refused = await gotScraping({ url: targetUrl, proxyUrl: bare, throwHttpErrors: false, retry: { limit: 0 } });
        expect(refused.statusCode).toBe(407);
        expect(proxies.requestCounts).toEqual([0, 0]);
        expect(seenIps).toEqual([]);

        expect(proxies.urls[0]).toContain('crawler:pa%3Ass@');
        for (const proxyUrl of proxies.urls) {
            const response = await gotScraping({ url: targetUrl, proxyUrl, retry: { limit: 0 } });
            expect(response.body).toBe('ok');
        }
        expect(seenIps).toEqual(proxies.addresses);
        expect(proxies.addresses).toEqual(['127.0.0.2', '127.0.0.3']);
        expect(proxies.requestCounts).toEqual([1, 1]);
    });
});
