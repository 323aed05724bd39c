import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';

import { defineProfiles, loadProfiles, type Profile } from '../src/profiles/profile.js';
import { ProfilePool } from '../src/profiles/profile-pool.js';
import { describeProfile } from '../src/profiles/describe.js';
import { maskCredentials, maskCredentialsInValue, redactProxyUrl } from '../src/shared/redact.js';
import { ConfigValidationError, parseWithZod } from '../src/shared/validation.js';

const PASSWORD = 'hunter2-S3cret';
const UA_FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';

/** Runs `fn`, expects it to throw a ConfigValidationError and returns it. */
function validationErrorOf(fn: () => unknown): ConfigValidationError {
    try {
        fn();
    } catch (error) {
        expect(error).toBeInstanceOf(ConfigValidationError);
        return error as ConfigValidationError;
    }
    throw new Error('expected a ConfigValidationError, but nothing was thrown');
}

describe('parseWithZod', () => {
    const optionsSchema = z.object({
        maxConcurrency: z.int().positive(),
        password: z.string().min(20),
        apiToken: z.string().startsWith('tok_'),
        proxyUrl: z.url(),
        mode: z.enum(['fast', 'safe']),
    });

    it('returns the parsed value when valid', () => {
        const input = { maxConcurrency: 3, password: 'x'.repeat(20), apiToken: 'tok_1', proxyUrl: 'http://h:1', mode: 'fast' };
        expect(parseWithZod(optionsSchema, input, 'options')).toEqual(input);
    });

    it('names every bad field by path, in plain words, and exposes the issues', () => {
        const error = validationErrorOf(() =>
            parseWithZod(
                optionsSchema,
                { maxConcurrency: -1, password: 'short-pass', apiToken: 'leaky-token', proxyUrl: `http://bob:${PASSWORD}`, mode: 'turbo' },
                'options',
            ),
        );
        expect(error.name).toBe('ConfigValidationError');
        expect(error.subject).toBe('options');
        expect(error.message).toMatch(/^Invalid options: /);
        expect(error.message).toContain('options.maxConcurrency: must be greater than 0 (got -1)');
        expect(error.message).toContain('options.mode: must be one of "fast", "safe" (got "turbo")');
        expect(error.issues.map((issue) => issue.path)).toEqual(['maxConcurrency', 'password', 'apiToken', 'proxyUrl', 'mode']);
        for (const issue of error.issues) expect(typeof issue.message).toBe('string');
    });

    it('never shows values of secret fields', () => {
        const error = validationErrorOf(() =>
            parseWithZod(
                optionsSchema,
                { maxConcurrency: 1, password: 'short-pass', apiToken: 'leaky-token', proxyUrl: `http://bob:${PASSWORD}`, mode: 'fast' },
                'options',
            ),
        );
        expect(error.message).toContain('options.password: must have at least 20 characters (got <redacted>)');
        expect(error.message).toContain('options.apiToken: must start with "tok_" (got <redacted>)');
        expect(error.message).toContain('options.proxyUrl: must be a valid URL (got <redacted>)');
        expect(error.message).not.toContain('short-pass');
        expect(error.message).not.toContain('leaky-token');
        expect(error.message).not.toContain(PASSWORD);
        expect(JSON.stringify(error.issues)).not.toContain(PASSWORD);
    });

    it('redacts every value when the subject itself is a secret', () => {
        const error = validationErrorOf(() => parseWithZod(z.string().min(50), 'my-cookie-value', 'cookie'));
        expect(error.message).toBe('Invalid cookie: cookie: must have at least 50 characters (got <redacted>)');
    });

    it('masks credentials in values of ordinary fields too', () => {
        const error = validationErrorOf(() =>
            parseWithZod(z.object({ endpoint: z.number() }), { endpoint: `http://bob:${PASSWORD}@host:1` }, 'options'),
        );
        expect(error.message).toBe('Invalid options: options.endpoint: must be a number, not a string (got "http://bob:***@host:1")');
    });

    it('writes array indexes, odd keys and missing fields readably', () => {
        const schema = z.array(z.object({ headers: z.record(z.string(), z.string()), id: z.string() }));
        const error = validationErrorOf(() => parseWithZod(schema, [{ headers: {}, id: 'a' }, { headers: { 'x-count': 1 } }], 'requests'));
        expect(error.issues).toEqual([
            { path: '[1].headers["x-count"]', message: 'must be a string, not a number (got 1)' },
            { path: '[1].id', message: 'is required (expected a string)' },
        ]);
        expect(error.message).toBe(
            'Invalid requests: requests[1].headers["x-count"]: must be a string, not a number (got 1); requests[1].id: is required (expected a string)',
        );
    });
});

