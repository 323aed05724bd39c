import { Console } from 'node:console';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';

import { afterAll, beforeAll, expect, it } from 'vitest';

import { ACCOUNTS, SESSION_LIFETIME, runExample, type ExampleOptions, type ExampleResult } from '../example-crawler/main.js';

const PROXY_PASSWORD = 'example-test-proxy-password';
const SIZE = { pages: 100, apiPages: 30, browserPages: 12, playwrightPages: 2, aheadSecs: 3 } satisfies ExampleOptions;
const FORM_SESSIONS = 4;

let dir: string;
beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'crawlee-sessions-example-'));
});
afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
});

/** Runs the example at reduced size in the test's storage directory; returns its result and everything it printed. */
async function run(): Promise<{ result: ExampleResult; output: string }> {
    let output = '';
    const sink = new Writable({
        write(chunk, _encoding, callback) {
            output += String(chunk);
            callback();
        },
    });
    const result = await runExample({ ...SIZE, storageDir: dir, proxyPassword: PROXY_PASSWORD, console: new Console({ stdout: sink, stderr: sink }) });
    return { result, output };
}

/** Every secret of a run: passwords, and the cookie values and bearer tokens the demo site issued (from its state). */
async function secrets(): Promise<string[]> {
    const state = JSON.parse(await readFile(join(dir, 'demo-site', 'logins.json'), 'utf8')) as { logins: Array<{ sids: string[]; token?: string }> };
    const issued = state.logins.flatMap((login) => [...login.sids, ...(login.token ? [login.token] : [])]);
    expect(issued.length).toBeGreaterThan(0);
    return [PROXY_PASSWORD, ...Object.values(ACCOUNTS).flatMap((account) => [account.password, ...(account.totpSecret ? [account.totpSecret] : [])]), ...issued];
}

function expectNoSecret(output: string, values: string[]): void {
    for (const value of values) expect(output, 'a secret was printed').not.toContain(value);
    // Cookie values and tokens are 32 hex digits: none may be printed, whichever login issued it.
    expect(output).not.toMatch(/[0-9a-f]{32}/);
    expect(output).toContain('crawler:***@127.0.0.1');
}

/** Both runs: every page logged in by its own account, nothing stale or failed, rules and tokens at work. */
function expectCleanRun(result: ExampleResult, output: string): void {
    expect(result.pages).toBe(SIZE.pages + SIZE.apiPages + SIZE.browserPages + SIZE.playwrightPages);
    expect(result.loggedIn).toBe(result.pages);
    expect(result.staleRequests).toBe(0);
    expect(result.identityMismatches).toBe(0);
    expect(result.failed).toBe(0);
    // The header rule reached every page request, logged-out ones and Playwright's included.
    expect(result.pageRequests).toBeGreaterThanOrEqual(result.pages);
    expect(result.ruleApplied).toBe(result.pageRequests);
    // The session header went on every API page of its session (and only there: the browser session's API pages
    // are not counted as its).
    expect(result.apiClientPages).toBe(SIZE.apiPages);
    expect(result.sessionHeaderApplied).toBe(SIZE.apiPages);
    expect(result.rotations).toBeGreaterThan(0);
    expect(result.rotations).toBeLessThanOrEqual(result.siteRotations);
    expect(result.store).toContain(`embedded store "crawlee-sessions" in ${dir}`);
    // Part 4: logins that last 2 s, renewed ahead of their announced end: no page answered logged out.
    expect(result.renewedAhead).toBeGreaterThan(0);
    expect(result.aheadPages).toBeGreaterThan(0);
    expect(result.aheadLoggedOut).toBe(0);
    expect(result.ok).toBe(true);
    expect(output).toContain(result.verdict);
    expect(result.verdict).toMatch(
        /^VERDICT: (\d+)\/\1 pages fetched logged in · \d+ renewals · stale requests: 0 · failed: 0 · X-Client rule on (\d+)\/\2 requests · \d+ PHPSESSID rotations tracked · renewed ahead \d+×, logged-out answers: 0 · /,
    );
}

it('runs the example twice on one store: every page logged in, one login per expiry, sessions resumed, no secret printed', async () => {
    // A form login's redirect to /account spends one of its page views; an API login spends none.
    const formPagesPerLogin = SESSION_LIFETIME - 1;
    const pagesPerFormSession = SIZE.pages / FORM_SESSIONS;

    const first = await run();
    expectCleanRun(first.result, first.output);
    expect(first.result.resumedSessions).toBe(0);
    expect(first.result.verdict).toMatch(/first run: 0 sessions resumed$/);
    // Exactly one login per expiry: a logged-out answer to a request sent before the last login never logs in again.
    const firstPart1 = FORM_SESSIONS * Math.ceil(pagesPerFormSession / formPagesPerLogin) + Math.ceil(SIZE.apiPages / SESSION_LIFETIME);
    expect(first.result.part1Logins).toBe(firstPart1);
    expect(first.result.browserLogins).toBe(1);
    expect(first.result.renewals).toBe(firstPart1 + 1);
    expect(first.output).toMatch(/browser-user signed in 1× with Chromium through the app, password and TOTP code \(1 code\(s\) accepted by the site, 0 refused\)/);
    expect(first.result.refusedCodes).toBe(0);
    expectNoSecret(first.output, await secrets());

    const second = await run();
    expectCleanRun(second.result, second.output);
    expect(second.result.resumedSessions).toBe(6);
    expect(second.output).toContain(`resumed 6 sessions from the embedded store "crawlee-sessions" in ${dir}`);
    expect(second.output).toContain('found in the store');
    // Every session was left with page views to spare, so each one crawls on with its old login first.
    expect(second.result.resumedLogins).toBe(6);
    expect(second.result.part1Logins).toBeLessThan(first.result.part1Logins);
    expect(second.result.browserLogins).toBe(0);
    expect(second.result.renewals).toBe(second.result.part1Logins);
    expect(second.result.verdict).toMatch(/ 6 sessions resumed from the store, 6 with their login still valid$/);
    expect(second.output).toContain('no browser needed this time');
    expectNoSecret(second.output, await secrets());
}, 120_000);
