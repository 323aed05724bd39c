import { HeaderGenerator, type HeaderGeneratorOptions } from 'header-generator';

import type { BrowserFamily, BrowserOs } from './user-agent.js';

/**
 * Options for got-scraping's header generator (`headerGeneratorOptions`), as {@link generatorOptionsFor} derives
 * them for one browser family. Treat them as read-only: the generator writes `httpVersion` into each browser entry
 * on every call (harmless, it sets it before reading it), which is also why they are not frozen.
 */
export type GeneratorOptions = Partial<HeaderGeneratorOptions>;

/** The locales every identity's `Accept-Language` is generated from (`en-US,en;q=0.9`). */
export const IDENTITY_LOCALES: readonly string[] = ['en-US', 'en'];

/**
 * How far (in major versions) from the User-Agent's version the generator may look for header data when it has
 * none for that exact version (its data holds some versions of each browser, not all). The nearest version it has
 * is used — below before above at equal distance; headers (Accept, sec-fetch-*, order) change rarely between
 * neighbouring versions. A version farther away than this leaves the family unplaced.
 */
export const MAX_VERSION_DISTANCE = 32;

/** Distinct families whose placement is remembered (each costs a few strict generator runs, ~0.1 ms each). */
const MAX_CACHED_PLACEMENTS = 512;

const ALL_OPERATING_SYSTEMS: HeaderGeneratorOptions['operatingSystems'] = ['windows', 'macos', 'linux', 'android', 'ios'];
const ALL_DEVICES: HeaderGeneratorOptions['devices'] = ['desktop', 'mobile'];

/** The generator's operating systems: it has no ChromeOS data, whose headers are those of Chrome on Linux. */
const GENERATOR_OS: Record<BrowserOs, HeaderGeneratorOptions['operatingSystems'][number]> = {
    windows: 'windows',
    macos: 'macos',
    linux: 'linux',
    chromeos: 'linux',
    android: 'android',
    ios: 'ios',
};

let generator: HeaderGenerator | undefined;
const placements = new Map<string, GeneratorOptions | null>();

/**
 * The one header generator of this package (loading its Bayesian networks takes ~0.2 s and some MB, so it is
 * created once, on first use). Every call passes its own options.
 */
export function sharedHeaderGenerator(): HeaderGenerator {
    generator ??= new HeaderGenerator();
    return generator;
}

/**
 * The header-generator options that make got-scraping generate the headers this browser family sends: its browser
 * (never relaxed), its major version or the nearest one the generator has data for, its operating system and device class, and
 * {@link IDENTITY_LOCALES}. Each candidate is checked with a strict generation (HTTP/1 and HTTP/2), so the options
 * returned never make the generator fall back to another browser at request time. When the generator has no data
 * for the operating system or device, those are relaxed (in that order); `undefined` when even the browser alone
 * within {@link MAX_VERSION_DISTANCE} versions cannot be generated.
 *
 * Results are cached per family (at most 512), so this is cheap after the first call for a family.
 */
export function generatorOptionsFor(family: BrowserFamily): GeneratorOptions | undefined {
    const key = `${family.browser}/${family.os}/${family.device}/${family.majorVersion}`;
    const cached = placements.get(key);
    if (cached !== undefined) return cached ?? undefined;
    const placed = place(family);
    if (placements.size >= MAX_CACHED_PLACEMENTS) placements.delete(placements.keys().next().value!);
    placements.set(key, placed ?? null);
    return placed;
}

function place(family: BrowserFamily): GeneratorOptions | undefined {
    const constraints: Array<Pick<HeaderGeneratorOptions, 'operatingSystems' | 'devices'>> = [
        { operatingSystems: [GENERATOR_OS[family.os]], devices: [family.device] },
        { operatingSystems: ALL_OPERATING_SYSTEMS, devices: [family.device] },
        { operatingSystems: ALL_OPERATING_SYSTEMS, devices: ALL_DEVICES },
    ];
    for (const constraint of constraints) {
        for (let distance = 0; distance <= MAX_VERSION_DISTANCE; distance++) {
            for (const version of distance === 0 ? [family.majorVersion] : [family.majorVersion - distance, family.majorVersion + distance]) {
                if (version < 1) continue;
                const options: GeneratorOptions = {
                    browsers: [{ name: family.browser, minVersion: version, maxVersion: version }],
                    operatingSystems: [...constraint.operatingSystems],
                    devices: [...constraint.devices],
                    locales: [...IDENTITY_LOCALES],
                };
                if (canGenerate(options)) return options;
            }
        }
    }
    return undefined;
}

/** Whether the generator produces headers for these options without relaxing them, over HTTP/1 and HTTP/2. */
function canGenerate(options: GeneratorOptions): boolean {
    const headerGenerator = sharedHeaderGenerator();
    try {
        for (const httpVersion of ['1', '2'] as const) {
            // getHeaders() deletes keys of the object it is given: give it a copy.
            headerGenerator.getHeaders({ ...options, httpVersion, strict: true });
        }
        return true;
    } catch {
        return false;
    }
}
