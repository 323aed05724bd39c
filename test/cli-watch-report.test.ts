/**
 * `list --watch` (a live table that follows the store and exits cleanly on SIGINT) and `report --html` (one
 * self-contained page, opened in real Chromium and checked through its DOM; hostile ids shown as text; written
 * atomically, 0600, never through a symbolic link). Real embedded stores on disk, the real bin.
 */
import { spawn } from 'node:child_process';
import { lstat, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

import { log } from 'crawlee';
import { chromium } from 'playwright';
import { afterAll, describe, expect, it, vi } from 'vitest';

import { chromiumLaunchArgs, findChromiumExecutable } from '../src/browser/executable.js';
import { runCli } from '../src/cli/main.js';
import { REPORT_CSP } from '../src/cli/format/html-report.js';
import { MAINTAINER_STATUS_COLLECTION, statusKey, type MaintainerStatusRow } from '../src/maintainer/status.js';
import { zeroCounters } from '../src/model/merge.js';
import { openStore, type StoreChoice } from '../src/stores/open-store.js';

log.setLevel(log.LEVELS.OFF);
vi.setConfig({ testTimeout: 180_000, hookTimeout: 60_000 });

const BIN = join(process.cwd(), 'bin', 'crawlee-sessions.js');
const HOSTILE = '<img src=x onerror="document.title=\'pwned\'">';
const HOSTILE_ERROR = '</td><script>document.title="pwned"</script>';
const COOKIE_SECRET = 'sid-REPORT-SECRET-77';

const dirs: string[] = [];
afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'crawlee-sessions-report-'));
    dirs.push(dir);
    return dir;
}

async function writeSessions(store: StoreChoice, sessions: Array<{ id: string; profileIndex: number | null; requests: number; failures: number; renewals: number; error?: string }>): Promise<void> {
    const raw = await openStore(store);
    try {
        await raw.write(
            sessions.map((session) => ({
                id: session.id,
                generation: session.renewals,
                reset: false,
                assignment: { profileIndex: session.profileIndex, identity: null, auth: null },
                upserts: [{ key: 'sid', value: COOKIE_SECRET, domain: '127.0.0.1', path: '/', hostOnly: true, httpOnly: true, creation: new Date().toISOString() }],
                removals: [],
                counters: { ...zeroCounters(), requests: session.requests, failures: session.failures, renewals: session.renewals },
                lastUsedAt: Date.now() - 30_000,
                ...(session.error ? { lastRenewalError: session.error } : {}),
            })),
        );
    } finally {
        await raw.close();
    }
}

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    let stdout = '';
    let stderr = '';
    const code = await runCli(args, {
        stdout: (text) => void (stdout += text),
        stderr: (text) => void (stderr += text),
        stdoutIsTTY: false,
        env: { CRAWLEE_LOG_LEVEL: 'OFF' },
    });
    return { code, stdout, stderr };
}

