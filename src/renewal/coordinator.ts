import { setImmediate as nextMacrotask, setTimeout as sleep } from 'node:timers/promises';

import type { Log } from '@crawlee/core';

import type { SessionRecord, SessionStore } from '../model/types.js';
import type { RequestAttempt } from '../session/attempt.js';
import type { BoundSession, PreparedGeneration } from '../session/bound-session.js';
import { takeDelta } from '../session/state.js';
import { toPlaywrightCookies } from '../browser/cookies.js';
import { allCookies } from '../shared/cookies.js';
import { describeCause } from '../shared/describe.js';
import { RetriesExhaustedError, isRetryableUnder, retryWithBackoff, type RetryPolicy } from '../shared/retry.js';
import { RenewalTimeoutError, SessionRenewalError } from './errors.js';
import { completeUnderLease, underLease, waitForLease, type LeaseRequest } from './lease.js';
import { runRenewalAttempt, type Renewal, type RenewalContext } from './renewal.js';

/** How long a clear waits for the old generation's requests to be answered before renewing anyway, in ms. */
export const IN_FLIGHT_WAIT_LIMIT_MILLIS = 5_000;

/** What the coordinator needs from the sessions it renews (the `Sessions` facade provides it). */
export interface RenewalHost {
    /**
     * Moves a session to its next generation: an empty jar, a fresh profile (another one if possible), a new
     * identity; with `keepProfile` (a renewal ahead of expiry), the same profile and identity.
     */
    reset(session: BoundSession, options?: { keepProfile?: boolean }): void;
    /**
     * The context of one renewal attempt: a client through the session's request path, bound to `signal`; with
     * `target`, filling that prepared generation instead of the session's current one (renewal ahead, overlap).
     */
    context(session: BoundSession, attempt: number, signal: AbortSignal, target?: PreparedGeneration): RenewalContext;
    /** Another process renewed the session: take its stored record. */
    adopt(session: BoundSession, record: SessionRecord): void;
    /** Merges what the store returned for a renewal this process committed. */
    reconcile(session: BoundSession, record: SessionRecord): void;
    /** Goes back to a stored record after this process's renewal failed for good (the stored one may still be good). */
    revert(session: BoundSession, record: SessionRecord): void;
    /** A renewal of this process succeeded. */
    renewed(session: BoundSession, outcome: { attempts: number; durationMillis: number; ahead?: boolean }): void;
    /** A renewal of this process failed for good. */
    renewalFailed(session: BoundSession, outcome: { attempts: number; error: string; ahead?: boolean }): void;
}

/** Options of a {@link RenewalCoordinator}. */
export interface RenewalCoordinatorOptions {
    store: SessionStore;
    host: RenewalHost;
    /** This process's id in renewal leases. */
    owner: string;
    /** Lease duration in a shared store, in ms. */
    leaseMillis: number;
    /** When a failed attempt is tried again. */
    policy: RetryPolicy;
    /** The deadline of one renewal attempt, in seconds. */
    timeoutSecs: number;
    log: Log;
}

/**
 * Clears and renews sessions: one renewal at a time per session (single flight), ahead of the request queue, never
 * with a cleared session's cookies still on the wire. A clear:
 *
 * 1. resets the session synchronously (next generation, empty jar, fresh profile and identity) — from then on no
 *    request can be prepared with the old state, and hops of requests prepared before are refused (stale);
 * 2. waits (bounded) until every request sent under the old generation has been answered, so that the login
 *    reaches the site after all of them, even through proxies that reorder;
 * 3. wipes the cookies of every open browser context of the session;
 * 4. renews: in a shared store under the session's renewal lease (one process renews, the others adopt its result),
 *    each attempt bounded by its deadline and retried by the retry policy;
 * 5. on failure for good, goes back to the stored session in a shared store (it may still be good for others) and
 *    rejects every waiter with a {@link SessionRenewalError}.
 */
export class RenewalCoordinator {
    constructor(private readonly options: RenewalCoordinatorOptions) {}

    /**
     * Clears the session and renews it with `renewal` (none: only cleared). A clear called for a response that was
     * sent before the session's last clear (`caller`), or while a renewal is pending, joins that renewal instead.
     * Resolves when the session is usable again.
     */
    async clear(session: BoundSession, renewal: Renewal | undefined, caller?: RequestAttempt): Promise<void> {
        const staleCaller =
            caller?.sessionId === session.id && caller.sentGeneration !== undefined && caller.sentGeneration < session.generation;
        if (staleCaller || session.renewal) return this.whenUsable(session);
        this.start(session, () => this.settle(session, renewal), () => this.options.host.reset(session));
        await this.whenUsable(session);
    }

