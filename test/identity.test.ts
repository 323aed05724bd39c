import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

import { gotScraping } from 'got-scraping';
import { HeaderGenerator } from 'header-generator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { conformHeaders, createIdentity, familyOf, headerGeneratorOptionsOf, GENERATED_VARIANTS } from '../src/profiles/identity.js';
import type { SessionIdentity } from '../src/model/identity.js';
import { clientHintsOf, MIN_CLIENT_HINTS_VERSION } from '../src/shared/client-hints.js';
import { parseUserAgent, type BrowserFamily } from '../src/shared/user-agent.js';
import { listenOnLoopback, type LoopbackListener } from './support/loopback.js';

const UA = {
    chromeWindows: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
    edgeWindows:
        'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0',
    firefoxLinux: 'Mozilla/5.0 (X11; Linux x86_64; rv:142.0) Gecko/20100101 Firefox/142.0',
    safariMac: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
    chromeAndroid: 'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36',
} as const;

/** The header order the generator knows per browser (header-generator's own data file). */
const HEADER_ORDERS = JSON.parse(
    readFileSync(join(dirname(createRequire(import.meta.url).resolve('header-generator')), 'data_files/headers-order.json'), 'utf8'),
) as Record<string, string[]>;

describe('parseUserAgent', () => {
    const placed: Array<[string, BrowserFamily]> = [
        [UA.chromeWindows, { browser: 'chrome', majorVersion: 124, chromiumVersion: 124, os: 'windows', device: 'desktop', mobile: false }],
        [
            'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
            { browser: 'chrome', majorVersion: 131, chromiumVersion: 131, os: 'macos', device: 'desktop', mobile: false },
        ],
        [
            'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36',
            { browser: 'chrome', majorVersion: 138, chromiumVersion: 138, os: 'linux', device: 'desktop', mobile: false },
        ],
        [
            'Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36',
            { browser: 'chrome', majorVersion: 138, chromiumVersion: 138, os: 'chromeos', device: 'desktop', mobile: false },
        ],
        [UA.chromeAndroid, { browser: 'chrome', majorVersion: 124, chromiumVersion: 124, os: 'android', device: 'mobile', mobile: true }],
        [
            'Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36',
            { browser: 'chrome', majorVersion: 130, chromiumVersion: 130, os: 'android', device: 'mobile', mobile: false },
        ],
        [UA.edgeWindows, { browser: 'edge', majorVersion: 124, chromiumVersion: 124, os: 'windows', device: 'desktop', mobile: false }],
        [
            'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/143.0.0.0 Mobile Safari/537.36 EdgA/143.0.0.0',
            { browser: 'edge', majorVersion: 143, chromiumVersion: 143, os: 'android', device: 'mobile', mobile: true },
        ],
        [UA.firefoxLinux, { browser: 'firefox', majorVersion: 142, os: 'linux', device: 'desktop', mobile: false }],
        [
            'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
            { browser: 'firefox', majorVersion: 128, os: 'linux', device: 'desktop', mobile: false },
        ],
        [
            'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:147.0) Gecko/20100101 Firefox/147.0',
            { browser: 'firefox', majorVersion: 147, os: 'windows', device: 'desktop', mobile: false },
        ],
        [
            'Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:150.0) Gecko/20100101 Firefox/150.0',
            { browser: 'firefox', majorVersion: 150, os: 'macos', device: 'desktop', mobile: false },
        ],
        [
            'Mozilla/5.0 (Android 14; Mobile; rv:136.0) Gecko/136.0 Firefox/136.0',
            { browser: 'firefox', majorVersion: 136, os: 'android', device: 'mobile', mobile: true },
        ],
        [UA.safariMac, { browser: 'safari', majorVersion: 17, os: 'macos', device: 'desktop', mobile: false }],
        [
            'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
            { browser: 'safari', majorVersion: 17, os: 'ios', device: 'mobile', mobile: true },
        ],
        [
            'Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
            { browser: 'safari', majorVersion: 18, os: 'ios', device: 'mobile', mobile: false },
        ],
    ];

    it.each(placed)('places %s', (userAgent, family) => {
        expect(parseUserAgent(userAgent)).toEqual(family);
    });

    const unplaced: Array<[string, string]> = [
        ['Opera', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 OPR/110.0.0.0'],
        [
            'Samsung Internet',
            'Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36',
        ],
        [
            'Android WebView',
            'Mozilla/5.0 (Linux; Android 14; K; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/124.0.0.0 Mobile Safari/537.36',
        ],
        ['HeadlessChrome', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.0.0 Safari/537.36'],
        [
            'Yandex',
            'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 YaBrowser/24.4.0.0 Safari/537.36',
        ],
        [
            'Chrome on iOS',
            'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1',
        ],
        [
            'Firefox on iOS',
            'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/124.0 Mobile/15E148 Safari/605.1.15',
        ],
        [
            'legacy Edge',
            'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/70.0.3538.102 Safari/537.36 Edge/18.19582',
        ],
        ['Chrome claiming Mobile on Windows', UA.chromeWindows.replace('Safari/', 'Mobile Safari/')],
        ['Googlebot', 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)'],
        ['Internet Explorer', 'Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko'],
        ['SeaMonkey', 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0 SeaMonkey/2.53.19'],
        ['curl', 'curl/8.0'],
        ['a test label', 'UA-Alpha/1.0 (test)'],
        ['an empty string', ''],
        ['a Chrome UA with trailing text', `${UA.chromeWindows} extra`],
        ['a very long string', `Mozilla/5.0 (${'a; '.repeat(5000)}) AppleWebKit/537.36`],
    ];

    it.each(unplaced)('does not place %s', (_label, userAgent) => {
        expect(parseUserAgent(userAgent)).toBeUndefined();
    });
});

describe('clientHintsOf', () => {
    const family = (browser: 'chrome' | 'edge', version: number, os: BrowserFamily['os'] = 'windows', mobile = false): BrowserFamily => ({
        browser,
        majorVersion: version,
        chromiumVersion: version,
        os,
        device: os === 'android' ? 'mobile' : 'desktop',
        mobile,
    });

    it('computes the brand lists real Chromium browsers send', () => {
        // Values observed from real browsers (request captures), not derived from the code under test.
        expect(clientHintsOf(family('chrome', 124))!['sec-ch-ua']).toBe('"Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"');
        expect(clientHintsOf(family('chrome', 120))!['sec-ch-ua']).toBe('"Not_A Brand";v="8", "Chromium";v="120", "Google Chrome";v="120"');
        expect(clientHintsOf(family('chrome', 105))!['sec-ch-ua']).toBe('"Google Chrome";v="105", "Not)A;Brand";v="8", "Chromium";v="105"');
        expect(clientHintsOf(family('edge', 105))!['sec-ch-ua']).toBe('"Microsoft Edge";v="105", "Not)A;Brand";v="8", "Chromium";v="105"');
        expect(clientHintsOf(family('chrome', 124, 'android', true))).toEqual({
            'sec-ch-ua': '"Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"',
            'sec-ch-ua-mobile': '?1',
            'sec-ch-ua-platform': '"Android"',
        });
        expect(clientHintsOf(family('chrome', 131, 'macos'))!['sec-ch-ua-platform']).toBe('"macOS"');
    });

    it("agrees with the header generator's own data for the Chrome versions it knows", () => {
        // The generator's data holds real captures (and some inconsistent ones: Brave, HeadlessChrome, other
        // versions, GREASE brands of older releases): for every version, ours must be among the brand lists it pairs
        // with a plain Chrome User-Agent of that version, and the one it gives for the great majority.
        const generator = new HeaderGenerator();
        const checked: number[] = [];
        let ours = 0;
        let others = 0;
        for (let version = MIN_CLIENT_HINTS_VERSION; version <= 160; version++) {
            const expected = clientHintsOf(family('chrome', version))!['sec-ch-ua'];
            const seen = new Set<string>();
            for (let draw = 0; draw < 40; draw++) {
                let headers: Record<string, string>;
                try {
                    headers = generator.getHeaders({ browsers: [{ name: 'chrome', minVersion: version, maxVersion: version }], strict: true });
                } catch {
                    break;
                }
                const hints = headers['sec-ch-ua'];
                if (!headers['user-agent']?.endsWith(`Chrome/${version}.0.0.0 Safari/537.36`) || !hints) continue;
                if (!hints.includes(`"Chromium";v="${version}"`) || !hints.includes(`"Google Chrome";v="${version}"`)) continue;
                seen.add(hints);
                if (hints === expected) ours++;
                else others++;
            }
            if (seen.size === 0) continue;
            expect([...seen], `Chrome ${version}`).toContain(expected);
            checked.push(version);
        }
        expect(checked.length).toBeGreaterThan(15);
        expect(ours / (ours + others)).toBeGreaterThan(0.9);
    });

    it('gives none to Firefox, Safari and Chromium older than the versions it can compute', () => {
        expect(clientHintsOf(parseUserAgent(UA.firefoxLinux)!)).toBeUndefined();
        expect(clientHintsOf(parseUserAgent(UA.safariMac)!)).toBeUndefined();
        expect(clientHintsOf(family('chrome', MIN_CLIENT_HINTS_VERSION - 1))).toBeUndefined();
    });
});

describe('createIdentity', () => {
    it('forces client hints consistent with a Chromium User-Agent, and none for Firefox, Safari or an unplaced one', () => {
        const chrome = createIdentity({ userAgent: UA.chromeAndroid });
        expect(chrome.family).toMatchObject({ browser: 'chrome', os: 'android', mobile: true, majorVersion: 124 });
        expect(chrome.headers).toEqual({
            'user-agent': UA.chromeAndroid,
            'accept-language': 'en-US,en;q=0.9',
            'sec-ch-ua': '"Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"',
            'sec-ch-ua-mobile': '?1',
            'sec-ch-ua-platform': '"Android"',
        });
        for (const userAgent of [UA.firefoxLinux, UA.safariMac, 'UA-Alpha/1.0 (test)']) {
            expect(Object.keys(createIdentity({ userAgent }).headers)).toEqual(['user-agent', 'accept-language']);
        }
        const unplaced = createIdentity({ userAgent: 'UA-Alpha/1.0 (test)' });
        expect(unplaced.family).toBeNull();
        expect(headerGeneratorOptionsOf(unplaced)).toBeUndefined();
    });

    it('derives generator options that pin the browser, its version window, OS and device', () => {
        expect(headerGeneratorOptionsOf(createIdentity({ userAgent: UA.firefoxLinux }))).toMatchObject({
            browsers: [{ name: 'firefox', minVersion: 142, maxVersion: 142 }],
            operatingSystems: ['linux'],
            devices: ['desktop'],
        });
        // The generator has no data for Edge 124 on Windows: the nearest version it has data for is used.
        const edge = headerGeneratorOptionsOf(createIdentity({ userAgent: UA.edgeWindows }))!;
        const [spec] = edge.browsers as Array<{ name: string; minVersion: number; maxVersion: number }>;
        expect(spec!.name).toBe('edge');
        expect(spec!.minVersion).toBe(spec!.maxVersion);
        const generate = (version: number) =>
            new HeaderGenerator().getHeaders({
                browsers: [{ name: 'edge', minVersion: version, maxVersion: version }],
                operatingSystems: ['windows'],
                devices: ['desktop'],
                strict: true,
            });
        expect(() => generate(124)).toThrow();
        const distance = Math.abs(spec!.minVersion - 124);
        for (let nearer = 1; nearer < distance; nearer++) {
            expect(() => generate(124 - nearer)).toThrow();
            expect(() => generate(124 + nearer)).toThrow();
        }
        expect(() => generate(spec!.minVersion)).not.toThrow();
    });

    it('shares identities: generated ones among at most 64 variants, profile ones per User-Agent', () => {
        const generated = Array.from({ length: 500 }, () => createIdentity(undefined));
        const distinct = new Set(generated);
        expect(distinct.size).toBeLessThanOrEqual(GENERATED_VARIANTS);
        expect(distinct.size).toBeGreaterThan(1);
        for (const identity of distinct) {
            expect(Object.isFrozen(identity) && Object.isFrozen(identity.headers)).toBe(true);
            const family = parseUserAgent(identity.userAgent)!;
            expect(identity.family).toEqual(family);
            expect(family.browser).toBe('chrome');
            expect(identity.headers).toMatchObject(clientHintsOf(family)!);
            expect(headerGeneratorOptionsOf(identity)).toBeDefined();
        }
        expect(createIdentity({ userAgent: UA.safariMac })).toBe(createIdentity({ userAgent: UA.safariMac, proxy: 'http://127.0.0.1:1' }));
    });

    it('reads identities stored before families existed, and fixes their client hints', () => {
        const stored = JSON.parse(
            JSON.stringify({
                userAgent: UA.chromeWindows,
                headers: {
                    'user-agent': UA.chromeWindows,
                    'accept-language': 'en-US,en;q=0.9',
                    // an inconsistent brand list the generator's data sometimes held
                    'sec-ch-ua': '"Brave";v="147", "Not.A/Brand";v="8", "Chromium";v="147"',
                    'sec-ch-ua-mobile': '?0',
                    'sec-ch-ua-platform': '"Windows"',
                },
            }),
        ) as SessionIdentity;
        expect(familyOf(stored)).toMatchObject({ browser: 'chrome', majorVersion: 124 });
        expect(headerGeneratorOptionsOf(stored)).toMatchObject({ browsers: [{ name: 'chrome', minVersion: 124, maxVersion: 124 }] });
        const headers: Record<string, string> = {};
        conformHeaders(stored, headers);
        expect(headers['sec-ch-ua']).toBe('"Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"');

        const oldFirefox = { userAgent: UA.firefoxLinux, headers: { 'user-agent': UA.firefoxLinux, 'accept-language': 'en' } };
        const sent: Record<string, string> = { 'sec-ch-ua': '"Chromium";v="1"' };
        conformHeaders(oldFirefox, sent);
        expect(sent).toEqual({ 'user-agent': UA.firefoxLinux, 'accept-language': 'en' });
        expect(familyOf(oldFirefox)?.browser).toBe('firefox');
    });
});

describe('conformHeaders', () => {
    it('sets the identity headers, drops other-case duplicates and client hints of a non-Chromium identity', () => {
        const firefox = createIdentity({ userAgent: UA.firefoxLinux });
        const headers: Record<string, string | string[] | undefined> = {
            'User-Agent': 'got',
            'ACCEPT-LANGUAGE': 'de',
            'sec-ch-ua': '"Chromium";v="124"',
            'Sec-CH-UA-Platform': '"Windows"',
            'sec-ch-prefers-color-scheme': 'dark',
            accept: 'text/html',
            'sec-fetch-mode': 'navigate',
        };
        expect(conformHeaders(firefox, headers)).toBe(true);
        expect(headers).toEqual({
            accept: 'text/html',
            'sec-fetch-mode': 'navigate',
            'user-agent': UA.firefoxLinux,
            'accept-language': 'en-US,en;q=0.9',
        });
        // Already fitting: nothing changes, and it says so.
        const snapshot = JSON.stringify(headers);
        expect(conformHeaders(firefox, headers)).toBe(false);
        expect(JSON.stringify(headers)).toBe(snapshot);
    });

    it("replaces a Chromium identity's generated client hints with its own, keeping other headers", () => {
        const chrome = createIdentity({ userAgent: UA.chromeWindows });
        const headers: Record<string, string> = { 'sec-ch-ua': '"HeadlessChrome";v="143"', 'sec-ch-ua-mobile': '?1', dnt: '1' };
        expect(conformHeaders(chrome, headers)).toBe(true);
        expect(headers).toEqual({ ...chrome.headers, dnt: '1' });
        expect(conformHeaders(chrome, headers)).toBe(false);
    });
});

/** What the loopback server saw of one request: its raw header names in order, and the values by lower-case name. */
interface Received {
    names: string[];
    headers: Record<string, string>;
}

describe('headers received through got-scraping', () => {
    let server: LoopbackListener;
    const received: Received[] = [];

    beforeAll(async () => {
        server = await listenOnLoopback(
            http.createServer((req, res) => {
                const names: string[] = [];
                const headers: Record<string, string> = {};
                for (let index = 0; index < req.rawHeaders.length; index += 2) {
                    names.push(req.rawHeaders[index]!);
                    headers[req.rawHeaders[index]!.toLowerCase()] = req.rawHeaders[index + 1]!;
                }
                received.push({ names, headers });
                res.end('ok');
            }),
        );
    });

    afterAll(async () => {
        await server?.close();
    });

    /** Sends one request as the request pipeline does: identity headers, derived generator options, conformed per hop. */
    async function send(identity: SessionIdentity, sessionToken: object, options: { conform?: boolean } = {}): Promise<Received> {
        const before = received.length;
        await gotScraping({
            url: `${server.url}/page`,
            headers: { ...identity.headers },
            headerGeneratorOptions: headerGeneratorOptionsOf(identity),
            sessionToken,
            hooks: options.conform === false ? {} : { beforeRequest: [(hop) => void conformHeaders(identity, hop.headers)] },
        });
        expect(received.length).toBe(before + 1);
        return received[received.length - 1]!;
    }

    /** Every Accept value the generator produces with these options. */
    function acceptsOf(identity: SessionIdentity): Set<string> {
        const generator = new HeaderGenerator();
        const accepts = new Set<string>();
        for (let draw = 0; draw < 60; draw++) {
            for (const httpVersion of ['1', '2'] as const) {
                const headers = generator.getHeaders({ ...headerGeneratorOptionsOf(identity), httpVersion, strict: true });
                for (const [name, value] of Object.entries(headers)) if (name.toLowerCase() === 'accept') accepts.add(value);
            }
        }
        return accepts;
    }

    const cases = [
        ['Chrome on Windows', UA.chromeWindows, '"Windows"', '?0'],
        ['Edge on Windows', UA.edgeWindows, '"Windows"', '?0'],
        ['Firefox on Linux', UA.firefoxLinux, undefined, undefined],
        ['Safari on macOS', UA.safariMac, undefined, undefined],
        ['Chrome on Android', UA.chromeAndroid, '"Android"', '?1'],
    ] as const;

    it.each(cases)('%s: fits the browser, stably for one session token', async (_label, userAgent, platform, mobile) => {
        const identity = createIdentity({ userAgent });
        const family = familyOf(identity)!;
        expect(family).toBeDefined();
        const token = {};
        const requests: Received[] = [];
        for (let n = 0; n < 15; n++) requests.push(await send(identity, token));
        const [first] = requests;

        expect(first!.headers['user-agent']).toBe(userAgent);
        expect(first!.headers['accept-language']).toBe(identity.headers['accept-language']);
        const hints = Object.keys(first!.headers).filter((name) => name.startsWith('sec-ch-'));
        if (platform) {
            expect(hints.sort()).toEqual(['sec-ch-ua', 'sec-ch-ua-mobile', 'sec-ch-ua-platform']);
            expect(first!.headers['sec-ch-ua']).toBe(clientHintsOf(family)!['sec-ch-ua']);
            expect(first!.headers['sec-ch-ua']).toContain(`"Chromium";v="${family.chromiumVersion}"`);
            expect(first!.headers['sec-ch-ua-platform']).toBe(platform);
            expect(first!.headers['sec-ch-ua-mobile']).toBe(mobile);
        } else {
            expect(hints).toEqual([]);
        }

        // Accept is one the generator gives this browser; sec-fetch-* as it gives them (Safari: none).
        expect(acceptsOf(identity)).toContain(first!.headers.accept);
        if (family.browser === 'safari') expect(first!.headers['sec-fetch-mode']).toBeUndefined();
        else expect(first!.headers['sec-fetch-mode']).toBe('navigate');
        if (family.browser === 'firefox' || family.browser === 'safari') expect(first!.headers.accept).not.toContain('image/apng');
        else expect(first!.headers.accept).toContain('image/apng');

        // The wire order is the generator's order for this browser.
        const order = HEADER_ORDERS[family.browser]!;
        const positions = first!.names.filter((name) => order.includes(name)).map((name) => order.indexOf(name));
        expect(positions.length).toBeGreaterThanOrEqual(6);
        expect(positions).toEqual([...positions].sort((a, b) => a - b));

        // Stable: every request of the session sends the same headers in the same order.
        for (const request of requests) {
            expect(request.names).toEqual(first!.names);
            expect(request.headers).toEqual(first!.headers);
        }
    });

    it('the header orders differ between the browsers (so the order assertion above can fail)', async () => {
        const orders = new Set<string>();
        for (const [, userAgent] of cases) {
            const { names } = await send(createIdentity({ userAgent }), {});
            orders.add(names.filter((name) => ['User-Agent', 'Accept', 'Accept-Language', 'Accept-Encoding'].includes(name)).join(','));
        }
        expect(orders.size).toBeGreaterThanOrEqual(3);
    });

    it('without the derived options and conformHeaders, a Firefox identity gets Chrome client hints (the bug)', async () => {
        const identity = createIdentity({ userAgent: UA.firefoxLinux });
        let withHints = 0;
        for (let n = 0; n < 30; n++) {
            const before = received.length;
            await gotScraping({ url: `${server.url}/page`, headers: { ...identity.headers }, sessionToken: {} });
            if (received[before]!.headers['sec-ch-ua'] !== undefined) withHints++;
        }
        expect(withHints).toBeGreaterThan(0);

        for (let n = 0; n < 30; n++) {
            const { headers } = await send(identity, {});
            expect(Object.keys(headers).filter((name) => name.startsWith('sec-ch-'))).toEqual([]);
        }
    });

    it('an unplaceable User-Agent keeps got-scraping\'s default headers, without client hints', async () => {
        const identity = createIdentity({ userAgent: 'UA-Alpha/1.0 (test)' });
        expect(headerGeneratorOptionsOf(identity)).toBeUndefined();
        let generatedHints = 0;
        const accepts = new Set<string>();
        for (let n = 0; n < 30; n++) {
            const token = {};
            const raw = await send(identity, token, { conform: false });
            if (raw.headers['sec-ch-ua'] !== undefined) generatedHints++;
            const { headers } = await send(identity, token);
            expect(headers['user-agent']).toBe('UA-Alpha/1.0 (test)');
            expect(Object.keys(headers).filter((name) => name.startsWith('sec-ch-'))).toEqual([]);
            accepts.add(headers.accept!);
        }
        // got-scraping did generate client hints for some of these sessions: conformHeaders removed them.
        expect(generatedHints).toBeGreaterThan(0);
        expect(accepts.size).toBeGreaterThan(0);
    });
});
