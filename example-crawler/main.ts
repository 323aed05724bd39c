/**
 * crawlee-sessions end to end, against a login-protected demo site behind three authenticated proxies.
 *
 * Setup: `Sessions.open()` resumes the sessions of the previous run from the store (the embedded store in
 * ./storage, or MySQL when CRAWLEE_SESSIONS_MYSQL_URL is set), ties every session to its login recipe, adds a
 * header rule (`X-Client` on the demo site, kept in the store) and a session header with a TTL.
 *
 * Part 1: a CheerioCrawler crawls catalog pages for four accounts (sessions alice, bob, carol, dave; form login
 * with a CSRF token) and JSON API pages for a fifth (api-client; bearer token from a JSON login API), all at
 * once. The site logs a login out after 25 page views; the validity check notices, the session is renewed through
 * its recipe while its other requests wait, and the page is fetched again. No request ever reaches the site with
 * a credential that was already replaced.
 *
 * Part 2: a CheerioCrawler crawls with the session browser-user, which logs in through the site's JavaScript app
 * in Chromium (browser-mode recipe): the token the app leaves in localStorage and its HttpOnly cookie move to
 * plain HTTP requests, sent through the same proxy with the same User-Agent.
 *
 * Part 3: a PlaywrightCrawler opens a few pages with alice's session, logged in over plain HTTP: its cookies move
 * into the browser, its proxy and User-Agent become the page's, and the header rule applies to the page's requests.
 *
 * Run: npm run example   (twice, to see the sessions resumed; EXAMPLE_PAGES=1000 for a longer crawl)
 */
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

import { CheerioCrawler, Configuration, PlaywrightCrawler, log } from 'crawlee';

import { Sessions, withSessions, type SessionInfo } from '../src/index.js';
import { startDemoSite, type DemoSite } from './demo-site.js';
import { loggedOutCheck, loginsFor, type Account, type LoginKind } from './logins.js';
import { buildProfiles } from './profiles.js';
import { startDemoProxies } from './proxies.js';

/** The demo site's accounts (exported for the test that checks no password is printed). */
export const ACCOUNTS: Record<string, Account> = {
    alice: { user: 'alice', password: 'rabbit-hole' },
    bob: { user: 'bob', password: 'can-we-fix-it' },
    carol: { user: 'carol', password: 'jingle-bells' },
    dave: { user: 'dave', password: 'open-the-pod-bay-doors' },
    frank: { user: 'frank', password: 'api-only-please' },
    erin: { user: 'erin', password: 'browser-only' },
};

const FORM_SESSIONS = ['alice', 'bob', 'carol', 'dave'];
const API_SESSION = 'api-client';
const BROWSER_SESSION = 'browser-user';

/** Every session of the demo: how it logs in, and as whom. */
const PLAN: Record<string, { kind: LoginKind; account: Account }> = {
    ...Object.fromEntries(FORM_SESSIONS.map((id) => [id, { kind: 'form' as const, account: ACCOUNTS[id]! }])),
    [API_SESSION]: { kind: 'api', account: ACCOUNTS.frank! },
    [BROWSER_SESSION]: { kind: 'browser', account: ACCOUNTS.erin! },
};

/** Logged-in page views a login of the demo site serves before it expires. */
export const SESSION_LIFETIME = 25;
const HEADER_RULE = 'demo-client';

