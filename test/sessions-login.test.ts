import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { log } from 'crawlee';

import { Sessions } from '../src/index.js';
import { startTestSite, type TestSite } from './support/site.js';

log.setLevel(log.LEVELS.OFF);

let site: TestSite;
beforeAll(async () => {
    site = await startTestSite();
});
afterAll(async () => {
    await site?.close();
});

const login = (user: string) => ({ url: `${site.url}/login`, form: { user, password: 'secret' } });

describe('sessions tied to their login', () => {
    it('renews through the login option on clear(id) without a renewal and on renew(id)', async () => {
        site.reset();
        const sessions = await Sessions.open({ store: 'memory', login: login('alice') });
        await sessions.renew('a');
        expect(site.logins).toBe(1);
        expect(Object.keys(sessions.get('a', { format: 'dict' }))).toEqual(['sid']);
        await sessions.clear('a');
        expect(site.logins).toBe(2);
        expect(sessions.list()[0]).toMatchObject({ id: 'a', generation: 2, renewals: 2 });
        await sessions.close();
    });

    it('prefers bindRenewal, then loginFor, then login; without any, renew refuses with a clear error', async () => {
        site.reset();
        const users: string[] = [];
        const track = (user: string) => async ({ http }: { http: { request(r: object): Promise<unknown> } }) => {
            users.push(user);
            await http.request(login(user));
        };
        const sessions = await Sessions.open({
            store: 'memory',
            login: track('user1'),
            loginFor: (id) => (id.startsWith('vip') ? track('user2') : undefined),
        });
        sessions.bindRenewal('bound', track('user3'));
        await sessions.renew('plain');
        await sessions.renew('vip-1');
        await sessions.renew('bound');
        expect(users).toEqual(['user1', 'user2', 'user3']);
        await sessions.close();

        const bare = await Sessions.open({ store: 'memory' });
        await expect(bare.renew('x')).rejects.toThrow(/no login to renew with.*bindRenewal\("x"/);
        await bare.clear('x'); // a clear without any login only empties the session
        expect(bare.list()[0]).toMatchObject({ id: 'x', generation: 1, renewals: 0 });
        await bare.close();
    });
});

describe('logins and the header pipeline', () => {
    it('sends header rules and session headers with renewal requests, and tracks their token rotations', async () => {
        site.reset();
        const sessions = await Sessions.open({ store: 'memory' });
        await sessions.headers.rules.add({ name: 'api-key', header: 'X-Api-Key', value: 'k-123' });
        await sessions.headers.set('a', { name: 'X-Tenant', value: 't-9', ttlSecs: 600 });
        let seen: Record<string, unknown> = {};
        await sessions.clear('a', {
            renewal: async ({ http }) => {
                const response = await http.request({ url: `${site.url}/echo` });
                seen = (JSON.parse(response.body) as { headers: Record<string, unknown> }).headers;
                await http.request(login('alice'));
            },
        });
        expect(seen['x-api-key']).toBe('k-123');
        expect(seen['x-tenant']).toBe('t-9');
        // The cookie the login set is the session's token on the site.
        expect(Object.keys(sessions.tokens.values('a', new URL(site.url).host))).toContain('sid');
        await sessions.close();
    });
});