describe('defineProfiles', () => {
    it('returns a frozen copy of valid profiles', () => {
        const profiles = defineProfiles([
            { name: 'de-1', proxy: `http://bob:${PASSWORD}@127.0.0.1:8001`, userAgent: UA_FIREFOX },
            { proxy: 'socks5://10.0.0.2:1080' },
            { proxy: 'https://proxy.example.com:443' },
            { userAgent: UA_FIREFOX },
            { proxy: 'http://[::1]:80' },
        ]);
        expect(profiles).toHaveLength(5);
        expect(profiles[1]).toEqual({ proxy: 'socks5://10.0.0.2:1080' });
        expect(Object.isFrozen(profiles)).toBe(true);
        expect(profiles.every((profile) => Object.isFrozen(profile))).toBe(true);
    });

    it('refuses an entry with neither proxy nor userAgent, naming its index', () => {
        const error = validationErrorOf(() => defineProfiles([{ proxy: 'http://127.0.0.1:8001' }, { name: 'empty' }]));
        expect(error.message).toBe('Invalid profiles: profiles[1]: a profile needs a proxy, a userAgent or both');
        expect(error.issues).toEqual([{ path: '[1]', message: 'a profile needs a proxy, a userAgent or both' }]);
    });

    it('refuses a proxy with an unsupported scheme, naming index and field', () => {
        const error = validationErrorOf(() =>
            defineProfiles([{ userAgent: UA_FIREFOX }, { userAgent: UA_FIREFOX }, { proxy: 'ftp://x' }]),
        );
        expect(error.message).toMatch(/^Invalid profiles: profiles\[2\]\.proxy: must be a URL like http:\/\/user:pass@host:port/);
        expect(error.message).toContain('http:, https: or socks5:');
        expect(error.message).toContain('(got "ftp://x")');
        expect(error.issues[0]?.path).toBe('[2].proxy');
    });

    it('refuses proxies without a port or that are not URLs, without showing the password', () => {
        const badProxies = [
            `http://bob:${PASSWORD}@proxy.example.com`,
            `bob:${PASSWORD}@proxy.example.com:8000`,
            `http://bob:${PASSWORD} with space@proxy.example.com:8000`,
            `http://bob:${PASSWORD}@`,
            'not a url',
        ];
        for (const proxy of badProxies) {
            const error = validationErrorOf(() => defineProfiles([{ proxy }]));
            expect(error.message).toContain('profiles[0].proxy: must be a URL like http://user:pass@host:port');
            expect(error.message).not.toContain(PASSWORD);
            expect(JSON.stringify(error.issues)).not.toContain(PASSWORD);
        }
        const error = validationErrorOf(() => defineProfiles([{ proxy: `http://bob:${PASSWORD}@proxy.example.com` }]));
        expect(error.message).toContain('the port is missing (got "http://bob:***@proxy.example.com")');
        // a value that does not parse as a URL with a host cannot be told apart from its credentials
        expect(validationErrorOf(() => defineProfiles([{ proxy: `bob:${PASSWORD}` }])).message).toContain('(got <redacted>)');
    });

    it('accepts an explicit default port', () => {
        expect(defineProfiles([{ proxy: 'http://proxy.example.com:80' }])).toEqual([{ proxy: 'http://proxy.example.com:80' }]);
    });

    it('refuses user agents with CR/LF/NUL, empty or too long', () => {
        const error = validationErrorOf(() =>
            defineProfiles([
                { userAgent: `${UA_FIREFOX}\r\nX-Injected: 1` },
                { userAgent: 'bad\u0000ua' },
                { userAgent: '' },
                { userAgent: 'x'.repeat(1001) },
                { userAgent: 'x'.repeat(1000) },
            ]),
        );
        expect(error.issues.map((issue) => issue.path)).toEqual(['[0].userAgent', '[1].userAgent', '[2].userAgent', '[3].userAgent']);
        expect(error.message).toContain(`profiles[0].userAgent: must not contain line breaks (CR or LF) (U+000D at position ${UA_FIREFOX.length})`);
        expect(error.message).toContain('profiles[1].userAgent: must not contain NUL characters (U+0000 at position 3)');
        expect(error.message).toContain('profiles[2].userAgent: must not be empty');
        expect(error.message).toContain('profiles[3].userAgent: must be at most 1000 characters long');
    });

    it('refuses user agents that are not printable ASCII, naming the character (they would fail every request)', () => {
        const error = validationErrorOf(() =>
            defineProfiles([
                // the README's example once had this "…": Node refuses to send it, so every request failed
                { userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) …' },
                { userAgent: 'Mozilla/5.0 \u201cquoted\u201d' },
                { userAgent: 'Mozilla/5.0\u0007bell' },
                { userAgent: 'Mozilla/5.0 (caf\u00e9)' },
                { userAgent: 'Mozilla/5.0\t(tabs are valid in header values)' },
            ]),
        );
        expect(error.issues.map((issue) => issue.path)).toEqual(['[0].userAgent', '[1].userAgent', '[2].userAgent', '[3].userAgent']);
        expect(error.message).toContain(
            'profiles[0].userAgent: must be printable ASCII (U+2026 at position 42): a non-ASCII character cannot be sent in an HTTP header',
        );
        expect(error.message).toContain('profiles[1].userAgent: must be printable ASCII (U+201C at position 12)');
        expect(error.message).toContain('profiles[2].userAgent: must not contain control characters (U+0007 at position 11)');
        expect(error.message).toContain('profiles[3].userAgent: must be printable ASCII (U+00E9 at position 16)');
    });

    it('refuses unknown keys, so typos are not silently ignored', () => {
        const error = validationErrorOf(() => defineProfiles([{ userAgnet: UA_FIREFOX }]));
        expect(error.message).toContain('profiles[0]: has unknown key "userAgnet"');
    });

    it('refuses a value that is not an array, an empty list and entries that are not objects', () => {
        expect(validationErrorOf(() => defineProfiles({ profiles: [] })).message).toBe(
            "Invalid profiles: profiles: must be an array of profiles like [{ proxy: 'http://user:pass@host:port' }]",
        );
        expect(validationErrorOf(() => defineProfiles(undefined)).issues[0]?.path).toBe('');
        expect(validationErrorOf(() => defineProfiles([])).message).toBe('Invalid profiles: profiles: must contain at least one profile');
        expect(validationErrorOf(() => defineProfiles([{ userAgent: UA_FIREFOX }, 'http://h:1'])).message).toBe(
            'Invalid profiles: profiles[1]: must be an object like { proxy, userAgent, name } (got "http://h:1")',
        );
    });

    it('reports every bad entry at once', () => {
        const error = validationErrorOf(() => defineProfiles([{}, { proxy: 'ftp://x' }, { userAgent: 'ok' }, { userAgent: 7 }]));
        expect(error.issues.map((issue) => issue.path)).toEqual(['[0]', '[1].proxy', '[3].userAgent']);
    });
});

