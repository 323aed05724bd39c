/**
 * crawlee-sessions end to end, against a login-protected demo site behind three authenticated proxies:
 *
 * Part 1: a CheerioCrawler crawls catalog pages for four accounts at once (sessions alice, bob, carol, dave).
 * The site logs a session out after 25 page views; the handler that notices renews the session by signing in
 * through the CSRF-protected login form and retries the page. Requests of a session being renewed wait, every
 * other session keeps crawling, and no request ever reaches the site with a cookie that was already replaced.
 *
 * Part 2: a PlaywrightCrawler signs in through the site's JavaScript app (JSON API + localStorage token) for the
 * session browser-user; a CheerioCrawler then crawls with that same session: the cookies move from the browser to
 * plain HTTP requests, sent through the same proxy with the same User-Agent, so the site still recognises them.
 *
 * Run: npm run example   (EXAMPLE_PAGES=1000 npm run example for a longer crawl)
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

import { CheerioCrawler, Configuration, PlaywrightCrawler, RetryRequestError, log } from 'crawlee';

import { Sessions, withSessions, type RenewalFunction } from '../src/index.js';
import { startDemoSite, type DemoSite } from './demo-site.js';
import { buildProfiles } from './profiles.js';
import { startDemoProxies } from './proxies.js';

/** The demo site's accounts: user → password. */
const ACCOUNTS: Record<string, string> = {
    alice: 'rabbit-hole',
    bob: 'can-we-fix-it',
    carol: 'jingle-bells',
    dave: 'open-the-pod-bay-doors',
    erin: 'browser-only',
};

/** Which account each session signs in as. */
const SESSION_USERS: Record<string, string> = {
    alice: 'alice',
    bob: 'bob',
    carol: 'carol',
    dave: 'dave',
    'browser-user': 'erin',
};

const CRAWL_SESSIONS = ['alice', 'bob', 'carol', 'dave'];
const BROWSER_SESSION = 'browser-user';
const SESSION_LIFETIME = 25;
const BROWSER_PAGES = 20;
/** A page still logged out after this many renewals means something is broken: stop retrying it. */
const MAX_RENEWALS_PER_PAGE = 5;

export interface ExampleOptions {
    /** Catalog pages of part 1. Default 300. */
    pages?: number;
    /** Where the progress, the table and the verdict go. Default: the global console. */
    console?: Console;
    /** Password of the demo proxies. Default: random. */
    proxyPassword?: string;
}

export interface ExampleResult {
    /** Pages of both parts, and how many of them were fetched logged in. */
    pages: number;
    loggedIn: number;
    renewals: number;
    staleRequests: number;
    failed: number;
    /** Whether the browser left an API token in localStorage. */
    browserToken: boolean;
    ok: boolean;
    verdict: string;
    seconds: number;
}

/**
 * Signs a session in through the login form: GET the form for its CSRF token (the site also sets it as a cookie,
 * which lands in the session's jar), then POST the form. `http` sends everything with the session's cookies,
 * through its proxy and with its User-Agent, and follows the redirect to /account like a browser.
 */
function formLogin(siteUrl: string): RenewalFunction {
    return async ({ sessionId, http }) => {
        const user = SESSION_USERS[sessionId];
        if (!user) throw new Error(`no account for session "${sessionId}"`);
        const form = await http.request({ url: `${siteUrl}/login` });
        const csrf = /name="csrf" value="([^"]+)"/.exec(form.body)?.[1];
        if (!csrf) throw new Error(`the login form has no CSRF token (HTTP ${form.statusCode})`);
        const answer = await http.request({ url: `${siteUrl}/login`, form: { user, password: ACCOUNTS[user]!, csrf } });
        if (!answer.body.includes('id="state">logged-in')) throw new Error(`login as ${user} failed (HTTP ${answer.statusCode})`);
    };
}

/** Crawlee keeps the request queues of the demo in memory: nothing is written to ./storage. */
function inMemory(): Configuration {
    return new Configuration({ persistStorage: false });
}

