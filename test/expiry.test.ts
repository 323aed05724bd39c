/** When a session's login ends: cookie expiry, JWT exp (hostile input ignored safely), auth.expiresAt, the due time. */
import { Cookie } from 'tough-cookie';
import { describe, expect, it } from 'vitest';

import { jwtExpiry, MAX_JWT_LENGTH, renewalDueAt, sessionExpiry } from '../src/renewal/expiry.js';

const NOW = Date.UTC(2026, 0, 1);
const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const token = (claims: unknown) => `${b64({ alg: 'none' })}.${b64(claims)}.sig`;

describe('jwtExpiry', () => {
    it('reads exp and iat of a bare token, a Bearer value and a token inside a larger value', () => {
        const jwt = token({ exp: NOW / 1000 + 60, iat: NOW / 1000 });
        expect(jwtExpiry(jwt, NOW)).toEqual({ exp: NOW + 60_000, iat: NOW });
        expect(jwtExpiry(`Bearer ${jwt}`, NOW)?.exp).toBe(NOW + 60_000);
        expect(jwtExpiry(`a=1; t=${jwt}; b=2`, NOW)?.exp).toBe(NOW + 60_000);
    });

    it('ignores hostile or meaningless tokens without throwing', () => {
        const cases = [
            token({ exp: 'soon' }),
            token({ exp: null }),
            token({ exp: 1e308 }),
            token({ exp: -1 }),
            token({ exp: NOW / 1000 - 2 * 365 * 24 * 3600 }), // absurdly old
            token({ exp: NOW / 1000 + 50 * 365 * 24 * 3600 }), // absurdly far
            token([1, 2]),
            `${b64({ alg: 'none' })}.eyJ${'%%%'}.sig`,
            `${b64({ alg: 'none' })}.${b64('{"exp": 1')}.sig`, // truncated JSON
            `${b64({ alg: 'none' })}.${b64('{"__proto__": {"exp": 99999999999}}')}.sig`,
            `Bearer ${token({ exp: NOW / 1000 + 60 }).padEnd(MAX_JWT_LENGTH + 1, 'A')}`,
            'not a token',
            '',
        ];
        for (const value of cases) expect(jwtExpiry(value, NOW), value.slice(0, 60)).toBeUndefined();
        expect(jwtExpiry(undefined as unknown as string, NOW)).toBeUndefined();
    });
});

describe('sessionExpiry', () => {
    const cookie = (text: string, creation = new Date(NOW)) => {
        const parsed = Cookie.parse(text)!;
        parsed.creation = creation;
        return parsed;
    };

    it('takes the earliest end among credential cookies (Max-Age from creation), JWTs and auth.expiresAt', () => {
        const expiry = sessionExpiry({
            cookies: [cookie('sid=x; Max-Age=30', new Date(NOW - 10_000)), cookie('theme=dark; Max-Age=5')],
            auth: { headers: { Authorization: `Bearer ${token({ exp: NOW / 1000 + 40 })}` }, query: {}, values: {}, expiresAt: NOW + 50_000 },
            isCredential: (each) => each.key === 'sid',
            now: NOW,
        });
        expect(expiry).toEqual({ at: NOW + 20_000, issuedAt: NOW - 10_000, source: 'cookie sid' });
    });

    it('reads a JWT in a token cookie and the OAuth2 expiresAt; nothing announced: undefined', () => {
        const jwtCookie = cookie(`session=${token({ exp: NOW / 1000 + 90, iat: NOW / 1000 - 10 })}`);
        expect(sessionExpiry({ cookies: [jwtCookie], auth: undefined, isCredential: () => true, now: NOW })).toMatchObject({
            at: NOW + 90_000,
            issuedAt: NOW - 10_000,
            source: 'jwt in cookie session',
        });
        expect(
            sessionExpiry({ cookies: [], auth: { headers: {}, query: {}, values: {}, expiresAt: NOW + 5000, issuedAt: NOW }, isCredential: () => true, now: NOW }),
        ).toMatchObject({ at: NOW + 5000, source: 'expires_in' });
        expect(sessionExpiry({ cookies: [cookie('sid=x')], auth: undefined, isCredential: () => true, now: NOW })).toBeUndefined();
        expect(sessionExpiry({ cookies: [cookie('theme=x; Max-Age=5')], auth: undefined, isCredential: () => false, now: NOW })).toBeUndefined();
    });

    it('renews when the smaller of the margin and the fraction of the lifetime remains', () => {
        const expiry = { at: NOW + 3000, issuedAt: NOW, source: 'x' };
        expect(renewalDueAt(expiry, { marginSecs: 60, fraction: 0.1 })).toBe(NOW + 2700);
        expect(renewalDueAt({ at: NOW + 3_600_000, issuedAt: NOW, source: 'x' }, { marginSecs: 60, fraction: 0.1 })).toBe(NOW + 3_540_000);
    });
});
