/**
 * Which browser a User-Agent string belongs to, in the terms of the header generator (got-scraping's
 * `header-generator`): one of the four browsers it has data for, the operating system, the device class and the
 * major version.
 *
 * The parser is an allow-list of the exact shapes real Chrome, Edge, Firefox and Safari user agents have. Anything
 * else — Opera, Samsung Internet, Yandex, Android WebView, HeadlessChrome, Chrome/Firefox on iOS, bots, `curl/8.0`,
 * a made-up string — is *not placed* (`undefined`): those browsers send headers (and client-hint brands) the
 * generator does not know, so claiming "Chrome" for them would be a fingerprint no real browser sends.
 */

/** The browsers the header generator knows. */
export type BrowserName = 'chrome' | 'edge' | 'firefox' | 'safari';

/** Operating systems a placed User-Agent runs on. `chromeos` is generated as `linux` (the generator has no ChromeOS). */
export type BrowserOs = 'windows' | 'macos' | 'linux' | 'chromeos' | 'android' | 'ios';

/** The header generator's device classes: phones and tablets (Android, iOS) are `mobile`. */
export type DeviceClass = 'desktop' | 'mobile';

/** The browser a User-Agent string describes (see {@link parseUserAgent}). Plain data: it is stored with identities. */
export interface BrowserFamily {
    /** The browser. */
    readonly browser: BrowserName;
    /** The browser's major version (`Edg/124…` → 124 for Edge, `Version/17.4` → 17 for Safari). */
    readonly majorVersion: number;
    /** Chromium-based browsers only: the major version of `Chrome/…` in the User-Agent (it seeds the client hints). */
    readonly chromiumVersion?: number;
    /** The operating system. */
    readonly os: BrowserOs;
    /** The device class. */
    readonly device: DeviceClass;
    /** Whether the User-Agent says `Mobile` (a phone): `sec-ch-ua-mobile: ?1`. Android tablets are `mobile` devices without it. */
    readonly mobile: boolean;
}

/** The longest User-Agent {@link parseUserAgent} places; real ones are 70–250 characters. */
export const MAX_PLACED_USER_AGENT_LENGTH = 400;

/** Whether a browser is built on Chromium (and so sends `sec-ch-ua` client hints). */
export function isChromium(browser: BrowserName): browser is 'chrome' | 'edge' {
    return browser === 'chrome' || browser === 'edge';
}

/**
 * Chrome and Edge, desktop and Android: `Mozilla/5.0 (<platform>) AppleWebKit/537.36 (KHTML, like Gecko)
 * Chrome/<v>.<b>.<c>.<d> [Mobile ]Safari/537.36[ Edg/<v>… | EdgA/<v>…]`. Derivatives add tokens (`OPR/`,
 * `SamsungBrowser/`, `YaBrowser/`, `Version/4.0` of WebViews, `HeadlessChrome/`) and so do not match.
 */
const CHROMIUM_UA =
    /^Mozilla\/5\.0 \(([^()]{1,200})\) AppleWebKit\/537\.36 \(KHTML, like Gecko\) Chrome\/(\d{2,3})\.\d{1,5}\.\d{1,5}\.\d{1,5} (Mobile )?Safari\/537\.36(?: (Edg|EdgA)\/(\d{2,3})\.\d{1,5}\.\d{1,5}\.\d{1,5})?$/;

/** Firefox, desktop and Android: `Mozilla/5.0 (<platform>; rv:<v>.0) Gecko/<date or v.0> Firefox/<v>.0`. */
const FIREFOX_UA =
    /^Mozilla\/5\.0 \(([^()]{1,200}); rv:\d{2,3}\.\d{1,3}(?:\.\d{1,3})?\) Gecko\/(?:20100101|\d{2,3}\.\d{1,3}(?:\.\d{1,3})?) Firefox\/(\d{2,3})\.\d{1,3}(?:\.\d{1,3})?$/;

/** Safari on macOS and iOS: `Mozilla/5.0 (<platform>) AppleWebKit/<n> (KHTML, like Gecko) Version/<v>[ Mobile/<build>] Safari/<n>`. */
const SAFARI_UA =
    /^Mozilla\/5\.0 \(([^()]{1,200})\) AppleWebKit\/\d{3}(?:\.\d{1,3}){0,2} \(KHTML, like Gecko\) Version\/(\d{1,2})(?:\.\d{1,3}){0,2}( Mobile\/\w{1,20})? Safari\/\d{3}(?:\.\d{1,3}){0,2}$/;

