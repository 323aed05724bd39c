import type { HeaderGeneratorOptions } from 'header-generator';

import type { BrowserFamily, SessionIdentity } from '../model/identity.js';
import { clientHintsOf } from '../shared/client-hints.js';
import { IDENTITY_LOCALES, generatorOptionsFor, sharedHeaderGenerator, type GeneratorOptions } from '../shared/header-generation.js';
import { parseUserAgent } from '../shared/user-agent.js';
import type { Profile } from './profile.js';

export type { SessionIdentity };
export type { GeneratorOptions };

/**
 * How many distinct generated identities (sessions without a profile User-Agent) are made before they are reused.
 * Generating one costs tens of µs (a Bayesian network is sampled), which matters at 100 000 sessions; 64 realistic
 * variants are plenty to keep sessions apart, and sessions drawing the same variant share one frozen identity.
 */
export const GENERATED_VARIANTS = 64;

/** What generated identities are drawn from: recent desktop Chrome. */
const GENERATED_BROWSER: Partial<HeaderGeneratorOptions> = {
    browsers: [{ name: 'chrome', minVersion: 110 }],
    devices: ['desktop'],
    operatingSystems: ['windows', 'macos', 'linux'],
};

/** Draws per generated variant until its User-Agent is one the parser and the generator place (the data has a few odd ones). */
const MAX_DRAWS_PER_VARIANT = 20;

/** Profile User-Agents whose identity is shared by every session using them (a few per profile list). */
const MAX_SHARED_PROFILE_IDENTITIES = 1024;

/** Used when the generator produced no Accept-Language (it always does for the locales we give it). */
const FALLBACK_ACCEPT_LANGUAGE = 'en-US,en;q=0.9';

const generatedVariants: SessionIdentity[] = [];
const profileIdentities = new Map<string, SessionIdentity>();

/**
 * The identity a session presents, for one generation (a clear gives the session a new one). Identities are
 * frozen and shared: every session drawing the same generated variant, and every session of a profile with the
 * same User-Agent, gets the same object.
 *
 * - With a profile User-Agent, that string is used as is. Its browser family (Chrome, Edge, Firefox, Safari;
 *   desktop or mobile; OS; major version) is derived once; the identity forces `user-agent`, a generated
 *   `accept-language` and, for Chromium-based browsers, client hints computed from the User-Agent. A User-Agent
 *   the generator cannot place gets `family: null` and no client hints.
 * - Without one, a realistic desktop Chrome identity is drawn (see {@link GENERATED_VARIANTS}).
 */
export function createIdentity(profile: Profile | undefined): SessionIdentity {
    if (!profile?.userAgent) return generatedIdentity();
    const shared = profileIdentities.get(profile.userAgent);
    if (shared) return shared;
    const identity = identityFor(profile.userAgent, acceptLanguage());
    if (profileIdentities.size < MAX_SHARED_PROFILE_IDENTITIES) profileIdentities.set(profile.userAgent, identity);
    return identity;
}

/**
 * The header-generator options got-scraping must be given (`headerGeneratorOptions`, next to the session's
 * `sessionToken`) on every request of a session with this identity, so that the headers it generates — client
 * hints or none, Accept, Accept-Encoding, sec-fetch-*, header order — are those of the identity's browser.
 * `undefined` when the identity's User-Agent cannot be placed: got-scraping then generates its default headers,
 * and {@link conformHeaders} removes their client hints.
 *
 * Cost: one `WeakMap` lookup (the options are derived once per identity object, and per browser family). The
 * result is shared: do not change it.
 */
export function headerGeneratorOptionsOf(identity: SessionIdentity): GeneratorOptions | undefined {
    return planOf(identity).options;
}

/**
 * The browser family an identity imitates, or `undefined` when its User-Agent cannot be placed. Works for
 * identities stored before `family` existed (derived once from the User-Agent).
 */
export function familyOf(identity: SessionIdentity): BrowserFamily | undefined {
    return planOf(identity).family;
}

/**
 * Makes a request's headers fit the identity, in place: sets the identity headers (`user-agent`,
 * `accept-language`, client hints of a Chromium-based browser), removing same-named headers in other letter case,
 * and, when the identity sends no client hints (Firefox, Safari, an unplaced or pre-105 Chromium User-Agent),
 * removes every `sec-ch-*` header. Other headers are left alone.
 *
 * Meant for the request pipeline, on every hop: once when a request is prepared (so that got-scraping's header
 * merge and TLS choice see the identity's User-Agent) and in got's last `beforeRequest` hook (after got-scraping
 * merged its generated headers). Returns whether anything changed.
 *
 * Cost: one `WeakMap` lookup, one pass over the header names (a character scan each; no string is built) and a
 * comparison per identity header. Nothing is allocated when the headers already fit; the User-Agent is never
 * parsed here (that happens once per identity).
 */
export function conformHeaders(identity: SessionIdentity, headers: Record<string, string | string[] | undefined>): boolean {
    const plan = planOf(identity);
    const { names, values } = plan;
    let changed = false;
    for (const key in headers) {
        if (plan.stripClientHints && isClientHintName(key)) {
            delete headers[key];
            changed = true;
            continue;
        }
        // Same name in another letter case: only names as long as an identity header can be one.
        if (key.length > MAX_NAME_LENGTH || !plan.nameLengths[key.length]) continue;
        for (const name of names) {
            if (key.length === name.length && key !== name && equalsIgnoringCase(key, name)) {
                delete headers[key];
                changed = true;
                break;
            }
        }
    }
    for (let index = 0; index < names.length; index++) {
        const name = names[index]!;
        if (headers[name] !== values[index]) {
            headers[name] = values[index];
            changed = true;
        }
    }
    return changed;
}

