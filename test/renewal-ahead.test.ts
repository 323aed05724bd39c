/**
 * Renewal ahead of expiry, against a site whose logins last 3 s and announce it (cookie Max-Age and JWT exp), crawled
 * steadily at concurrency 10 over 3 sessions, each with its own account: no request may come back logged out, none
 * may fail, none may present a login the site had ended, and each session logs in about once per lifetime.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { log, Configuration, HttpCrawler, PlaywrightCrawler, type RequestOptions } from 'crawlee';
import { afterEach, describe, expect, it } from 'vitest';

import { defineLogin, loginRenewal } from '../src/acquisition/index.js';
import { Sessions, withSessions, type RenewalFailedEvent, type RenewedEvent, type SessionsOptions } from '../src/index.js';
import { RENEWAL_MODES_COLLECTION } from '../src/renewal/ahead.js';
import { startExpirySite, type ExpirySite } from './support/expiry-site.js';

log.setLevel(log.LEVELS.OFF);

const SESSIONS = ['s0', 's1', 's2'];
const LIFETIME_SECS = 3;

const opened: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
    for (const each of opened.splice(0).reverse()) await each.close();
});

function recipe(site: ExpirySite) {
    return defineLogin({
        name: 'expiring',
        accounts: Object.fromEntries(SESSIONS.map((id, n) => [id, { user: `u${n}`, password: `pw-u${n}` }])),
        steps: [{ url: `${site.url}/login`, json: { user: '{{user}}', password: '{{password}}' } }],
        extract: [{ name: 'token', from: { json: '$.token' } }],
        apply: { headers: { Authorization: 'Bearer {{token}}' } },
        check: {
            request: { url: `${site.url}/me` },
            indicators: [{ in: 'body', text: 'logged-in', means: 'valid' }],
        },
    });
}

/** Crawls `/page/<n>` with session `s0` for `durationMillis` at concurrency 5; counts the logged-out answers. */
async function crawlS0(sessions: Sessions, site: ExpirySite, durationMillis: number) {
    const deadline = Date.now() + durationMillis;
    let serial = 0;
    let handled = 0;
    let loggedOut = 0;
    const next = (): RequestOptions => ({ url: `${site.url}/page/${serial++}`, userData: { sessionId: 's0' } });
    const crawler = new HttpCrawler(
        withSessions(sessions, {
            maxConcurrency: 5,
            minConcurrency: 5,
            maxRequestRetries: 0,
            async requestHandler({ body, crawler: self }) {
                handled++;
                if (!body.toString().includes('id="state">logged-in')) loggedOut++;
                if (Date.now() < deadline) await self.addRequests([next()]);
            },
        }),
        new Configuration({ persistStorage: false, purgeOnStart: true }),
    );
    const stats = await crawler.run(Array.from({ length: 5 }, next));
    return { handled, loggedOut, failed: stats.requestsFailed };
}

interface CrawlOutcome {
    handled: number;
    loggedOutSeen: number;
    failed: number;
    renewed: RenewedEvent[];
    logins: Record<string, number>;
    sessions: Sessions;
}

/** Crawls `/page/<n>` steadily for `durationMillis` at concurrency 10, spread over the 3 sessions. */
async function crawlSteadily(site: ExpirySite, mode: 'overlap' | 'pause' | 'auto', durationMillis: number): Promise<CrawlOutcome> {
    const sessions = await Sessions.open({
        store: 'memory',
        flushOnSignals: false,
        login: loginRenewal(recipe(site)),
        renewAhead: { fraction: 0.35, mode },
    });
    opened.push(sessions);
    for (const id of SESSIONS) await sessions.renew(id);
    const renewed: RenewedEvent[] = [];
    sessions.on('renewed', (event) => renewed.push(event));
    const deadline = Date.now() + durationMillis;
    let serial = 0;
    const next = (sessionId: string): RequestOptions => ({ url: `${site.url}/page/${serial++}`, userData: { sessionId } });
    let handled = 0;
    let loggedOutSeen = 0;
    const crawler = new HttpCrawler(
        withSessions(sessions, {
            maxConcurrency: 10,
            minConcurrency: 10,
            maxRequestRetries: 0,
            async requestHandler({ request, body, crawler: self }) {
                handled++;
                if (!body.toString().includes('id="state">logged-in')) loggedOutSeen++;
                if (Date.now() < deadline) await self.addRequests([next(request.userData.sessionId as string)]);
            },
        }),
        new Configuration({ persistStorage: false, purgeOnStart: true }),
    );
    const start = Array.from({ length: 12 }, (_, n) => next(SESSIONS[n % SESSIONS.length]!));
    const stats = await crawler.run(start);
    return { handled, loggedOutSeen, failed: stats.requestsFailed, renewed, logins: { ...site.logins }, sessions };
}