describe('list --watch', () => {
    it('redraws the table as the store changes and exits 0 on SIGINT', async () => {
        const dir = await tempDir();
        const store = { embedded: { storageDir: dir } };
        await writeSessions(store, [{ id: 'first', profileIndex: null, requests: 1, failures: 0, renewals: 0 }]);
        const env = { ...process.env, CRAWLEE_SESSIONS_MYSQL_URL: '', CRAWLEE_SESSIONS_SECRET: '' };
        const child = spawn(process.execPath, [BIN, 'list', '--watch', '--interval-secs', '1', '--storage-dir', dir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
        const lines = createInterface({ input: child.stdout });
        const seen: string[] = [];
        const waitFor = (pattern: RegExp) =>
            new Promise<void>((done, fail) => {
                if (seen.some((line) => pattern.test(line))) return done();
                lines.on('line', (line) => pattern.test(line) && done());
                void exited.then((code) => fail(new Error(`list --watch exited with ${code} before ${pattern}: ${stderr}`)));
            });
        lines.on('line', (line) => seen.push(line));
        try {
            await waitFor(/^first\s/);
            expect(seen[0]).toMatch(/^crawlee-sessions list --watch · \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC · every 1s · Ctrl-C to stop$/);
            // Another process writes a session: a later frame shows it (each frame reads a fresh snapshot).
            await writeSessions(store, [{ id: 'second', profileIndex: null, requests: 2, failures: 0, renewals: 0 }]);
            await waitFor(/^second\s/);
        } finally {
            child.kill('SIGINT');
        }
        expect(await exited).toBe(0);
        expect(stderr).toBe('');
        expect(seen.filter((line) => line.startsWith('crawlee-sessions list --watch')).length).toBeGreaterThanOrEqual(2);
        expect(seen.join('\n')).not.toContain(COOKIE_SECRET);
    });
});

const chromiumPath = findChromiumExecutable().path;

describe('report --html', () => {
    it('writes one self-contained page that Chromium renders: sessions, timeline, failures by profile; hostile values shown as text', async () => {
        const dir = await tempDir();
        const store = { embedded: { storageDir: dir } };
        await writeSessions(store, [
            { id: 'alice', profileIndex: 0, requests: 40, failures: 2, renewals: 3 },
            { id: HOSTILE, profileIndex: 1, requests: 7, failures: 5, renewals: 1, error: HOSTILE_ERROR },
            { id: 'carol', profileIndex: 1, requests: 3, failures: 1, renewals: 0 },
        ]);
        const raw = await openStore(store);
        const row: MaintainerStatusRow = {
            recipe: 'shop',
            session: 'alice',
            mode: 'http',
            state: 'refreshed',
            lastCheckAt: Date.now() - 120_000,
            lastCheck: 'valid',
            lastRefreshAt: Date.now() - 60_000,
            lastError: null,
            nextRunAt: null,
            failures: 0,
            generation: 3,
            schedule: 'once',
            updatedAt: Date.now(),
        };
        await raw.putEntry(MAINTAINER_STATUS_COLLECTION, statusKey(row.recipe, row.session), row);
        await raw.close();

        const file = join(dir, 'report.html');
        const result = await run(['report', '--html', file, '--storage-dir', dir]);
        expect(result.code, result.stderr).toBe(0);
        expect(result.stdout).toBe(`Wrote the report on 3 sessions to ${file}.\n`);
        expect((await lstat(file)).mode & 0o777).toBe(0o600);
        const html = await readFile(file, 'utf8');
        expect(html).not.toContain(COOKIE_SECRET);
        expect(html).not.toContain('<img');
        expect(html).not.toContain('<script');
        expect(html).not.toMatch(/<link|src=["']?http/);
        expect((await readdir(dir)).filter((name) => name.endsWith('.tmp'))).toEqual([]);

        if (!chromiumPath) {
            expect.soft(process.env.CI, 'Chromium is required in CI').toBeUndefined();
            return;
        }
        const browser = await chromium.launch({ executablePath: chromiumPath, args: [...chromiumLaunchArgs] });
        try {
            const page = await browser.newPage();
            const violations: string[] = [];
            page.on('console', (message) => violations.push(message.text()));
            await page.goto(pathToFileURL(file).href);
            expect(await page.title()).toBe('crawlee-sessions report');
            expect(await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content')).toBe(REPORT_CSP);
            // The sessions table: one row per session, the hostile id and error as text, nothing injected.
            const ids = await page.locator('#sessions tbody tr td:first-child').allTextContents();
            expect(ids).toEqual(['<img src=x onerror="document.title=\'pwned\'">', 'alice', 'carol'].sort());
            expect(await page.locator('img, script').count()).toBe(0);
            const hostileRow = page.locator('#sessions tbody tr', { hasText: 'onerror' });
            expect(await hostileRow.locator('td').nth(3).textContent()).toBe('failed');
            expect(await hostileRow.locator('td').nth(9).textContent()).toBe(HOSTILE_ERROR);
            expect(await page.locator('#sessions tbody tr', { hasText: 'alice' }).locator('td').nth(3).textContent()).toBe('ready');
            // The style block applies (allowed by its hash): a failed status is bold red.
            expect(await hostileRow.locator('td.failed').evaluate((element) => getComputedStyle(element).fontWeight)).toBe('600');
            // Failures by profile: profile #1 (two sessions, 6 failures) first.
            const profiles = await page.locator('#profiles tbody tr').evaluateAll((rows) =>
                rows.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)),
            );
            expect(profiles).toEqual([
                ['#1', '2', '1', '10', '6', '1'],
                ['#0', '1', '0', '40', '2', '3'],
            ]);
            // The timeline: the maintainer's refresh and check, alice's and the hostile session's last change, newest first.
            const timeline = await page.locator('#timeline tbody tr').evaluateAll((rows) =>
                rows.map((tr) => ({ session: tr.children[2]!.textContent, what: tr.children[3]!.textContent, meters: tr.querySelectorAll('meter').length })),
            );
            expect(timeline.map((event) => event.session).sort()).toEqual([HOSTILE, 'alice', 'shop/alice', 'shop/alice'].sort());
            expect(timeline.every((event) => event.meters === 1)).toBe(true);
            expect(timeline.find((event) => event.session === HOSTILE)!.what).toBe(`renewal failed: ${HOSTILE_ERROR}`);
            expect(await page.locator('#maintainer tbody tr td').first().textContent()).toBe('shop');
            expect(await page.locator('#summary').textContent()).toMatch(/^3 sessions \(2 ready, 1 failed\) · embedded store "crawlee-sessions" in /);
            expect(await page.title()).not.toBe('pwned');
            expect(violations.filter((text) => /Content Security Policy/.test(text))).toEqual([]);
        } finally {
            await browser.close();
        }
    });

    it('refuses to write through a symbolic link, and replaces a regular file whole', async () => {
        const dir = await tempDir();
        await writeSessions({ embedded: { storageDir: dir } }, [{ id: 'a', profileIndex: null, requests: 0, failures: 0, renewals: 0 }]);
        const victim = join(dir, 'victim.txt');
        await writeFile(victim, 'keep me');
        const link = join(dir, 'link.html');
        await symlink(victim, link);
        const refused = await run(['report', '--html', link, '--storage-dir', dir]);
        expect(refused.code).toBe(1);
        expect(refused.stderr).toBe(`crawlee-sessions report: ${link} is a symbolic link: refusing to write through it (give the real path)\n`);
        expect(await readFile(victim, 'utf8')).toBe('keep me');
        expect((await lstat(link)).isSymbolicLink()).toBe(true);

        const file = join(dir, 'old.html');
        await writeFile(file, 'old', { mode: 0o644 });
        expect((await run(['report', '--html', file, '--storage-dir', dir])).code).toBe(0);
        expect(await readFile(file, 'utf8')).toMatch(/^<!doctype html>/);
        expect((await lstat(file)).mode & 0o777).toBe(0o600);
        const missing = await run(['report', '--storage-dir', dir]);
        expect(missing.code).toBe(2);
        expect(missing.stderr).toMatch(/^crawlee-sessions report: --html FILE is required/);
    });
});
