import { CookieJar } from 'tough-cookie';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

import {
    createSessionCheck,
    defineCheck,
    evaluateCheck,
    extractValue,
    findKeyRecursively,
    matchesCollectionUrl,
    parseJsonPath,
    valueAtJsonPath,
    type CapturedExchange,
    type CheckResponse,
    type ExtractionEvidence,
    type Indicator,
} from '../src/acquisition/index.js';
import { ConfigValidationError } from '../src/index.js';
import { createIdentity } from '../src/profiles/identity.js';
import { createDetachedSession, type DetachedSession } from '../src/request/detached-session.js';
import { RequestPipeline } from '../src/request/pipeline.js';
import { createSessionClient, type SessionHttpClient } from '../src/request/session-client.js';
import { startLoginSite, type LoginSite } from './support/login-site.js';

let site: LoginSite;

beforeAll(async () => {
    site = await startLoginSite();
});

afterAll(async () => {
    await site?.close();
});

afterEach(() => {
    vi.useRealTimers();
    site.reset();
});

/** A client like a session's: its own jar and identity. */
function client(): { http: SessionHttpClient; jar: CookieJar; session: DetachedSession } {
    const session = createDetachedSession('check-test', { jar: new CookieJar(undefined, { looseMode: true }) });
    const http = createSessionClient({ pipeline: new RequestPipeline(), session, identity: createIdentity(undefined), headerToken: {} });
    return { jar: session.jar, http, session };
}

/** Logs a client in through the form. */
async function formLogin(http: SessionHttpClient): Promise<void> {
    const page = await http.request({ url: `${site.url}/login` });
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)![1]!;
    const answer = await http.request({ url: `${site.url}/login`, form: { user: 'alice', password: 'hunter2-Login-Pass', csrf } });
    expect(new URL(answer.url).pathname).toBe('/account');
}

describe('logged-out indicators on real responses', () => {
    const cases: Array<{ where: string; path: string; indicator: Indicator }> = [
        { where: 'body marker', path: '/page/1', indicator: { in: 'body', text: 'Please sign in', means: 'invalid' } },
        { where: 'status 401', path: '/strict/1', indicator: { in: 'status', status: [401, 403], means: 'invalid' } },
        { where: 'status 403', path: '/forbidden/1', indicator: { in: 'status', text: '403', means: 'invalid' } },
        { where: 'redirect to the login page', path: '/members/1', indicator: { in: 'url', regex: '/login(\\?|$)', means: 'invalid' } },
        { where: 'missing logged-in marker', path: '/account', indicator: { in: 'body', regex: 'log\\s*out', flags: 'i', means: 'valid' } },
    ];

    it.each(cases)('$where: invalid before the login, valid after', async ({ path, indicator }) => {
        const check = createSessionCheck({ request: { url: `${site.url}${path}` }, indicators: [indicator] });
        const { http } = client();
        const before = await check.run(http);
        expect(before.valid).toBe(false);
        expect(before.reason).toMatch(/indicator matched|no logged-in indicator matched/);
        expect(site.protectedRequests.map((r) => r.loggedIn)).toEqual([false]);
        await formLogin(http);
        site.reset();
        const after = await check.run(http);
        expect(after).toMatchObject({ valid: true });
        expect(site.protectedRequests.map((r) => r.loggedIn)).toEqual([true]);
    });

    it('looks at one header or at all of them', async () => {
        const { http } = client();
        const json = createSessionCheck({
            request: { url: `${site.url}/api/me` },
            indicators: [{ in: 'header', header: 'Content-Type', text: 'application/json', means: 'valid' }],
        });
        expect((await json.run(http)).valid).toBe(true);
        const anyHeader = createSessionCheck({
            request: { url: `${site.url}/page/1` },
            indicators: [{ in: 'header', regex: '^content-type: text/html', flags: 'im', means: 'valid' }],
        });
        expect((await anyHeader.run(http)).valid).toBe(true);
    });

    it("sends the check with the session's login values (on their origin) and fills its templates", async () => {
        const { http, session } = client();
        const token = (JSON.parse((await http.request({ url: `${site.url}/api/login`, json: { username: 'alice', password: 'hunter2-Login-Pass' } })).body) as { data: { token: string; apiKey: string } }).data;
        const byHeader = createSessionCheck({ request: { url: `${site.url}/api/me` }, indicators: [{ in: 'status', status: [401], means: 'invalid' }] });
        expect((await byHeader.run(http)).valid).toBe(false);
        const auth = { headers: { Authorization: `Bearer ${token.token}` }, query: {}, values: { key: { value: token.apiKey, source: 'test' } } };
        session.auth = { ...auth, origins: ['https://elsewhere.example'] };
        expect((await byHeader.run(http, auth)).valid, 'the token is scoped to another origin').toBe(false);
        session.auth = { ...auth, origins: [new URL(site.url).origin] };
        expect((await byHeader.run(http, auth)).valid).toBe(true);
        session.auth = undefined;
        const byTemplate = createSessionCheck({
            request: { url: `${site.url}/strict/1`, query: { api_key: '{{key}}' } },
            indicators: [{ in: 'status', status: [401], means: 'invalid' }],
        });
        expect((await byTemplate.run(http, { headers: {}, query: {}, values: auth.values })).valid).toBe(true);
        expect(site.protectedRequests.map((r) => r.via)).toEqual(['none', 'none', 'bearer', 'query']);
    });
});

