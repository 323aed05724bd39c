import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright';
import { Cookie, CookieJar } from 'tough-cookie';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fromPlaywrightCookies, toPlaywrightCookies } from '../src/browser/cookies.js';
import {
    CHROMIUM_ENV_VARS,
    SYSTEM_CHROMIUM_PATHS,
    chromiumLaunchArgs,
    findChromiumExecutable,
} from '../src/browser/executable.js';

const DAY = 86_400_000;

/** Cookie names in a Cookie request header, sorted. */
function names(header: string): string[] {
    return header
        .split(';')
        .map((p) => p.trim().split('=')[0]!)
        .filter(Boolean)
        .sort();
}

/** `name=value` pairs of a cookie string, sorted (tough-cookie orders equal-path cookies by creation time). */
function pairs(header: string): string[] {
    return header
        .split(';')
        .map((p) => p.trim())
        .filter(Boolean)
        .sort();
}

describe('cookie conversion against real Chromium', () => {
    let server: Server;
    let port: number;
    let browser: Browser;
    const setCookieHeaders = (): string[] => [
        'ma=1; Max-Age=3600; Path=/',
        'dc=2; Domain=site.test; Path=/; HttpOnly',
        'st=3; Path=/; SameSite=Strict',
        `exp=4; Path=/; Expires=${new Date(Date.now() + 10 * DAY).toUTCString()}`,
        'sess=5; Path=/',
        'pathc=6; Path=/app',
        'sec=7; Path=/; Secure',
    ];

    beforeAll(async () => {
        server = createServer((req, res) => {
            if (req.url?.startsWith('/set')) res.setHeader('Set-Cookie', setCookieHeaders());
            res.setHeader('Content-Type', 'application/json');
            res.end(JSON.stringify({ cookie: req.headers.cookie ?? '' }));
        });
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        port = (server.address() as AddressInfo).port;
        const { path } = findChromiumExecutable();
        expect(path, 'no Chromium found: install it (apt-get install chromium)').toBeDefined();
        browser = await chromium.launch({
            executablePath: path,
            // *.test names resolve to the loopback server, so host-only vs. domain cookies can be told apart.
            args: [...chromiumLaunchArgs, '--host-resolver-rules=MAP *.test 127.0.0.1'],
        });
    });

    afterAll(async () => {
        await browser?.close();
        await new Promise((resolve) => server?.close(resolve));
    });

    const url = (host: string, path = '/'): string => `http://${host}:${port}${path}`;

    /** The tough-cookie cookies used by the "browser sends" tests. */
    function sampleCookies(): Cookie[] {
        const future = new Date(Date.now() + 30 * DAY + 123); // millisecond precision on purpose
        return [
            new Cookie({ key: 'ho', value: 'host-only', domain: 'www.site.test', hostOnly: true, path: '/' }),
            new Cookie({ key: 'dom', value: 'domain', domain: 'site.test', hostOnly: false, path: '/' }),
            new Cookie({ key: 'pathc', value: 'p', domain: 'www.site.test', hostOnly: true, path: '/app' }),
            new Cookie({ key: 'fut', value: 'f', domain: 'www.site.test', hostOnly: true, path: '/', expires: future }),
            new Cookie({ key: 'past', value: 'x', domain: 'www.site.test', hostOnly: true, path: '/', expires: new Date(Date.now() - DAY) }),
            new Cookie({ key: 'sec', value: 's', domain: 'www.site.test', hostOnly: true, path: '/', secure: true, sameSite: 'none' }),
            new Cookie({ key: 'strict', value: 's', domain: 'www.site.test', hostOnly: true, path: '/', sameSite: 'strict', httpOnly: true }),
            new Cookie({ key: 'lax', value: 'l', domain: 'www.site.test', hostOnly: true, path: '/', sameSite: 'lax' }),
            new Cookie({ key: 'noneinsecure', value: 'n', domain: 'www.site.test', hostOnly: true, path: '/', sameSite: 'none' }),
            new Cookie({ key: 'ip', value: 'i', domain: '127.0.0.1', hostOnly: true, path: '/' }),
        ];
    }

    it('maps tough-cookie fields to Playwright add-cookie params', () => {
        const pw = toPlaywrightCookies(sampleCookies());
        const byName = new Map(pw.map((c) => [c.name, c]));
        expect(byName.has('past')).toBe(false); // already expired: left out
        expect(byName.get('ho')).toMatchObject({ domain: 'www.site.test', path: '/', expires: -1, sameSite: 'Lax' });
        expect(byName.get('dom')).toMatchObject({ domain: '.site.test' });
        expect(byName.get('sec')).toMatchObject({ secure: true, sameSite: 'None' });
        expect(byName.get('noneinsecure')).toMatchObject({ secure: false, sameSite: 'Lax' });
        expect(byName.get('strict')).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
        expect(byName.get('fut')!.expires).toBeCloseTo(sampleCookies()[3]!.expiryTime()! / 1000, 0);
        // Max-Age is honoured relative to lastAccessed.
        const ma = new Cookie({ key: 'm', value: '1', domain: 'a.test', hostOnly: true, maxAge: 60, lastAccessed: new Date(1_000_000) });
        ma.lastAccessed = new Date(Date.now());
        expect(toPlaywrightCookies([ma])[0]!.expires).toBeCloseTo(Date.now() / 1000 + 60, -1);
        // A parsed cookie with a Domain attribute but no hostOnly flag yet is a domain cookie.
        expect(toPlaywrightCookies([Cookie.parse('p=1; Domain=Site.Test; Path=/')!])[0]!.domain).toBe('.site.test');
        expect(() => toPlaywrightCookies([Cookie.parse('nodomain=1')!])).toThrow(/has no domain/);
    });

    it('the browser sends exactly the cookies a real cookie jar would', async () => {
        const context = await browser.newContext();
        try {
            await context.addCookies(toPlaywrightCookies(sampleCookies()));
            const page = await context.newPage();
            const received = async (u: string): Promise<string[]> => {
                await page.goto(u);
                return names((JSON.parse((await page.textContent('body'))!) as { cookie: string }).cookie);
            };
            expect(await received(url('www.site.test'))).toEqual(
                ['dom', 'fut', 'ho', 'lax', 'noneinsecure', 'strict'].sort(),
            );
            expect(await received(url('www.site.test', '/app/page'))).toEqual(
                ['dom', 'fut', 'ho', 'lax', 'noneinsecure', 'pathc', 'strict'].sort(),
            );
            expect(await received(url('sub.site.test'))).toEqual(['dom']);
            expect(await received(url('127.0.0.1'))).toEqual(['ip']);
            // The same cookies in a tough-cookie jar give the same answers (sec is stored, just not sent over http).
            const jar = new CookieJar();
            for (const c of sampleCookies()) {
                // tough-cookie v6, like Chromium, stores a Secure cookie only from a secure origin.
                const origin = c.hostOnly ? url(c.domain!) : url(`www.${c.domain!}`);
                jar.setCookieSync(c, c.secure ? origin.replace('http:', 'https:') : origin);
            }
            expect(names(jar.getCookieStringSync(url('www.site.test')))).toEqual(await received(url('www.site.test')));
            expect((await context.cookies()).map((c) => c.name)).toContain('sec');
        } finally {
            await context.close();
        }
    });

    it('round-trips tough-cookie → Chromium → tough-cookie', async () => {
        const context = await browser.newContext();
        try {
            const original = sampleCookies().filter((c) => c.key !== 'past' && c.key !== 'noneinsecure');
            await context.addCookies(toPlaywrightCookies(original));
            const back = new Map(fromPlaywrightCookies(await context.cookies()).map((c) => [c.key, c]));
            expect([...back.keys()].sort()).toEqual(original.map((c) => c.key).sort());
            const fields = (c: Cookie) => ({
                key: c.key,
                value: c.value,
                domain: c.domain,
                hostOnly: c.hostOnly,
                path: c.path,
                expires: c.expires instanceof Date ? c.expires.getTime() : c.expires,
                secure: c.secure,
                httpOnly: c.httpOnly,
                sameSite: c.sameSite ?? 'lax', // an unset SameSite is handed over (and comes back) as Lax
            });
            for (const c of original) expect(fields(back.get(c.key)!)).toEqual(fields(c));
        } finally {
            await context.close();
        }
    });

    it('cookies set by the server (Set-Cookie, Max-Age) convert back into an equivalent CookieJar', async () => {
        const context = await browser.newContext();
        try {
            const page = await context.newPage();
            const setUrl = url('sub.site.test', '/set');
            const t0 = Date.now();
            await page.goto(setUrl);
            const cookies = fromPlaywrightCookies(await context.cookies());
            // Chromium refuses a Secure cookie set over http (and so does tough-cookie v6's CookieJar).
            expect(cookies.map((c) => c.key).sort()).toEqual(['dc', 'exp', 'ma', 'pathc', 'sess', 'st']);
            expect(() => new CookieJar().setCookieSync('sec=7; Path=/; Secure', setUrl)).toThrow(/Secure/);

            const jar = new CookieJar();
            for (const c of cookies) jar.setCookieSync(c, setUrl);
            // Reference: a jar that received the same Set-Cookie headers directly.
            const reference = new CookieJar();
            for (const h of setCookieHeaders()) reference.setCookieSync(h, setUrl, { ignoreError: true });

            for (const u of [
                url('sub.site.test'),
                url('sub.site.test', '/app/x'),
                url('other.site.test'),
                url('www.site.test', '/app/'),
                `https://sub.site.test:${port}/`,
            ]) {
                expect(pairs(jar.getCookieStringSync(u)), u).toEqual(pairs(reference.getCookieStringSync(u)));
            }
            expect(pairs(jar.getCookieStringSync(url('sub.site.test')))).toEqual(['dc=2', 'exp=4', 'ma=1', 'sess=5', 'st=3']);
            expect(pairs(jar.getCookieStringSync(url('other.site.test')))).toEqual(['dc=2']);

            const byKey = new Map(cookies.map((c) => [c.key, c]));
            const ma = byKey.get('ma')!;
            expect(ma.hostOnly).toBe(true);
            expect(ma.domain).toBe('sub.site.test');
            expect((ma.expires as Date).getTime()).toBeGreaterThanOrEqual(t0 + 3_600_000 - 2_000);
            expect((ma.expires as Date).getTime()).toBeLessThanOrEqual(Date.now() + 3_600_000 + 2_000);
            expect(byKey.get('dc')).toMatchObject({ hostOnly: false, domain: 'site.test', httpOnly: true, expires: 'Infinity' });
            expect(byKey.get('st')!.sameSite).toBe('strict');
            expect(byKey.get('pathc')!.path).toBe('/app');
        } finally {
            await context.close();
        }
    });
});

