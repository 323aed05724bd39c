import { describe, expect, it } from 'vitest';

import { defineCheck, evaluateCheck } from '../src/acquisition/check.js';
import { Redactor } from '../src/acquisition/credentials.js';
import { extractValue } from '../src/acquisition/extract.js';
import { describeCause } from '../src/shared/describe.js';
import { LiteralMask } from '../src/shared/literal-mask.js';
import { maskCredentials, maskCredentialsInValue } from '../src/shared/redact.js';
import { MAX_REGEX_INPUT_LENGTH, regexInput } from '../src/shared/regex-input.js';

const PASSWORD = 'hunter2-S3cret';

/**
 * The regular expression maskCredentials used before it was made linear (quadratic on inputs like `=:=:=:…`),
 * kept here as the reference its results must equal.
 */
function referenceMask(text: string): string {
    const credentials = /(^|[\s'"`(<=,[{])([a-z][a-z0-9+.-]*:\/\/)?([^\s:@/'"`]*):(?!\/\/)[^\s'"`]*@/gi;
    return text
        .replace(/(['"`])([^'"`\r\n]*)\1/g, (_match, quote: string, inner: string) => `${quote}${maskCredentialsInValue(inner)}${quote}`)
        .replace(credentials, (_match, boundary: string, scheme: string | undefined, user: string) => `${boundary}${scheme ?? ''}${user}:***@`);
}

/** A small deterministic pseudo-random generator, so that a failure can be replayed. */
function random(seed: number): () => number {
    let state = seed;
    return () => {
        state = (state * 1103515245 + 12345) & 0x7fffffff;
        return state / 0x7fffffff;
    };
}

describe('maskCredentials', () => {
    it('masks passwords in free text as before', () => {
        expect(maskCredentials('connect to http://bob:hunter2@proxy:8000 failed')).toBe('connect to http://bob:***@proxy:8000 failed');
        expect(maskCredentials("proxy: 'bob:hunter2@proxy:8000',")).toBe("proxy: 'bob:***@proxy:8000',");
        expect(maskCredentials(`a=http://u:${PASSWORD}@h:1 (socks5://x:p@ss@h:2) "http://q:w w@h"`)).toBe(
            'a=http://u:***@h:1 (socks5://x:***@h:2) "http://q:***@h"',
        );
        expect(maskCredentials('http://host:80/path and a:b without at')).toBe('http://host:80/path and a:b without at');
    });

    it('gives the same results as the previous regular expression on 20 000 random texts', () => {
        const next = random(12);
        const alphabet = ['a', 'b', ':', '@', '/', ' ', "'", '"', '`', '(', '=', ',', '[', '{', '<', '.', '+', '-', '1', 'h', 't', 'p', '\n', '\t', 'Z'];
        for (let round = 0; round < 20_000; round++) {
            const length = 1 + Math.floor(next() * 40);
            let text = '';
            for (let i = 0; i < length; i++) text += alphabet[Math.floor(next() * alphabet.length)];
            if (next() < 0.3) text = text.replace(/^(.{0,5})/, '$1http://');
            expect(maskCredentials(text), JSON.stringify(text)).toBe(referenceMask(text));
        }
    });

    it('is correct on large and adversarial inputs', () => {
        const noise = '=:'.repeat(250_000); // made the previous expression take minutes
        expect(maskCredentials(noise)).toBe(noise);
        expect(maskCredentials(`${noise}@`)).toBe('=:***@');
        const text = `${noise} then http://bob:${PASSWORD}@proxy:8000 and ${'(a:'.repeat(100_000)} ${'x'.repeat(300_000)}`;
        const masked = maskCredentials(text);
        expect(masked).not.toContain(PASSWORD);
        expect(masked).toContain(' then http://bob:***@proxy:8000 and ');
        expect(masked.length).toBe(text.length - PASSWORD.length + 3);
        const quoted = `'${'a:'.repeat(100_000)}${PASSWORD}@h' `.repeat(3);
        expect(maskCredentials(quoted)).toBe(`'a:***@h' `.repeat(3));
        const value = `http://bob:${'p@'.repeat(200_000)}@host`;
        expect(maskCredentialsInValue(value)).toBe('http://bob:***@host');
    });

    it('describeCause stays short and masked on huge messages', () => {
        const described = describeCause(new Error(`${'=:'.repeat(50_000)} http://bob:${PASSWORD}@h`));
        expect(described.length).toBeLessThanOrEqual(501);
        expect(described).not.toContain(PASSWORD);
    });
});

describe('Redactor', () => {
    it('masks every secret and its encoded forms', () => {
        const redactor = new Redactor().add(PASSWORD, 'p@ss word&x', 'abc');
        expect(redactor.scrub(`pw=${PASSWORD}&q=${encodeURIComponent('p@ss word&x')} f=p%40ss+word%26x abc`)).toBe('pw=***&q=*** f=*** abc');
        expect(new Redactor().scrub(PASSWORD)).toBe(PASSWORD);
    });

    it('masks overlapping secrets whole, and secrets next to combining marks', () => {
        const redactor = new Redactor().add('abcd', 'cdef');
        // One by one, longest first, left "ef" (the tail of the second secret) visible.
        expect(redactor.scrub('xabcdefx')).toBe('x***x');
        expect(redactor.scrub('abcdabcd cdef')).toBe('*** ***');
        expect(new Redactor().add('secret').scrub('xsecret\u0301y')).toBe('x***\u0301y');
    });

    it('is correct on large and adversarial inputs with many secrets', () => {
        const redactor = new Redactor();
        for (let n = 0; n < 100; n++) redactor.add(`${'x'.repeat(n + 4)}y`);
        const text = `${'x'.repeat(2_000_000)}`;
        expect(redactor.scrub(text)).toBe(text);
        expect(redactor.scrub(`${text}y`)).toBe(`${'x'.repeat(2_000_000 - 103)}***`);
        const tokens = new Redactor();
        const secrets = Array.from({ length: 200 }, (_, n) => `token-${n}-${'k'.repeat(n % 17)}-end`);
        tokens.add(...secrets);
        const body = secrets.map((secret, n) => `<p data-n="${n}">${secret}</p>`).join('\n').repeat(50);
        const scrubbed = tokens.scrub(body);
        for (const secret of secrets) expect(scrubbed).not.toContain(secret);
        expect(scrubbed.split('***').length - 1).toBe(200 * 50);
    });
});

describe('LiteralMask', () => {
    it('agrees with a naive union of occurrences on random texts', () => {
        const next = random(7);
        for (let round = 0; round < 3000; round++) {
            const literal = () => Array.from({ length: 1 + Math.floor(next() * 4) }, () => 'ab'[Math.floor(next() * 2)]).join('');
            const literals = Array.from({ length: 1 + Math.floor(next() * 4) }, literal);
            const text = Array.from({ length: Math.floor(next() * 30) }, () => 'abc'[Math.floor(next() * 3)]).join('');
            const covered = new Array<boolean>(text.length).fill(false);
            for (const item of literals) {
                for (let at = text.indexOf(item); at !== -1; at = text.indexOf(item, at + 1)) covered.fill(true, at, at + item.length);
            }
            let expected = '';
            for (let i = 0; i < text.length; i++) expected += covered[i] ? (i > 0 && covered[i - 1] ? '' : '#') : text[i];
            expect(new LiteralMask(literals).mask(text, '#'), `${JSON.stringify(literals)} in ${text}`).toBe(expected);
        }
    });
});

describe('bounded input of user regular expressions', () => {
    const padding = 'x'.repeat(MAX_REGEX_INPUT_LENGTH);

    it('cuts text to the documented bound', () => {
        expect(regexInput('short')).toBe('short');
        expect(regexInput(`${padding}tail`)).toBe(padding);
    });

    it('check indicators look at the first 1 MiB of a body with a regex, the whole body with text', () => {
        const check = defineCheck({ indicators: [{ in: 'body', regex: 'Log(ged)? out', means: 'valid' }] });
        const response = (body: string) => ({ statusCode: 200, url: 'http://site.test/', headers: {}, body });
        expect(evaluateCheck(check, response(`Logged out ${padding}`)).valid).toBe(true);
        expect(evaluateCheck(check, response(`${padding}Logged out`)).valid).toBe(false);
        const literal = defineCheck({ indicators: [{ in: 'body', text: 'Log out', means: 'valid' }] });
        expect(evaluateCheck(literal, response(`${padding}Log out`)).valid).toBe(true);
    });

    it('regex extraction looks at the first 1 MiB of a body', () => {
        const evidence = (body: string) => ({
            exchanges: [{ request: { method: 'GET', url: 'http://site.test/', headers: {} }, response: { statusCode: 200, url: 'http://site.test/', headers: {}, body } }],
            cookies: [],
        });
        const rule = { name: 'token', from: { regex: 'token=(\\w+)' } };
        expect(extractValue(rule, evidence(`token=abc ${padding}`))?.value).toBe('abc');
        expect(extractValue(rule, evidence(`${padding}token=abc`))).toBeUndefined();
    });
});
