import { setTimeout as sleep } from 'node:timers/promises';

import { log as crawleeLog } from '@crawlee/core';

import type { SessionStore } from '../model/types.js';
import { describeCause } from '../shared/describe.js';

/**
 * Which TOTP time steps an account has used, so that no code is sent twice: sites refuse a replayed code (RFC 6238
 * §5.2), and a refused second factor counts against the account.
 *
 * - In this process: every code is reserved under a lock per authenticator (keyed by a hash of its secret, so that
 *   two sessions sharing one account share its record), and a step is never handed out twice.
 * - Across processes: with a store, the last used step is recorded in the store's `totp-steps` entries before the
 *   code is returned, and read before a step is chosen. Logins of one session are serialised across processes by
 *   its renewal lease, so one account per session never replays a code. Two processes logging in *one account*
 *   for two sessions at the same instant may still race (the store has no compare-and-set on entries).
 */

/** The store collection the last used time step of each authenticator is kept in. */
export const TOTP_STEPS_COLLECTION = 'totp-steps';

/** The part of a store the ledger uses. */
export type TotpStepStore = Pick<SessionStore, 'getEntry' | 'putEntry'>;

/** What a `totp-steps` entry holds. */
interface StoredStep {
    version: 1;
    /** The last time step used (the RFC's T). */
    step: number;
    periodSecs: number;
    /** ms since the epoch. */
    usedAt: number;
}

/**
 * A recorded step more than this many periods ahead of our clock is not waited for: another machine's clock is
 * off (or the entry is junk), and the site, which accepts a step or so of drift, would refuse that code anyway.
 */
const MAX_PERIODS_AHEAD = 2;

/** Per authenticator: the first instant (ms) whose step is still unused here, and the lock. */
interface LedgerState {
    nextFreeAt: Map<string, number>;
    locks: Map<string, Promise<unknown>>;
}

/** One ledger per process, even when two copies of this package are loaded (a config module may import its own). */
const LEDGER_SYMBOL = Symbol.for('crawlee-sessions.totp-ledger');
const ledger: LedgerState = ((globalThis as Record<symbol, unknown>)[LEDGER_SYMBOL] ??= {
    nextFreeAt: new Map(),
    locks: new Map(),
}) as LedgerState;

const log = {
    warning: (message: string) => crawleeLog.child({ prefix: 'Login' }).warning(message),
};

/** Options of {@link reserveTotpStep}. */
export interface ReserveOptions {
    /** Where the last used step is shared with other processes. Default: none (this process only). */
    store?: TotpStepStore;
    /** Ends the wait for the next period. */
    signal: AbortSignal;
    /** Whose authenticator it is, for warnings. */
    owner: string;
}

/**
 * Reserves a time step nobody has used for this authenticator: the current one if it is free, else the next one,
 * after waiting for it to begin (at most about one period; the wait ends with `signal`).
 * @throws the signal's abort error when the wait is cut short.
 */
export async function reserveTotpStep(key: string, periodSecs: number, options: ReserveOptions): Promise<number> {
    const previous = ledger.locks.get(key) ?? Promise.resolve();
    const reservation = previous.catch(() => undefined).then(() => reserve(key, periodSecs, options));
    ledger.locks.set(key, reservation);
    try {
        return await reservation;
    } finally {
        if (ledger.locks.get(key) === reservation) ledger.locks.delete(key);
    }
}

async function reserve(key: string, periodSecs: number, options: ReserveOptions): Promise<number> {
    const periodMillis = periodSecs * 1000;
    let freeAt = ledger.nextFreeAt.get(key) ?? 0;
    const stored = options.store ? await readStored(options.store, key, options.owner) : undefined;
    if (stored !== undefined) freeAt = Math.max(freeAt, stored);
    if (freeAt - Date.now() > MAX_PERIODS_AHEAD * periodMillis) {
        log.warning(
            `The last TOTP code of ${options.owner} was used in a time step ahead of this machine's clock by more than ` +
                `${MAX_PERIODS_AHEAD} periods: check the clocks; using the current step.`,
        );
        freeAt = 0;
    }
    for (let wait = freeAt - Date.now(); wait > 0; wait = freeAt - Date.now()) {
        options.signal.throwIfAborted();
        await sleep(wait, undefined, { signal: options.signal });
    }
    const step = Math.floor(Date.now() / periodMillis);
    ledger.nextFreeAt.set(key, (step + 1) * periodMillis);
    if (options.store) await writeStored(options.store, key, { version: 1, step, periodSecs, usedAt: Date.now() }, options.owner);
    return step;
}

/** The first instant whose step is free according to the store; undefined when nothing (usable) is recorded. */
async function readStored(store: TotpStepStore, key: string, owner: string): Promise<number | undefined> {
    let value: unknown;
    try {
        value = (await store.getEntry<StoredStep>(TOTP_STEPS_COLLECTION, key))?.value;
    } catch (error) {
        log.warning(`The last TOTP step of ${owner} could not be read from the store (${describeCause(error)}): only this process's record applies.`);
        return undefined;
    }
    if (value === undefined) return undefined;
    const entry = value as Partial<StoredStep> | null;
    const valid =
        entry !== null &&
        typeof entry === 'object' &&
        Number.isSafeInteger(entry.step) &&
        entry.step! >= 0 &&
        Number.isSafeInteger(entry.periodSecs) &&
        entry.periodSecs! > 0;
    if (!valid) {
        log.warning(`The stored last TOTP step of ${owner} is not readable: ignored.`);
        return undefined;
    }
    return (entry.step! + 1) * entry.periodSecs! * 1000;
}

async function writeStored(store: TotpStepStore, key: string, entry: StoredStep, owner: string): Promise<void> {
    try {
        await store.putEntry(TOTP_STEPS_COLLECTION, key, entry);
    } catch (error) {
        log.warning(
            `The TOTP step used by ${owner} could not be recorded in the store (${describeCause(error)}): other processes may not know it.`,
        );
    }
}
