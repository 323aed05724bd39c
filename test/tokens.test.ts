import { log } from 'crawlee';
import { Cookie, CookieJar } from 'tough-cookie';
import { describe, expect, it } from 'vitest';

import { Sessions } from '../src/index.js';
import { storeSetCookieHeaders } from '../src/shared/cookies.js';
import { SessionTokens, type TokenRotation } from '../src/tokens/session-tokens.js';
import { DEFAULT_TOKEN_NAMES, TokenNames, normalizeSite, siteOf } from '../src/tokens/token-names.js';
import { internalsOf } from '../src/core/internals.js';

log.setLevel(log.LEVELS.OFF);

const SITE = 'shop.example:443';
const URL_ = 'https://shop.example/';

describe('token names', () => {
    const names = new TokenNames();

    it('knows ZAP\'s defaults and the common modern ones, case-insensitively', () => {
        for (const name of ['ASP.NET_SessionId', 'ASPSESSIONID', 'siteserver', 'CFID', 'cftoken', 'JSESSIONID', 'PHPSESSID', 'sessid', 'SID', 'viewstate', 'zenid']) {
            expect(names.isToken(SITE, name), name).toBe(true);
        }
        for (const name of ['connect.sid', 'laravel_session', '_session_id', 'ci_session', 'sessionid', '_myapp_session', 'shop_session']) {
            expect(names.isToken(SITE, name), name).toBe(true);
        }
        for (const name of ['theme', 'lang', '_ga', 'sidebar', 'csrftoken', 'sessions']) expect(names.isToken(SITE, name), name).toBe(false);
        expect(DEFAULT_TOKEN_NAMES).toContain('jsessionid');
    });

    it('recognises the random suffix IIS adds to ASPSESSIONID', () => {
        expect(names.isToken(SITE, 'ASPSESSIONIDQQGQGQAB')).toBe(true);
        expect(names.isToken(SITE, 'aspsessionidcsrbdsct')).toBe(true);
        expect(names.isToken(SITE, 'ASPSESSIONIDQQGQ')).toBe(false); // not IIS's 8 characters
        expect(names.isToken(SITE, 'XASPSESSIONIDQQGQGQAB')).toBe(false);
    });

    it('adds and removes tokens per site (a site is host:port)', () => {
        const perSite = new TokenNames({ sites: { 'https://shop.example': { add: ['cart_key'], remove: ['sid'] } } });
        expect(perSite.isToken(SITE, 'CART_KEY')).toBe(true);
        expect(perSite.isToken(SITE, 'sid')).toBe(false);
        expect(perSite.isToken('shop.example:80', 'cart_key')).toBe(false);
        expect(perSite.isToken('shop.example:80', 'sid')).toBe(true);
        perSite.add(SITE, 'sid');
        expect(perSite.isToken(SITE, 'sid')).toBe(true);
        perSite.remove(SITE, 'shop_session'); // a name a pattern covers
        expect(perSite.isToken(SITE, 'shop_session')).toBe(false);
        expect(perSite.isToken(SITE, 'other_session')).toBe(true);
        expect(perSite.describe(SITE)).toMatchObject({ added: ['cart_key', 'sid'], removed: ['shop_session'] });
        expect(() => perSite.add(SITE, 'bad name')).toThrow(/cookie name/);
    });

    it('normalises sites', () => {
        expect(normalizeSite('https://Shop.Example/x?y')).toBe(SITE);
        expect(normalizeSite('http://shop.example')).toBe('shop.example:80');
        expect(normalizeSite('SHOP.example:8080')).toBe('shop.example:8080');
        expect(normalizeSite('[::1]:8080')).toBe('[::1]:8080');
        expect(siteOf('http://127.0.0.1:3000/a')).toBe('127.0.0.1:3000');
        // Whatever the text, the site is the URL parser's (remembered origins included, hostile ones too).
        for (const text of [
            'http://evil.example\\@good.example/x', 'http://u:p@Good.Example:8080/x', 'https://good.example:443/', 'HTTP://GOOD.example#x',
            'http://go%6Fd.example/', ' http://good.example/', 'http://good.example\t.evil/', 'https://[::1]/x', 'http://good.example?q',
            'http://good.example:0080/', 'wss://good.example/', 'http://good.example./',
        ]) {
            for (let repeat = 0; repeat < 2; repeat++) {
                const url = new URL(text);
                expect(siteOf(text), text).toBe(siteOf(url));
            }
        }
        expect(() => normalizeSite('shop.example')).toThrow(/host:port/);
    });
});

