import { z } from 'zod';

/**
 * How carefully one session treats the site: how fast its requests may follow each other, and how it pauses when the
 * site says "too many requests". Every field is optional; `Sessions.open({ pacing })` sets them for every session and
 * `sessions.setPacing(id, pacing)` overrides the fields it names for one session.
 */
export interface PacingOptions {
    /**
     * At most this many requests of the session per minute: two of its requests are transmitted at least
     * `60000 / maxRequestsPerMinute` ms apart (crawl requests, logins and checks alike; no bursts).
     * @default undefined: no limit
     */
    maxRequestsPerMinute?: number;
    /**
     * At least this many ms between two requests of the session (the larger of this and the rate's spacing applies).
     * @default 0
     */
    minDelayMillis?: number;
    /**
     * Randomness added to the spacing, as a fraction of it: each gap is lengthened by a random 0…`jitter` × spacing, so
     * requests do not arrive like clockwork. Jitter only ever lengthens a gap, never shortens it.
     * @default 0
     */
    jitter?: number;
    /**
     * Statuses that make the session pause (cool down): its requests wait, the request that got it is retried after
     * the pause without counting against `maxRequestRetries`, other sessions go on. `[]` turns cooldowns off.
     * @default [429, 503]
     */
    cooldownStatuses?: readonly number[];
    /**
     * The first pause when the answer has no usable `Retry-After`, in seconds; each further cooldown of the session in a
     * row (without a good answer in between) doubles it.
     * @default 30
     */
    cooldownSecs?: number;
    /**
     * The longest pause, in seconds, whatever `Retry-After` or the doubling says.
     * @default 600
     */
    maxCooldownSecs?: number;
}

/** The pacing of one session with every default applied. */
export interface PacingSettings {
    /** Minimum gap between two requests, in ms (0: none). */
    readonly spacingMillis: number;
    readonly jitter: number;
    readonly cooldownStatuses: ReadonlySet<number>;
    readonly cooldownMillis: number;
    readonly maxCooldownMillis: number;
}

/** Default cooldown statuses: Too Many Requests and Service Unavailable. */
export const DEFAULT_COOLDOWN_STATUSES: readonly number[] = Object.freeze([429, 503]);
/** Default of {@link PacingOptions.cooldownSecs}. */
export const DEFAULT_COOLDOWN_SECS = 30;
/** Default of {@link PacingOptions.maxCooldownSecs}. */
export const DEFAULT_MAX_COOLDOWN_SECS = 600;

export const pacingOptionsSchema = z
    .strictObject({
        maxRequestsPerMinute: z.number().positive().max(600_000).optional(),
        minDelayMillis: z.number().min(0).max(3_600_000).optional(),
        jitter: z.number().min(0).max(1).optional(),
        cooldownStatuses: z.array(z.number().int().min(100).max(599)).max(100).optional(),
        cooldownSecs: z.number().positive().max(86_400).optional(),
        maxCooldownSecs: z.number().positive().max(86_400).optional(),
    })
    .refine((value) => value.cooldownSecs === undefined || value.maxCooldownSecs === undefined || value.cooldownSecs <= value.maxCooldownSecs, {
        path: ['cooldownSecs'],
        message: 'must not exceed maxCooldownSecs',
    });

/** The settings of `options` (already validated), absent fields from `base`, then from the defaults. */
export function pacingSettings(options: PacingOptions = {}, base: PacingOptions = {}): PacingSettings {
    const pick = <K extends keyof PacingOptions>(key: K): PacingOptions[K] => (key in options ? options[key] : base[key]);
    const rate = pick('maxRequestsPerMinute');
    const spacing = Math.max(rate ? 60_000 / rate : 0, pick('minDelayMillis') ?? 0);
    const cooldownMillis = (pick('cooldownSecs') ?? DEFAULT_COOLDOWN_SECS) * 1000;
    return {
        spacingMillis: spacing,
        jitter: pick('jitter') ?? 0,
        cooldownStatuses: new Set(pick('cooldownStatuses') ?? DEFAULT_COOLDOWN_STATUSES),
        cooldownMillis,
        maxCooldownMillis: Math.max(cooldownMillis, (pick('maxCooldownSecs') ?? DEFAULT_MAX_COOLDOWN_SECS) * 1000),
    };
}
