/**
 * What the example prints at the end: the sessions table (no cookie value, no token value, no proxy password), a
 * summary of what the demo site saw, and the one-line verdict.
 */
import type { Sessions, SessionInfo } from '../src/index.js';
import type { DemoSiteStats } from './demo-site.js';

/** What the example measured, and its verdict. */
export interface ExampleResult {
    /** Pages of all parts, and how many of them were fetched logged in (by the account of their session). */
    pages: number;
    loggedIn: number;
    /** Renewals (logins) made by this run, and how many of them ran in Chromium. */
    renewals: number;
    browserLogins: number;
    /** Logins the site answered during part 1. */
    part1Logins: number;
    staleRequests: number;
    identityMismatches: number;
    /** Failed requests, plus pages that showed another account than their session's (there must be none). */
    failed: number;
    /** Page requests the site received (logged-out ones included), and how many carried the header rule's `X-Client`. */
    pageRequests: number;
    ruleApplied: number;
    /** API pages of the session with the session header, served logged in, and how many carried `X-Api-Version`. */
    apiClientPages: number;
    sessionHeaderApplied: number;
    /** `PHPSESSID` rotations recorded by the sessions' token tracking, and how many the site made. */
    rotations: number;
    siteRotations: number;
    /** Second-factor codes the site refused (wrong or replayed): there must be none. */
    refusedCodes: number;
    /** The demo's sessions found in the store at start, and how many of them were served with their old login. */
    resumedSessions: number;
    resumedLogins: number;
    /** Where the sessions were kept. */
    store: string;
    /** Part 4: pages on logins that last 2 s, those answered logged out or failed (none), and renewals ahead of expiry. */
    aheadPages: number;
    aheadLoggedOut: number;
    renewedAhead: number;
    /** Whether every check of the verdict passed. */
    ok: boolean;
    /** The verdict line as printed. */
    verdict: string;
    seconds: number;
}

/** How a session of the demo logs in, for the table's `login` column. */
export type LoginLabel = (sessionId: string) => string;

/** Prints the sessions table: one row per session, token names and rotation counts, never values. */
export function printSessions(out: Console, sessions: Sessions, list: SessionInfo[], siteUrl: string, loginOf: LoginLabel): void {
    const site = new URL(siteUrl).host;
    out.table(
        list.map((info) => ({
            id: info.id,
            login: loginOf(info.id),
            // The profile description is `name · proxy (password hidden) · User-Agent…`: the UA makes it too wide here.
            profile: info.profile?.split(' · ').slice(0, 2).join(' · '),
            cookies: info.cookies,
            // sessions.tokens.values() returns token values (secrets): only their names are shown.
            token: Object.keys(sessions.tokens.values(info.id, site)).join(', '),
            rotations: sessions.tokens.activity(info.id).find((entry) => entry.site === site)?.rotations ?? 0,
            generation: info.generation,
            requests: info.requests,
            renewals: info.renewals,
        })),
    );
    out.log('(requests and renewals count every run on this store; generation: how many times the session was cleared)');
}

/** Prints what the site saw and the verdict; returns the result with `ok` and the verdict line. */
export function printVerdict(out: Console, stats: Readonly<DemoSiteStats>, counts: Omit<ExampleResult, 'ok' | 'verdict'>, headerSession: string): ExampleResult {
    out.log(
        `site: ${stats.requests} requests · ${stats.logins} logins (${counts.browserLogins} in Chromium) · ` +
            `${stats.loggedInPages}/${stats.catalogPages} catalog and ${stats.apiLoggedIn}/${stats.apiPages} API pages served logged in · ` +
            `identity mismatches: ${counts.identityMismatches} · ${counts.siteRotations} PHPSESSID rotations · ` +
            `${stats.secondFactorCodes} TOTP codes accepted, ${counts.refusedCodes} refused · ` +
            `X-Api-Version on ${counts.sessionHeaderApplied}/${counts.apiClientPages} ${headerSession} API pages · ${counts.seconds.toFixed(1)}s`,
    );
    const resumed = counts.resumedSessions
        ? `${counts.resumedSessions} sessions resumed from the store, ${counts.resumedLogins} with their login still valid`
        : 'first run: 0 sessions resumed';
    const ok =
        counts.loggedIn === counts.pages &&
        counts.staleRequests === 0 &&
        counts.failed === 0 &&
        counts.identityMismatches === 0 &&
        counts.refusedCodes === 0 &&
        counts.ruleApplied === counts.pageRequests &&
        counts.apiClientPages > 0 &&
        counts.sessionHeaderApplied === counts.apiClientPages &&
        counts.rotations > 0 &&
        counts.aheadLoggedOut === 0 &&
        counts.renewedAhead > 0;
    const verdict =
        `VERDICT: ${counts.loggedIn}/${counts.pages} pages fetched logged in · ${counts.renewals} renewals · ` +
        `stale requests: ${counts.staleRequests} · failed: ${counts.failed} · X-Client rule on ${counts.ruleApplied}/${counts.pageRequests} requests · ` +
        `${counts.rotations} PHPSESSID rotations tracked · renewed ahead ${counts.renewedAhead}×, logged-out answers: ${counts.aheadLoggedOut} · ${resumed}`;
    out.log(verdict);
    return { ...counts, ok, verdict };
}