describe('redactProxyUrl / describeProfile', () => {
    it('replaces the password and keeps everything else', () => {
        expect(redactProxyUrl(`http://bob:${PASSWORD}@127.0.0.1:8001`)).toBe('http://bob:***@127.0.0.1:8001');
        expect(redactProxyUrl(`socks5://alice:${PASSWORD}@proxy.example.com:1080`)).toBe('socks5://alice:***@proxy.example.com:1080');
        expect(redactProxyUrl(`http://:${PASSWORD}@h:1`)).toBe('http://:***@h:1');
        expect(redactProxyUrl('http://bob@h:1')).toBe('http://bob@h:1');
        expect(redactProxyUrl('https://proxy.example.com:443')).toBe('https://proxy.example.com:443');
        expect(redactProxyUrl('http://[::1]:8080')).toBe('http://[::1]:8080');
        expect(redactProxyUrl('http://h:1/?token=abc')).toBe('http://h:1?***');
    });

    it('never echoes a malformed URL', () => {
        expect(redactProxyUrl(`http://bob:${PASSWORD}@`)).toBe('<invalid proxy url>');
        expect(redactProxyUrl(`bob:${PASSWORD}@host:8000`)).toBe('<invalid proxy url>');
        expect(redactProxyUrl('')).toBe('<invalid proxy url>');
    });

    it('describes a profile briefly and safely', () => {
        const description = describeProfile({ proxy: `http://bob:${PASSWORD}@127.0.0.1:8001`, userAgent: UA_FIREFOX });
        expect(description).toBe(`http://bob:***@127.0.0.1:8001 · ${UA_FIREFOX.slice(0, 40)}…`);
        expect(description).not.toContain(PASSWORD);
        expect(describeProfile({ name: 'de-1', proxy: 'socks5://10.0.0.2:1080' })).toBe('de-1 · socks5://10.0.0.2:1080');
        expect(describeProfile({ userAgent: 'curl/8.0' })).toBe('curl/8.0');
        expect(describeProfile({ proxy: `http://bob:${PASSWORD}@`, userAgent: 'a\r\nb' })).toBe('<invalid proxy url> · a  b');
    });

    it('masks credentials in free text and single values', () => {
        expect(maskCredentials(`proxy http://bob:${PASSWORD}@h:1 failed`)).toBe('proxy http://bob:***@h:1 failed');
        expect(maskCredentials(`proxy: 'http://bob:${PASSWORD} x@h:1',`)).toBe("proxy: 'http://bob:***@h:1',");
        expect(maskCredentials('see http://host/x?mail=a@b.c')).toBe('see http://host/x?mail=a@b.c');
        expect(maskCredentialsInValue(`bob:${PASSWORD}@h:1`)).toBe('bob:***@h:1');
        expect(maskCredentialsInValue('http://h:1')).toBe('http://h:1');
    });
});

