import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { CheerioCrawler, Configuration, HttpCrawler, RetryRequestError, log } from 'crawlee';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ConfigValidationError, SessionRenewalError, Sessions, defineProfiles, withSessions } from '../src/index.js';
import { startProxies, type TestProxies } from './support/proxies.js';
import { startTestSite, type TestSite } from './support/site.js';

log.setLevel(log.LEVELS.OFF);

/** Crawlee keeps queues in memory for tests and never writes to ./storage. */
function freshConfig(): Configuration {
    return new Configuration({ persistStorage: false, purgeOnStart: true });
}

const USER_AGENTS = ['UA-Alpha/1.0 (test)', 'UA-Beta/2.0 (test)', 'UA-Gamma/3.0 (test)'];

let site: TestSite;
let proxies: TestProxies;

beforeAll(async () => {
    site = await startTestSite();
    proxies = await startProxies(3);
});

afterAll(async () => {
    await site?.close();
    await proxies?.close();
});

function profiles() {
    return defineProfiles(proxies.urls.map((proxy, i) => ({ proxy, userAgent: USER_AGENTS[i] })));
}

function loginRenewal(user: string) {
    return { url: `${site.url}/login`, form: { user, password: 'secret' } };
}

describe('binding in CheerioCrawler', () => {
    it('keeps concurrent sessions isolated, each on its own profile proxy and user agent', async () => {
        site.reset();
        const sessions = await Sessions.open({ store: 'memory', profiles: profiles() });
        const ids = ['s1', 's2', 's3', 's4', 's5'];
        // Five new sessions on three profiles: least-used first, recycled round-robin.
        const assigned = ids.map((id) => sessions.getProfile(id)?.userAgent);
        expect(assigned).toEqual([USER_AGENTS[0], USER_AGENTS[1], USER_AGENTS[2], USER_AGENTS[0], USER_AGENTS[1]]);
        for (const [i, id] of ids.entries()) await sessions.clear(id, { renewal: loginRenewal(`user${i + 1}`) });
        // A renewal gets a fresh profile, different from the cleared one.
        ids.forEach((id, i) => expect(sessions.getProfile(id)?.userAgent).not.toBe(assigned[i]));

        const seen: Array<{ id: string; state: string }> = [];
        const crawler = new CheerioCrawler(
            withSessions(sessions, {
                maxConcurrency: 10,
                async requestHandler({ request, $, sessions: fromContext }) {
                    expect(fromContext).toBe(sessions);
                    seen.push({ id: request.userData.sessionId, state: $('#state').text() });
                },
            }),
            freshConfig(),
        );
        const requests = Array.from({ length: 50 }, (_, n) => ({
            url: `${site.url}/page/${n}`,
            userData: { sessionId: ids[n % ids.length] },
        }));
        await crawler.run(requests);

        expect(seen).toHaveLength(50);
        expect(seen.every((entry) => entry.state === 'logged-in')).toBe(true);

        const sidOf = new Map(ids.map((id) => [sessions.get(id, { format: 'dict' }).sid, id]));
        expect(sidOf.size).toBe(5);
        const pages = site.log.filter((entry) => entry.path.startsWith('/page/'));
        expect(pages).toHaveLength(50);
        for (const entry of pages) {
            const id = sidOf.get(entry.sid!);
            expect(id, 'every page request carries one of the five sessions').toBeDefined();
            const n = Number(entry.path.split('/').pop());
            expect(id).toBe(ids[n % ids.length]);
            const profileIndex = sessions.list().find((info) => info.id === id)!.profileIndex!;
            expect(entry.ip).toBe(proxies.addresses[profileIndex]);
            expect(entry.userAgent).toBe(USER_AGENTS[profileIndex]);
        }
        await sessions.close();
    });

    it('keeps the cookies set on every redirect hop, in the bound session only', async () => {
        const sessions = await Sessions.open({ store: 'memory' });
        let seenOnLastHop: Record<string, string> | undefined;
        const crawler = new HttpCrawler(
            withSessions(sessions, {
                async requestHandler({ body }) {
                    seenOnLastHop = JSON.parse(body.toString()).cookiesSeen;
                },
            }),
            freshConfig(),
        );
        sessions.addCookies('other', ['keep=me; Path=/'], site.url);
        await crawler.run([{ url: `${site.url}/redirect-chain`, userData: { sessionId: 'hops' } }]);

        expect(seenOnLastHop).toEqual({ hop1: 'a', hop2: 'b' });
        expect(sessions.get('hops', { format: 'dict' })).toEqual({ hop1: 'a', hop2: 'b' });
        expect(sessions.get('other', { format: 'dict' })).toEqual({ keep: 'me' });
        expect(sessions.get('hops', { format: 'header', url: `${site.url}/x` })).toBe('hop1=a; hop2=b');
        await sessions.close();
    });

    it('binds context.sendRequest to the request\'s session, both ways', async () => {
        const sessions = await Sessions.open({ store: 'memory' });
        sessions.addCookies('side', ['mine=1; Path=/'], site.url);
        sessions.addCookies('elsewhere', ['theirs=1; Path=/'], site.url);
        let echoed: Record<string, string> | undefined;
        const crawler = new HttpCrawler(
            withSessions(sessions, {
                async requestHandler({ sendRequest }) {
                    echoed = JSON.parse((await sendRequest({ url: `${site.url}/echo` })).body).cookies;
                    await sendRequest({ url: `${site.url}/set?fromSide=2` });
                },
            }),
            freshConfig(),
        );
        await crawler.run([{ url: `${site.url}/echo`, userData: { sessionId: 'side' } }]);
        expect(echoed).toEqual({ mine: '1' });
        expect(sessions.get('side', { format: 'dict' })).toEqual({ mine: '1', fromSide: '2' });
        expect(sessions.get('elsewhere', { format: 'dict' })).toEqual({ theirs: '1' });
        await sessions.close();
    });

    it('presents the same generated identity on every request of a session without a profile', async () => {
        site.reset();
        const sessions = await Sessions.open({ store: 'memory' });
        await sessions.clear('plain', { renewal: loginRenewal('alice') });
        const states: string[] = [];
        const crawler = new CheerioCrawler(
            withSessions(sessions, {
                maxConcurrency: 5,
                async requestHandler({ $ }) {
                    states.push($('#state').text());
                },
            }),
            freshConfig(),
        );
        await crawler.run(Array.from({ length: 10 }, (_, n) => ({ url: `${site.url}/page/${n}`, userData: { sessionId: 'plain' } })));
        // The site binds the login to User-Agent and Accept-Language: a changing identity would log it out.
        expect(states).toEqual(Array(10).fill('logged-in'));
        const agents = new Set(site.log.map((entry) => entry.userAgent));
        expect(agents.size).toBe(1);
        expect([...agents][0]).toMatch(/Mozilla\/5\.0/);
        await sessions.close();
    });
});