/** Logins per session over the crawl: about one per lifetime minus the margin, never a storm. */
function expectLoginsPerLifetime(outcome: CrawlOutcome, durationMillis: number): void {
    for (const user of ['u0', 'u1', 'u2']) {
        const logins = outcome.logins[user] ?? 0;
        // The first login is before the crawl; then one per (lifetime − margin), lifetime 2–3 s (whole seconds).
        expect(logins).toBeGreaterThanOrEqual(1 + Math.floor(durationMillis / (LIFETIME_SECS * 1000)));
        expect(logins).toBeLessThanOrEqual(2 + Math.ceil(durationMillis / 1000));
    }
}

/** Sessions renewing `s0` ahead of its end by the site's login, logged in once; `renewed` collects their renewals. */
async function openLoggedInS0(site: ExpirySite, renewAhead: SessionsOptions['renewAhead'], options: Partial<SessionsOptions> = {}) {
    const sessions = await Sessions.open({ store: 'memory', flushOnSignals: false, login: loginRenewal(recipe(site)), renewAhead, ...options });
    opened.push(sessions);
    await sessions.renew('s0');
    const renewed: RenewedEvent[] = [];
    sessions.on('renewed', (event) => renewed.push(event));
    return { sessions, renewed };
}

/** A steady crawl whose sessions were renewed ahead only: nothing failed, stale or answered logged out. */
function expectRenewedAheadCleanly(site: ExpirySite, outcome: CrawlOutcome, durationMillis: number): void {
    expect(outcome.handled).toBeGreaterThan(300);
    expect(site.loggedOut).toBe(0);
    expect(outcome.failed).toBe(0);
    expect(site.stale).toBe(0);
    expect(outcome.renewed.length).toBeGreaterThan(0);
    expect(outcome.renewed.every((event) => event.ahead === true)).toBe(true);
    expectLoginsPerLifetime(outcome, durationMillis);
}

