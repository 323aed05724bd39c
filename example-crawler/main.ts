/**
 * crawlee-sessions end to end, against a login-protected demo site behind three authenticated proxies.
 *
 * Setup: `Sessions.open()` resumes the sessions of the previous run from the store (the embedded store in
 * ./storage, or MySQL when CRAWLEE_SESSIONS_MYSQL_URL is set) and ties every session to its login recipe; a header
 * rule (`X-Client` on the demo site) is kept in the store, and one session gets a header with a TTL.
 *
 * Every session logs in as its own account: each recipe holds the accounts of its sessions (`accounts`), and a page
 * showing another account than its session's counts as a failure.
 *
 * Part 1: a CheerioCrawler crawls catalog pages for four accounts (sessions alice, bob, carol, dave; a form login
 * with a CSRF token) and JSON API pages for a fifth (api-client; a bearer token from a JSON login API), all at
 * once. The site logs a login out after 25 page views; the validity check notices, the session is renewed through
 * its recipe while its other requests wait, and the page is fetched again. No request ever reaches the site with
 * a credential that was already replaced.
 *
 * Part 2: a CheerioCrawler crawls with the session browser-user, which logs in through the site's JavaScript app
 * in Chromium (a browser-mode recipe) with its account's password and a TOTP code from its authenticator secret
 * (the site checks the code and refuses a reused one): the token the app leaves in localStorage and its HttpOnly
 * cookie move to plain HTTP requests, sent through the same proxy with the same User-Agent.
 *
 * Part 3: a PlaywrightCrawler opens a few pages with alice's session, logged in over plain HTTP: its cookies move
 * into the browser, its proxy and User-Agent become the page's, and the header rule applies to the page's requests.
 *
 * Run: npm run example   (twice, to see the sessions resumed; EXAMPLE_PAGES=1000 for a longer part 1)
 */
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

import { CheerioCrawler, Configuration, PlaywrightCrawler, log, type CheerioAPI } from 'crawlee';

import { Sessions, withSessions, type SessionInfo } from '../src/index.js';
import { crawlRenewedAhead } from './ahead.js';
import { startDemoSite } from './demo-site.js';
import { loggedOutCheck, loginsFor, type Account, type LoginKind } from './logins.js';
import { buildProfiles } from './profiles.js';
import { startDemoProxies } from './proxies.js';
import { printSessions, printVerdict, type ExampleResult } from './report.js';

export type { ExampleResult } from './report.js';

/** The demo site's accounts (exported for the test that checks that no password is printed). */
export const ACCOUNTS: Record<string, Account> = {
    alice: { user: 'alice', password: 'rabbit-hole' },
    bob: { user: 'bob', password: 'can-we-fix-it' },
    carol: { user: 'carol', password: 'jingle-bells' },
    dave: { user: 'dave', password: 'open-the-pod-bay-doors' },
    frank: { user: 'frank', password: 'api-only-please' },
    // erin has a second factor: the demo's authenticator secret (base32), shared with the demo site.
    erin: { user: 'erin', password: 'browser-only', totpSecret: 'I7ECU4SGM7T3AISJSDKFEFR6RQY6NEUO' },
};

/** Logged-in page views a login of the demo site serves before it expires. */
export const SESSION_LIFETIME = 25;

const FORM_SESSIONS = ['alice', 'bob', 'carol', 'dave'];
const API_SESSION = 'api-client';
const BROWSER_SESSION = 'browser-user';
/** The session part 3 opens in a PlaywrightCrawler. */
const PLAYWRIGHT_SESSION = 'alice';

/** Every session of the demo: how it logs in, and as whom. */
const PLAN: Record<string, { kind: LoginKind; account: Account }> = {
    ...Object.fromEntries(FORM_SESSIONS.map((id) => [id, { kind: 'form' as const, account: ACCOUNTS[id]! }])),
    [API_SESSION]: { kind: 'api', account: ACCOUNTS.frank! },
    [BROWSER_SESSION]: { kind: 'browser', account: ACCOUNTS.erin! },
};

const HEADER_RULE = 'demo-client';

/** Options of {@link runExample}. */
export interface ExampleOptions {
    /** Catalog pages of part 1 (over the four form sessions). Default 300. */
    pages?: number;
    /** API pages of part 1 (session api-client). Default 60. */
    apiPages?: number;
    /** Pages of part 2 (session browser-user), a third of them API pages. Default 12. */
    browserPages?: number;
    /** Pages of part 3 (PlaywrightCrawler, session alice). Default 4. */
    playwrightPages?: number;
    /** How long part 4 (renewal ahead of expiry, on logins that last 2 s) crawls, in seconds. Default 5. */
    aheadSecs?: number;
    /**
     * Where the sessions and the demo site's logins are kept between runs. Default: Crawlee's storage directory
     * (`CRAWLEE_STORAGE_DIR`, else `./storage`), with the session store `Sessions.open()` picks by itself: MySQL
     * when `CRAWLEE_SESSIONS_MYSQL_URL` is set, else the embedded store. With a directory given, the sessions go
     * to the embedded store in that directory whatever the environment says.
     */
    storageDir?: string;
    /** Where the progress, the table and the verdict go. Default: the global console. */
    console?: Console;
    /** Password of the demo proxies. Default: random. */
    proxyPassword?: string;
}

