import { inspect } from 'node:util';

import { CheerioCrawler, Configuration, log } from 'crawlee';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

import {
    LoginError,
    acquire,
    defineLogin,
    loginRenewal,
    type LoginRecipeInput,
} from '../src/acquisition/index.js';
import { ConfigValidationError, SessionRenewalError, Sessions, withSessions } from '../src/index.js';
import { MemorySessionStore } from '../src/stores/memory-store.js';
import { startLoginSite, type LoginSite } from './support/login-site.js';

log.setLevel(log.LEVELS.OFF);

const PASSWORD = 'hunter2-Login-Pass';
const PASSWORD_ENV = 'CRAWLEE_SESSIONS_TEST_LOGIN_PASSWORD';

function freshConfig(): Configuration {
    return new Configuration({ persistStorage: false, purgeOnStart: true });
}

let site: LoginSite;

beforeAll(async () => {
    process.env[PASSWORD_ENV] = PASSWORD;
    site = await startLoginSite();
});

afterAll(async () => {
    delete process.env[PASSWORD_ENV];
    await site?.close();
});

afterEach(() => site.reset());

/** The form login: GET the page, extract its CSRF token, POST it with the credentials. */
function formRecipe(overrides: Partial<LoginRecipeInput> = {}) {
    return defineLogin({
        name: 'shop',
        credentials: { user: 'alice', password: { env: PASSWORD_ENV } },
        steps: [
            {
                url: `${site.url}/login`,
                extract: [{ name: 'csrf', from: [{ formField: 'csrf' }, { css: 'meta[name=csrf-token]', attribute: 'content' }] }],
            },
            { url: `${site.url}/login`, method: 'POST', form: { user: '{{user}}', password: '{{password}}', csrf: '{{csrf}}' } },
        ],
        extract: [{ name: 'sid', from: { cookie: 'sid' } }],
        check: {
            request: { url: `${site.url}/account` },
            indicators: [{ in: 'body', text: 'Log out', means: 'valid' }],
        },
        ...overrides,
    });
}

/** The JSON API login: the token goes on every later request as a bearer header. */
function apiRecipe(overrides: Partial<LoginRecipeInput> = {}) {
    return defineLogin({
        name: 'api',
        credentials: { user: 'alice', password: { env: PASSWORD_ENV } },
        steps: [{ url: `${site.url}/api/login`, json: { username: '{{user}}', password: '{{password}}' } }],
        extract: [
            { name: 'token', from: { json: '$.data.token' } },
            { name: 'apiKey', from: { jsonKey: 'apiKey' } },
            { name: 'requestId', from: { header: 'x-request-id' } },
        ],
        apply: { headers: { Authorization: 'Bearer {{token}}' } },
        check: {
            request: { url: `${site.url}/api/me` },
            indicators: [{ in: 'status', status: [401], means: 'invalid' }],
        },
        ...overrides,
    });
}

