import { HeaderGenerator } from 'header-generator';

import type { SessionIdentity } from '../model/identity.js';
import type { Profile } from './profile.js';

export type { SessionIdentity };

let generator: HeaderGenerator | undefined;

/** Client-hint headers only make sense next to the Chromium User-Agent they were generated with. */
const CLIENT_HINT_HEADERS = ['sec-ch-ua', 'sec-ch-ua-mobile', 'sec-ch-ua-platform'];

/**
 * How many distinct header sets are generated before they are reused. Generating one costs tens of µs (a
 * Bayesian network is sampled), which matters at 100 000 sessions; 64 realistic variants are plenty to keep
 * sessions apart, and sessions drawing the same variant share its strings.
 */
const GENERATED_VARIANTS = 64;
const variants: Array<Readonly<Record<string, string>>> = [];
/** Identities without a profile User-Agent, one per variant: shared (frozen) by the sessions that draw it. */
const sharedIdentities = new Map<Readonly<Record<string, string>>, SessionIdentity>();

function generatedHeaders(): Readonly<Record<string, string>> {
    if (variants.length >= GENERATED_VARIANTS) return variants[Math.floor(Math.random() * variants.length)]!;
    generator ??= new HeaderGenerator({
        browsers: [{ name: 'chrome', minVersion: 110 }],
        devices: ['desktop'],
        operatingSystems: ['windows', 'macos', 'linux'],
        locales: ['en-US', 'en'],
    });
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(generator.getHeaders())) headers[name.toLowerCase()] = value;
    const frozen = Object.freeze(headers);
    variants.push(frozen);
    return frozen;
}

/**
 * Generates a consistent identity for a session. With a profile User-Agent that string is used as is and only
 * the locale headers are generated; otherwise a realistic desktop Chrome header set is drawn (see
 * {@link GENERATED_VARIANTS}). Identities are never mutated: a clear gives the session a new one.
 */
export function createIdentity(profile: Profile | undefined): SessionIdentity {
    const headers = generatedHeaders();
    if (!profile?.userAgent) {
        const shared = sharedIdentities.get(headers);
        if (shared) return shared;
    }

    const userAgent = profile?.userAgent ?? headers['user-agent'] ?? 'Mozilla/5.0';
    const identity: Record<string, string> = { 'user-agent': userAgent };
    if (headers['accept-language']) identity['accept-language'] = headers['accept-language'];
    if (!profile?.userAgent) {
        for (const name of CLIENT_HINT_HEADERS) if (headers[name]) identity[name] = headers[name];
        const shared = Object.freeze({ userAgent, headers: Object.freeze(identity) });
        sharedIdentities.set(headers, shared);
        return shared;
    }
    return { userAgent, headers: identity };
}