const WINDOWS = /^Windows NT \d{1,2}\.\d(?:; [\w ]{1,20}){0,2}$/;
const MACOS_CHROMIUM_OR_SAFARI = /^Macintosh; Intel Mac OS X \d{2}_\d{1,2}(?:_\d{1,2})?$/;
const MACOS_FIREFOX = /^Macintosh; Intel Mac OS X \d{2}\.\d{1,2}$/;
const LINUX = /^X11; (?:[A-Za-z]{1,20}; )?Linux [\w ]{1,20}$/;
const CHROME_OS = /^X11; CrOS [\w]{1,20} [\d.]{1,20}$/;
const ANDROID_CHROMIUM = /^Linux; Android \d{1,2}(?:\.\d{1,2}){0,2}(?:; [^;]{1,60})?$/;
const ANDROID_FIREFOX = /^Android \d{1,2}(?:\.\d{1,2}){0,2}; (Mobile|Tablet)$/;
const IOS = /^(?:iPhone|iPad|iPod(?: touch)?); CPU (?:iPhone )?OS \d{1,2}(?:_\d{1,2}){0,2} like Mac OS X$/;

/**
 * Places a User-Agent string: which of the generator's browsers it is, on which OS and device, in which major
 * version; `undefined` when it is not exactly one of the shapes real Chrome, Edge, Firefox or Safari user agents have.
 * Strings longer than {@link MAX_PLACED_USER_AGENT_LENGTH} are never placed (no real browser's is). Runs in time
 * linear in the length of the string (anchored patterns with bounded repetitions).
 *
 * ```ts
 * parseUserAgent('Mozilla/5.0 (X11; Linux x86_64; rv:142.0) Gecko/20100101 Firefox/142.0');
 * // { browser: 'firefox', majorVersion: 142, os: 'linux', device: 'desktop', mobile: false }
 * parseUserAgent('curl/8.0'); // undefined
 * ```
 */
export function parseUserAgent(userAgent: string): BrowserFamily | undefined {
    if (userAgent.length > MAX_PLACED_USER_AGENT_LENGTH) return undefined;
    return parseChromium(userAgent) ?? parseFirefox(userAgent) ?? parseSafari(userAgent);
}

function parseChromium(userAgent: string): BrowserFamily | undefined {
    const match = CHROMIUM_UA.exec(userAgent);
    if (!match) return undefined;
    const [, platform = '', chrome = '', mobileToken, edgeToken, edge] = match;
    const chromiumVersion = Number(chrome);
    const mobile = mobileToken !== undefined;
    let os: BrowserOs;
    if (ANDROID_CHROMIUM.test(platform)) os = 'android';
    else if (mobile || edgeToken === 'EdgA') return undefined; // "Mobile" and EdgA only exist on Android
    else if (WINDOWS.test(platform)) os = 'windows';
    else if (MACOS_CHROMIUM_OR_SAFARI.test(platform)) os = 'macos';
    else if (CHROME_OS.test(platform)) os = 'chromeos';
    else if (LINUX.test(platform)) os = 'linux';
    else return undefined;
    if (edgeToken === 'Edg' && os === 'android') return undefined; // Edge on Android says EdgA
    return {
        browser: edgeToken ? 'edge' : 'chrome',
        majorVersion: edgeToken ? Number(edge) : chromiumVersion,
        chromiumVersion,
        os,
        device: os === 'android' ? 'mobile' : 'desktop',
        mobile,
    };
}

function parseFirefox(userAgent: string): BrowserFamily | undefined {
    const match = FIREFOX_UA.exec(userAgent);
    if (!match) return undefined;
    const [, platform = '', version = ''] = match;
    const majorVersion = Number(version);
    const android = ANDROID_FIREFOX.exec(platform);
    if (android) return { browser: 'firefox', majorVersion, os: 'android', device: 'mobile', mobile: android[1] === 'Mobile' };
    let os: BrowserOs;
    if (WINDOWS.test(platform)) os = 'windows';
    else if (MACOS_FIREFOX.test(platform)) os = 'macos';
    else if (LINUX.test(platform)) os = 'linux';
    else return undefined;
    return { browser: 'firefox', majorVersion, os, device: 'desktop', mobile: false };
}

function parseSafari(userAgent: string): BrowserFamily | undefined {
    const match = SAFARI_UA.exec(userAgent);
    if (!match) return undefined;
    const [, platform = '', version = '', mobileToken] = match;
    const majorVersion = Number(version);
    if (MACOS_CHROMIUM_OR_SAFARI.test(platform) && mobileToken === undefined) {
        return { browser: 'safari', majorVersion, os: 'macos', device: 'desktop', mobile: false };
    }
    if (IOS.test(platform) && mobileToken !== undefined) {
        return { browser: 'safari', majorVersion, os: 'ios', device: 'mobile', mobile: !platform.startsWith('iPad') };
    }
    return undefined;
}
