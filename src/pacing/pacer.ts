import type { PacingSettings } from './options.js';

/** Longest `Retry-After` value looked at (an HTTP date is 29 characters); anything longer is ignored. */
const MAX_RETRY_AFTER_LENGTH = 64;

/**
 * A `Retry-After` header (RFC 9110: delay-seconds or an HTTP date) as a wait in ms from `now`; undefined when the
 * header is absent or not one of the two forms. A date in the past is a wait of 0. The caller bounds the result.
 */
export function retryAfterMillis(header: string | readonly string[] | undefined, now: number): number | undefined {
    const value = (Array.isArray(header) ? header[0] : header) as string | undefined;
    if (typeof value !== 'string' || value.length > MAX_RETRY_AFTER_LENGTH) return undefined;
    const text = value.trim();
    if (/^\d{1,12}$/.test(text)) return Number(text) * 1000;
    // An HTTP date names a weekday and a GMT time; Date.parse alone accepts far too much ("1", "2024").
    if (!/^[A-Za-z]{3},? .*\d{1,2}:\d{2}:\d{2}/.test(text)) return undefined;
    const at = Date.parse(text);
    return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

/**
 * The pace of one session: a bucket of one token (at most one request per spacing, no bursts), and the pause after a
 * cooldown status. Two clocks: the crawl's request manager hands a request out only when the session is ready
 * ({@link readyInMillis}, then {@link handOut}, which also draws the jitter), and every transmission — crawl
 * requests, logins, checks — passes {@link transmit}, which enforces the spacing exactly at the wire.
 */
export class SessionPacer {
    #nextHandOutAt = 0;
    #lastSentAt = Number.NEGATIVE_INFINITY;
    #coolingUntil = 0;
    /** Cooldowns in a row without a good answer in between. */
    #streak = 0;

    constructor(public settings: PacingSettings) {}

    /** Until when (ms since the epoch) the session pauses after a cooldown status; 0 when it never did. */
    get coolingUntil(): number {
        return this.#coolingUntil;
    }

    /** Cooldowns in a row without a good answer in between. */
    get streak(): number {
        return this.#streak;
    }

    /** How long until a request of the session may be handed out (0: now). */
    readyInMillis(now: number): number {
        const { spacingMillis } = this.settings;
        return Math.max(0, this.#nextHandOutAt - now, this.#coolingUntil - now, this.#lastSentAt + spacingMillis - now);
    }

    /** A request of the session was handed out to the crawler now: the next one waits a (jittered) spacing. */
    handOut(now: number): void {
        this.#nextHandOutAt = Math.max(this.#nextHandOutAt, now + this.#gap());
    }

    /**
     * A request of the session is about to be transmitted: returns 0 and records it when it may go now, else the ms to
     * wait before asking again.
     */
    transmit(now: number): number {
        const at = Math.max(this.#coolingUntil, this.#lastSentAt + this.settings.spacingMillis);
        if (at > now) return at - now;
        this.#lastSentAt = now;
        this.#nextHandOutAt = Math.max(this.#nextHandOutAt, now + this.settings.spacingMillis);
        return 0;
    }

    /** Whether a status makes this session cool down. */
    coolsDownOn(status: number): boolean {
        return this.settings.cooldownStatuses.has(status);
    }

    /**
     * The site answered a cooldown status: the session pauses for `retryAfter` (bounded by `maxCooldownSecs`), else for
     * `cooldownSecs` doubled for each cooldown in a row. Returns the pause in ms.
     */
    coolDown(now: number, retryAfter: number | undefined): number {
        const { cooldownMillis, maxCooldownMillis } = this.settings;
        this.#streak++;
        const backoff = cooldownMillis * 2 ** Math.min(this.#streak - 1, 30);
        const wait = Math.min(retryAfter ?? backoff, maxCooldownMillis);
        this.#coolingUntil = Math.max(this.#coolingUntil, now + wait);
        return wait;
    }

    /** The site answered with something other than a cooldown status: the next cooldown starts from the beginning. */
    answered(): void {
        this.#streak = 0;
    }

    /** Whether the pacer holds nothing (no spacing, no pause under way or in a row): it may be forgotten. */
    idle(now: number): boolean {
        return this.settings.spacingMillis === 0 && this.#streak === 0 && this.#coolingUntil <= now;
    }

    #gap(): number {
        const { spacingMillis, jitter } = this.settings;
        return spacingMillis * (1 + jitter * Math.random());
    }
}
