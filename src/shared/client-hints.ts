import { isChromium, type BrowserFamily, type BrowserOs } from './user-agent.js';

/**
 * The first Chromium version whose `sec-ch-ua` brand list {@link clientHintsOf} computes. Chromium 105 and later
 * build it with the "updated GREASE" algorithm (below); 89–104 used earlier variants that cannot be reproduced
 * reliably, so user agents older than this get no client hints at all (like Chromium before 89).
 */
export const MIN_CLIENT_HINTS_VERSION = 105;

/** `sec-ch-ua-platform` values, as Chromium writes them. */
const PLATFORM_NAMES: Record<BrowserOs, string> = {
    windows: 'Windows',
    macos: 'macOS',
    linux: 'Linux',
    chromeos: 'Chrome OS',
    android: 'Android',
    ios: 'iOS',
};

/** The brand each Chromium-based browser puts next to `Chromium`. */
const BRANDS = { chrome: 'Google Chrome', edge: 'Microsoft Edge' } as const;

/** Chromium's GREASE characters, versions and permutations (components/embedder_support/user_agent_utils.cc). */
const GREASE_CHARACTERS = [' ', '(', ':', '-', '.', '/', ')', ';', '=', '?', '_'];
const GREASE_VERSIONS = ['8', '99', '24'];
const PERMUTATIONS = [
    [0, 1, 2],
    [0, 2, 1],
    [1, 0, 2],
    [1, 2, 0],
    [2, 0, 1],
    [2, 1, 0],
] as const;

/**
 * The low-entropy client hints a Chromium-based browser sends on every request (`sec-ch-ua`, `sec-ch-ua-mobile`,
 * `sec-ch-ua-platform`), computed from its User-Agent exactly as Chromium does: the brand list is seeded by the
 * major version, which picks the GREASE brand (`Not-A.Brand`), its version and the order of the three brands.
 * For example Chrome 124 on Windows sends `"Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"`,
 * `?0` and `"Windows"`.
 *
 * Returns `undefined` for browsers that send no client hints (Firefox, Safari) and for Chromium older than
 * {@link MIN_CLIENT_HINTS_VERSION}.
 */
export function clientHintsOf(family: BrowserFamily): Readonly<Record<string, string>> | undefined {
    if (!isChromium(family.browser)) return undefined;
    const chromium = family.chromiumVersion ?? family.majorVersion;
    if (chromium < MIN_CLIENT_HINTS_VERSION) return undefined;
    return {
        'sec-ch-ua': brandList(chromium, BRANDS[family.browser], family.majorVersion),
        'sec-ch-ua-mobile': family.mobile ? '?1' : '?0',
        'sec-ch-ua-platform': `"${PLATFORM_NAMES[family.os]}"`,
    };
}

/** Chromium's `GenerateBrandVersionList` for a browser with its own brand (the updated GREASE algorithm). */
function brandList(seed: number, brand: string, brandVersion: number): string {
    const order = PERMUTATIONS[seed % PERMUTATIONS.length]!;
    const grease = `Not${GREASE_CHARACTERS[seed % GREASE_CHARACTERS.length]}A${GREASE_CHARACTERS[(seed + 1) % GREASE_CHARACTERS.length]}Brand`;
    const brands: string[] = [];
    brands[order[0]] = `"${grease}";v="${GREASE_VERSIONS[seed % GREASE_VERSIONS.length]}"`;
    brands[order[1]] = `"Chromium";v="${seed}"`;
    brands[order[2]] = `"${brand}";v="${brandVersion}"`;
    return brands.join(', ');
}
