import { setTimeout as sleep } from 'node:timers/promises';

import { pacingSettings, type PacingOptions, type PacingSettings } from './options.js';
import { retryAfterMillis, SessionPacer } from './pacer.js';

/** A cooldown that started: the session pauses for `waitMillis`, until `until` (ms since the epoch). */
export interface PacingCooldown {
    sessionId: string;
    status: number;
    waitMillis: number;
    until: number;
}

/**
 * The pacing of every session of a `Sessions`: the defaults of `Sessions.open({ pacing })`, the overrides of
 * `sessions.setPacing(id, …)`, and a {@link SessionPacer} for each session that needs one (a spacing, or a cooldown
 * under way). Sessions without either cost nothing: no pacer is kept for them.
 */
export class SessionPacing {
    readonly #defaults: PacingOptions;
    readonly #defaultSettings: PacingSettings;
    readonly #overrides = new Map<string, PacingSettings>();
    readonly #pacers = new Map<string, SessionPacer>();

    /**
     * @param defaults `Sessions.open({ pacing })`, validated
     * @param onCooldown told of every cooldown that starts (the `cooldown` event)
     */
    constructor(
        defaults: PacingOptions = {},
        private readonly onCooldown: (cooldown: PacingCooldown) => void = () => undefined,
    ) {
        this.#defaults = defaults;
        this.#defaultSettings = pacingSettings(defaults);
    }

    /** The settings a session is paced with. */
    settingsOf(sessionId: string): PacingSettings {
        return this.#overrides.get(sessionId) ?? this.#defaultSettings;
    }

    /** Overrides the fields `options` names for one session (validated by the caller); undefined: back to the defaults. */
    set(sessionId: string, options: PacingOptions | undefined): void {
        if (options) this.#overrides.set(sessionId, pacingSettings(options, this.#defaults));
        else this.#overrides.delete(sessionId);
        const pacer = this.#pacers.get(sessionId);
        if (pacer) pacer.settings = this.settingsOf(sessionId);
    }

    /** The session's pacer, if it is paced or cooling down (created on first need). */
    pacerOf(sessionId: string): SessionPacer | undefined {
        const pacer = this.#pacers.get(sessionId);
        if (pacer) return pacer;
        const settings = this.settingsOf(sessionId);
        if (settings.spacingMillis === 0) return undefined;
        return this.#create(sessionId, settings);
    }

    /**
     * An answer to a request of the session: a cooldown status starts (or extends) its pause, honouring `Retry-After`
     * within `maxCooldownSecs`, and returns the pause in ms; any other status ends a run of cooldowns (undefined).
     */
    answered(sessionId: string, status: number, retryAfter: string | readonly string[] | undefined, now = Date.now()): number | undefined {
        const settings = this.settingsOf(sessionId);
        if (settings.cooldownStatuses.has(status)) {
            const pacer = this.#pacers.get(sessionId) ?? this.#create(sessionId, settings);
            const waitMillis = pacer.coolDown(now, retryAfterMillis(retryAfter, now));
            this.onCooldown({ sessionId, status, waitMillis, until: now + waitMillis });
            return waitMillis;
        }
        const pacer = this.#pacers.get(sessionId);
        if (pacer) {
            pacer.answered();
            if (pacer.idle(now)) this.#pacers.delete(sessionId);
        }
        return undefined;
    }

    /**
     * Waits until the session's pace lets a request go, and records it (logins and checks: they hold no slot of the
     * crawler). Rejects when `signal` aborts.
     */
    async turn(sessionId: string, signal?: AbortSignal): Promise<void> {
        for (;;) {
            const pacer = this.pacerOf(sessionId);
            if (!pacer) return;
            const wait = pacer.transmit(Date.now());
            if (wait === 0) return;
            await sleep(wait, undefined, signal ? { signal } : undefined);
        }
    }

    #create(sessionId: string, settings: PacingSettings): SessionPacer {
        const pacer = new SessionPacer(settings);
        this.#pacers.set(sessionId, pacer);
        return pacer;
    }
}