/** What {@link conformHeaders} and {@link headerGeneratorOptionsOf} need, computed once per identity object. */
interface IdentityPlan {
    readonly family: BrowserFamily | undefined;
    readonly options: GeneratorOptions | undefined;
    /** Lower-case names of the headers forced on every request, and their values (same order). */
    readonly names: readonly string[];
    readonly values: readonly string[];
    /** `nameLengths[n]` is true when some forced header name has `n` characters. */
    readonly nameLengths: readonly boolean[];
    /** The identity sends no client hints: every `sec-ch-*` header goes. */
    readonly stripClientHints: boolean;
}

/** Longest header name {@link IdentityPlan.nameLengths} covers; identity header names are far shorter. */
const MAX_NAME_LENGTH = 64;

const plans = new WeakMap<SessionIdentity, IdentityPlan>();

function planOf(identity: SessionIdentity): IdentityPlan {
    let plan = plans.get(identity);
    if (!plan) {
        plan = makePlan(identity);
        plans.set(identity, plan);
    }
    return plan;
}

function makePlan(identity: SessionIdentity): IdentityPlan {
    let headers: Record<string, string>;
    let family: BrowserFamily | undefined;
    if (identity.family === undefined) {
        // Stored by an older version: derive the family, and recompute the client hints (the generator's were not
        // always consistent with the User-Agent, and profile identities had none).
        const derived = identityFor(identity.userAgent, identity.headers['accept-language'] ?? FALLBACK_ACCEPT_LANGUAGE);
        headers = { ...lowerCaseKeys(identity.headers), ...derived.headers };
        for (const name of Object.keys(headers)) if (isClientHintName(name) && !(name in derived.headers)) delete headers[name];
        family = derived.family ?? undefined;
    } else {
        headers = lowerCaseKeys(identity.headers);
        family = identity.family ?? undefined;
    }
    const names = Object.keys(headers).filter((name) => name.length <= MAX_NAME_LENGTH);
    const nameLengths: boolean[] = [];
    for (const name of names) nameLengths[name.length] = true;
    return {
        family,
        options: family ? generatorOptionsFor(family) : undefined,
        names,
        values: names.map((name) => headers[name]!),
        nameLengths: Array.from({ length: MAX_NAME_LENGTH + 1 }, (_, length) => nameLengths[length] === true),
        stripClientHints: !('sec-ch-ua' in headers),
    };
}

/** An identity for a User-Agent: its family if the generator places it, and the headers to force. */
function identityFor(userAgent: string, language: string): SessionIdentity {
    const parsed = parseUserAgent(userAgent);
    const family = parsed && generatorOptionsFor(parsed) ? parsed : null;
    const headers: Record<string, string> = { 'user-agent': userAgent, 'accept-language': language };
    if (family) Object.assign(headers, clientHintsOf(family));
    return Object.freeze({ userAgent, headers: Object.freeze(headers), family: family && Object.freeze({ ...family }) });
}

function generatedIdentity(): SessionIdentity {
    if (generatedVariants.length >= GENERATED_VARIANTS) {
        return generatedVariants[Math.floor(Math.random() * generatedVariants.length)]!;
    }
    let identity: SessionIdentity | undefined;
    for (let draw = 0; draw < MAX_DRAWS_PER_VARIANT && !identity?.family; draw++) {
        const generated = generateHeaders();
        identity = identityFor(generated['user-agent'] ?? 'Mozilla/5.0', generated['accept-language'] ?? FALLBACK_ACCEPT_LANGUAGE);
    }
    generatedVariants.push(identity!);
    return identity!;
}

/** The Accept-Language of generated headers (the same for every variant, since the locales are fixed). */
function acceptLanguage(): string {
    return generatedIdentity().headers['accept-language'] ?? FALLBACK_ACCEPT_LANGUAGE;
}

function generateHeaders(): Record<string, string> {
    const generated = sharedHeaderGenerator().getHeaders({ ...GENERATED_BROWSER, locales: [...IDENTITY_LOCALES] });
    return lowerCaseKeys(generated);
}

function lowerCaseKeys(headers: Readonly<Record<string, string>>): Record<string, string> {
    const result: Record<string, string> = {};
    for (const [name, value] of Object.entries(headers)) result[name.toLowerCase()] = value;
    return result;
}

/** Whether a header name starts with `sec-ch-`, in any letter case. */
function isClientHintName(name: string): boolean {
    return (
        name.length > 7 &&
        (name.charCodeAt(0) | 0x20) === 0x73 && // s
        (name.charCodeAt(1) | 0x20) === 0x65 && // e
        (name.charCodeAt(2) | 0x20) === 0x63 && // c
        name.charCodeAt(3) === 0x2d && // -
        (name.charCodeAt(4) | 0x20) === 0x63 && // c
        (name.charCodeAt(5) | 0x20) === 0x68 && // h
        name.charCodeAt(6) === 0x2d // -
    );
}

/** Whether `text` equals the lower-case `lower` ignoring ASCII letter case (both of the same length). */
function equalsIgnoringCase(text: string, lower: string): boolean {
    for (let index = 0; index < text.length; index++) {
        let code = text.charCodeAt(index);
        if (code >= 0x41 && code <= 0x5a) code |= 0x20;
        if (code !== lower.charCodeAt(index)) return false;
    }
    return true;
}
