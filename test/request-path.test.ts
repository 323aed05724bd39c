/**
 * The one request path: what each origin receives. A login's values, a step's headers and a check's headers stay on
 * the origins they belong to, through crawled links, redirects, login steps and checks redirected elsewhere, and
 * every request of a Playwright page; a refused login is tried once.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { CheerioCrawler, Configuration, PlaywrightCrawler, log } from 'crawlee';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { acquire, defineLogin, loginRenewal, LoginError, SessionRenewalError, Sessions, withSessions, type LoginRecipe } from '../src/index.js';
import { leaksIn, startTwoHosts, type TwoHosts } from './support/two-hosts.js';

log.setLevel(log.LEVELS.OFF);

let hosts: TwoHosts;

beforeAll(async () => {
    hosts = await startTwoHosts();
});
afterAll(async () => {
    await hosts?.close();
});
beforeEach(() => hosts.reset());

function freshConfig(): Configuration {
    return new Configuration({ persistStorage: false, purgeOnStart: true });
}

/** A JSON API login whose bearer token, header token and query key the session applies. */
function apiRecipe(options: { origins?: string[]; password?: string; checkPath?: string } = {}): LoginRecipe {
    return defineLogin({
        name: 'two-hosts-api',
        credentials: { user: 'alice', password: options.password ?? hosts.secrets.password, stepKey: hosts.secrets.stepKey },
        steps: [{ url: `${hosts.site.url}/api/login`, headers: { 'X-Api-Key': '{{stepKey}}' }, json: { user: '{{user}}', password: '{{password}}' } }],
        extract: [
            { name: 'token', from: { json: '$.data.token' } },
            { name: 'key', from: { json: '$.data.key' } },
        ],
        apply: {
            headers: { Authorization: 'Bearer {{token}}', 'X-Auth-Token': '{{token}}' },
            query: { api_key: '{{key}}' },
            ...(options.origins ? { origins: options.origins } : {}),
        },
        check: {
            request: { url: `${hosts.site.url}${options.checkPath ?? '/check'}`, headers: { 'X-Check-Key': hosts.secrets.checkKey } },
            indicators: [{ in: 'status', status: [401], means: 'invalid' }],
        },
    });
}

/** Everything secret this test hands out: the login's values, the step's and the check's header values, the password. */
function allSecrets(): string[] {
    return [...hosts.secrets.tokens, ...hosts.secrets.keys, hosts.secrets.stepKey, hosts.secrets.checkKey, hosts.secrets.password];
}

function loginValues(): string[] {
    return [...hosts.secrets.tokens, ...hosts.secrets.keys];
}

describe('HTTP crawls: login values stay on their origins', () => {
    it('a crawled link and a redirect to another host carry no login value; the site gets them; loadedUrl and the queue never show them', async () => {
        const storageDir = await mkdtemp(join(tmpdir(), 'request-path-'));
        const sessions = await Sessions.open({ store: 'memory', login: loginRenewal(apiRecipe()) });
        try {
            await sessions.renew('alice');
            const loaded: string[] = [];
            const crawler = new CheerioCrawler(
                withSessions(sessions, {
                    async requestHandler({ request }) {
                        loaded.push(request.loadedUrl ?? '');
                    },
                }),
                new Configuration({ storageClientOptions: { localDataDirectory: storageDir }, persistStorage: true, purgeOnStart: true }),
            );
            await crawler.run([
                { url: `${hosts.site.url}/page`, userData: { sessionId: 'alice' } },
                { url: `${hosts.site.url}/go-away`, userData: { sessionId: 'alice' } },
                { url: `${hosts.other.url}/third`, userData: { sessionId: 'alice' } },
            ]);

            const page = hosts.site.seen.find((request) => request.path === '/page')!;
            expect(page.headers.authorization).toMatch(/^Bearer tok-/);
            expect(page.headers['x-auth-token']).toMatch(/^tok-/);
            expect(page.query.api_key).toMatch(/^key-/);
            expect(hosts.other.seen.map((request) => request.path).sort()).toEqual(['/landed', '/third']);
            for (const request of hosts.other.seen) {
                expect(request.headers.authorization, request.path).toBeUndefined();
                expect(request.headers['x-auth-token'], request.path).toBeUndefined();
                expect(request.query.api_key, request.path).toBeUndefined();
            }
            expect(leaksIn(hosts.other.seen, allSecrets())).toEqual([]);

            expect(loaded).toHaveLength(3);
            for (const url of loaded) for (const key of hosts.secrets.keys) expect(url).not.toContain(key);
            const files = await readAll(storageDir);
            expect(files.length).toBeGreaterThan(0);
            for (const secret of loginValues()) expect(files.join('\n')).not.toContain(secret);
        } finally {
            await sessions.close();
            await rm(storageDir, { recursive: true, force: true });
        }
    });

    it('apply.origins widens the scope: the named host receives the values too', async () => {
        const sessions = await Sessions.open({ store: 'memory', login: loginRenewal(apiRecipe({ origins: [hosts.other.origin] })) });
        try {
            await sessions.renew('alice');
            const crawler = new CheerioCrawler(withSessions(sessions, { async requestHandler() {} }), freshConfig());
            await crawler.run([{ url: `${hosts.other.url}/third`, userData: { sessionId: 'alice' } }]);
            const third = hosts.other.seen.find((request) => request.path === '/third')!;
            expect(third.headers.authorization).toMatch(/^Bearer tok-/);
            expect(third.query.api_key).toMatch(/^key-/);
        } finally {
            await sessions.close();
        }
    });
});