describe('session tokens', () => {
    async function withSessions(run: (sessions: Sessions) => Promise<void> | void) {
        const sessions = await Sessions.open({ store: 'memory' });
        try {
            await run(sessions);
        } finally {
            await sessions.close();
        }
    }

    it('reports a session\'s token values per site, from its jar', async () => {
        await withSessions((sessions) => {
            sessions.addCookies('alice', ['PHPSESSID=p1; Path=/', 'theme=dark; Path=/', 'ASPSESSIONIDQQGQGQAB=iis; Path=/app'], URL_);
            sessions.addCookies('alice', ['JSESSIONID=other-site; Path=/'], 'https://elsewhere.example/');
            sessions.addCookies('alice', ['sid=wide; Domain=example.test; Path=/'], 'https://www.example.test/');
            expect(sessions.tokens.values('alice', SITE)).toEqual({ PHPSESSID: 'p1', ASPSESSIONIDQQGQGQAB: 'iis' });
            expect(sessions.tokens.values('alice', 'https://elsewhere.example')).toEqual({ JSESSIONID: 'other-site' });
            expect(sessions.tokens.values('alice', 'api.example.test:443')).toEqual({ sid: 'wide' }); // a domain cookie
            expect(sessions.tokens.values('nobody', SITE)).toEqual({});
            // Without a site: every site the session talked to or is active on.
            sessions.tokens.activate(SITE, 'alice');
            expect(sessions.tokens.values('alice')).toEqual({ [SITE]: { PHPSESSID: 'p1', ASPSESSIONIDQQGQGQAB: 'iis' } });
        });
    });

    it('matches cookie sets to sessions the way ZAP does', async () => {
        await withSessions((sessions) => {
            sessions.addCookies('a', ['PHPSESSID=1; Path=/'], URL_);
            sessions.addCookies('b', ['PHPSESSID=2; Path=/', 'cfid=x; Path=/'], URL_);
            sessions.addCookies('c', ['PHPSESSID=2; Path=/', 'cfid=x; Path=/', 'cftoken=t; Path=/'], URL_);
            sessions.addCookies('empty', ['theme=dark; Path=/'], URL_);

            expect(sessions.tokens.match('PHPSESSID=1; theme=light', SITE)).toBe('a');
            expect(sessions.tokens.match({ phpsessid: '1' }, SITE)).toBe('a'); // names are case-insensitive
            // b and c both hold PHPSESSID=2 and cfid=x, but c also holds cftoken, absent from the cookies: only b.
            expect(sessions.tokens.match('PHPSESSID=2; cfid=x', SITE)).toBe('b');
            expect(sessions.tokens.match('PHPSESSID=2; cfid=x; CFTOKEN=t', SITE)).toBe('c');
            // b lacks cfid=y: a different value disqualifies.
            expect(sessions.tokens.match('PHPSESSID=2; cfid=y', SITE)).toBeUndefined();
            // A token present in the cookies but held by no session.
            expect(sessions.tokens.match('PHPSESSID=9', SITE)).toBeUndefined();
            // No token at all: no match (ZAP would pick any tokenless session).
            expect(sessions.tokens.match('theme=dark', SITE)).toBeUndefined();
            // Other input forms.
            expect(sessions.tokens.match([['PHPSESSID', '1']], SITE)).toBe('a');
            expect(sessions.tokens.match([{ name: 'PHPSESSID', value: '2' }, new Cookie({ key: 'cfid', value: 'x' })], SITE)).toBe('b');
            // Per-site token configuration counts: without cftoken as a token, c qualifies for the shorter set too
            // and ties with b on two equal values; the oldest session (b) wins.
            sessions.tokens.names.remove(SITE, 'cftoken');
            expect(sessions.tokens.match('PHPSESSID=2; cfid=x', SITE)).toBe('b');
        });
    });

    it('disqualifies a session that lacks a token the cookies carry', async () => {
        await withSessions((sessions) => {
            sessions.addCookies('one', ['jsessionid=j; Path=/'], URL_);
            sessions.addCookies('two', ['jsessionid=j; Path=/', 'zenid=z; Path=/'], URL_);
            sessions.tokens.names.add(SITE, 'cart');
            // 'one' lacks zenid while the cookies carry it → disqualified; 'two' matches both.
            expect(sessions.tokens.match('jsessionid=j; zenid=z', SITE)).toBe('two');
        });
    });

    it('activates and deactivates a site\'s session', async () => {
        await withSessions((sessions) => {
            expect(sessions.tokens.activeSession(SITE)).toBeUndefined();
            sessions.tokens.activate('https://shop.example/', 'alice');
            expect(sessions.tokens.activeSession(SITE)).toBe('alice');
            expect(internalsOf(sessions).sessionIdForUrl('https://shop.example/cart')).toBe('alice');
            expect(internalsOf(sessions).sessionIdForUrl('http://shop.example/cart')).toBe('default'); // another site (port 80)
            expect(sessions.tokens.deactivate(SITE)).toBe(true);
            expect(sessions.tokens.deactivate(SITE)).toBe(false);
            expect(internalsOf(sessions).sessionIdForUrl('https://shop.example/cart')).toBe('default');
            expect(() => sessions.tokens.activate('shop.example', 'alice')).toThrow(/host:port/);
        });
    });

    it('records a rotation when a Set-Cookie changes a token value, not when it sets one first', () => {
        const jars = new Map<string, CookieJar>();
        const rotations: TokenRotation[] = [];
        const viaCallback: TokenRotation[] = [];
        const tracker = new SessionTokens({ ids: () => jars.keys(), jarOf: (id) => jars.get(id) }, { onRotation: (r) => viaCallback.push(r) });
        tracker.on('rotation', (rotation) => rotations.push(rotation));
        const jar = new CookieJar();
        jars.set('s', jar);
        const receive = (setCookie: string[], url = 'https://shop.example/login?token=secret') =>
            tracker.observeSetCookie('s', jar, url, setCookie, () => storeSetCookieHeaders(jar, setCookie, url));

        receive(['PHPSESSID=first; Path=/', 'theme=dark; Path=/']);
        expect(rotations).toEqual([]);
        receive(['PHPSESSID=first; Path=/']); // same value again
        receive(['theme=light; Path=/']);
        expect(rotations).toEqual([]);
        receive(['PHPSESSID=second; Path=/']);
        receive(['PHPSESSID=third; Path=/', 'zenid=z; Path=/'], 'https://shop.example/account');
        expect(rotations.map((r) => [r.token, r.rotations, r.site])).toEqual([
            ['PHPSESSID', 1, SITE],
            ['PHPSESSID', 2, SITE],
        ]);
        expect(viaCallback).toEqual(rotations);
        expect(rotations[0]!.url).toBe('https://shop.example/login'); // no query
        expect(rotations[0]!.previousFingerprint).not.toBe(rotations[0]!.fingerprint);
        expect(rotations[1]!.previousFingerprint).toBe(rotations[0]!.fingerprint);
        expect(JSON.stringify(rotations)).not.toMatch(/first|second|third|secret/);
        expect(tracker.activityOf('s')).toEqual([{ site: SITE, messages: 0, rotations: 2 }]);
    });
});