describe('loadProfiles', () => {
    let directory: string;

    beforeAll(async () => {
        directory = await mkdtemp(join(tmpdir(), 'crawlee-sessions-profiles-'));
    });

    afterAll(async () => {
        await rm(directory, { recursive: true, force: true });
    });

    /** Writes `source` to a new file in the temp directory and returns its absolute path. */
    async function writeModule(fileName: string, source: string): Promise<string> {
        const path = join(directory, fileName);
        await writeFile(path, source);
        return path;
    }

    it('loads the default export of a .ts file, with types, given a path relative to cwd', async () => {
        const path = await writeModule(
            'default-export.ts',
            `type P = { proxy?: string; userAgent?: string };
             const list: P[] = [{ proxy: 'http://bob:${PASSWORD}@127.0.0.1:8001' }, { userAgent: 'curl/8.0' }];
             export default list;`,
        );
        const profiles = await loadProfiles(relative(process.cwd(), path));
        expect(profiles).toEqual([{ proxy: `http://bob:${PASSWORD}@127.0.0.1:8001` }, { userAgent: 'curl/8.0' }]);
        expect(Object.isFrozen(profiles)).toBe(true);
    });

    it('loads the "profiles" export of a .ts file', async () => {
        const path = await writeModule('named-export.ts', `export const profiles = [{ proxy: 'socks5://10.0.0.2:1080' }]; export const other = 1;`);
        expect(await loadProfiles(path)).toEqual([{ proxy: 'socks5://10.0.0.2:1080' }]);
    });

    it('loads a .ts file inside an ES-module package', async () => {
        const packageDirectory = join(directory, 'esm-package');
        await mkdir(packageDirectory);
        await writeFile(join(packageDirectory, 'package.json'), '{ "type": "module" }');
        await writeFile(join(packageDirectory, 'profiles.ts'), `export default [{ userAgent: 'esm' }] satisfies { userAgent: string }[];`);
        expect(await loadProfiles(join(packageDirectory, 'profiles.ts'))).toEqual([{ userAgent: 'esm' }]);
    });

    it('loads the default and the "profiles" export of .mjs files', async () => {
        const withDefault = await writeModule('default-export.mjs', `export default [{ userAgent: 'one' }];`);
        const withNamed = await writeModule('named-export.mjs', `export const profiles = [{ userAgent: 'two' }];`);
        expect(await loadProfiles(withDefault)).toEqual([{ userAgent: 'one' }]);
        expect(await loadProfiles(withNamed)).toEqual([{ userAgent: 'two' }]);
    });

    it('prefers the default export over "profiles"', async () => {
        const path = await writeModule('both.mjs', `export default [{ userAgent: 'default' }]; export const profiles = [{ userAgent: 'named' }];`);
        expect(await loadProfiles(path)).toEqual([{ userAgent: 'default' }]);
    });

    it('names the path and the expected exports when neither exists', async () => {
        const tsPath = await writeModule('no-export.ts', 'export const proxies = [];');
        const mjsPath = await writeModule('no-export.mjs', 'export const something = 1;');
        await expect(loadProfiles(tsPath)).rejects.toThrow(
            `Cannot load profiles from ${tsPath}: expected a default export or an export named "profiles" holding an array of profiles, but the module only exports proxies.`,
        );
        await expect(loadProfiles(mjsPath)).rejects.toThrow(`Cannot load profiles from ${mjsPath}: expected a default export or an export named "profiles"`);
    });

    it('names the resolved path when the file is missing', async () => {
        const missing = join(directory, 'missing.ts');
        await expect(loadProfiles(missing)).rejects.toThrow(`Cannot load profiles: no such file ${missing}.`);
        await expect(loadProfiles(relative(process.cwd(), missing))).rejects.toThrow(
            `Cannot load profiles: no such file ${missing} (resolved "${relative(process.cwd(), missing)}" against ${process.cwd()}).`,
        );
    });

    it('reports invalid profiles with the file as source, without passwords', async () => {
        const path = await writeModule('invalid.ts', `export default [{ proxy: 'http://bob:${PASSWORD}@host' }, {}];`);
        const error = await loadProfiles(path).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(ConfigValidationError);
        const { message, source, issues } = error as ConfigValidationError;
        expect(source).toBe(path);
        expect(message).toMatch(new RegExp(`^Invalid profiles in ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: profiles\\[0\\]\\.proxy: `));
        expect(message).toContain('profiles[1]: a profile needs a proxy, a userAgent or both');
        expect(issues.map((issue) => issue.path)).toEqual(['[0].proxy', '[1]']);
        expect(message).not.toContain(PASSWORD);
    });

    it('masks credentials when the module fails to import', async () => {
        const path = await writeModule('throws.mjs', `throw new Error('cannot reach http://bob:${PASSWORD}@host:1');`);
        const error = (await loadProfiles(path).catch((caught: unknown) => caught)) as Error;
        expect(error.message).toBe(`Cannot load profiles from ${path}: importing the module failed: cannot reach http://bob:***@host:1`);
    });
});