describe('findChromiumExecutable', () => {
    let dir: string;
    let fakeChromium: string;
    const saved: Record<string, string | undefined> = {};

    beforeEach(() => {
        for (const name of CHROMIUM_ENV_VARS) {
            saved[name] = process.env[name];
            delete process.env[name];
        }
        dir = mkdtempSync(join(tmpdir(), 'chromium-exe-'));
        fakeChromium = join(dir, 'chromium');
        writeFileSync(fakeChromium, '#!/bin/sh\n');
        chmodSync(fakeChromium, 0o755);
    });

    afterEach(() => {
        for (const name of CHROMIUM_ENV_VARS) {
            if (saved[name] === undefined) delete process.env[name];
            else process.env[name] = saved[name];
        }
        rmSync(dir, { recursive: true, force: true });
    });

    it('without option or env var: Playwright’s browser if installed, else a system Chromium', () => {
        const found = findChromiumExecutable();
        const pw = chromium.executablePath();
        if (existsSync(pw)) {
            expect(found).toEqual({ path: pw, source: 'playwright' });
        } else {
            const system = SYSTEM_CHROMIUM_PATHS.find((p) => existsSync(p));
            expect(found).toEqual(system ? { path: system, source: 'system' } : { path: undefined, source: 'none' });
        }
    });

    it('env vars come before the automatic lookup, ours before Crawlee’s', () => {
        process.env.CRAWLEE_CHROME_EXECUTABLE_PATH = fakeChromium;
        expect(findChromiumExecutable()).toEqual({ path: fakeChromium, source: 'env' });
        const ours = join(dir, 'ours');
        writeFileSync(ours, '');
        chmodSync(ours, 0o755);
        process.env.CRAWLEE_SESSIONS_CHROMIUM = ours;
        expect(findChromiumExecutable()).toEqual({ path: ours, source: 'env' });
        process.env.CRAWLEE_SESSIONS_CHROMIUM = ''; // empty counts as unset
        expect(findChromiumExecutable()).toEqual({ path: fakeChromium, source: 'env' });
    });

    it('the explicit option wins over env vars', () => {
        process.env.CRAWLEE_SESSIONS_CHROMIUM = join(dir, 'missing'); // not even looked at
        expect(findChromiumExecutable({ executablePath: fakeChromium })).toEqual({ path: fakeChromium, source: 'option' });
    });

    it('an option or env var naming a missing or unusable file is an error that says what to fix', () => {
        const missing = join(dir, 'no-such-chromium');
        expect(() => findChromiumExecutable({ executablePath: missing })).toThrow(
            /option executablePath points to ".*no-such-chromium", which does not exist/,
        );
        process.env.CRAWLEE_SESSIONS_CHROMIUM = missing;
        expect(() => findChromiumExecutable()).toThrow(/environment variable CRAWLEE_SESSIONS_CHROMIUM .*no-such-chromium/);
        delete process.env.CRAWLEE_SESSIONS_CHROMIUM;
        process.env.CRAWLEE_CHROME_EXECUTABLE_PATH = dir;
        expect(() => findChromiumExecutable()).toThrow(/CRAWLEE_CHROME_EXECUTABLE_PATH .*is not a regular file/);
        const notExecutable = join(dir, 'plain');
        writeFileSync(notExecutable, '');
        chmodSync(notExecutable, 0o644);
        process.env.CRAWLEE_CHROME_EXECUTABLE_PATH = notExecutable;
        if (process.getuid?.() !== 0) {
            expect(() => findChromiumExecutable()).toThrow(/is not executable/);
        }
        expect(() => findChromiumExecutable({ executablePath: missing })).toThrow(/Set the option executablePath to the path of a Chromium executable/);
    });

    it('chromiumLaunchArgs', () => {
        expect(chromiumLaunchArgs).toEqual([
            '--no-sandbox',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
            '--disable-dev-shm-usage',
        ]);
    });
});
