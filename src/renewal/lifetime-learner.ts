import type { Log } from '@crawlee/core';
import { z } from 'zod';

import type { SessionStore } from '../model/types.js';
import { describeCause } from '../shared/describe.js';

/** The store collection where learned login lifetimes are kept (recipe name → observed ages). */
export const LEARNED_LIFETIMES_COLLECTION = 'learned-lifetimes';

/** Observations needed before a lifetime is used. */
export const MIN_LIFETIME_OBSERVATIONS = 3;
/** The most recent observations kept per recipe (the median of these is the lifetime). */
export const KEPT_LIFETIME_OBSERVATIONS = 7;
/** Ages outside these bounds are not lifetimes: a login refused at once, or a session idle for a year. */
const MIN_AGE_MILLIS = 500;
const MAX_AGE_MILLIS = 365 * 24 * 3600 * 1000;

const storedSchema = z.object({
    observations: z.array(z.number().finite().min(MIN_AGE_MILLIS).max(MAX_AGE_MILLIS)).max(100),
});

/**
 * Learns how long a recipe's logins last on a site that announces nothing (`expiry: { learn: true }`): the ages at
 * which its sessions were found logged out are kept, per recipe, in the store (shared by every process), and the
 * median of the last {@link KEPT_LIFETIME_OBSERVATIONS} is the lifetime once there are
 * {@link MIN_LIFETIME_OBSERVATIONS}. An age is an upper bound of the lifetime (the end is found after it happened);
 * the median, not the smallest, so that one login the site ended early (an administrator, a security rule) does not
 * make every later login short.
 */
export class LifetimeLearner {
    readonly #known = new Map<string, Promise<number[]>>();
    /** Writes of one recipe, one after the other. */
    readonly #writes = new Map<string, Promise<void>>();

    constructor(
        private readonly store: Pick<SessionStore, 'getEntry' | 'putEntry'>,
        private readonly log: Log,
    ) {}

    /** The learned lifetime of a recipe's logins in ms, or undefined while fewer than three ends were observed. */
    async lifetimeOf(recipe: string): Promise<number | undefined> {
        return medianLifetime(await this.#observations(recipe));
    }

    /** Records that a login of the recipe was found ended at `ageMillis` after it was made; resolves once stored. */
    observe(recipe: string, ageMillis: number): Promise<void> {
        if (!Number.isFinite(ageMillis) || ageMillis < MIN_AGE_MILLIS || ageMillis > MAX_AGE_MILLIS) return Promise.resolve();
        const write = (this.#writes.get(recipe) ?? Promise.resolve()).then(async () => {
            // Another process may have observed meanwhile: read the stored ones again, then add this one.
            const stored = await this.#read(recipe);
            const observations = [...stored, Math.round(ageMillis)].slice(-KEPT_LIFETIME_OBSERVATIONS);
            this.#known.set(recipe, Promise.resolve(observations));
            await this.store.putEntry(LEARNED_LIFETIMES_COLLECTION, recipe, { observations, updatedAt: Date.now() });
            const lifetime = medianLifetime(observations);
            this.log.debug(
                `Login "${recipe}": found ended after ${Math.round(ageMillis / 1000)} s` +
                    (lifetime === undefined ? ` (${observations.length} of ${MIN_LIFETIME_OBSERVATIONS} observations).` : `; logins now taken to last ${Math.round(lifetime / 1000)} s.`),
            );
        });
        const settled = write.catch((error: unknown) => this.log.warning(`The learned lifetime of "${recipe}" could not be stored: ${describeCause(error)}`));
        this.#writes.set(recipe, settled);
        return settled;
    }

    #observations(recipe: string): Promise<number[]> {
        let known = this.#known.get(recipe);
        if (!known) {
            known = this.#read(recipe);
            this.#known.set(recipe, known);
        }
        return known;
    }

    /** The stored observations of a recipe; a damaged entry counts as none (and is replaced by the next observation). */
    async #read(recipe: string): Promise<number[]> {
        let entry: { value: unknown } | undefined;
        try {
            entry = await this.store.getEntry<unknown>(LEARNED_LIFETIMES_COLLECTION, recipe);
        } catch (error) {
            this.log.debug(`The learned lifetime of "${recipe}" could not be read: ${describeCause(error)}`);
            return [];
        }
        if (!entry) return [];
        const parsed = storedSchema.safeParse(entry.value);
        if (!parsed.success) {
            this.log.warning(`The learned lifetime of "${recipe}" in the store is damaged (${LEARNED_LIFETIMES_COLLECTION}/${recipe}); it is learned again.`);
            return [];
        }
        return parsed.data.observations.slice(-KEPT_LIFETIME_OBSERVATIONS);
    }
}

/** The median of the observations (the lower one of an even count), or undefined below the minimum count. */
export function medianLifetime(observations: readonly number[]): number | undefined {
    if (observations.length < MIN_LIFETIME_OBSERVATIONS) return undefined;
    const sorted = [...observations].sort((a, b) => a - b);
    return sorted[Math.floor((sorted.length - 1) / 2)];
}