export async function runExample(options: ExampleOptions = {}): Promise<ExampleResult> {
    const out = options.console ?? console;
    const pages = options.pages ?? 300;
    // Every renewal retries its page with RetryRequestError, which Crawlee reports as a warning: keep the output
    // to the progress lines, and to errors.
    log.setLevel(log.LEVELS.ERROR);
    const started = Date.now();
    const seconds = () => (Date.now() - started) / 1000;

    const site = await startDemoSite({ accounts: ACCOUNTS, sessionLifetime: SESSION_LIFETIME });
    const proxies = await startDemoProxies({ password: options.proxyPassword });
    const sessions = await Sessions.open({ profiles: buildProfiles(proxies.urls) });
    out.log(`demo site ${site.url} · ${proxies.urls.length} proxies leaving from ${proxies.exitAddresses.join(', ')}`);

    const loggedIn = new Set<string>();
    let failed = 0;
    let phase = 'starting';
    let phaseTotal = 0;
    let phaseStart = 0;
    const progress = setInterval(() => {
        const list = sessions.list();
        const renewing = list.filter((info) => info.status === 'renewing').length;
        const renewals = list.reduce((sum, info) => sum + info.renewals, 0);
        const done = phaseTotal ? ` · ${loggedIn.size - phaseStart}/${phaseTotal} pages` : '';
        out.log(
            `[${seconds().toFixed(1).padStart(5)}s] ${phase}${done} · ${list.length} sessions` +
                `${renewing ? ` (${renewing} renewing)` : ''} · ${renewals} renewals · ${failed} failed`,
        );
    }, 1000);

    // Assigned in the browser's handler: the cast keeps TypeScript from narrowing it to null here.
    let browserToken = null as string | null;
    try {
        phase = 'part 1, HTTP';
        phaseTotal = pages;
        const login = formLogin(site.url);
        const http = new CheerioCrawler(
            withSessions(sessions, {
                // At a steady 20 from the start, every expiry catches up to 19 other requests of the sessions in flight.
                minConcurrency: 20,
                maxConcurrency: 20,
                async requestHandler({ request, $, sessions }) {
                    if ($('#state').text() === 'logged-in') {
                        loggedIn.add(request.uniqueKey);
                        return;
                    }
                    const renewals = (request.userData.renewals ?? 0) + 1;
                    request.userData.renewals = renewals;
                    if (renewals > MAX_RENEWALS_PER_PAGE) throw new Error(`still logged out after ${MAX_RENEWALS_PER_PAGE} renewals`);
                    // Logged out: the first handler to notice renews the session; handlers whose page was sent
                    // before that renewal just wait for it. Then the page is fetched again with the new login.
                    await sessions.clear(request.userData.sessionId, { renewal: login });
                    throw new RetryRequestError('session renewed');
                },
                failedRequestHandler() {
                    failed++;
                },
            }),
            inMemory(),
        );
        await http.run(
            Array.from({ length: pages }, (_, n) => ({
                url: `${site.url}/catalog/${n + 1}`,
                userData: { sessionId: CRAWL_SESSIONS[n % CRAWL_SESSIONS.length] },
            })),
        );
        out.log(`part 1 done: ${loggedIn.size}/${pages} pages logged in, ${failed} failed, ${seconds().toFixed(1)}s`);

        phase = 'part 2, browser sign-in';
        phaseTotal = 0;
        phaseStart = loggedIn.size;
        const browser = new PlaywrightCrawler(
            withSessions(sessions, {
                headless: true,
                maxRequestRetries: 1,
                async requestHandler({ page, request }) {
                    const user = SESSION_USERS[request.userData.sessionId]!;
                    await page.fill('#user', user);
                    await page.fill('#password', ACCOUNTS[user]!);
                    await page.click('#submit');
                    await page.waitForFunction(() => document.querySelector('#status')?.textContent === 'ready', undefined, {
                        timeout: 10_000,
                    });
                    browserToken = await page.evaluate(() => localStorage.getItem('token'));
                    // When the handler returns, withSessions saves the context's cookies (the HttpOnly sid) into the session.
                },
                failedRequestHandler() {
                    failed++;
                },
            }),
            inMemory(),
        );
        await browser.run([{ url: `${site.url}/app`, userData: { sessionId: BROWSER_SESSION } }]);
        const browserInfo = sessions.list().find((info) => info.id === BROWSER_SESSION);
        out.log(
            `part 2: ${BROWSER_SESSION} signed in with Chromium: ${browserToken ? `API token in localStorage (${browserToken.length} chars)` : 'NO API token'}, ` +
                `${browserInfo?.cookies ?? 0} cookie(s) in the session`,
        );

        phase = 'part 2, HTTP with the browser session';
        phaseTotal = BROWSER_PAGES;
        phaseStart = loggedIn.size;
        const handover = new CheerioCrawler(
            withSessions(sessions, {
                // No renewal here on purpose: every page must be logged in by the login made in the browser.
                async requestHandler({ request, $ }) {
                    if ($('#state').text() === 'logged-in') loggedIn.add(request.uniqueKey);
                },
                failedRequestHandler() {
                    failed++;
                },
            }),
            inMemory(),
        );
        await handover.run(
            Array.from({ length: BROWSER_PAGES }, (_, n) => ({
                // Products after those of part 1: every page of the run is a different one.
                url: `${site.url}/catalog/${pages + n + 1}`,
                userData: { sessionId: BROWSER_SESSION },
            })),
        );
        phase = 'done';
        clearInterval(progress);

        const list = sessions.list();
        out.table(
            list.map((info) => ({
                id: info.id,
                // The profile description is `name · proxy (password hidden) · User-Agent…`: the UA makes it too wide here.
                profile: info.profile?.split(' · ').slice(0, 2).join(' · '),
                cookies: info.cookies,
                generation: info.generation,
                requests: info.requests,
                failures: info.failures,
                renewals: info.renewals,
            })),
        );
        return verdict(out, site, {
            pages: pages + BROWSER_PAGES,
            loggedIn: loggedIn.size,
            renewals: list.reduce((sum, info) => sum + info.renewals, 0),
            failed,
            browserToken: !!browserToken,
            seconds: seconds(),
        });
    } finally {
        clearInterval(progress);
        await sessions.close();
        await proxies.close();
        await site.close();
    }
}