describe('logins and checks: their own headers stay on their origin', () => {
    it('a login step redirected to another host (307, method and body kept) loses its headers and credentials there', async () => {
        const recipe = defineLogin({
            name: 'redirected-step',
            credentials: { stepKey: hosts.secrets.stepKey, basic: Buffer.from(`alice:${hosts.secrets.password}`).toString('base64') },
            steps: [
                {
                    url: `${hosts.site.url}/login-away`,
                    method: 'POST',
                    headers: { 'X-Api-Key': '{{stepKey}}', Authorization: 'Basic {{basic}}' },
                    json: { note: 'redirected' },
                },
            ],
        });
        await acquire(recipe).catch(() => undefined);
        const step = hosts.site.seen.find((request) => request.path === '/login-away')!;
        expect(step.headers['x-api-key']).toBe(hosts.secrets.stepKey);
        expect(step.headers.authorization).toMatch(/^Basic /);
        const landed = hosts.other.seen.find((request) => request.path === '/login-landing')!;
        expect(landed.method).toBe('POST'); // 307: the redirect itself is followed as a browser would
        expect(landed.headers['x-api-key']).toBeUndefined();
        expect(landed.headers.authorization).toBeUndefined();
        expect(leaksIn(hosts.other.seen, allSecrets())).toEqual([]);
    });

    it('a check redirected to another host carries neither its header nor the bearer token there', async () => {
        const acquired = await acquire(apiRecipe({ checkPath: '/check-away' }));
        expect(acquired.auth.origins).toEqual([hosts.site.origin]);
        const away = hosts.site.seen.find((request) => request.path === '/check-away')!;
        expect(away.headers['x-check-key']).toBe(hosts.secrets.checkKey);
        expect(away.headers.authorization).toMatch(/^Bearer /);
        const check = hosts.other.seen.find((request) => request.path === '/check')!;
        expect(check.headers['x-check-key']).toBeUndefined();
        expect(check.headers.authorization).toBeUndefined();
        expect(check.query.api_key).toBeUndefined();
        expect(leaksIn(hosts.other.seen, allSecrets())).toEqual([]);
    });

    it('a refused login (wrong password) is tried once by default, as often as allowed with retryRefused', async () => {
        const refusing = loginRenewal(apiRecipe({ password: 'wrong-password-1' }));
        const once = await Sessions.open({ store: 'memory', login: refusing, renewal: { backoffMillis: 1 } });
        try {
            const failure = await once.renew('alice').catch((error: unknown) => error);
            expect(failure).toBeInstanceOf(SessionRenewalError);
            expect((failure as SessionRenewalError).attempts).toBe(1);
            expect((failure as SessionRenewalError).cause).toBeInstanceOf(LoginError);
            expect(((failure as SessionRenewalError).cause as LoginError).status).toBe(401);
            expect(hosts.site.loginPosts).toBe(1);
        } finally {
            await once.close();
        }
        hosts.reset();
        const retrying = await Sessions.open({ store: 'memory', login: refusing, renewal: { backoffMillis: 1, retryRefused: true, maxAttempts: 3 } });
        try {
            await expect(retrying.renew('alice')).rejects.toBeInstanceOf(SessionRenewalError);
            expect(hosts.site.loginPosts).toBe(3);
        } finally {
            await retrying.close();
        }
    });
});

describe('Playwright pages: every request goes through the request path', () => {
    it('navigations and subresources to another host carry no login value; the site gets them; apply.origins widens it', async () => {
        for (const widened of [false, true]) {
            hosts.reset();
            const recipe = apiRecipe(widened ? { origins: [hosts.other.origin] } : {});
            const sessions = await Sessions.open({ store: 'memory', login: loginRenewal(recipe) });
            try {
                await sessions.renew('alice');
                const crawler = new PlaywrightCrawler(
                    withSessions(sessions, {
                        headless: true,
                        async requestHandler({ page, request }) {
                            await page.waitForSelector('#ok');
                            await page.waitForLoadState('load');
                            if (request.url.endsWith('/page')) await page.goto(`${hosts.other.url}/navigated`);
                        },
                    }),
                    freshConfig(),
                );
                await crawler.run([{ url: `${hosts.site.url}/page`, userData: { sessionId: 'alice' } }]);

                const page = hosts.site.seen.find((request) => request.path === '/page')!;
                expect(page.headers.authorization).toMatch(/^Bearer tok-/);
                expect(page.query.api_key).toMatch(/^key-/);
                const ownPixel = hosts.site.seen.find((request) => request.path === '/own-pixel.gif')!;
                expect(ownPixel.headers['x-auth-token']).toMatch(/^tok-/);
                const pixel = hosts.other.seen.find((request) => request.path === '/pixel.gif');
                const navigated = hosts.other.seen.find((request) => request.path === '/navigated');
                expect(pixel, 'the page embeds an image of the other host').toBeDefined();
                expect(navigated, 'the handler navigates to the other host').toBeDefined();
                for (const request of [pixel!, navigated!]) {
                    if (widened) {
                        expect(request.headers.authorization, request.path).toMatch(/^Bearer tok-/);
                    } else {
                        expect(request.headers.authorization, request.path).toBeUndefined();
                        expect(request.headers['x-auth-token'], request.path).toBeUndefined();
                        expect(request.query.api_key, request.path).toBeUndefined();
                    }
                }
                if (!widened) expect(leaksIn(hosts.other.seen, allSecrets())).toEqual([]);
            } finally {
                await sessions.close();
            }
        }
    });
});

async function readAll(dir: string): Promise<string[]> {
    const texts: string[] = [];
    for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
        if (entry.isFile()) texts.push(await readFile(join(entry.parentPath, entry.name), 'utf8'));
    }
    return texts;
}