    /** Resets the session and makes `work` (started right after) its pending renewal. */
    private start(session: BoundSession, work: () => Promise<void>, reset: () => void): Promise<void> {
        reset();
        const pending: Promise<void> = work().finally(() => {
            if (session.renewal === pending) session.renewal = undefined;
            session.touch(); // the write-behind holds a renewing session back: write it now
        });
        pending.catch(() => undefined); // waiters receive the error; an unobserved failure is logged, not thrown
        session.renewal = pending;
        return pending;
    }

    /**
     * Renews a session ahead of its announced expiry, once (single flight with clears and other renewals ahead):
     *
     * - `'overlap'` (make-before-break): the login runs on a fresh jar while the current generation keeps serving;
     *   once it succeeded (and passed the recipe's verification), the session switches to it in one synchronous step
     *   (`BoundSession.switchTo`); requests begun before finish with the old login, which is still valid. With
     *   `checkOld`, the old login is checked after the new one: false means the site ended it (`'oldKilled'`).
     * - `'pause'` (break-before-make): a clear with the same profile and identity; new requests wait, and the login
     *   reaches the site after every request of the old generation was answered.
     *
     * In a shared store, under the session's renewal lease: one process renews, the others adopt. A failure for good
     * keeps the current, still valid session (`'failed'`); the caller retries later. Requests that would reach the site
     * after the old login's end wait for the renewal in either mode (see {@link RenewalCoordinator.whenUsable}).
     */
    async renewAhead(
        session: BoundSession,
        renewal: Renewal,
        mode: 'overlap' | 'pause',
        checkOld?: (session: BoundSession) => Promise<boolean>,
    ): Promise<AheadOutcome> {
        if (session.renewal || session.renewingAhead) {
            await Promise.allSettled([session.renewal, session.renewingAhead]);
            return 'joined';
        }
        let outcome: AheadOutcome = 'failed';
        const work =
            mode === 'pause'
                ? this.pauseAhead(session, renewal).then((renewed) => void (outcome = renewed ? 'renewed' : 'failed'))
                : this.overlapAhead(session, renewal, checkOld).then((result) => void (outcome = result));
        const pending = work.catch((error: unknown) => {
            this.options.log.debug(`Renewal ahead of session "${session.id}" failed: ${describeCause(error)}`);
        });
        session.renewingAhead = pending;
        try {
            await pending;
        } finally {
            if (session.renewingAhead === pending) session.renewingAhead = undefined;
        }
        return outcome;
    }

    /** Pause mode: a clear keeping the profile; when the login fails for good, the kept (still valid) login comes back. */
    private async pauseAhead(session: BoundSession, renewal: Renewal): Promise<boolean> {
        const kept = session.keep();
        let failed = false;
        const pending = this.start(
            session,
            () =>
                this.settle(session, renewal, true).catch((error: unknown) => {
                    failed = true;
                    if (!session.restore(kept, session.generation)) throw error;
                }),
            () => this.options.host.reset(session, { keepProfile: true }),
        );
        await pending.catch(() => undefined);
        return !failed;
    }

    private async overlapAhead(
        session: BoundSession,
        renewal: Renewal,
        checkOld: ((session: BoundSession) => Promise<boolean>) | undefined,
    ): Promise<AheadOutcome> {
        const { store, owner, leaseMillis, log, host } = this.options;
        const from = session.generation;
        let lease: LeaseRequest | undefined;
        if (store.shared) {
            lease = { store, id: session.id, fromGeneration: from, owner, leaseMillis };
            try {
                const granted = await waitForLease(lease);
                if (!granted.granted) {
                    const validSince = session.validSince;
                    host.adopt(session, granted.record);
                    // The other process renewed ahead: the old login is still valid, its requests finish.
                    session.validSince = Math.min(validSince, session.generation);
                    return 'adopted';
                }
            } catch (error) {
                log.warning(
                    `Cannot coordinate the renewal ahead of session "${session.id}" through the session ${store.description} ` +
                        `(${describeCause(error)}); renewing in this process alone.`,
                );
                lease = undefined;
            }
        }
        let outcome: AheadOutcome = 'renewed';
        const work = async () => {
            const { value: next, attempts, durationMillis } = await this.loginAhead(session, renewal);
            if (checkOld && !(await checkOld(session).catch(() => true))) outcome = 'oldKilled';
            if (!session.switchTo(next, from)) throw new SupersededError();
            session.count('renewals');
            reseedCookieHolders(session);
            // Taken with the switch, in the same step: the write-behind must not write the new generation first.
            const taken = lease ? takeDelta(session) : undefined;
            return { attempts, durationMillis, taken };
        };
        let result: { attempts: number; durationMillis: number; taken: ReturnType<typeof takeDelta> | undefined };
        try {
            result = lease ? await underLease(lease, work) : await work();
        } catch (error) {
            if (error instanceof SupersededError) return 'joined';
            throw error;
        }
        const { taken, ...outcomeOfLogin } = result;
        if (lease && taken) {
            try {
                const validSince = session.validSince;
                host.reconcile(session, await completeUnderLease(lease, taken.delta));
                session.validSince = Math.min(validSince, session.generation);
            } catch (error) {
                taken.restore();
                log.warning(`Renewal ahead of session "${session.id}" could not be saved yet: ${describeCause(error)}`);
            }
        }
        log.debug(`Session "${session.id}" renewed ahead of its expiry (generation ${session.generation}).`);
        host.renewed(session, { ...outcomeOfLogin, ahead: true });
        return outcome;
    }