function verdict(
    out: Console,
    site: DemoSite,
    counts: Pick<ExampleResult, 'pages' | 'loggedIn' | 'renewals' | 'failed' | 'browserToken' | 'seconds'>,
): ExampleResult {
    const { stats } = site;
    const staleRequests = stats.staleRequests;
    out.log(
        `site: ${stats.requests} requests · ${stats.logins} logins · ${stats.loggedInPages}/${stats.catalogPages} catalog pages served logged in ` +
            `· identity mismatches: ${stats.identityMismatches} · ${counts.seconds.toFixed(1)}s`,
    );
    const ok = counts.loggedIn === counts.pages && staleRequests === 0 && counts.failed === 0 && counts.browserToken;
    const line =
        `VERDICT: ${counts.loggedIn}/${counts.pages} pages fetched logged in · ${counts.renewals} renewals · ` +
        `stale requests: ${staleRequests} · failed: ${counts.failed}${counts.browserToken ? '' : ' · no browser token'}`;
    out.log(line);
    return { ...counts, staleRequests, ok, verdict: line };
}

const runDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (runDirectly) {
    const pages = Number(process.env.EXAMPLE_PAGES ?? 300);
    if (!Number.isInteger(pages) || pages < 1) {
        console.error(`EXAMPLE_PAGES must be a positive whole number, got "${process.env.EXAMPLE_PAGES}"`);
        process.exit(2);
    }
    runExample({ pages }).then(
        (result) => {
            process.exitCode = result.ok ? 0 : 1;
        },
        (error: unknown) => {
            console.error(error);
            process.exitCode = 1;
        },
    );
}
