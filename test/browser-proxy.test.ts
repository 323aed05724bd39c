/**
 * Facts about Playwright 1.65 + Chromium proxies and cookie commands that crawlee-sessions relies on,
 * established against real Chromium, real proxy-chain proxies and a node:http server, all on loopback.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions } from 'playwright';
import { Server as ProxyServer } from 'proxy-chain';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumLaunchArgs, findChromiumExecutable } from '../src/browser/executable.js';

interface Seen {
    ip: string | undefined;
    ua: string | undefined;
}

let target: HttpServer;
let targetUrl: string;
let plainProxy: ProxyServer; // leaves from 127.0.0.2
let authProxy: ProxyServer; // user "u", password "p:w@", leaves from 127.0.0.3
let executablePath: string | undefined;

async function startProxy(options: ConstructorParameters<typeof ProxyServer>[0]): Promise<ProxyServer> {
    const proxy = new ProxyServer({ port: 0, host: '127.0.0.1', verbose: false, ...options });
    await proxy.listen();
    return proxy;
}

const proxyUrl = (proxy: ProxyServer): string => `http://127.0.0.1:${proxy.port}`;

/** Opens the target in a new page of `context`; returns what the server saw and the page's navigator.userAgent. */
async function visit(context: BrowserContext): Promise<Seen & { status: number; navigatorUA: string }> {
    const page = await context.newPage();
    try {
        const response = await page.goto(targetUrl, { timeout: 15_000 });
        const text = (await page.textContent('body')) ?? '';
        const seen: Partial<Seen> = response!.status() === 200 ? (JSON.parse(text) as Seen) : {};
        return {
            status: response!.status(),
            ip: seen.ip,
            ua: seen.ua,
            navigatorUA: await page.evaluate(() => navigator.userAgent),
        };
    } finally {
        await page.close();
    }
}

async function withContext<T>(browser: Browser, options: BrowserContextOptions, fn: (c: BrowserContext) => Promise<T>): Promise<T> {
    const context = await browser.newContext(options);
    try {
        return await fn(context);
    } finally {
        await context.close();
    }
}

beforeAll(async () => {
    executablePath = findChromiumExecutable().path;
    expect(executablePath, 'no Chromium found: install it (apt-get install chromium)').toBeDefined();
    target = createServer((req, res) => {
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify({ ip: req.socket.remoteAddress, ua: req.headers['user-agent'] } satisfies Seen));
    });
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    targetUrl = `http://127.0.0.1:${(target.address() as AddressInfo).port}/`;
    plainProxy = await startProxy({ prepareRequestFunction: () => ({ localAddress: '127.0.0.2' }) });
    authProxy = await startProxy({
        prepareRequestFunction: ({ username, password }) => ({
            localAddress: '127.0.0.3',
            requestAuthentication: !(username === 'u' && password === 'p:w@'),
        }),
    });
});

afterAll(async () => {
    await plainProxy?.close(true);
    await authProxy?.close(true);
    await new Promise((resolve) => target?.close(resolve));
});