describe('renewal', () => {
    it('at concurrency 100 on one expiring session: finishes, one login per expiry, no stale request', async () => {
        const expiring = await startTestSite({ sessionLifetimeRequests: 50 });
        const sessions = await Sessions.open({ store: 'memory', profiles: profiles() });
        const total = 1000;
        let loggedIn = 0;
        const retriesOf = new Map<string, number>();
        const crawler = new CheerioCrawler(
            withSessions(sessions, {
                maxConcurrency: 100,
                minConcurrency: 100,
                maxRequestRetries: 0,
                async requestHandler({ request, $, sessions: s }) {
                    if ($('#state').text() === 'logged-in') {
                        loggedIn++;
                        return;
                    }
                    const retries = (retriesOf.get(request.id!) ?? 0) + 1;
                    retriesOf.set(request.id!, retries);
                    if (retries > 20) throw new Error('renewal loop: the session never became usable');
                    await s.clear('solo', { renewal: { url: `${expiring.url}/login`, form: { user: 'alice', password: 'secret' } } });
                    throw new RetryRequestError('session renewed');
                },
            }),
            freshConfig(),
        );
        const stats = await crawler.run(
            Array.from({ length: total }, (_, n) => ({ url: `${expiring.url}/page/${n}`, userData: { sessionId: 'solo' } })),
        );

        expect(stats.requestsFailed).toBe(0);
        expect(loggedIn).toBe(total);
        // Every session serves exactly 50 pages before it expires: one login per 50 pages, never more.
        expect(expiring.logins).toBe(total / 50);
        expect(expiring.staleRequests).toBe(0);
        const info = sessions.list()[0]!;
        expect(info.renewals).toBe(total / 50);
        expect(info.generation).toBe(total / 50);
        await sessions.close();
        await expiring.close();
    });

    it('runs one renewal for many concurrent clears, and gives a fresh profile each time', async () => {
        const sessions = await Sessions.open({ store: 'memory', profiles: profiles() });
        let runs = 0;
        const profilesSeen: Array<string | undefined> = [];
        const renewal = async ({ http, profile }: { http: any; profile?: { proxy?: string } }) => {
            runs++;
            profilesSeen.push(profile?.proxy);
            await http.request({ url: `${site.url}/login`, form: { user: 'alice', password: 'secret' } });
        };
        sessions.getProfile('multi'); // creates the session with its first profile
        const before = sessions.list()[0]!.profileIndex;
        await Promise.all(Array.from({ length: 25 }, () => sessions.clear('multi', { renewal })));
        expect(runs).toBe(1);
        const after = sessions.list()[0]!.profileIndex;
        expect(after).not.toBe(before);
        expect(profilesSeen).toEqual([proxies.urls[after!]]);
        expect(sessions.get('multi', { format: 'dict' }).sid).toMatch(/^[0-9a-f]+$/);

        await Promise.all(Array.from({ length: 5 }, () => sessions.clear('multi', { renewal })));
        expect(runs).toBe(2);
        expect(sessions.list()[0]!.profileIndex).not.toBe(after);
        await sessions.close();
    });

    it('never writes a stale response\'s cookies into the renewed jar', async () => {
        let release!: () => void;
        const gate = new Promise<void>((resolve) => (release = resolve));
        const server = http.createServer(async (req, res) => {
            if (req.url === '/slow') {
                await gate;
                res.setHeader('set-cookie', 'old=stale; Path=/');
            } else if (req.url === '/renew') {
                res.setHeader('set-cookie', 'fresh=1; Path=/');
            }
            res.setHeader('content-type', 'text/html');
            res.end('<html><body>ok</body></html>');
        });
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        const sessions = await Sessions.open({ store: 'memory' });
        const handled: string[] = [];
        const crawler = new CheerioCrawler(
            withSessions(sessions, {
                async requestHandler({ request }) {
                    handled.push(request.url);
                },
            }),
            freshConfig(),
        );
        const run = crawler.run([{ url: `${base}/slow`, userData: { sessionId: 'st' } }]);
        while (sessions.list().find((s) => s.id === 'st')?.requests !== 1) await new Promise((r) => setTimeout(r, 10));
        // The in-flight answer comes after the clear began; the clear holds its renewal until it has arrived.
        setTimeout(release, 200);
        await sessions.clear('st', { renewal: { url: `${base}/renew` } });
        await run;
        expect(handled).toEqual([`${base}/slow`]);
        expect(sessions.get('st', { format: 'dict' })).toEqual({ fresh: '1' });
        await sessions.close();
        server.closeAllConnections();
        server.close();
    });

    it('fails the waiting requests with a clear error when the renewal keeps failing, without hanging', async () => {
        const failing = await startTestSite({ failLogins: 1000 });
        const sessions = await Sessions.open({ store: 'memory', renewal: { maxAttempts: 3, backoffMillis: 10, maxBackoffMillis: 20 } });
        const clearErrors: unknown[] = [];
        const failures: string[] = [];
        const crawler = new CheerioCrawler(
            withSessions(sessions, {
                maxConcurrency: 10,
                maxRequestRetries: 1,
                async requestHandler({ request, $ }) {
                    if ($('#state').text() === 'logged-in') return;
                    try {
                        await sessions.clear(undefined, { renewal: { url: `${failing.url}/login`, form: { user: 'alice', password: 'secret' } } });
                    } catch (error) {
                        clearErrors.push(error);
                    }
                    throw new Error(`logged out on ${request.url}`);
                },
                failedRequestHandler({ request }, error) {
                    failures.push(`${request.userData.sessionId}: ${error.message}`);
                },
            }),
            freshConfig(),
        );
        const stats = await crawler.run(
            Array.from({ length: 10 }, (_, n) => ({ url: `${failing.url}/page/${n}`, userData: { sessionId: 'doomed' } })),
        );
        expect(stats.requestsFailed).toBe(10);
        expect(clearErrors.length).toBeGreaterThan(0);
        const error = clearErrors[0] as SessionRenewalError;
        expect(error).toBeInstanceOf(SessionRenewalError);
        expect(error.sessionId).toBe('doomed');
        expect(error.attempts).toBe(3);
        expect(error.message).toContain('"doomed"');
        expect(error.message).toContain('500');
        expect(failures).toHaveLength(10);
        expect(sessions.list()[0]!.status).toBe('failed');
        expect(sessions.list()[0]!.failures).toBeGreaterThanOrEqual(10);
        await sessions.close();
        await failing.close();
    });
});

