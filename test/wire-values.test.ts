import http from 'node:http';

import { gotScraping } from 'got-scraping';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ConfigValidationError } from '../src/shared/validation.js';
import { assertWireValue, findWireValueProblem, isWireValue, type WireValueKind } from '../src/shared/wire-values.js';
import { listenOnLoopback, type LoopbackListener } from './support/loopback.js';

const TOKEN = 'eyJhbGciOi.J9-secret_token';

describe('findWireValueProblem', () => {
    const cases: Array<[WireValueKind, string, string | undefined]> = [
        ['header-value', `Bearer ${TOKEN}`, undefined],
        ['header-value', 'a\tb', undefined],
        ['header-value', `Bearer ${TOKEN}\r\nX-Injected: 1`, 'must not contain line breaks (CR or LF)'],
        ['header-value', 'a\nb', 'must not contain line breaks (CR or LF)'],
        ['header-value', 'a\u0000b', 'must not contain NUL characters'],
        ['header-value', 'a\u001bb', 'must not contain control characters'],
        ['header-value', 'a\u007fb', 'must not contain control characters'],
        ['header-value', 'Mozilla/5.0 …', 'must be printable ASCII: a non-ASCII character cannot be sent in an HTTP header'],
        ['header-value', '', undefined],
        ['header-name', 'X-Api-Key', undefined],
        ['header-name', "!#$%&'*+-.^_`|~09azAZ", undefined],
        ['header-name', 'X Api', 'must be a header name (letters, digits and !#$%&\'*+-.^_`|~)'],
        ['header-name', 'X:Api', 'must be a header name (letters, digits and !#$%&\'*+-.^_`|~)'],
        ['header-name', '', 'must not be empty'],
        ['cookie-name', '__Host-sid', undefined],
        ['cookie-name', 'ASP.NET_SessionId', undefined],
        ['cookie-name', 'a=b', 'must not contain "=": it would end the name'],
        ['cookie-name', 'a;b', 'must not contain ";": it would end the cookie'],
        ['cookie-value', 'a b,"c"', undefined],
        ['cookie-value', `${TOKEN};admin=1`, 'must not contain ";": it would end the value and start another cookie'],
        ['cookie-value', 'caf\u00e9', 'must be printable ASCII: percent-encode other characters (e.g. with encodeURIComponent), as sites do'],
        ['query-value', 'caf\u00e9 & ☕ 😀', undefined],
        ['query-value', `${TOKEN}\r\n`, 'must not contain line breaks (CR or LF)'],
        ['query-value', 'a\u0001', 'must not contain control characters'],
        ['query-value', 'lone \ud83d surrogate', 'must be well-formed text: a lone surrogate would be sent as U+FFFD'],
        ['query-value', 'lone \ude00', 'must be well-formed text: a lone surrogate would be sent as U+FFFD'],
    ];

    it.each(cases)('%s %j', (kind, value, message) => {
        const problem = findWireValueProblem(kind, value);
        expect(problem?.message).toBe(message);
        expect(isWireValue(kind, value)).toBe(message === undefined);
        if (problem) expect(JSON.stringify(problem)).not.toContain('secret');
    });

    it('reports where the first bad character is', () => {
        expect(findWireValueProblem('header-value', 'ab\ncd\r')).toMatchObject({ index: 2, character: 'U+000A' });
        expect(findWireValueProblem('header-value', 'UA 😀')).toMatchObject({ index: 3, character: 'U+1F600' });
    });
});

describe('assertWireValue', () => {
    it('throws a ConfigValidationError naming the field, never the value', () => {
        let error: unknown;
        try {
            assertWireValue('header-value', `Bearer ${TOKEN}\r\nX-Injected: 1`, { subject: 'recipe', path: 'apply.headers.Authorization' });
        } catch (caught) {
            error = caught;
        }
        expect(error).toBeInstanceOf(ConfigValidationError);
        expect((error as ConfigValidationError).code).toBe('ERR_CONFIG_INVALID');
        expect((error as Error).message).toBe(
            `Invalid recipe: recipe.apply.headers.Authorization: must not contain line breaks (CR or LF) (at position ${7 + TOKEN.length})`,
        );
        expect((error as Error).message).not.toContain(TOKEN);
        expect(() => assertWireValue('header-value', `Bearer ${TOKEN}`, { subject: 'recipe', path: 'x' })).not.toThrow();
    });

    it('names the character only when asked (fields that are not secret)', () => {
        expect(() => assertWireValue('header-value', 'UA …', { subject: 'profiles', path: '[0].userAgent', showCharacter: true })).toThrow(
            'profiles[0].userAgent: must be printable ASCII (U+2026 at position 3): a non-ASCII character cannot be sent in an HTTP header',
        );
    });
});

describe('what is accepted can be sent, what is refused would break the request', () => {
    let server: LoopbackListener;
    const seen: Array<string | undefined> = [];

    beforeAll(async () => {
        server = await listenOnLoopback(
            http.createServer((req, res) => {
                seen.push(req.headers['x-value'] as string | undefined);
                res.end('ok');
            }),
        );
    });

    afterAll(async () => {
        await server?.close();
    });

    it('accepted header values arrive unchanged; a refused non-ASCII one makes got fail at send time', async () => {
        for (const value of [`Bearer ${TOKEN}`, 'a\tb', '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~']) {
            expect(isWireValue('header-value', value)).toBe(true);
            await gotScraping({ url: server.url, headers: { 'x-value': value }, retry: { limit: 0 } });
            expect(seen.at(-1)).toBe(value);
        }
        expect(isWireValue('header-value', 'Mozilla/5.0 …')).toBe(false);
        await expect(gotScraping({ url: server.url, headers: { 'x-value': 'Mozilla/5.0 …' }, retry: { limit: 0 } })).rejects.toThrow(/Invalid character/);
    });
});