describe('browser launched with proxy "http://per-context"', () => {
    let browser: Browser;
    beforeAll(async () => {
        browser = await chromium.launch({ executablePath, args: [...chromiumLaunchArgs], proxy: { server: 'http://per-context' } });
    });
    afterAll(async () => {
        await browser?.close();
    });

    it('(a) per-context proxy + userAgent: the request leaves from the proxy’s address with that User-Agent', async () => {
        const seen = await withContext(
            browser,
            { proxy: { server: proxyUrl(plainProxy), bypass: '<-loopback>' }, userAgent: 'UA-X' },
            visit,
        );
        expect(seen).toEqual({ status: 200, ip: '127.0.0.2', ua: 'UA-X', navigatorUA: 'UA-X' });
    });

    it('(a) Playwright itself adds <-loopback> to a context bypass list that names no loopback host', async () => {
        const seen = await withContext(browser, { proxy: { server: proxyUrl(plainProxy) } }, visit);
        expect(seen.ip).toBe('127.0.0.2');
    });

    it('a context without proxy goes direct ("per-context" sets no browser-level proxy)', async () => {
        expect((await withContext(browser, {}, visit)).ip).toBe('127.0.0.1');
    });

    it('(c) proxy credentials in the context proxy work; wrong ones give 407, none fail the navigation', async () => {
        const server = proxyUrl(authProxy);
        const ok = await withContext(
            browser,
            { proxy: { server, username: 'u', password: 'p:w@', bypass: '<-loopback>' } },
            visit,
        );
        expect(ok).toMatchObject({ status: 200, ip: '127.0.0.3' });
        const wrong = await withContext(
            browser,
            { proxy: { server, username: 'u', password: 'nope', bypass: '<-loopback>' } },
            visit,
        );
        expect(wrong.status).toBe(407);
        await expect(withContext(browser, { proxy: { server, bypass: '<-loopback>' } }, visit)).rejects.toThrow(
            /ERR_INVALID_AUTH_CREDENTIALS/,
        );
    });
});

describe('browser launched with an unreachable browser-level proxy (http://127.0.0.1:9)', () => {
    let browser: Browser;
    beforeAll(async () => {
        browser = await chromium.launch({ executablePath, args: [...chromiumLaunchArgs], proxy: { server: 'http://127.0.0.1:9' } });
    });
    afterAll(async () => {
        await browser?.close();
    });

    it('(b) a context without proxy inherits the browser proxy (loopback included) and fails', async () => {
        await expect(withContext(browser, {}, visit)).rejects.toThrow(/ERR_PROXY_CONNECTION_FAILED/);
    });

    it('(b) proxy "direct://" does NOT mean direct: Playwright rewrites it to the HTTP proxy "http://direct"', async () => {
        await expect(withContext(browser, { proxy: { server: 'direct://' } }, visit)).rejects.toThrow(
            /ERR_PROXY_CONNECTION_FAILED/,
        );
        await expect(
            withContext(browser, { proxy: { server: 'direct://', bypass: '<-loopback>' } }, visit),
        ).rejects.toThrow(/ERR_PROXY_CONNECTION_FAILED/);
    });

    it('(b) bypass "*" (any server) makes a context connect directly', async () => {
        const seen = await withContext(browser, { proxy: { server: 'http://127.0.0.1:9', bypass: '*' } }, visit);
        expect(seen).toMatchObject({ status: 200, ip: '127.0.0.1' });
    });

    it('(a) a context proxy overrides the browser-level proxy', async () => {
        const seen = await withContext(
            browser,
            { proxy: { server: proxyUrl(plainProxy), bypass: '<-loopback>' }, userAgent: 'UA-X' },
            visit,
        );
        expect(seen).toEqual({ status: 200, ip: '127.0.0.2', ua: 'UA-X', navigatorUA: 'UA-X' });
    });
});

describe('cookie commands', () => {
    let browser: Browser;
    beforeAll(async () => {
        browser = await chromium.launch({ executablePath, args: [...chromiumLaunchArgs] });
    });
    afterAll(async () => {
        await browser?.close();
    });

    // Fewer than Chromium's per-domain limit (180 cookies, beyond which it evicts).
    const cookies = Array.from({ length: 100 }, (_, i) => ({ name: `c${i}`, value: 'v', domain: '127.0.0.1', path: '/' }));

    it('(d) clearCookies issued while addCookies is in flight is applied after it (call order)', async () => {
        for (let i = 0; i < 10; i++) {
            await withContext(browser, {}, async (context) => {
                const adding = context.addCookies(cookies);
                const clearing = context.clearCookies();
                await Promise.all([adding, clearing]);
                expect(await context.cookies()).toEqual([]);

                const clearing2 = context.clearCookies();
                const adding2 = context.addCookies(cookies);
                await Promise.all([clearing2, adding2]);
                expect(await context.cookies()).toHaveLength(cookies.length);
            });
        }
    });
});