/** Crawlee keeps the request queues of the demo in memory: only the sessions are persisted. */
function inMemory(): Configuration {
    return new Configuration({ persistStorage: false });
}

/** The embedded store in a storage directory the caller chose (the test uses a temporary one). */
function embeddedStoreIn(storageDir: string) {
    return { embedded: { config: new Configuration({ persistStorage: true, storageClientOptions: { localDataDirectory: storageDir } }) } };
}

/** What a crawled page showed: logged in or not, and whose account it was. */
interface PageState {
    loggedIn: boolean;
    user: string;
}

/** The state of a page a CheerioCrawler fetched: the API's JSON, or the HTML markers. */
function cheerioPageState($: CheerioAPI | undefined, json: unknown): PageState {
    if (json && typeof json === 'object') {
        const body = json as { state?: string; user?: string };
        return { loggedIn: body.state === 'logged-in', user: body.user ?? '' };
    }
    return { loggedIn: $?.('#state').text() === 'logged-in', user: $?.('#user').text() ?? '' };
}

/** Runs the whole example: starts the demo site and proxies, crawls the three parts, prints the verdict. */
export async function runExample(options: ExampleOptions = {}): Promise<ExampleResult> {
    const out = options.console ?? console;
    const pages = options.pages ?? 300;
    const apiPages = options.apiPages ?? 60;
    const browserPages = options.browserPages ?? 12;
    const playwrightPages = options.playwrightPages ?? 4;
    // Crawlee's and the logins' info lines would drown the progress: keep the output to it, and to errors.
    log.setLevel(log.LEVELS.ERROR);
    const started = Date.now();
    const seconds = () => (Date.now() - started) / 1000;
    const storageDir = options.storageDir ?? process.env.CRAWLEE_STORAGE_DIR ?? './storage';

    const site = await startDemoSite({
        accounts: Object.fromEntries(Object.values(ACCOUNTS).map((account) => [account.user, account.password])),
        secondFactors: Object.fromEntries(
            Object.values(ACCOUNTS).flatMap((account) => (account.totpSecret ? [[account.user, { secret: account.totpSecret }]] : [])),
        ),
        sessionLifetime: SESSION_LIFETIME,
        stateFile: join(storageDir, 'demo-site', 'logins.json'),
    });
    const proxies = await startDemoProxies({ password: options.proxyPassword }).catch(async (error: unknown) => {
        await site.close();
        throw error;
    });
    let trackedRotations = 0;
    const sessions = await Sessions.open({
        profiles: buildProfiles(proxies.urls),
        // Every session is tied to its login: when the check finds it logged out, it is renewed through its recipe.
        loginFor: loginsFor(site.url, PLAN),
        tokens: { onRotation: () => trackedRotations++ },
        ...(options.storageDir ? { store: embeddedStoreIn(options.storageDir) } : {}),
    }).catch(async (error: unknown) => {
        await proxies.close();
        await site.close();
        throw error;
    });

    const order = Object.keys(PLAN);
    const ours = (list: SessionInfo[]) =>
        list.filter((info) => Object.hasOwn(PLAN, info.id)).sort((a, b) => order.indexOf(a.id) - order.indexOf(b.id));
    const sum = (list: SessionInfo[]) => list.reduce((total, info) => total + info.renewals, 0);
    let progress: NodeJS.Timeout | undefined;
    try {
        out.log(`demo site ${site.url} · ${proxies.urls.length} proxies leaving from ${proxies.exitAddresses.join(', ')}`);
        const atStart = ours(sessions.list());
        const renewalsAtStart = sum(atStart);
        const { kind, description } = sessions.store;
        const storeName = kind === 'mysql' ? `MySQL store ${description}` : description;
        out.log(
            atStart.length
                ? `resumed ${atStart.length} sessions from the ${storeName}: cookies, profile, identity and login headers`
                : `sessions are kept in the ${storeName}: none there yet, so every session logs in ` +
                      '(run the example again to see them resumed)',
        );
        const others = sessions.list().length - atStart.length;
        if (others) out.log(`(the store also holds ${others} sessions of other programs; they are left alone)`);

        const host = new URL(site.url).host;
        // Header rules live in the store: the previous run's rule is still there (for the site's previous port).
        const rule = { header: 'X-Client', value: 'crawlee-sessions-demo', match: { host } };
        const existing = await sessions.headers.rules.get(HEADER_RULE);
        if (existing) await sessions.headers.rules.update(HEADER_RULE, rule);
        else await sessions.headers.rules.add({ name: HEADER_RULE, ...rule });
        await sessions.headers.set(API_SESSION, { name: 'X-Api-Version', value: '2', ttlSecs: 900, scope: { host } });
        out.log(
            `header rule "${HEADER_RULE}": X-Client on ${host} (${existing ? 'found in the store, host updated' : 'added to the store'}) · ` +
                `session header X-Api-Version on ${API_SESSION} for 15 minutes`,
        );

        const check = loggedOutCheck();
        let loggedIn = 0;
        let wrongAccount = 0;
        let failed = 0;
        let requested = 0;
        const perProfile = new Map<string, number>();
        let phase = 'starting';
        progress = setInterval(() => {
            const list = ours(sessions.list());
            const renewing = list.filter((info) => info.status === 'renewing').length;
            out.log(
                `[${seconds().toFixed(1).padStart(5)}s] ${phase} · ${loggedIn}/${requested} pages · ${list.length} sessions` +
                    `${renewing ? ` (${renewing} renewing)` : ''} · ${sum(list) - renewalsAtStart} renewals · ` +
                    `${trackedRotations} rotations · ${failed} failed`,
            );
        }, 1000);

        /**
         * Tallies a page, from the request handler of every crawler. The check has already made sure the session
         * is logged in; the page must also show the session's own account (sessions never share cookies).
         */
        const record = (sessionId: string, state: PageState, context: { sessions: Sessions }) => {
            if (state.loggedIn && state.user === PLAN[sessionId]!.account.user) loggedIn++;
            else if (state.loggedIn) wrongAccount++;
            // Inside a handler, a session method without an id means the request's session.
            const profile = context.sessions.getProfile()?.name ?? 'none';
            perProfile.set(profile, (perProfile.get(profile) ?? 0) + 1);
        };
        const failedRequestHandler = ({ request }: { request: { url: string } }, error: Error) => {
            failed++;
            // Errors of logins and renewals never contain credentials or tokens.
            if (failed <= 5) out.log(`failed: ${request.url}: ${error.message}`);
        };

        // Part 1: the form sessions on catalog pages and the API session on API pages: one crawler, one check.
        phase = 'part 1, HTTP';
        const catalog = Array.from({ length: pages }, (_, n) => ({
            url: `${site.url}/catalog/${n + 1}`,
            userData: { sessionId: FORM_SESSIONS[n % FORM_SESSIONS.length] },
        }));
        const orders = Array.from({ length: apiPages }, (_, n) => ({ url: `${site.url}/api/orders/${n + 1}`, userData: { sessionId: API_SESSION } }));
        requested = pages + apiPages;
        const http = new CheerioCrawler(
            withSessions(
                sessions,
                {
                    // At a steady 20 from the start, every expiry catches up to 19 other requests in flight.
                    minConcurrency: 20,
                    maxConcurrency: 20,
                    async requestHandler({ request, $, json, sessions }) {
                        record(request.userData.sessionId, cheerioPageState($, json), { sessions });
                    },
                    failedRequestHandler,
                },
                { check },
            ),
            inMemory(),
        );
        // The API pages spread among the catalog pages, so that all five sessions crawl at once.
        await http.run(interleave(catalog, orders));
        const part1Logins = site.stats.logins;
        out.log(`part 1 done: ${loggedIn}/${requested} pages logged in · ${part1Logins} logins · ${failed} failed · ${seconds().toFixed(1)}s`);

        // Part 2: browser-user logs in through the JavaScript app in Chromium when the check finds it logged out
        // (always on a first run), then the CheerioCrawler goes on with its cookie and localStorage token.
        phase = 'part 2, browser login + HTTP';
        const apiShare = Math.floor(browserPages / 3);
        const part2 = Array.from({ length: browserPages }, (_, n) => ({
            url: n < browserPages - apiShare ? `${site.url}/catalog/${pages + n + 1}` : `${site.url}/api/orders/${apiPages + n + 1}`,
            userData: { sessionId: BROWSER_SESSION },
        }));
        requested += part2.length;
        const handover = new CheerioCrawler(
            withSessions(
                sessions,
                {
                    maxConcurrency: 4,
                    async requestHandler({ request, $, json, sessions }) {
                        record(request.userData.sessionId, cheerioPageState($, json), { sessions });
                    },
                    failedRequestHandler,
                },
                { check },
            ),
            inMemory(),
        );
        await handover.run(part2);
        const browserLogins = site.stats.loginsByUser[PLAN[BROWSER_SESSION]!.account.user] ?? 0;
        const tokenNames = Object.keys(sessions.tokens.values(BROWSER_SESSION, host)).join(', ') || 'none';
        out.log(
            browserLogins
                ? `part 2: ${BROWSER_SESSION} signed in ${browserLogins}× with Chromium through the app, password and TOTP code ` +
                      `(${site.stats.secondFactorCodes} code(s) accepted by the site, ${site.stats.refusedCodes} refused); its localStorage token ` +
                      `(as Authorization: Bearer) and its HttpOnly cookie (${tokenNames}) served ${part2.length} pages fetched by Cheerio`
                : `part 2: ${BROWSER_SESSION} was resumed from the store still logged in: no browser needed this time ` +
                      `(${part2.length} pages fetched by Cheerio with its stored bearer token and cookie ${tokenNames})`,
        );

        // Part 3: the other direction, a session logged in over HTTP used by a PlaywrightCrawler. The same check
        // runs on the rendered page: a logged-out page would renew the session over HTTP and be opened again.
        phase = 'part 3, PlaywrightCrawler';
        requested += playwrightPages;
        const browser = new PlaywrightCrawler(
            withSessions(
                sessions,
                {
                    headless: true,
                    maxConcurrency: 2,
                    async requestHandler({ request, page, sessions }) {
                        const state = await page.evaluate(() => ({
                            loggedIn: document.querySelector('#state')?.textContent === 'logged-in',
                            user: document.querySelector('#user')?.textContent ?? '',
                        }));
                        record(request.userData.sessionId, state, { sessions });
                    },
                    failedRequestHandler,
                },
                { check },
            ),
            inMemory(),
        );
        await browser.run(
            Array.from({ length: playwrightPages }, (_, n) => ({
                url: `${site.url}/catalog/${pages + browserPages + n + 1}`,
                userData: { sessionId: PLAYWRIGHT_SESSION },
            })),
        );
        out.log(`part 3: a PlaywrightCrawler opened ${playwrightPages} pages with ${PLAYWRIGHT_SESSION}'s session, logged in over HTTP`);
        clearInterval(progress);

        // Part 4: logins that end 2 s after they were made, and say so: renewed ahead, none answered logged out.
        const ahead = await crawlRenewedAhead((options.aheadSecs ?? 5) * 1000);
        out.log(
            `part 4: ${ahead.pages} pages on logins that last ${ahead.loginSecs} s · ${ahead.renewedAhead} renewals ahead of expiry · ` +
                `logged-out answers: ${ahead.loggedOut} · failed: ${ahead.failed}`,
        );

        const list = ours(sessions.list());
        printSessions(out, sessions, list, site.url, (id) => `${PLAN[id]!.kind} as ${PLAN[id]!.account.user}${PLAN[id]!.account.totpSecret ? ' + TOTP' : ''}`);
        out.log(`pages per profile: ${[...perProfile].sort().map(([name, count]) => `${name} ${count}`).join(' · ')}`);
        const { stats } = site;
        const apiClient = stats.apiPagesByUser[PLAN[API_SESSION]!.account.user];
        return printVerdict(
            out,
            stats,
            {
                pages: requested,
                loggedIn,
                renewals: sum(list) - renewalsAtStart,
                browserLogins,
                part1Logins,
                staleRequests: stats.staleRequests,
                identityMismatches: stats.identityMismatches,
                failed: failed + wrongAccount,
                pageRequests: stats.catalogPages + stats.apiPages,
                ruleApplied: stats.clientHeaderPages,
                apiClientPages: apiClient?.pages ?? 0,
                sessionHeaderApplied: apiClient?.withVersion ?? 0,
                rotations: trackedRotations,
                siteRotations: stats.rotations,
                refusedCodes: stats.refusedCodes,
                resumedSessions: atStart.length,
                resumedLogins: stats.resumedUsers.length,
                store: storeName,
                aheadPages: ahead.pages,
                aheadLoggedOut: ahead.loggedOut + ahead.failed,
                renewedAhead: ahead.renewedAhead,
                seconds: seconds(),
            },
            API_SESSION,
        );
    } finally {
        clearInterval(progress);
        await sessions.close();
        await proxies.close();
        await site.close();
    }
}

/** Spreads the items of `b` evenly among those of `a`. */
function interleave<T>(a: readonly T[], b: readonly T[]): T[] {
    const result: T[] = [];
    let bi = 0;
    a.forEach((item, ai) => {
        // Before a's item ai, b's items up to the same fraction of b.
        while (bi < Math.floor((ai * b.length) / a.length)) result.push(b[bi++]!);
        result.push(item);
    });
    while (bi < b.length) result.push(b[bi++]!);
    return result;
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