describe('HTTP-mode login recipes', () => {
    it('logs in through a form with a CSRF token as a session renewal, and the crawl is logged in', async () => {
        const sessions = await Sessions.open({ store: 'memory' });
        await sessions.clear('alice', { renewal: loginRenewal(formRecipe()) });
        expect(site.formLoginPosts).toBe(1);
        expect(sessions.get('alice', { format: 'dict' }).sid).toMatch(/^[0-9a-f]{32}$/);

        const states: string[] = [];
        const crawler = new CheerioCrawler(
            withSessions(sessions, {
                async requestHandler({ $ }) {
                    states.push($('#state').text());
                },
            }),
            freshConfig(),
        );
        await crawler.run(Array.from({ length: 10 }, (_, n) => ({ url: `${site.url}/page/${n}`, userData: { sessionId: 'alice' } })));
        expect(states).toEqual(Array(10).fill('logged-in'));
        expect(site.protectedRequests.filter((r) => r.path.startsWith('/page/')).every((r) => r.via === 'cookie')).toBe(true);
        await sessions.close();
    });

    it('records where each value came from', async () => {
        const session = await acquire(formRecipe());
        expect(session.quick).toBe(false);
        expect(session.values.csrf?.source).toBe('form:csrf @ GET /login');
        expect(session.values.sid?.source).toBe('cookie:sid');
        expect(session.values.sid?.value).toBe(session.cookies.find((c) => c.key === 'sid')?.value);
        expect(session.auth.headers).toEqual({});

        // The first source that has the value wins: without the hidden input, the meta tag is used.
        const metaOnly = await acquire(
            formRecipe({
                steps: [
                    { url: `${site.url}/login`, extract: [{ name: 'csrf', from: [{ formField: 'no-such-field' }, { css: 'meta[name=csrf-token]', attribute: 'content' }] }] },
                    { url: `${site.url}/login`, method: 'POST', form: { user: '{{user}}', password: '{{password}}', csrf: '{{csrf}}' } },
                ],
            }),
        );
        expect(metaOnly.values.csrf?.source).toBe('css:meta[name=csrf-token]@content @ GET /login');
    });

    it('fails a login whose check says logged out (wrong password), naming the reason without secrets', async () => {
        // With a required cookie, the missing cookie is found first…
        const missing = await acquire(formRecipe(), { credentials: { password: 'wrong-password-123' } }).catch((e: unknown) => e);
        expect(missing).toBeInstanceOf(LoginError);
        expect((missing as LoginError).kind).toBe('extraction');
        expect((missing as LoginError).message).toContain('not found: "sid" (looked in cookie:sid)');
        // …without it, the check after the login refuses it.
        const recipe = formRecipe({ extract: [] });
        const error = await acquire(recipe, { credentials: { password: 'wrong-password-123' } }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(LoginError);
        expect((error as LoginError).kind).toBe('verification');
        expect((error as LoginError).message).toContain('no logged-in indicator matched');
        expect((error as LoginError).message).not.toContain('wrong-password-123');
    });

    it('logs in through a JSON API and a CheerioCrawler sends the bearer token on every request', async () => {
        const sessions = await Sessions.open({ store: 'memory' });
        await sessions.clear('api-user', { renewal: loginRenewal(apiRecipe()) });
        expect(site.apiLoginPosts).toBe(1);

        const answers: Array<{ state: string; login: number }> = [];
        const crawler = new CheerioCrawler(
            withSessions(sessions, {
                async requestHandler({ json }) {
                    answers.push(json as { state: string; login: number });
                },
            }),
            freshConfig(),
        );
        await crawler.run(Array.from({ length: 20 }, (_, n) => ({ url: `${site.url}/api/items/${n}`, userData: { sessionId: 'api-user' } })));
        expect(answers).toHaveLength(20);
        expect(answers.every((answer) => answer.state === 'logged-in' && answer.login === answers[0]!.login)).toBe(true);
        const items = site.protectedRequests.filter((r) => r.path.startsWith('/api/items/'));
        expect(items.map((r) => r.via)).toEqual(Array(20).fill('bearer'));
        await sessions.close();
    });

    it('applies an extracted key as a query parameter', async () => {
        const sessions = await Sessions.open({ store: 'memory' });
        const recipe = apiRecipe({ apply: { query: { api_key: '{{apiKey}}' } }, check: undefined });
        await sessions.clear('keyed', { renewal: loginRenewal(recipe) });
        const states: string[] = [];
        const crawler = new CheerioCrawler(
            withSessions(sessions, {
                async requestHandler({ $ }) {
                    states.push($('#state').text());
                },
            }),
            freshConfig(),
        );
        await crawler.run([{ url: `${site.url}/page/1?lang=en`, userData: { sessionId: 'keyed' } }]);
        expect(states).toEqual(['logged-in']);
        expect(site.protectedRequests.at(-1)?.via).toBe('query');
        await sessions.close();
    });

    it('puts an extracted token into the session as a cookie', async () => {
        const sessions = await Sessions.open({ store: 'memory' });
        const recipe = apiRecipe({ apply: { cookies: [{ name: 'token', value: '{{token}}', url: site.url }] }, check: undefined });
        await sessions.clear('cookied', { renewal: loginRenewal(recipe) });
        expect(sessions.get('cookied', { format: 'dict' }).token).toMatch(/^tok-/);
        const states: string[] = [];
        const crawler = new CheerioCrawler(
            withSessions(sessions, {
                async requestHandler({ $ }) {
                    states.push($('#state').text());
                },
            }),
            freshConfig(),
        );
        await crawler.run([{ url: `${site.url}/page/1`, userData: { sessionId: 'cookied' } }]);
        expect(states).toEqual(['logged-in']);
        expect(site.protectedRequests.at(-1)?.via).toBe('cookie');
        await sessions.close();
    });

    it('retries network errors with backoff, and gives up after the bound', async () => {
        const flaky = await startLoginSite({ dropLogins: 2 });
        try {
            const recipe = defineLogin({
                name: 'flaky',
                credentials: { user: 'alice', password: { env: PASSWORD_ENV } },
                steps: [{ url: `${flaky.url}/api/login`, json: { username: '{{user}}', password: '{{password}}' } }],
                extract: [{ name: 'token', from: { json: '$.data.token' } }],
            });
            const session = await acquire(recipe, { retry: { maxAttempts: 3, backoffMillis: 10 } });
            expect(session.attempts).toBe(3);
            expect(flaky.apiLoginPosts).toBe(3);
            expect(session.values.token?.value).toMatch(/^tok-/);

            // Through a session renewal, the core's retry policy applies the same way.
            const broken = await startLoginSite({ dropLogins: 100 });
            try {
                const down = defineLogin({ ...recipeInputFor(broken.url), name: 'down' });
                const failure = await acquire(down, { retry: { maxAttempts: 3, backoffMillis: 10 } }).catch((e: unknown) => e);
                expect(failure).toBeInstanceOf(LoginError);
                expect((failure as LoginError).kind).toBe('network');
                expect(broken.apiLoginPosts).toBe(3);

                const sessions = await Sessions.open({ store: 'memory', renewal: { maxAttempts: 2, backoffMillis: 10 } });
                const renewal = await sessions.clear('s', { renewal: loginRenewal(down) }).catch((e: unknown) => e);
                expect(renewal).toBeInstanceOf(SessionRenewalError);
                expect((renewal as SessionRenewalError).cause).toBeInstanceOf(LoginError);
                expect(broken.apiLoginPosts).toBe(5);
                await sessions.close();
            } finally {
                await broken.close();
            }
        } finally {
            await flaky.close();
        }
    });

    it('keeps credentials out of logs, errors and stored state', async () => {
        const output: string[] = [];
        const spies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((method) =>
            vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
                output.push(args.map(String).join(' '));
            }),
        );
        log.setLevel(log.LEVELS.DEBUG);
        const errors: unknown[] = [];
        const store = new MemorySessionStore();
        try {
            const recipe = formRecipe();
            const sessions = await Sessions.open({ store: 'memory', renewal: { maxAttempts: 2, backoffMillis: 1 } });
            await sessions.clear('alice', { renewal: loginRenewal(recipe, { quickLogin: { store } }) });
            // A login that fails after the password was sent, one that puts the password in a URL, one whose
            // environment variable is missing.
            errors.push(await sessions.clear('bob', { renewal: loginRenewal(recipe, { credentials: { password: `${PASSWORD}-x` } }) }).catch((e: unknown) => e));
            const leaky = defineLogin({
                name: 'leaky',
                credentials: { password: { env: PASSWORD_ENV } },
                steps: [{ url: 'http://127.0.0.1:9/login', query: { password: '{{password}}' } }],
            });
            errors.push(await acquire(leaky, { retry: { maxAttempts: 1 } }).catch((e: unknown) => e));
            const unset = defineLogin({ name: 'unset', credentials: { password: { env: 'CRAWLEE_SESSIONS_NO_SUCH_VARIABLE' } }, steps: [{ url: `${site.url}/login` }] });
            errors.push(await acquire(unset).catch((e: unknown) => e));
            output.push(inspect(recipe, { depth: 10 }), JSON.stringify(recipe), JSON.stringify(sessions.list()));
            await sessions.close();
        } finally {
            for (const spy of spies) spy.mockRestore();
            log.setLevel(log.LEVELS.OFF);
        }
        expect(errors).toHaveLength(3);
        for (const error of errors) expect(error).toBeInstanceOf(Error);
        expect((errors[1] as LoginError).kind).toBe('network');
        expect((errors[2] as LoginError).message).toContain('CRAWLEE_SESSIONS_NO_SUCH_VARIABLE');
        const messages = errors.flatMap((error) => [String(error), (error as Error).stack ?? '', String((error as { cause?: unknown }).cause ?? '')]);
        const stored = JSON.stringify(await store.listEntries('login-states'));
        expect(stored).toContain('"sid"'); // the state was stored…
        expect(output.join('\n')).toContain('logged in with "shop"'); // …and the log was captured
        for (const text of [...output, ...messages, stored]) {
            expect(text).not.toContain(PASSWORD);
            expect(text).not.toContain(encodeURIComponent(PASSWORD));
        }
        // The site did receive it: the check above is not vacuous.
        expect(site.bodies.some((body) => body.includes(encodeURIComponent(PASSWORD)))).toBe(true);
    });
});

