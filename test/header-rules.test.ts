import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import { log } from 'crawlee';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { compileUrlGlob, MAX_GLOB_INPUT_LENGTH } from '../src/headers/conditions.js';
import { HeaderRuleError, HeaderRules, HEADER_RULES_COLLECTION } from '../src/headers/header-rules.js';
import { HeaderPipeline } from '../src/headers/pipeline.js';
import { describeRule, isSensitiveHeader, redactHeaders, redactHeaderValue } from '../src/headers/redact.js';
import type { ReplaceStrategy } from '../src/headers/rule.js';
import { changedValue, type RequestHeaders } from '../src/headers/strategies.js';
import { MemorySessionStore } from '../src/stores/memory-store.js';
import { MySqlSessionStore } from '../src/stores/mysql-store.js';
import { ConfigValidationError } from '../src/shared/validation.js';
import { mysqlForTests, mysqlQuery, useTablePrefixes } from './support/mysql.js';

const execFileAsync = promisify(execFile);

log.setLevel(log.LEVELS.OFF);

afterEach(() => {
    vi.useRealTimers();
});

/** A memory store that remembers with which options each entry was last written (to see what is sealed). */
class RecordingStore extends MemorySessionStore {
    readonly secretFlags = new Map<string, boolean>();
    override async putEntry(collection: string, key: string, value: unknown, options?: { secret?: boolean }): Promise<void> {
        this.secretFlags.set(`${collection}/${key}`, options?.secret === true);
        await super.putEntry(collection, key, value);
    }
}

function target(url: string, method = 'GET', sessionId = 's1') {
    return { url: new URL(url), method, sessionId };
}

/** Applies the loaded rules to a copy of `headers` for a request and returns the result. */
async function applied(pipeline: HeaderPipeline, headers: RequestHeaders, url = 'https://example.com/a', method = 'GET', sessionId = 's1') {
    await pipeline.ready();
    const copy = { ...headers };
    pipeline.apply(copy, target(url, method, sessionId));
    return copy;
}

describe('strategies', () => {
    const change = (strategy: ReplaceStrategy, pattern?: RegExp) => ({ name: 'x-h', value: 'new', strategy, separator: '; ', pattern });
    // [strategy, absent, empty, present "old"]
    const table: Array<[ReplaceStrategy, RegExp | undefined, string | undefined, string | undefined, string | undefined]> = [
        ['REPLACE', undefined, undefined, 'new', 'new'],
        ['APPEND', undefined, 'new', 'new', 'old; new'],
        ['PREPEND', undefined, 'new', 'new', 'new; old'],
        ['CONDITIONAL', undefined, 'new', 'new', undefined],
        ['CONDITIONAL', /^ol/, 'new', 'new', 'new'],
        ['CONDITIONAL', /^zz/, 'new', 'new', undefined],
        ['UPSERT', undefined, 'new', 'new', 'new'],
    ];
    for (const [strategy, pattern, absent, empty, present] of table) {
        it(`${strategy}${pattern ? ` ${pattern}` : ''}: absent → ${absent}, empty → ${empty}, present → ${present}`, () => {
            expect(changedValue(undefined, change(strategy, pattern))).toBe(absent);
            expect(changedValue('', change(strategy, pattern))).toBe(empty);
            expect(changedValue('old', change(strategy, pattern))).toBe(present);
        });
    }

    it('applies each strategy through a stored rule, to present, absent and empty headers', async () => {
        for (const [strategy, pattern, absent, empty, present] of table) {
            const store = new MemorySessionStore();
            const pipeline = new HeaderPipeline(store, { refreshIntervalMillis: 0, cleanupIntervalMillis: 0 });
            await pipeline.rules.add({ name: 'r', header: 'X-H', value: 'new', strategy, separator: '; ', pattern: pattern?.source });
            expect((await applied(pipeline, {}))['x-h']).toBe(absent);
            expect((await applied(pipeline, { 'x-h': '' }))['x-h']).toBe(empty === undefined ? '' : empty);
            // Header names are case-insensitive: the request's own spelling is replaced by the lower-case one.
            const result = await applied(pipeline, { 'X-H': 'old' });
            if (present === undefined) expect(result).toEqual({ 'X-H': 'old' });
            else expect(result).toEqual({ 'x-h': present });
            pipeline.close();
        }
    });
});