    /** The login of an overlap renewal, on a fresh jar per attempt, under the retry policy. */
    private async loginAhead(session: BoundSession, renewal: Renewal): Promise<{ value: PreparedGeneration; attempts: number; durationMillis: number }> {
        const { policy, log, host } = this.options;
        const started = Date.now();
        try {
            const { value, attempts } = await retryWithBackoff(
                async (attempt) => {
                    const next = session.prepareGeneration();
                    await this.attempt(session, renewal, attempt, next);
                    return next;
                },
                {
                    ...policy,
                    isRetryable: (error) => isRetryableUnder(policy, error),
                    onRetry: (attempt, delay, error) =>
                        log.debug(`Renewal ahead of session "${session.id}" failed (attempt ${attempt}: ${describeCause(error)}); retrying in ${delay} ms.`),
                },
            );
            return { value, attempts, durationMillis: Date.now() - started };
        } catch (error) {
            const { attempts: made, cause } = error instanceof RetriesExhaustedError ? error : { attempts: 1, cause: error };
            log.warning(
                `Renewal ahead of session "${session.id}" failed after ${made} attempt(s): ${describeCause(cause)}. ` +
                    'The session keeps its current login, which has not expired yet; retrying later.',
            );
            host.renewalFailed(session, { attempts: made, error: describeCause(cause), ahead: true });
            throw cause;
        }
    }

    /**
     * The renewal ahead a request of the session must wait for, if any: its login is about to end (set by renewal
     * ahead of expiry, see `AheadScheduler.whenEnding`).
     */
    whenEnding: ((session: BoundSession) => Promise<void> | undefined) | undefined;

    /**
     * Waits until the session has no pending renewal, and its login is not about to end; rejects with the error of a
     * renewal that failed. Undefined when the session is usable now (most requests: nothing to wait a turn for).
     */
    whenUsable(session: BoundSession): Promise<void> | undefined {
        if (session.renewal) return this.#untilUsable(session, false);
        const ending = this.whenEnding?.(session);
        return ending ? this.#untilUsable(session, true, ending) : undefined;
    }