export interface ExampleOptions {
    /** Catalog pages of part 1 (over the four form sessions). Default 300. */
    pages?: number;
    /** API pages of part 1 (session api-client). Default 60. */
    apiPages?: number;
    /** Pages of part 2 (session browser-user), a third of them API pages. Default 12. */
    browserPages?: number;
    /** Pages of part 3 (PlaywrightCrawler, session alice). Default 4. */
    playwrightPages?: number;
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

export interface ExampleResult {
    /** Pages of both parts, and how many of them were fetched logged in (by the account of their session). */
    pages: number;
    loggedIn: number;
    /** Renewals (logins) made by this run, and how many of them ran in Chromium. */
    renewals: number;
    browserLogins: number;
    /** Logins the site answered during part 1. */
    part1Logins: number;
    staleRequests: number;
    identityMismatches: number;
    failed: number;
    /** Page requests the site received, and how many carried the header rule's `X-Client`. */
    pageRequests: number;
    ruleApplied: number;
    /** API pages of api-client served logged in, and how many carried its session header `X-Api-Version`. */
    apiClientPages: number;
    sessionHeaderApplied: number;
    /** `PHPSESSID` rotations recorded by the sessions' token tracking, and how many the site made. */
    rotations: number;
    siteRotations: number;
    /** The demo's sessions found in the store at start, and how many of them were served with their old login. */
    resumedSessions: number;
    resumedLogins: number;
    /** Where the sessions were kept. */
    store: string;
    ok: boolean;
    verdict: string;
    seconds: number;
}

/** Crawlee keeps the request queues of the demo in memory: only the sessions are persisted. */
function inMemory(): Configuration {
    return new Configuration({ persistStorage: false });
}

/** The sessions' store choice for a storage directory given by the caller (tests use a temporary one). */
function storeIn(storageDir: string) {
    return { embedded: { config: new Configuration({ persistStorage: true, storageClientOptions: { localDataDirectory: storageDir } }) } };
}

/** What a crawled page showed: logged in, and as whom. */
function pageState($: { (selector: string): { text(): string } } | undefined, json: unknown): { loggedIn: boolean; user: string } {
    if (json && typeof json === 'object') {
        const body = json as { state?: string; user?: string };
        return { loggedIn: body.state === 'logged-in', user: body.user ?? '' };
    }
    return { loggedIn: $?.('#state').text() === 'logged-in', user: $?.('#user').text() ?? '' };
}

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
        sessionLifetime: SESSION_LIFETIME,
        stateFile: join(storageDir, 'demo-site', 'logins.json'),
    });
    const proxies = await startDemoProxies({ password: options.proxyPassword });
    let trackedRotations = 0;
    let sessions: Sessions;
    try {
        sessions = await Sessions.open({
            profiles: buildProfiles(proxies.urls),
            // Every session is tied to its login: a clear (by the validity check) renews it through its recipe.
            loginFor: loginsFor(site.url, PLAN),
            tokens: { onRotation: () => trackedRotations++ },
            ...(options.storageDir ? { store: storeIn(options.storageDir) } : {}),
        });
    } catch (error) {
        await proxies.close();
        await site.close();
        throw error;
    }
    out.log(`demo site ${site.url} · ${proxies.urls.length} proxies leaving from ${proxies.exitAddresses.join(', ')}`);

    const ours = (list: SessionInfo[]) => list.filter((info) => Object.hasOwn(PLAN, info.id));
    const atStart = ours(sessions.list());
    const renewalsAtStart = sum(atStart, 'renewals');
    const others = sessions.list().length - atStart.length;
    out.log(
        atStart.length
            ? `resumed ${atStart.length} sessions from the session ${sessions.store.description}: cookies, profile, identity and login headers`
            : `no session in the session ${sessions.store.description} yet: every session logs in (run the example again to see them resumed)`,
    );
    if (others) out.log(`(the store also holds ${others} sessions of other programs; they are left alone)`);

    const host = new URL(site.url).host;
    // Header rules live in the store: the rule of the previous run is still there (its host had another port).
    const rule = { header: 'X-Client', value: 'crawlee-sessions-demo', match: { host } };
    const existing = await sessions.headerRules.get(HEADER_RULE);
    if (existing) await sessions.headerRules.update(HEADER_RULE, rule);
    else await sessions.headerRules.add({ name: HEADER_RULE, ...rule });
    await sessions.setHeader(API_SESSION, { name: 'X-Api-Version', value: '2', ttl: 900, scope: { host } });
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
    const progress = setInterval(() => {
        const list = ours(sessions.list());
        const renewing = list.filter((info) => info.status === 'renewing').length;
        out.log(
            `[${seconds().toFixed(1).padStart(5)}s] ${phase} · ${loggedIn}/${requested} pages · ${list.length} sessions` +
                `${renewing ? ` (${renewing} renewing)` : ''} · ${sum(list, 'renewals') - renewalsAtStart} renewals · ` +
                `${trackedRotations} rotations · ${failed} failed`,
        );
    }, 1000);

    /** The request handler of both parts: the check has already made sure the session is logged in. */
    const handler = async ({ request, $, json, sessions }: { request: { userData: Record<string, any> }; $?: any; json?: unknown; sessions: Sessions }) => {
        const state = pageState($, json);
        const account = PLAN[request.userData.sessionId as string]!.account.user;
        if (state.loggedIn && state.user === account) loggedIn++;
        else if (state.loggedIn) wrongAccount++;
        // Inside a handler, a session method without an id means the request's session.
        const profile = sessions.getProfile()?.name ?? 'none';
        perProfile.set(profile, (perProfile.get(profile) ?? 0) + 1);
    };

    try {
        // Part 1: form sessions on catalog pages and the API session on API pages, one crawler, one check.
        phase = 'part 1, HTTP';
        const part1 = [
            ...Array.from({ length: pages }, (_, n) => ({
                url: `${site.url}/catalog/${n + 1}`,
                userData: { sessionId: FORM_SESSIONS[n % FORM_SESSIONS.length] },
            })),
            ...Array.from({ length: apiPages }, (_, n) => ({ url: `${site.url}/api/orders/${n + 1}`, userData: { sessionId: API_SESSION } })),
        ];
        requested = part1.length;
        const http = new CheerioCrawler(
            withSessions(
                sessions,
                {
                    // At a steady 20 from the start, every expiry catches up to 19 other requests in flight.
                    minConcurrency: 20,
                    maxConcurrency: 20,
                    requestHandler: handler,
                    failedRequestHandler() {
                        failed++;
                    },
                },
                { check },
            ),
            inMemory(),
        );
        // Interleave the API pages with the catalog pages, so that all five sessions crawl at once.
        await http.run(interleave(part1.slice(0, pages), part1.slice(pages)));
        const part1Logins = site.stats.logins;
        out.log(
            `part 1 done: ${loggedIn}/${part1.length} pages logged in · ${part1Logins} logins · ${failed} failed · ${seconds().toFixed(1)}s`,
        );

        // Part 2: the browser-user session logs in through the JavaScript app in Chromium (when it is not still
        // logged in from the last run), then a CheerioCrawler uses its cookie and localStorage token.
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
                    requestHandler: handler,
                    failedRequestHandler() {
                        failed++;
                    },
                },
                { check },
            ),
            inMemory(),
        );
        await handover.run(part2);
        const browserLogins = site.stats.loginsByUser[PLAN[BROWSER_SESSION]!.account.user] ?? 0;
        const tokenNames = Object.keys(sessions.tokens(BROWSER_SESSION, site.url)).join(', ') || 'none';
        out.log(
            browserLogins
                ? `part 2: ${BROWSER_SESSION} signed in ${browserLogins}× with Chromium through the app; its localStorage token ` +
                      `(as Authorization: Bearer) and its HttpOnly cookie (${tokenNames}) served ${part2.length} pages fetched by Cheerio`
                : `part 2: ${BROWSER_SESSION} was resumed from the store still logged in: no browser needed this time ` +
                      `(${part2.length} pages fetched by Cheerio with its stored bearer token and cookie ${tokenNames})`,
        );

        // Part 3: the other direction, a session logged in over HTTP used by a PlaywrightCrawler. The same check
        // runs on the rendered page; a logged-out page would renew the session over HTTP and open it again.
        phase = 'part 3, PlaywrightCrawler';
        const browserSession = FORM_SESSIONS[0]!;
        requested += playwrightPages;
        const browser = new PlaywrightCrawler(
            withSessions(
                sessions,
                {
                    headless: true,
                    maxConcurrency: 2,
                    async requestHandler({ request, page, sessions }) {
                        const state = (await page.textContent('#state')) === 'logged-in';
                        const user = (await page.textContent('#user').catch(() => '')) ?? '';
                        await handler({ request, json: { state: state ? 'logged-in' : 'logged-out', user }, sessions });
                    },
                    failedRequestHandler() {
                        failed++;
                    },
                },
                { check },
            ),
            inMemory(),
        );
        await browser.run(
            Array.from({ length: playwrightPages }, (_, n) => ({
                url: `${site.url}/catalog/${pages + browserPages + n + 1}`,
                userData: { sessionId: browserSession },
            })),
        );
        out.log(`part 3: a PlaywrightCrawler opened ${playwrightPages} pages with ${browserSession}'s session, logged in over HTTP`);
        phase = 'done';
        clearInterval(progress);

        const list = ours(sessions.list());
        out.table(list.map((info) => tableRow(sessions, info, site.url)));
        out.log(`pages per profile: ${[...perProfile].sort().map(([name, count]) => `${name} ${count}`).join(' · ')}`);
        const stats = site.stats;
        const apiClientAccount = PLAN[API_SESSION]!.account.user;
        const result = verdict(out, site, {
            pages: requested,
            loggedIn,
            renewals: sum(list, 'renewals') - renewalsAtStart,
            browserLogins,
            part1Logins,
            staleRequests: stats.staleRequests,
            identityMismatches: stats.identityMismatches,
            failed: failed + wrongAccount,
            pageRequests: stats.catalogPages + stats.apiPages,
            ruleApplied: stats.clientHeaderPages,
            apiClientPages: stats.apiPagesByUser[apiClientAccount]?.pages ?? 0,
            sessionHeaderApplied: stats.apiPagesByUser[apiClientAccount]?.withVersion ?? 0,
            rotations: trackedRotations,
            siteRotations: stats.rotations,
            resumedSessions: atStart.length,
            resumedLogins: stats.resumedUsers.length,
            store: sessions.store.description,
            seconds: seconds(),
        });
        return result;
    } finally {
        clearInterval(progress);
        await sessions.close();
        await proxies.close();
        await site.close();
    }
}