describe('verdicts', () => {
    const loggedOut: CheckResponse = { statusCode: 200, url: 'http://a.test/page', headers: {}, body: '<p>Please sign in</p>' };
    const loggedIn: CheckResponse = { statusCode: 200, url: 'http://a.test/page', headers: {}, body: '<a>Log out</a>' };

    it('lets a logged-out match win over a logged-in one', () => {
        const check = defineCheck({
            indicators: [
                { in: 'body', text: 'Log out', means: 'valid' },
                { in: 'body', text: 'sign in', ignoreCase: true, means: 'invalid' },
            ],
        });
        expect(evaluateCheck(check, { ...loggedIn, body: 'Log out · SIGN IN' })).toEqual({
            valid: false,
            reason: 'logged-out indicator matched: body contains "sign in"',
        });
        expect(evaluateCheck(check, loggedIn).valid).toBe(true);
        expect(evaluateCheck(check, { ...loggedIn, body: 'nothing' })).toMatchObject({ valid: false });
        const onlyInvalid = defineCheck({ indicators: [{ in: 'status', status: [401], means: 'invalid' }] });
        expect(evaluateCheck(onlyInvalid, { ...loggedIn, body: 'nothing' }).valid).toBe(true);
    });

    it('checks every N requests per session and assumes the session valid in between', async () => {
        const check = createSessionCheck({ indicators: [{ in: 'body', text: 'Please sign in', means: 'invalid' }], every: { requests: 3 } });
        const checked: boolean[] = [];
        const valid: boolean[] = [];
        for (let i = 0; i < 7; i++) {
            const verdict = await check.verdict({ sessionId: 'a', response: loggedOut });
            checked.push(verdict.checked);
            valid.push(verdict.valid);
        }
        expect(checked).toEqual([true, false, false, true, false, false, true]);
        expect(valid).toEqual([false, true, true, false, true, true, false]);
        // Per session: another session's first verdict is checked.
        expect((await check.verdict({ sessionId: 'b', response: loggedIn })).checked).toBe(true);
        // After a renewal, forget() makes the next verdict check.
        check.forget('a');
        expect((await check.verdict({ sessionId: 'a', response: loggedOut })).checked).toBe(true);
    });

    it('checks every N seconds per session', async () => {
        vi.useFakeTimers({ toFake: ['Date'] });
        vi.setSystemTime(new Date('2030-01-01T00:00:00Z'));
        const check = createSessionCheck({ indicators: [{ in: 'body', text: 'Please sign in', means: 'invalid' }], every: { intervalSecs: 10 } });
        const run = async () => (await check.verdict({ sessionId: 's', response: loggedOut })).checked;
        expect(await run()).toBe(true);
        vi.advanceTimersByTime(5_000);
        expect(await run()).toBe(false);
        vi.advanceTimersByTime(4_999);
        expect(await run()).toBe(false);
        vi.advanceTimersByTime(1);
        expect(await run()).toBe(true);
        expect(await run()).toBe(false);
    });

    it('sends one poll for concurrent verdicts of a session', async () => {
        const check = createSessionCheck({
            request: { url: `${site.url}/account` },
            indicators: [{ in: 'body', text: 'Log out', means: 'valid' }],
            every: { requests: 100 },
        });
        const { http } = client();
        await formLogin(http);
        site.reset();
        const verdicts = await Promise.all(Array.from({ length: 5 }, () => check.verdict({ sessionId: 'p', http })));
        expect(verdicts.every((verdict) => verdict.valid)).toBe(true);
        expect(site.protectedRequests.filter((r) => r.path === '/account')).toHaveLength(1);
    });

    it('refuses bad checks, naming the field', () => {
        const attempt = (input: unknown) => {
            try {
                defineCheck(input as never);
            } catch (error) {
                expect(error).toBeInstanceOf(ConfigValidationError);
                return (error as Error).message;
            }
            return 'accepted';
        };
        expect(attempt({ indicators: [] })).toContain('check.indicators: needs at least one indicator');
        expect(attempt({ indicators: [{ in: 'body', text: 'x', regex: 'y', means: 'valid' }] })).toContain('check.indicators[0]: give only one of text, regex');
        expect(attempt({ indicators: [{ in: 'url', regex: '(', means: 'invalid' }] })).toContain('check.indicators[0].regex: is not a valid regular expression');
        expect(attempt({ indicators: [{ in: 'body', text: 'x', means: 'invalid', header: 'x' }] })).toContain("check.indicators[0].header: only applies with in: 'header'");
        expect(attempt({ indicators: [{ in: 'cookies', text: 'x', means: 'invalid' }] })).toContain('check.indicators[0].in: must be one of');
        expect(attempt({ request: { url: '/relative' }, indicators: [{ in: 'body', text: 'x', means: 'valid' }] })).toContain('check.request.url');
        expect(attempt({ indicators: [{ in: 'body', text: 'x', means: 'valid' }], every: { requests: 0 } })).toContain('check.every.requests: must be at least 1');
    });
});

