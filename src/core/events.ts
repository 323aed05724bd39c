import { EventEmitter } from 'node:events';

import type { TokenRotation } from '../tokens/session-tokens.js';

/** A session was renewed (its login ran and the session is usable again). */
export interface RenewedEvent {
    sessionId: string;
    /** The generation the renewal filled. */
    generation: number;
    /** Attempts it took (1 without retries). */
    attempts: number;
    /** How long the renewal took, in ms (from the clear to the session being usable). */
    durationMillis: number;
    /** True for a renewal ahead of the login's announced expiry (the session was still valid). */
    ahead?: boolean;
}

/** A session's renewal failed for good (after every attempt the retry policy allows). */
export interface RenewalFailedEvent {
    sessionId: string;
    attempts: number;
    /** Why, in one line, without secrets. */
    error: string;
    /** True for a renewal ahead of expiry: the session keeps its current, still valid login and it is retried. */
    ahead?: boolean;
}

/** A session's login ended: the site said so, or its announced expiry passed. */
export interface ExpiredEvent {
    sessionId: string;
    generation: number;
    /** When it ended (ms since the epoch). */
    at: number;
}

/** A profile's transport failed too often in a row: its sessions are moved to other profiles. */
export interface ProfileFailedEvent {
    /** The profile's index in the profile list. */
    profileIndex: number;
    /** The profile, credentials hidden (`http://user:***@host:port · UA…`). */
    profile: string;
    /** Consecutive transport failures. */
    failures: number;
    /** The last failure, in one line, without secrets. */
    error: string;
}

/** The session store cannot be written; the crawl goes on from memory. */
export interface StoreOutageEvent {
    /** Where the store is (no password). */
    store: string;
    error: string;
    /** Sessions with changes waiting to be written. */
    pendingSessions: number;
}

/** The session store is back after an outage. */
export interface StoreRecoveredEvent {
    store: string;
    /** How long the outage lasted, in ms. */
    outageMillis: number;
    /** Sessions written by the flush that ended it. */
    written: number;
}

/** A session pauses: the site answered 429/503 (or another cooldown status). */
export interface CooldownEvent {
    sessionId: string;
    /** The status that started it. */
    status: number;
    /** How long the session pauses, in ms. */
    waitMillis: number;
    /** Until when (ms since the epoch). */
    until: number;
}

/**
 * The events of `sessions.on(event, listener)`. Payloads never carry cookie values, tokens, passwords or proxy
 * credentials.
 */
export interface SessionEventMap {
    renewed: RenewedEvent;
    renewalFailed: RenewalFailedEvent;
    expired: ExpiredEvent;
    tokenRotated: TokenRotation;
    profileFailed: ProfileFailedEvent;
    storeOutage: StoreOutageEvent;
    storeRecovered: StoreRecoveredEvent;
    cooldown: CooldownEvent;
}

/** The name of a {@link SessionEventMap} event. */
export type SessionEventName = keyof SessionEventMap;

/**
 * The typed event channel of a `Sessions`. A listener that throws is isolated: the error is reported through
 * `onListenerError` and the crawl goes on.
 */
export class SessionEvents {
    readonly #emitter = new EventEmitter();

    constructor(private readonly onListenerError: (event: string, error: unknown) => void) {
        this.#emitter.setMaxListeners(0);
    }

    on<E extends SessionEventName>(event: E, listener: (payload: SessionEventMap[E]) => void): void {
        this.#emitter.on(event, listener);
    }

    once<E extends SessionEventName>(event: E, listener: (payload: SessionEventMap[E]) => void): void {
        this.#emitter.once(event, listener);
    }

    off<E extends SessionEventName>(event: E, listener: (payload: SessionEventMap[E]) => void): void {
        this.#emitter.off(event, listener);
    }

    /** Emits an event to its listeners (none: nothing is built or done). */
    emit<E extends SessionEventName>(event: E, payload: SessionEventMap[E] | (() => SessionEventMap[E])): void {
        const listeners = this.#emitter.listeners(event) as Array<(payload: SessionEventMap[E]) => void>;
        if (listeners.length === 0) return;
        const value = typeof payload === 'function' ? payload() : payload;
        for (const listener of listeners) {
            try {
                listener(value);
            } catch (error) {
                this.onListenerError(event, error);
            }
        }
    }
}