/** One row of the sessions table: no cookie value, no token value, no proxy password. */
function tableRow(sessions: Sessions, info: SessionInfo, siteUrl: string) {
    const activity = sessions.tokenTracker.activityOf(info.id).find((entry) => entry.site === new URL(siteUrl).host);
    return {
        id: info.id,
        login: `${PLAN[info.id]!.kind} as ${PLAN[info.id]!.account.user}`,
        // The profile description is `name · proxy (password hidden) · User-Agent…`: the UA makes it too wide here.
        profile: info.profile?.split(' · ').slice(0, 2).join(' · '),
        cookies: info.cookies,
        token: Object.keys(sessions.tokens(info.id, siteUrl)).join(', '),
        rotations: activity?.rotations ?? 0,
        generation: info.generation,
        requests: info.requests,
        renewals: info.renewals,
    };
}

type VerdictCounts = Omit<ExampleResult, 'ok' | 'verdict'>;

function verdict(out: Console, site: DemoSite, counts: VerdictCounts): ExampleResult {
    const { stats } = site;
    out.log(
        `site: ${stats.requests} requests · ${stats.logins} logins (${counts.browserLogins} in Chromium) · ` +
            `${stats.loggedInPages}/${stats.catalogPages} catalog and ${stats.apiLoggedIn}/${stats.apiPages} API pages served logged in · ` +
            `identity mismatches: ${counts.identityMismatches} · ${counts.siteRotations} PHPSESSID rotations · ` +
            `X-Api-Version on ${counts.sessionHeaderApplied}/${counts.apiClientPages} ${API_SESSION} API pages · ${counts.seconds.toFixed(1)}s`,
    );
    const resumed = counts.resumedSessions
        ? `${counts.resumedSessions} sessions resumed from the store, ${counts.resumedLogins} with their login still valid`
        : 'first run: 0 sessions resumed';
    const ok =
        counts.loggedIn === counts.pages &&
        counts.staleRequests === 0 &&
        counts.failed === 0 &&
        counts.identityMismatches === 0 &&
        counts.ruleApplied === counts.pageRequests &&
        counts.apiClientPages > 0 &&
        counts.sessionHeaderApplied === counts.apiClientPages &&
        counts.rotations > 0;
    const line =
        `VERDICT: ${counts.loggedIn}/${counts.pages} pages fetched logged in · ${counts.renewals} renewals · ` +
        `stale requests: ${counts.staleRequests} · failed: ${counts.failed} · X-Client rule on ${counts.ruleApplied}/${counts.pageRequests} requests · ` +
        `${counts.rotations} PHPSESSID rotations tracked · ${resumed}`;
    out.log(line);
    return { ...counts, ok, verdict: line };
}

function sum(list: SessionInfo[], key: 'renewals' | 'requests'): number {
    return list.reduce((total, info) => total + info[key], 0);
}

/** Spreads `b` evenly through `a`. */
function interleave<T>(a: T[], b: T[]): T[] {
    if (!b.length) return a;
    const result: T[] = [];
    const step = (a.length + b.length) / b.length;
    let next = 0;
    for (let i = 0, ai = 0, bi = 0; i < a.length + b.length; i++) {
        if (bi < b.length && i >= next) {
            result.push(b[bi++]!);
            next += step;
        } else if (ai < a.length) result.push(a[ai++]!);
        else result.push(b[bi++]!);
    }
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