describe('secrets', () => {
    it('never puts proxy credentials into a renewal error', async () => {
        const guarded = await startProxies(1, { auth: { username: 'bob', password: 'hunter2' } });
        const wrongPassword = guarded.urls[0]!.replace('hunter2', 'wrong-secret');
        const sessions = await Sessions.open({
            store: 'memory',
            profiles: [{ proxy: wrongPassword }],
            renewal: { maxAttempts: 2, backoffMillis: 1, maxBackoffMillis: 1 },
        });
        const failure = await sessions.clear('x', { renewal: { url: `${site.url}/login` } }).catch((error: Error) => error);
        expect(failure).toBeInstanceOf(SessionRenewalError);
        expect((failure as Error).message).toMatch(/407/);
        expect((failure as Error).message).not.toContain('wrong-secret');
        expect(JSON.stringify(sessions.list())).not.toContain('wrong-secret');
        await sessions.close();
        await guarded.close();
    });
});

describe('validation', () => {
    it('refuses crawler options that would undermine the binding, naming each field', async () => {
        const sessions = await Sessions.open({ store: 'memory' });
        let error: unknown;
        try {
            withSessions(sessions, { useSessionPool: true, persistCookiesPerSession: true, requestHandler: 'nope' } as object);
        } catch (caught) {
            error = caught;
        }
        expect(error).toBeInstanceOf(ConfigValidationError);
        const message = (error as Error).message;
        expect(message).toContain('useSessionPool');
        expect(message).toContain('persistCookiesPerSession');
        expect(message).toContain('requestHandler');
        await sessions.close();
    });

    it('refuses bad Sessions options and bad profiles, naming the field', async () => {
        await expect(Sessions.open({ store: 'memory', renewal: { maxAttempts: 0 } })).rejects.toThrow(/renewal\.maxAttempts/);
        await expect(Sessions.open({ store: 'memory', profiles: [{ userAgent: 'ok' }, {} as never] })).rejects.toThrow(/\[1\]/);
        await expect(Sessions.open({ store: 'memory', nonsense: true } as never)).rejects.toThrow(/nonsense/);
        await expect(Sessions.open({ store: 'memory', profiles: [{ proxy: 'http://bob:hunter2@127.0.0.1' }] })).rejects.not.toThrow(/hunter2/);
    });
});