    async #untilUsable(session: BoundSession, held: boolean, ending?: Promise<unknown>): Promise<void> {
        if (ending) await ending;
        for (;;) {
            while (session.renewal) await session.renewal;
            // Held once per request: a renewal ahead that failed leaves the old login, and the failure path, in charge.
            const next = held ? undefined : this.whenEnding?.(session);
            if (!next) return;
            held = true;
            await next;
        }
    }

    private async settle(session: BoundSession, renewal: Renewal | undefined, ahead = false): Promise<void> {
        // Requests validated against the old generation reach Node's HTTP layer within the current macrotask;
        // then wait (bounded) until the server has answered them, so that the renewal reaches it after all of them.
        await nextMacrotask();
        const limit = new AbortController();
        await Promise.race([
            session.inTransit.drained(),
            sleep(IN_FLIGHT_WAIT_LIMIT_MILLIS, undefined, { signal: limit.signal }).catch(() => undefined),
        ]);
        limit.abort(); // a pending timer would keep the process alive for up to the limit
        await Promise.allSettled([...session.cookieHolders].map((holder) => holder.clearCookies()));
        if (this.options.store.shared) await this.settleShared(session, renewal, ahead);
        else if (renewal) await this.renew(session, renewal, ahead);
    }

    /** A clear in a shared store: exactly one process renews a generation (see `renewal/lease.ts`). */
    private async settleShared(session: BoundSession, renewal: Renewal | undefined, ahead = false): Promise<void> {
        const { store, owner, leaseMillis, log, host } = this.options;
        const lease: LeaseRequest = { store, id: session.id, fromGeneration: session.generation - 1, owner, leaseMillis };
        let granted;
        try {
            granted = await waitForLease(lease);
        } catch (error) {
            log.warning(
                `Cannot coordinate the renewal of session "${session.id}" through the session ${store.description} ` +
                    `(${describeCause(error)}); renewing in this process alone.`,
            );
            if (renewal) await this.renew(session, renewal, ahead);
            return;
        }
        if (!granted.granted) {
            host.adopt(session, granted.record);
            return;
        }
        try {
            await underLease(lease, async () => {
                if (renewal) await this.renew(session, renewal, ahead);
            });
        } catch (error) {
            const stored = await store.read(session.id).catch(() => undefined);
            if (stored) host.revert(session, stored); // nothing good stored: the emptied session may be written
            throw error;
        }
        const taken = takeDelta(session);
        try {
            host.reconcile(session, await completeUnderLease(lease, taken.delta));
        } catch (error) {
            taken.restore(); // written by the write-behind once the store is back
            log.warning(`Renewal of session "${session.id}" could not be saved yet: ${describeCause(error)}`);
        }
    }

    /** Runs a renewal under the retry policy; each attempt has its deadline. */
    private async renew(session: BoundSession, renewal: Renewal, ahead = false): Promise<void> {
        const { policy, log, host } = this.options;
        const generation = session.generation;
        const started = Date.now();
        let attempts: number;
        try {
            ({ attempts } = await retryWithBackoff(
                async (attempt) => {
                    try {
                        await this.attempt(session, renewal, attempt);
                    } catch (error) {
                        if (session.generation === generation) {
                            session.emptyJar();
                            session.setAuth(undefined, generation);
                        }
                        throw error;
                    }
                },
                {
                    ...policy,
                    isRetryable: (error) => isRetryableUnder(policy, error),
                    onRetry: (attempt, delay, error) =>
                        log.debug(`Renewal of session "${session.id}" failed (attempt ${attempt}: ${describeCause(error)}); retrying in ${delay} ms.`),
                },
            ));
        } catch (error) {
            const { attempts: made, cause } = error instanceof RetriesExhaustedError ? error : { attempts: 1, cause: error };
            const failure = new SessionRenewalError(session.id, made, cause);
            session.failRenewal(describeCause(cause));
            log.warning(failure.message);
            host.renewalFailed(session, { attempts: made, error: describeCause(cause), ...(ahead && { ahead }) });
            throw failure;
        }
        session.count('renewals');
        log.debug(`Session "${session.id}" renewed (generation ${generation}).`);
        host.renewed(session, { attempts, durationMillis: Date.now() - started, ...(ahead && { ahead }) });
    }

    /** One attempt, abandoned at its deadline even if the renewal ignores its signal. */
    private async attempt(session: BoundSession, renewal: Renewal, attempt: number, target?: PreparedGeneration): Promise<void> {
        const { timeoutSecs, host } = this.options;
        const controller = new AbortController();
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<never>((_resolve, reject) => {
            timer = setTimeout(() => {
                const error = new RenewalTimeoutError(session.id, timeoutSecs);
                controller.abort(error);
                reject(error);
            }, timeoutSecs * 1000);
        });
        const work = runRenewalAttempt(renewal, host.context(session, attempt, controller.signal, target));
        work.catch(() => undefined); // it may reject after the deadline, once its requests are aborted
        try {
            await Promise.race([work, deadline]);
        } finally {
            clearTimeout(timer);
            controller.abort();
        }
    }
}

/**
 * How a renewal ahead ended: `renewed`; `oldKilled` (renewed, and the check of the old login failed: the site ends a
 * login when a new one starts); `adopted` (another process renewed it); `joined` (another renewal or a clear did);
 * `failed` (the current login is kept).
 */
export type AheadOutcome = 'renewed' | 'oldKilled' | 'adopted' | 'joined' | 'failed';

/**
 * Gives the session's open browser contexts the cookies of the generation it just switched to: their pages go on with
 * the new login, cookies and login values alike (the page's route applies the new generation's values). Requests the
 * pages sent before are answered with the old login, which is still valid.
 */
function reseedCookieHolders(session: BoundSession): void {
    if (session.cookieHolders.size === 0) return;
    const cookies = toPlaywrightCookies(allCookies(session.jar));
    // Added over the old ones (same names replaced), not after a clear: a request in between would carry none. The
    // pages' routes wait for it, so that a request never pairs the old cookies with the new login's values.
    const reseeding = Promise.allSettled([...session.cookieHolders].map((holder) => holder.addCookies?.(cookies))).then(() => {
        if (session.reseeding === reseeding) session.reseeding = undefined;
    });
    session.reseeding = reseeding;
}

/** A clear came in while a renewal ahead was logging in: its result is dropped (the lease abandoned). */
class SupersededError extends Error {
    override readonly name = 'SupersededError';
}