describe('renewal ahead of expiry', () => {
    it('overlap: the new login is made while the old one serves; nothing comes back logged out', async () => {
        const site = await startExpirySite({ lifetimeSecs: LIFETIME_SECS, pageDelayMillis: 30 });
        opened.push(site);
        const duration = 15_000;
        const outcome = await crawlSteadily(site, 'overlap', duration);
        expectRenewedAheadCleanly(site, outcome, duration);
        expect(outcome.loggedOutSeen).toBe(0);
        const stats = outcome.sessions.stats();
        expect(stats.renewalsAhead).toBe(outcome.renewed.length);
        expect(stats.staleRetries).toBe(0);
        expect(stats.nextExpiryAt).toBeGreaterThan(Date.now() - LIFETIME_SECS * 1000);
    }, 60_000);

    it('pause: on a site that ends the old login when a new one starts, no request presents an ended login', async () => {
        const site = await startExpirySite({ lifetimeSecs: LIFETIME_SECS, killOld: true, pageDelayMillis: 30 });
        opened.push(site);
        const duration = 15_000;
        const outcome = await crawlSteadily(site, 'pause', duration);
        expectRenewedAheadCleanly(site, outcome, duration);
    }, 60_000);

    it('auto: learns that the site ends old logins, remembers it in the store, and pauses from then on', async () => {
        const site = await startExpirySite({ lifetimeSecs: LIFETIME_SECS, killOld: true, pageDelayMillis: 30 });
        opened.push(site);
        const duration = 10_000;
        const outcome = await crawlSteadily(site, 'auto', duration);
        const learned = await outcome.sessions.store.getEntry<{ mode: string }>(RENEWAL_MODES_COLLECTION, 'expiring');
        expect(learned?.value.mode).toBe('pause');
        expect(outcome.failed).toBe(0);
        // Only the renewals that taught it (one per session at most, the first ones) can have met an ended login.
        expect(site.loggedOut).toBeLessThanOrEqual(3 * 10);
        expectLoginsPerLifetime(outcome, duration);
    }, 60_000);

    it('overlap with a login too slow to finish before the end: requests wait for it instead of arriving logged out', async () => {
        // Each login takes 1.3 s of a 2–3 s lifetime: a renewal ahead started at its due time ends just at, or after,
        // the old login's end; requests that would arrive after it must wait for the new login.
        const site = await startExpirySite({ lifetimeSecs: LIFETIME_SECS, pageDelayMillis: 30, loginDelayMillis: 1300 });
        opened.push(site);
        const { sessions, renewed } = await openLoggedInS0(site, { fraction: 0.1, mode: 'overlap' });
        const outcome = await crawlS0(sessions, site, 10_000);
        expect(outcome.handled).toBeGreaterThan(100);
        expect(renewed.filter((event) => event.ahead).length).toBeGreaterThanOrEqual(3);
        expect(outcome.failed).toBe(0);
        expect(outcome.loggedOut).toBe(0);
        expect(site.loggedOut).toBe(0);
        expect(site.stale).toBe(0);
    }, 60_000);

    it('overlap in a browser: pages keep their identity across the switch, nothing is answered logged out', async () => {
        const site = await startExpirySite({ lifetimeSecs: LIFETIME_SECS, pageDelayMillis: 30 });
        opened.push(site);
        const { sessions, renewed } = await openLoggedInS0(site, { fraction: 0.35, mode: 'overlap' });
        const deadline = Date.now() + 8_000;
        let serial = 0;
        let handled = 0;
        let loggedOut = 0;
        const next = (): RequestOptions => ({ url: `${site.url}/page/${serial++}`, userData: { sessionId: 's0' } });
        const crawler = new PlaywrightCrawler(
            withSessions(sessions, {
                headless: true,
                maxConcurrency: 2,
                maxRequestRetries: 0,
                async requestHandler({ page, crawler: self }) {
                    handled++;
                    if ((await page.locator('#state').textContent()) !== 'logged-in') loggedOut++;
                    if (Date.now() < deadline) await self.addRequests([next()]);
                },
            }),
            new Configuration({ persistStorage: false, purgeOnStart: true }),
        );
        const stats = await crawler.run([next(), next()]);
        expect(renewed.filter((event) => event.ahead).length).toBeGreaterThanOrEqual(2);
        expect(loggedOut).toBe(0);
        expect(site.loggedOut).toBe(0);
        expect(site.stale).toBe(0);
        expect(stats.requestsFailed).toBe(0);
        expect(handled).toBeGreaterThanOrEqual(4);
        expect(sessions.stats().staleRetries).toBe(0);
    }, 90_000);

    it('a stored login that ended while no crawler ran is renewed before its first request is sent', async () => {
        // The login takes longer than the crawler takes to start: its first requests must wait for the new login.
        const site = await startExpirySite({ lifetimeSecs: LIFETIME_SECS, pageDelayMillis: 30, loginDelayMillis: 1500 });
        opened.push(site);
        const storageDir = await mkdtemp(join(tmpdir(), 'crawlee-sessions-ahead-'));
        opened.push({ close: () => rm(storageDir, { recursive: true, force: true }) });
        const options = {
            store: { embedded: { storageDir } },
            flushOnSignals: false,
            login: loginRenewal(recipe(site)),
            renewAhead: { mode: 'overlap' as const },
        };
        const first = await Sessions.open(options);
        await first.renew('s0');
        const endedAt = first.expiresAt('s0')!;
        expect(endedAt).toBeGreaterThan(Date.now());
        await first.close();
        await sleep(endedAt - Date.now() + 200);

        const sessions = await Sessions.open(options);
        opened.push(sessions);
        const outcome = await crawlS0(sessions, site, 4_000);
        expect(outcome.loggedOut).toBe(0);
        expect(site.loggedOut).toBe(0);
        expect(site.stale).toBe(0);
        expect(outcome.failed).toBe(0);
        expect(outcome.handled).toBeGreaterThan(20);
        expect(sessions.expiresAt('s0')).toBeGreaterThan(endedAt);
    }, 60_000);

    it('a failed renewal ahead keeps the current, still valid login and is retried before it ends', async () => {
        const site = await startExpirySite({ lifetimeSecs: LIFETIME_SECS, pageDelayMillis: 30 });
        opened.push(site);
        const { sessions, renewed } = await openLoggedInS0(site, { fraction: 0.3, mode: 'overlap' }, { renewal: { maxAttempts: 1 } });
        const failedAhead: RenewalFailedEvent[] = [];
        sessions.on('renewalFailed', (event) => failedAhead.push(event));
        site.failNextLogins(2);
        const deadline = Date.now() + 5000;
        let serial = 0;
        let loggedOut = 0;
        const crawler = new HttpCrawler(
            withSessions(sessions, {
                maxConcurrency: 3,
                maxRequestRetries: 0,
                async requestHandler({ body, crawler: self }) {
                    if (!body.toString().includes('id="state">logged-in')) loggedOut++;
                    if (Date.now() < deadline) await self.addRequests([{ url: `${site.url}/page/${serial++}`, userData: { sessionId: 's0' } }]);
                },
            }),
            new Configuration({ persistStorage: false, purgeOnStart: true }),
        );
        const stats = await crawler.run([{ url: `${site.url}/page/start`, userData: { sessionId: 's0' } }]);
        expect(failedAhead.length).toBe(2);
        expect(failedAhead.every((event) => event.ahead === true && event.sessionId === 's0')).toBe(true);
        expect(failedAhead[0]!.error).toContain('500');
        expect(renewed.some((event) => event.ahead)).toBe(true);
        expect(loggedOut).toBe(0);
        expect(site.loggedOut).toBe(0);
        expect(stats.requestsFailed).toBe(0);
        expect(sessions.list()[0]!.status).toBe('ready');
        expect(sessions.stats().expiringSoon).toBe(0); // nothing under way or waiting to be retried any more
    }, 60_000);
});
