import { createHash } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { defineUrlNormalizerRules, normalizeUrl, sessionHash, type UrlNormalizerRule } from '../src/maintainer/url-normalizer.js';
import { ConfigValidationError } from '../src/shared/validation.js';

const rules = defineUrlNormalizerRules([
    { host: 'api.example.com', path: '/v1/session/', keepKeys: ['tenant', 'region'] },
    { host: 'API.example.com', pathPrefix: '/v2/', keepKeys: ['tenant'] },
    { pathRegex: '^/orders/[0-9]+$', keepKeys: ['shop'] },
    { host: 'gw.example.com:8443', pathPrefix: '/', keepKeys: ['svc'] },
    { pathRegex: /^\/Case\//i, keepKeys: ['token'] },
]);

describe('normalizeUrl', () => {
    it('without rules drops the query, the fragment and trailing slashes, and lower-cases scheme and host only', () => {
        expect(normalizeUrl('HTTPS://Shop.Example.COM:443/Account/Orders/?page=2&sort=Desc#top')).toBe('https://shop.example.com/Account/Orders');
        expect(normalizeUrl('https://shop.example.com/')).toBe('https://shop.example.com');
        expect(normalizeUrl('https://shop.example.com')).toBe('https://shop.example.com');
        expect(normalizeUrl('http://shop.example.com:8080//')).toBe('http://shop.example.com:8080');
        expect(normalizeUrl('https://alice:secret@shop.example.com/x')).toBe('https://shop.example.com/x');
    });

    it('keeps the keep keys of the first matching rule, in the rule’s order, with case-sensitive values', () => {
        expect(normalizeUrl('https://api.example.com/v1/session?region=EU&x=1&tenant=AcMe#f', rules)).toBe(
            'https://api.example.com/v1/session?tenant=AcMe&region=EU',
        );
        // Exact path ignores a trailing slash on either side.
        expect(normalizeUrl('https://API.Example.com/v1/session/?tenant=a&region=b', rules)).toBe(
            'https://api.example.com/v1/session?tenant=a&region=b',
        );
        // Rule hosts are compared without case; a prefix rule.
        expect(normalizeUrl('https://api.example.com/v2/Items/?tenant=T1&page=3', rules)).toBe('https://api.example.com/v2/Items?tenant=T1');
        // A key with several values keeps all of them, as written (encoding untouched).
        expect(normalizeUrl('https://x.example/orders/42?shop=a%20b&zz=1&shop=C', rules)).toBe('https://x.example/orders/42?shop=a%20b&shop=C');
        // A regex given as a RegExp, flags kept.
        expect(normalizeUrl('https://x.example/CASE/1?token=AbC&other=1', rules)).toBe('https://x.example/CASE/1?token=AbC');
    });

    it('skips a rule unless every keep key is present, and falls through to the next rule', () => {
        // The exact /v1/session rule needs tenant and region; no other rule matches /v1/session: query dropped.
        expect(normalizeUrl('https://api.example.com/v1/session?tenant=a', rules)).toBe('https://api.example.com/v1/session');
        const ordered = defineUrlNormalizerRules([
            { pathPrefix: '/a', keepKeys: ['first', 'second'] },
            { pathPrefix: '/a', keepKeys: ['second'] },
        ]);
        expect(normalizeUrl('https://h.example/a?second=2&first=1', ordered)).toBe('https://h.example/a?first=1&second=2');
        expect(normalizeUrl('https://h.example/a?second=2', ordered)).toBe('https://h.example/a?second=2');
    });

    it('matches host:port rules against the port, and host rules against any port', () => {
        expect(normalizeUrl('https://gw.example.com:8443/any/path?svc=Billing&t=1', rules)).toBe('https://gw.example.com:8443/any/path?svc=Billing');
        expect(normalizeUrl('https://gw.example.com/any/path?svc=Billing', rules)).toBe('https://gw.example.com/any/path');
        expect(normalizeUrl('https://api.example.com:9000/v2/x?tenant=t', rules)).toBe('https://api.example.com:9000/v2/x?tenant=t');
        // A rule for another host does not apply.
        expect(normalizeUrl('https://other.example/v2/x?tenant=t', rules)).toBe('https://other.example/v2/x');
    });

    it('accepts plain rules (validated on the spot)', () => {
        expect(normalizeUrl('https://h.example/p?k=V&j=1', [{ path: '/p', keepKeys: ['k'] }])).toBe('https://h.example/p?k=V');
    });
});

describe('sessionHash', () => {
    it('is sha256 hex of application + "\\n" + the normalised URL', () => {
        const expected = createHash('sha256').update('shop\nhttps://api.example.com/v1/session?tenant=AcMe&region=EU').digest('hex');
        expect(sessionHash('shop', 'https://API.example.com/v1/session/?region=EU&tenant=AcMe&utm=x#frag', rules)).toBe(expected);
    });

    it('is stable across URL variants and distinguishes applications and case-sensitive values', () => {
        const a = sessionHash('shop', 'https://api.example.com/v2/list?tenant=Acme&page=1', rules);
        expect(sessionHash('shop', 'https://API.EXAMPLE.COM/v2/list/?page=9&tenant=Acme#x', rules)).toBe(a);
        expect(sessionHash('shop', 'https://api.example.com/v2/list?tenant=acme', rules)).not.toBe(a);
        expect(sessionHash('crm', 'https://api.example.com/v2/list?tenant=Acme', rules)).not.toBe(a);
        expect(sessionHash('shop', 'https://api.example.com/v2/List?tenant=Acme', rules)).not.toBe(a);
    });
});

describe('bad rules', () => {
    const refusal = (input: unknown): string => {
        try {
            defineUrlNormalizerRules(input as UrlNormalizerRule[]);
        } catch (error) {
            expect(error).toBeInstanceOf(ConfigValidationError);
            return (error as Error).message;
        }
        throw new Error('accepted');
    };

    it('are refused with the rule and field named', () => {
        expect(refusal([{ path: '/a', keepKeys: ['k'] }, { path: '/b', keepKeys: [] }])).toBe(
            'Invalid urlNormalizer: urlNormalizer[1].keepKeys: needs at least one query parameter name',
        );
        expect(refusal([{ keepKeys: ['k'] }])).toBe('Invalid urlNormalizer: urlNormalizer[0]: needs one of path, pathPrefix or pathRegex');
        expect(refusal([{ path: '/a', pathPrefix: '/a', keepKeys: ['k'] }])).toBe(
            'Invalid urlNormalizer: urlNormalizer[0]: give only one of path, pathPrefix',
        );
        expect(refusal([{ pathRegex: '(', keepKeys: ['k'] }])).toMatch(/urlNormalizer\[0\]\.pathRegex: is not a valid regular expression/);
        expect(refusal([{ path: 'a', keepKeys: ['k'] }])).toMatch(/urlNormalizer\[0\]\.path: must start with "\/"/);
        expect(refusal([{ path: '/a', keepKeys: ['k'], keep: ['x'] }])).toMatch(/urlNormalizer\[0\]: has unknown key "keep"/);
    });
});