describe('collection URLs', () => {
    it.each([
        ['http://a.test/api/me', 'http://a.test/api/me?view=1', true],
        ['http://a.test/api/me/', 'http://a.test/api/me', true],
        ['http://a.test/api/me', 'https://a.test/api/me/', true],
        ['http://a.test/api/me?view=1', 'http://a.test/api/me?x=2&view=1', true],
        ['http://a.test/api/me?view=1', 'http://a.test/api/me?view=2', false],
        ['http://a.test/api/me?view=1&x=2', 'http://a.test/api/me?view=1', false],
        ['http://a.test/api/me', 'http://a.test/api/me/more', false],
        ['http://a.test/api/me', 'http://a.test:8080/api/me', false],
        ['http://a.test/Api/Me', 'http://a.test/api/me', false],
        ['http://a.test/api?Key=Value', 'http://a.test/api?Key=value', false],
    ])('%s vs %s → %s', (wanted, actual, expected) => {
        expect(matchesCollectionUrl(wanted, actual)).toBe(expected);
    });
});

describe('extraction sources', () => {
    const exchange = (body: string, headers: Record<string, string> = {}, url = 'http://a.test/api/login'): CapturedExchange => ({
        request: { method: 'POST', url, headers: { authorization: 'Bearer req-token', cookie: 'a=1; jwt=x.y=z' } },
        response: { statusCode: 200, url, headers, body },
    });
    const evidence = (...exchanges: CapturedExchange[]): ExtractionEvidence => ({ exchanges, cookies: [] });

    it('reads JSON by path and by recursive key search', () => {
        expect(parseJsonPath("$.data.items[1]['x-y']")).toEqual(['data', 'items', 1, 'x-y']);
        expect(parseJsonPath('data.token')).toEqual(['data', 'token']);
        expect(() => parseJsonPath('$.a..b')).toThrow(SyntaxError);
        const json = { data: { items: [{}, { 'x-y': 7 }] }, deep: { deeper: { token: 'deep' } }, token: 'shallow' };
        expect(valueAtJsonPath(json, parseJsonPath("$.data.items[1]['x-y']"))).toBe(7);
        expect(valueAtJsonPath(json, parseJsonPath('$.data.items[5]'))).toBeUndefined();
        expect(findKeyRecursively(json, 'token')).toBe('shallow');
        expect(findKeyRecursively({ a: [{ b: { access_token: 't' } }] }, 'access_token')).toBe('t');
        const found = extractValue({ name: 't', from: { json: '$.deep.deeper.token' } }, evidence(exchange(JSON.stringify(json))));
        expect(found).toEqual({ value: 'deep', source: 'body:$.deep.deeper.token @ POST /api/login' });
    });

    it('reads regex groups, CSS selectors, form fields, headers and cookies', () => {
        const html = '<html><head><meta name="csrf-token" content="m-1"></head><body><p class="t"> text-1 </p>' +
            '<form><input type="hidden" name="csrf" value="f-1"></form><script>var key = "k-123";</script></body></html>';
        const ev = evidence(exchange(html, { 'x-token': 'h-1', 'set-cookie': 'sid=abc' }, 'http://a.test/page?code=q-1'));
        const value = (from: object) => extractValue({ name: 'v', from: from as never }, ev)?.value;
        expect(value({ regex: 'key = "([^"]+)"' })).toBe('k-123');
        expect(value({ regex: 'key = "(?<key>k-\\d+)"', group: 'key' })).toBe('k-123');
        expect(value({ regex: 'KEY = "k-\\d+"', flags: 'i' })).toBe('key = "k-123"');
        expect(value({ regex: 'x-token: (.+)', in: 'headers' })).toBe('h-1');
        expect(value({ regex: 'code=([\\w-]+)', in: 'url' })).toBe('q-1');
        expect(value({ css: 'p.t' })).toBe('text-1');
        expect(value({ css: 'meta[name=csrf-token]', attribute: 'content' })).toBe('m-1');
        expect(value({ formField: 'csrf' })).toBe('f-1');
        expect(value({ header: 'X-Token' })).toBe('h-1');
        expect(value({ requestHeader: 'Authorization' })).toBe('Bearer req-token');
        expect(value({ query: 'code' })).toBe('q-1');
        expect(value({ cookie: 'jwt' })).toBe('x.y=z'); // from the request's Cookie header; '=' in values survives
        expect(value({ formField: 'nope' })).toBeUndefined();
    });

    it('searches exchanges newest first, and sources in order', () => {
        const ev = evidence(exchange('{"token":"old"}'), exchange('{"token":"new"}'));
        expect(extractValue({ name: 't', from: { jsonKey: 'token' } }, ev)?.value).toBe('new');
        const ordered = extractValue({ name: 't', from: [{ header: 'x-none' }, { jsonKey: 'token' }, { json: '$.token' }] }, ev);
        expect(ordered?.source).toBe('body-key:token @ POST /api/login');
        const storage = extractValue(
            { name: 't', from: { localStorage: 'token', origin: 'http://b.test' } },
            { exchanges: [], cookies: [], localStorage: { 'http://a.test': { token: 'a' }, 'http://b.test': { token: 'b' } } },
        );
        expect(storage).toEqual({ value: 'b', source: 'localStorage:token @ http://b.test' });
    });
});