function recipeInputFor(url: string): LoginRecipeInput {
    return {
        name: 'x',
        credentials: { user: 'alice', password: { env: PASSWORD_ENV } },
        steps: [{ url: `${url}/api/login`, json: { username: '{{user}}', password: '{{password}}' } }],
        extract: [{ name: 'token', from: { json: '$.data.token' } }],
    };
}

describe('recipe validation', () => {
    const login = async () => undefined;
    const base = { name: 'app', credentials: { user: 'alice', password: 'pw-value-1234' } };
    const cases: Array<[string, Record<string, unknown>, string]> = [
        ['neither steps nor login', { ...base }, 'recipe.steps: is required'],
        ['both steps and login', { ...base, steps: [{ url: 'http://a.test/' }], login }, 'recipe.login: cannot be combined with steps'],
        ['a template without a value', { ...base, steps: [{ url: 'http://a.test/login', method: 'POST', form: { csrf: '{{csrf}}' } }] }, 'recipe.steps[0].form.csrf: uses {{csrf}}'],
        ['a value used before it is extracted', {
            ...base,
            steps: [
                { url: 'http://a.test/login', form: { csrf: '{{csrf}}' } },
                { url: 'http://a.test/login', extract: [{ name: 'csrf', from: { formField: 'csrf' } }] },
            ],
        }, 'recipe.steps[0].form.csrf'],
        ['a source with two keys', { ...base, steps: [{ url: 'http://a.test/' }], extract: [{ name: 't', from: { json: '$.t', header: 'x-t' } }] }, 'recipe.extract[0].from: names 2 sources'],
        ['no source', { ...base, steps: [{ url: 'http://a.test/' }], extract: [{ name: 't', from: {} }] }, 'recipe.extract[0].from: must name one source'],
        ['a bad JSON path', { ...base, steps: [{ url: 'http://a.test/' }], extract: [{ name: 't', from: { json: '$.a..b' } }] }, 'recipe.extract[0].from.json: is not a JSON path'],
        ['a bad regex', { ...base, steps: [{ url: 'http://a.test/', extract: [{ name: 't', from: [{ regex: 'a(b' }] }] }] }, 'recipe.steps[0].extract[0].from[0].regex: is not a valid regular expression'],
        ['a modifier of another source', { ...base, steps: [{ url: 'http://a.test/' }], extract: [{ name: 't', from: { json: '$.t', attribute: 'x' } }] }, 'recipe.extract[0].from.attribute: only applies to css'],
        ['localStorage in HTTP mode', { ...base, steps: [{ url: 'http://a.test/' }], extract: [{ name: 't', from: { localStorage: 'token' } }] }, 'recipe.extract[0].from.localStorage: only exists in browser mode'],
        ['a credential applied to requests', { ...base, steps: [{ url: 'http://a.test/' }], apply: { headers: { Authorization: 'Basic {{password}}' } } }, 'recipe.apply.headers.Authorization: uses the credential {{password}}'],
        ['an unknown apply value', { ...base, steps: [{ url: 'http://a.test/' }], apply: { query: { key: '{{nope}}' } } }, 'recipe.apply.query.key: uses {{nope}}, which no extraction rule defines'],
        ['a non-http URL', { ...base, steps: [{ url: 'ftp://a.test/' }] }, 'recipe.steps[0].url: must be an absolute http: or https: URL'],
        ['two bodies', { ...base, steps: [{ url: 'http://a.test/', form: {}, json: {} }] }, 'recipe.steps[0].json: cannot be combined with form'],
        ['a typo', { ...base, stpes: [] }, 'recipe: has unknown key "stpes"'],
        ['an indicator without pattern', { ...base, steps: [{ url: 'http://a.test/' }], check: { indicators: [{ in: 'body', means: 'valid' }] } }, 'recipe.check.indicators[0]: needs text, regex or status'],
        ['status on a body indicator', { ...base, steps: [{ url: 'http://a.test/' }], check: { indicators: [{ in: 'body', status: [401], means: 'invalid' }] } }, "recipe.check.indicators[0].status: only applies with in: 'status'"],
        ['a bad means', { ...base, steps: [{ url: 'http://a.test/' }], check: { indicators: [{ in: 'body', text: 'x', means: 'logged-in' }] } }, 'recipe.check.indicators[0].means: must be one of "valid", "invalid"'],
        ['verify without a check request', { ...base, steps: [{ url: 'http://a.test/' }], verify: true }, 'recipe.verify: needs check.request'],
        ['collect in HTTP mode', { ...base, steps: [{ url: 'http://a.test/' }], collect: ['http://a.test/api'] }, 'recipe.collect: only applies to browser mode'],
        ['a login that is not a function', { ...base, login: 'page.click()' }, 'recipe.login: must be an async function'],
    ];

    it.each(cases)('refuses %s, naming the field', (_what, input, expected) => {
        let error: unknown;
        try {
            defineLogin(input as unknown as LoginRecipeInput);
        } catch (e) {
            error = e;
        }
        expect(error).toBeInstanceOf(ConfigValidationError);
        expect((error as Error).message).toContain(expected);
        expect((error as Error).message).not.toContain('pw-value-1234');
    });

    it('refuses bad credentials without quoting them', () => {
        const secretNumber = 987_654_321;
        let error: unknown;
        try {
            defineLogin({ name: 'app', credentials: { pin: secretNumber as unknown as string, user: '' }, steps: [{ url: 'http://a.test/' }] });
        } catch (e) {
            error = e;
        }
        expect(error).toBeInstanceOf(ConfigValidationError);
        const message = (error as Error).message;
        expect(message).toContain('recipe.credentials.pin: must be a non-empty string, { env: "VARIABLE" }, { file: "path" } or a function');
        expect(message).toContain('recipe.credentials.user: must not be empty');
        expect(message).not.toContain(String(secretNumber));
    });

    it('refuses quick login for a recipe that cannot verify a restored state', () => {
        const recipe = defineLogin({ name: 'nocheck', steps: [{ url: 'http://a.test/' }] });
        expect(() => loginRenewal(recipe, { quickLogin: { store: new MemorySessionStore() } })).toThrow(
            /login options\.quickLogin: needs a recipe whose check has a request/,
        );
    });

    it('accepts a full recipe and fills the defaults', () => {
        const recipe = formRecipe();
        expect(recipe.mode).toBe('http');
        expect(recipe.verify).toBe(true);
        expect(recipe.browser).toEqual({ headless: true, timeoutSecs: 60, collectTimeoutSecs: 10 });
        expect(Object.isFrozen(recipe)).toBe(true);
    });
});