describe('ProfilePool', () => {
    const threeProfiles: readonly Profile[] = defineProfiles([
        { proxy: 'http://10.0.0.1:8000' },
        { proxy: 'http://10.0.0.2:8000' },
        { proxy: 'http://10.0.0.3:8000' },
    ]);

    it('assigns round-robin and recycles once sessions outnumber profiles', () => {
        const pool = new ProfilePool(threeProfiles);
        const order = Array.from({ length: 7 }, () => pool.acquire());
        expect(order).toEqual([0, 1, 2, 0, 1, 2, 0]);
        expect(pool.usage()).toEqual([3, 2, 2]);
        expect(pool.size).toBe(3);
    });

    it('gives the least-used profile first', () => {
        const pool = new ProfilePool(threeProfiles);
        pool.acquire(); // 0
        pool.acquire(); // 1
        pool.acquire(); // 2
        pool.acquire(); // 0
        expect(pool.usage()).toEqual([2, 1, 1]);
        expect(pool.release(0)).toBe(true);
        expect(pool.release(0)).toBe(true);
        expect(pool.usage()).toEqual([0, 1, 1]);
        expect(pool.acquire()).toBe(0);
        // counts are equal again: the least recently assigned of 1 and 2 comes next
        expect(pool.acquire()).toBe(1);
    });

    it('never releases below zero and ignores unknown indexes', () => {
        const pool = new ProfilePool(threeProfiles);
        expect(pool.release(1)).toBe(false);
        expect(pool.release(7)).toBe(false);
        expect(pool.release(-1)).toBe(false);
        expect(pool.usage()).toEqual([0, 0, 0]);
    });

    it('avoids the given profile when there is another', () => {
        const pool = new ProfilePool(threeProfiles);
        expect(pool.acquire({ avoid: 0 })).toBe(1);
        expect(pool.acquire({ avoid: 2 })).toBe(0);
        // 2 is least used, but avoided: the least used among the others wins
        expect(pool.acquire({ avoid: 2 })).toBe(1);
        expect(pool.usage()).toEqual([1, 2, 0]);

        const single = new ProfilePool(defineProfiles([{ userAgent: 'only' }]));
        expect(single.acquire({ avoid: 0 })).toBe(0);
        expect(single.acquire({ avoid: 0 })).toBe(0);
    });

    it('counts restored assignments without rotating', () => {
        const pool = new ProfilePool(threeProfiles);
        expect(pool.restore(0)).toBe(true);
        expect(pool.restore(1)).toBe(true);
        expect(pool.restore(5)).toBe(false);
        expect(pool.restore(1.5)).toBe(false);
        expect(pool.usage()).toEqual([1, 1, 0]);
        expect(pool.acquire()).toBe(2);
        expect(pool.acquire()).toBe(0);
        expect(pool.acquire()).toBe(1);
        expect(pool.usage()).toEqual([2, 2, 1]);
    });

    it('returns profiles by index', () => {
        const pool = new ProfilePool(threeProfiles);
        expect(pool.get(1)).toBe(threeProfiles[1]);
        expect(pool.get(3)).toBeUndefined();
        expect(pool.get(-1)).toBeUndefined();
    });

    it('hands out nothing when empty', () => {
        const pool = new ProfilePool([]);
        expect(pool.size).toBe(0);
        expect(pool.acquire()).toBeUndefined();
        expect(pool.acquire({ avoid: 0 })).toBeUndefined();
        expect(pool.restore(0)).toBe(false);
        expect(pool.release(0)).toBe(false);
        expect(pool.get(0)).toBeUndefined();
        expect(pool.usage()).toEqual([]);
    });
});
