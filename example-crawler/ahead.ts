/**
 * Part 4 of the example: renewal ahead of expiry. A demo site whose logins end 2 seconds after they were made, and
 * say so (the `PHPSESSID` cookie's Max-Age), is crawled steadily for a few seconds with one session: the session is
 * renewed before each end, so no page comes back logged out.
 */
import { CheerioCrawler, Configuration, type RequestOptions } from 'crawlee';

import { defineLogin, loginRenewal, Sessions, withSessions } from '../src/index.js';
import { startDemoSite } from './demo-site.js';

/** What part 4 saw. */
export interface AheadOutcome {
    pages: number;
    /** Pages answered logged out (there must be none). */
    loggedOut: number;
    /** Renewals ahead of expiry during the crawl. */
    renewedAhead: number;
    failed: number;
    /** Logins the site answered (the first one included). */
    logins: number;
    loginSecs: number;
}

const ACCOUNT = { user: 'grace', password: 'always-on-time' };

/** Crawls catalog pages for `durationMillis` at concurrency 4 on logins that last `loginSecs`. */
export async function crawlRenewedAhead(durationMillis: number, loginSecs = 2): Promise<AheadOutcome> {
    const site = await startDemoSite({ accounts: { [ACCOUNT.user]: ACCOUNT.password }, loginSecs, rotateEvery: Number.MAX_SAFE_INTEGER });
    const recipe = defineLogin({
        name: 'demo-timed',
        credentials: ACCOUNT,
        steps: [{ url: `${site.url}/api/login`, json: { user: '{{user}}', password: '{{password}}' } }],
    });
    // Renewal ahead is on by default; the defaults renew when 10 % of a login's lifetime (at most 60 s) remains.
    const sessions = await Sessions.open({ store: 'memory', flushOnSignals: false, login: loginRenewal(recipe) });
    try {
        await sessions.renew('grace');
        let renewedAhead = 0;
        sessions.on('renewed', (event) => {
            if (event.ahead) renewedAhead++;
        });
        const deadline = Date.now() + durationMillis;
        let serial = 0;
        const next = (): RequestOptions => ({ url: `${site.url}/catalog/${serial++ % 50}?v=${serial}`, userData: { sessionId: 'grace' } });
        let pages = 0;
        let loggedOut = 0;
        const crawler = new CheerioCrawler(
            withSessions(sessions, {
                maxConcurrency: 4,
                maxRequestRetries: 0,
                async requestHandler({ $, crawler: self }) {
                    pages++;
                    if ($('#state').text() !== 'logged-in') loggedOut++;
                    if (Date.now() < deadline) await self.addRequests([next()]);
                },
            }),
            new Configuration({ persistStorage: false }),
        );
        const stats = await crawler.run(Array.from({ length: 4 }, next));
        return { pages, loggedOut, renewedAhead, failed: stats.requestsFailed, logins: site.stats.logins, loginSecs };
    } finally {
        await sessions.close();
        await site.close();
    }
}