describe('HeaderRules', () => {
    it('applies rules in priority order (higher later, so it wins), ties by creation time', async () => {
        vi.useFakeTimers({ toFake: ['Date'] });
        vi.setSystemTime(1_000_000);
        const store = new MemorySessionStore();
        const pipeline = new HeaderPipeline(store, { refreshIntervalMillis: 0, cleanupIntervalMillis: 0 });
        const rules = pipeline.rules;
        await rules.add({ name: 'z-late-low', header: 'X-Order', value: 'low', strategy: 'APPEND', priority: 10 });
        vi.setSystemTime(1_000_500);
        await rules.add({ name: 'a-high', header: 'X-Order', value: 'high', strategy: 'APPEND', priority: 90 });
        vi.setSystemTime(1_001_000);
        await rules.add({ name: 'm-tie-second', header: 'X-Order', value: 'tie2', strategy: 'APPEND', priority: 50 });
        vi.setSystemTime(900_000); // created "earlier" than m-tie-second: applied before it despite the name
        await rules.add({ name: 'n-tie-first', header: 'X-Order', value: 'tie1', strategy: 'APPEND', priority: 50 });
        expect((await applied(pipeline, {}))['x-order']).toBe('low, tie1, tie2, high');

        // Two UPSERTs: the higher priority wins whatever the order they were added in.
        await rules.add({ name: 'win', header: 'X-Win', value: 'winner', priority: 80 });
        await rules.add({ name: 'lose', header: 'X-Win', value: 'loser', priority: 20 });
        expect((await applied(pipeline, {}))['x-win']).toBe('winner');

        // A fresh instance reading the same store computes the same order.
        const other = new HeaderPipeline(store, { refreshIntervalMillis: 0, cleanupIntervalMillis: 0 });
        expect((await applied(other, {}))['x-order']).toBe('low, tie1, tie2, high');
        expect((await other.rules.list()).map((rule) => rule.name)).toEqual(['z-late-low', 'lose', 'n-tie-first', 'm-tie-second', 'win', 'a-high']);
        pipeline.close();
        other.close();
    });

    it('matches on URL glob, URL regex, host, method and session ids', async () => {
        const pipeline = new HeaderPipeline(new MemorySessionStore(), { refreshIntervalMillis: 0, cleanupIntervalMillis: 0 });
        const rules = pipeline.rules;
        await rules.add({ name: 'glob', header: 'X-Glob', value: '1', match: { urlGlob: 'https://example.com/api/**' } });
        await rules.add({ name: 'one-segment', header: 'X-Segment', value: '1', match: { urlGlob: 'https://EXAMPLE.com/*/items' } });
        await rules.add({ name: 'regex', header: 'X-Regex', value: '1', match: { urlRegex: '/v\\d+/items' } });
        await rules.add({ name: 'host', header: 'X-Host', value: '1', match: { host: '*.example.org' } });
        await rules.add({ name: 'port', header: 'X-Port', value: '1', match: { host: 'example.com:8443' } });
        await rules.add({ name: 'method', header: 'X-Method', value: '1', match: { methods: 'post' } });
        await rules.add({ name: 'session', header: 'X-Session', value: '1', match: { sessionIds: ['alice', 7] } });
        const names = async (url: string, method = 'GET', sessionId = 's1') =>
            Object.keys(await applied(pipeline, {}, url, method, sessionId)).sort();

        expect(await names('https://example.com/api/v2/items?x=1')).toEqual(['x-glob', 'x-regex']);
        // Crawlee's glob semantics: `*` stays within one segment, case-insensitive.
        expect(await names('https://example.com/shop/items')).toEqual(['x-segment']);
        expect(await names('https://example.com/a/b/items')).toEqual([]);
        // A hostile URL length is refused, not worked through.
        const matches = compileUrlGlob('https://example.com/**/x*y*z');
        expect(matches(`https://example.com/${'a/'.repeat(1000)}xayz`)).toBe(true);
        expect(() => matches(`https://example.com/${'a'.repeat(MAX_GLOB_INPUT_LENGTH)}`)).toThrow(/longer than 1048576 \(1 MiB\): not matched against the URL glob/);
        expect(await names('https://example.com/apiary')).toEqual([]);
        expect(await names('https://shop.example.org/')).toEqual(['x-host']);
        expect(await names('https://example.org/')).toEqual([]); // *.example.org: subdomains, not the apex
        expect(await names('https://example.com:8443/')).toEqual(['x-port']);
        expect(await names('https://example.com/', 'POST')).toEqual(['x-method']);
        expect(await names('https://example.com/', 'GET', 'alice')).toEqual(['x-session']);
        expect(await names('https://example.com/', 'GET', '7')).toEqual(['x-session']);
        pipeline.close();
    });

    it('adds, updates (keeping createdAt, bumping updatedAt), renames, disables, enables and removes rules', async () => {
        const store = new MemorySessionStore();
        const rules = new HeaderRules(store, { refreshIntervalMillis: 0 });
        const added = await rules.add({ name: 'ua-suffix', header: 'User-Agent', value: 'bot/1', strategy: 'append', separator: ' ' });
        expect(added).toMatchObject({ strategy: 'APPEND', priority: 50, active: true, secret: false, match: {} });
        await expect(rules.add({ name: 'ua-suffix', header: 'X-A', value: '1' })).rejects.toMatchObject({ code: 'ERR_HEADER_RULE', reason: 'exists' });

        const updated = await rules.update('ua-suffix', { value: 'bot/2', match: { host: 'example.com' } });
        expect(updated.createdAt).toBe(added.createdAt);
        expect(updated.updatedAt).toBeGreaterThan(added.updatedAt);
        expect(updated).toMatchObject({ value: 'bot/2', separator: ' ', strategy: 'APPEND', match: { host: 'example.com' } });
        const widened = await rules.update('ua-suffix', { match: { host: undefined, methods: ['GET'] } });
        expect(widened.match).toEqual({ methods: ['GET'] });

        await rules.add({ name: 'other', header: 'X-Other', value: '1' });
        await expect(rules.update('ua-suffix', { name: 'other' })).rejects.toBeInstanceOf(HeaderRuleError);
        const renamed = await rules.update('ua-suffix', { name: 'ua' });
        expect(renamed.createdAt).toBe(added.createdAt);
        expect(await rules.get('ua-suffix')).toBeUndefined();
        expect((await rules.get('ua'))?.value).toBe('bot/2');

        expect((await rules.disable('ua')).active).toBe(false);
        await rules.ready();
        expect(rules.applicable(target('https://example.com/')).map((rule) => rule.rule.name)).toEqual(['other']);
        expect((await rules.enable('ua')).active).toBe(true);
        expect(rules.applicable(target('https://example.com/')).map((rule) => rule.rule.name).sort()).toEqual(['other', 'ua']);

        expect(await rules.remove('ua')).toBe(true);
        expect(await rules.remove('ua')).toBe(false);
        await expect(rules.update('ua', { value: 'x' })).rejects.toMatchObject({ code: 'ERR_HEADER_RULE', reason: 'not-found' });
        expect((await store.listEntries(HEADER_RULES_COLLECTION)).map((entry) => entry.key)).toEqual(['other']);
    });

    it('picks up rules another process added, changed or removed, on refresh() and on its interval', async () => {
        vi.useFakeTimers();
        const store = new MemorySessionStore();
        const crawler = new HeaderRules(store, { refreshIntervalMillis: 10_000 });
        const cli = new HeaderRules(store, { refreshIntervalMillis: 0 });
        await crawler.ready();
        await cli.add({ name: 'from-cli', header: 'X-Cli', value: '1' });
        expect(crawler.loadedRules).toEqual([]);
        await crawler.refresh();
        expect(crawler.loadedRules.map((rule) => rule.name)).toEqual(['from-cli']);

        await cli.update('from-cli', { value: '2' });
        await cli.add({ name: 'second', header: 'X-Second', value: '1' });
        await vi.advanceTimersByTimeAsync(9_000);
        expect(crawler.loadedRules.map((rule) => rule.value)).toEqual(['1']);
        await vi.advanceTimersByTimeAsync(1_000);
        expect(crawler.loadedRules.map((rule) => `${rule.name}=${rule.value}`)).toEqual(['from-cli=2', 'second=1']);

        await cli.remove('from-cli');
        await vi.advanceTimersByTimeAsync(10_000);
        expect(crawler.loadedRules.map((rule) => rule.name)).toEqual(['second']);

        crawler.close();
        await cli.add({ name: 'after-close', header: 'X-Late', value: '1' });
        await vi.advanceTimersByTimeAsync(60_000);
        expect(crawler.loadedRules.map((rule) => rule.name)).toEqual(['second']);
    });

    it('stops reloading once its owner is closed', async () => {
        vi.useFakeTimers();
        let closed = false;
        const store = new MemorySessionStore();
        const rules = new HeaderRules(store, { refreshIntervalMillis: 1_000, isClosed: () => closed });
        await rules.ready();
        await new HeaderRules(store, { refreshIntervalMillis: 0 }).add({ name: 'a', header: 'X-A', value: '1' });
        closed = true;
        await vi.advanceTimersByTimeAsync(5_000);
        expect(rules.loadedRules).toEqual([]);
        expect(vi.getTimerCount()).toBe(0);
    });

    it('skips a malformed stored rule with a warning instead of failing', async () => {
        const store = new MemorySessionStore();
        await store.putEntry(HEADER_RULES_COLLECTION, 'broken', { header: 'Bad Header', value: 'x' });
        const rules = new HeaderRules(store, { refreshIntervalMillis: 0 });
        await rules.add({ name: 'fine', header: 'X-Fine', value: '1' });
        await rules.refresh();
        expect(rules.loadedRules.map((rule) => rule.name)).toEqual(['fine']);
        expect((await rules.list()).map((rule) => rule.name)).toEqual(['fine']);
    });
});

describe('validation', () => {
    const rules = new HeaderRules(new MemorySessionStore(), { refreshIntervalMillis: 0 });

    async function refusal(input: Record<string, unknown>): Promise<ConfigValidationError> {
        const error = await rules.add(input as never).then(
            () => undefined,
            (caught: unknown) => caught,
        );
        expect(error).toBeInstanceOf(ConfigValidationError);
        return error as ConfigValidationError;
    }

    it('refuses header injection in values, naming the field and never echoing the value', async () => {
        for (const value of ['Bearer abc\r\nX-Evil: 1', 'abc\nSet-Cookie: x=1', 'abc\0def', 'abc\rdef']) {
            const error = await refusal({ name: 'inj', header: 'Authorization', value });
            expect(error.message).toMatch(/^Invalid headerRule: headerRule.value: must not contain CR, LF, NUL/);
            expect(error.message).not.toContain('abc');
        }
        const long = await refusal({ name: 'long', header: 'X-A', value: 'v'.repeat(2001) });
        expect(long.message).toContain('value: must have at most 2000 characters');
        expect(long.message).not.toContain('vvvv');
        await refusal({ name: 'empty', header: 'X-A', value: '' });
    });

    it('refuses header names that are not RFC 9110 tokens, or that rules must not set', async () => {
        for (const header of ['X Bad', 'X:Bad', 'X-Bad\r\nX-Evil', '', 'x'.repeat(201), 'Ü']) {
            const error = await refusal({ name: 'n', header, value: '1' });
            expect(error.message).toContain('headerRule.header: ');
        }
        expect((await refusal({ name: 'n', header: 'Cookie', value: 'a=1' })).message).toContain('sessions.addCookies()');
        expect((await refusal({ name: 'n', header: 'content-length', value: '1' })).message).toContain('framing');
        await expect(rules.add({ name: 'token-ok', header: "X-!#$%&'*+-.^_`|~0", value: '1' })).resolves.toBeDefined();
    });

    it('refuses out-of-range priorities, unknown strategies, bad regexes, hosts and unknown fields', async () => {
        expect((await refusal({ name: 'n', header: 'X-A', value: '1', priority: 101 })).message).toContain('priority: must be at most 100');
        expect((await refusal({ name: 'n', header: 'X-A', value: '1', priority: -1 })).message).toContain('priority: must be at least 0');
        expect((await refusal({ name: 'n', header: 'X-A', value: '1', priority: 1.5 })).message).toContain('priority');
        expect((await refusal({ name: 'n', header: 'X-A', value: '1', strategy: 'MERGE' })).message).toContain('strategy: must be one of');
        const regex = await refusal({ name: 'n', header: 'X-A', value: '1', match: { urlRegex: '([a-z' } });
        expect(regex.message).toMatch(/match\.urlRegex: is not a valid regular expression \(/);
        const pattern = await refusal({ name: 'n', header: 'X-A', value: '1', strategy: 'CONDITIONAL', pattern: '*x' });
        expect(pattern.message).toContain('pattern: is not a valid regular expression');
        expect((await refusal({ name: 'n', header: 'X-A', value: '1', match: { host: 'http://x/' } })).message).toContain('match.host');
        expect((await refusal({ name: 'n', header: 'X-A', value: '1', colour: 'red' })).message).toContain('unknown key "colour"');
        expect((await refusal({ name: 'bad\nname', header: 'X-A', value: '1' })).message).toContain('headerRule.name: ');
    });
});

describe('redaction', () => {
    it('knows which headers are sensitive', () => {
        for (const name of ['Authorization', 'proxy-authorization', 'Cookie', 'Set-Cookie', 'X-Api-Key', 'X-Auth-Token', 'X-CSRF-Token']) {
            expect(isSensitiveHeader(name), name).toBe(true);
        }
        for (const name of ['Accept-Language', 'User-Agent', 'X-Requested-With']) expect(isSensitiveHeader(name), name).toBe(false);
        expect(isSensitiveHeader('X-Plain', true)).toBe(true);
        expect(redactHeaderValue('Authorization', 'Bearer abc.def')).toBe('Bearer ***');
        expect(redactHeaderValue('Authorization', 'abcdef')).toBe('***');
        expect(redactHeaderValue('X-Trace', 'visible')).toBe('visible');
        expect(redactHeaders({ authorization: 'Basic dXNlcjpwYXNz', accept: 'text/html', 'x-a': ['1', '2'] })).toEqual({
            authorization: 'Basic ***',
            accept: 'text/html',
            'x-a': '1, 2',
        });
    });

    it('hides sensitive values in list() and describe(), reveals them on request, and marks them secret in the store', async () => {
        const store = new RecordingStore();
        const rules = new HeaderRules(store, { refreshIntervalMillis: 0 });
        await rules.add({ name: 'auth', header: 'Authorization', value: 'Bearer top-secret-token' });
        await rules.add({ name: 'marked', header: 'X-Custom', value: 'hidden-too', secret: true });
        await rules.add({ name: 'plain', header: 'X-Trace', value: 'visible' });

        const listed = await rules.list();
        expect(JSON.stringify(listed)).not.toContain('top-secret-token');
        expect(JSON.stringify(listed)).not.toContain('hidden-too');
        expect(listed.map((rule) => rule.value)).toEqual(['Bearer ***', '***', 'visible']);
        expect((await rules.list({ reveal: true })).map((rule) => rule.value)).toEqual(['Bearer top-secret-token', 'hidden-too', 'visible']);
        expect((await rules.get('auth'))?.value).toBe('Bearer top-secret-token');
        expect(rules.describe((await rules.get('marked'))!).value).toBe('***');
        expect(describeRule((await rules.get('plain'))!).value).toBe('visible');

        expect(store.secretFlags.get(`${HEADER_RULES_COLLECTION}/auth`)).toBe(true);
        expect(store.secretFlags.get(`${HEADER_RULES_COLLECTION}/marked`)).toBe(true);
        expect(store.secretFlags.get(`${HEADER_RULES_COLLECTION}/plain`)).toBe(true); // every rule is stored as a secret
    });
});

const mysqlDb = await mysqlForTests();

describe.skipIf(!mysqlDb.available)(mysqlDb.suiteName('header rules in MySQL'), () => {
    const newPrefix = useTablePrefixes();
    const SECRET = 'header-rules-test-secret';

    /** Runs `code` in a separate Node process (like the CLI or another crawler), with HeaderRules on the MySQL store. */
    async function inOtherProcess(tablePrefix: string, code: string): Promise<string> {
        const script = `
            const { HeaderRules } = await import(${JSON.stringify(new URL('../src/headers/header-rules.ts', import.meta.url).pathname)});
            const { MySqlSessionStore } = await import(${JSON.stringify(new URL('../src/stores/mysql-store.ts', import.meta.url).pathname)});
            const store = await MySqlSessionStore.open({ url: ${JSON.stringify(mysqlDb.url)}, tablePrefix: ${JSON.stringify(tablePrefix)}, secret: ${JSON.stringify(SECRET)} });
            const rules = new HeaderRules(store, { refreshIntervalMillis: 0 });
            try { ${code} } finally { await store.close(); }`;
        const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
            cwd: new URL('..', import.meta.url).pathname,
        });
        return stdout;
    }

    it('shares rules between processes, and seals sensitive values at rest', async () => {
        const tablePrefix = newPrefix();
        const store = await MySqlSessionStore.open({ url: mysqlDb.url, tablePrefix, secret: SECRET });
        const rules = new HeaderRules(store, { refreshIntervalMillis: 0 });
        try {
            await rules.ready();
            await rules.add({ name: 'local', header: 'X-Local', value: 'here', priority: 10 });
            const listedThere = await inOtherProcess(
                tablePrefix,
                `await rules.add({ name: 'remote-auth', header: 'Authorization', value: 'Bearer remote-secret-token', match: { host: 'api.example.com' } });
                 await rules.update('local', { priority: 60 });
                 console.log(JSON.stringify(await rules.list()));`,
            );
            // The other process sees this one's rule, and lists its own with the value hidden.
            const listed = JSON.parse(listedThere) as Array<{ name: string; value: string; priority: number }>;
            expect(listed.map((rule) => [rule.name, rule.value, rule.priority])).toEqual([
                ['remote-auth', 'Bearer ***', 50],
                ['local', 'here', 60],
            ]);
            expect(listedThere).not.toContain('remote-secret-token');

            expect(rules.loadedRules.map((rule) => rule.name)).toEqual(['local']);
            await rules.refresh();
            expect(rules.loadedRules.map((rule) => `${rule.name}:${rule.priority}`)).toEqual(['remote-auth:50', 'local:60']);
            const applicable = rules.applicable({ url: new URL('https://api.example.com/x'), method: 'GET', sessionId: 's' });
            expect(applicable.map((rule) => rule.value)).toEqual(['Bearer remote-secret-token', 'here']);

            // At rest: every rule is sealed, whatever its header.
            const rows = await mysqlQuery(`SELECT entry_key, value, secret FROM \`${tablePrefix}_entries\` WHERE collection = ?`, [HEADER_RULES_COLLECTION]);
            const byKey = new Map(rows.map((row) => [String(row.entry_key), row]));
            expect(String(byKey.get('remote-auth')!.value)).toMatch(/^enc:v2:/);
            expect(String(byKey.get('remote-auth')!.value)).not.toContain('remote-secret-token');
            expect(Number(byKey.get('remote-auth')!.secret)).toBe(1);
            expect(String(byKey.get('local')!.value)).toMatch(/^enc:v2:/); // every rule is sealed, whatever its header

            // Removed in one process, gone in the other after its reload.
            await inOtherProcess(tablePrefix, `await rules.remove('remote-auth');`);
            await rules.refresh();
            expect(rules.loadedRules.map((rule) => rule.name)).toEqual(['local']);
        } finally {
            rules.close();
            await store.close();
        }
    });
});
