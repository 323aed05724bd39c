import type { Profile } from './profile.js';

/**
 * Options of {@link ProfilePool.acquire}.
 */
export interface ProfileAcquireOptions {
    /**
     * Index of a profile not to hand out this time, typically the one a session is being moved away from
     * after it got blocked. Ignored when the pool has a single profile (there is nothing else to give) or
     * when the index is not in the pool.
     * @default undefined
     */
    avoid?: number;
}

/**
 * Decides which {@link Profile} each new session gets, spreading sessions evenly across profiles.
 *
 * The pool only does bookkeeping, by profile index: how many live sessions use each profile and when each
 * was last handed out. {@link ProfilePool.acquire} picks the profile with the fewest current assignments,
 * breaking ties by the one assigned least recently (never-assigned profiles first, in list order). With
 * equal counts that rotates round-robin through the list, and once sessions outnumber profiles the profiles
 * are recycled in the same order: 3 profiles and 7 sessions get `0, 1, 2, 0, 1, 2, 0` (usage `[3, 2, 2]`).
 *
 * Sessions restored from storage are counted with {@link ProfilePool.restore}; retired sessions give their
 * profile back with {@link ProfilePool.release}.
 *
 * **Example usage:**
 *
 * ```ts
 * const pool = new ProfilePool(defineProfiles([{ proxy: 'http://10.0.0.1:8000' }, { proxy: 'http://10.0.0.2:8000' }]));
 * const index = pool.acquire();          // 0
 * const profile = pool.get(index!);      // { proxy: 'http://10.0.0.1:8000' }
 * // the session got blocked: move it to another profile
 * pool.release(index!);
 * const next = pool.acquire({ avoid: index }); // 1
 * ```
 *
 * An empty pool is valid: sessions then have no profile and {@link ProfilePool.acquire} returns `undefined`.
 * All methods are synchronous and O(number of profiles).
 */
export class ProfilePool {
    /** Current number of sessions assigned to each profile, by index. */
    private readonly assignmentCounts: number[];

    /**
     * Value of {@link ProfilePool.assignmentSequence} when each profile was last handed out by
     * {@link ProfilePool.acquire}; `-1` for never.
     */
    private readonly lastAssignedAt: number[];

    /** Incremented on every {@link ProfilePool.acquire}; orders assignments in time. */
    private assignmentSequence = 0;

    /** Profiles whose transport keeps failing: not handed out while a working one exists. */
    private readonly failing = new Set<number>();

    /**
     * @param profiles The profiles to hand out, usually from `defineProfiles()` or `loadProfiles()`.
     *   Indexes returned by the pool refer to this list. May be empty.
     */
    constructor(private readonly profiles: readonly Profile[]) {
        this.assignmentCounts = profiles.map(() => 0);
        this.lastAssignedAt = profiles.map(() => -1);
    }

    /** Number of profiles in the pool. */
    get size(): number {
        return this.profiles.length;
    }

    /**
     * Picks the profile for a new (or re-profiled) session and counts the assignment.
     *
     * The choice is the profile with the fewest current assignments; among equals, the one handed out
     * least recently (never-assigned ones first, lowest index first).
     *
     * @param options See {@link ProfileAcquireOptions}.
     * @returns The index of the chosen profile, or `undefined` when the pool is empty.
     */
    acquire(options: ProfileAcquireOptions = {}): number | undefined {
        const avoided = this.size > 1 ? options.avoid : undefined;

        const skipFailing = this.failing.size > 0 && this.failing.size < this.size;
        let chosen: number | undefined;
        for (let index = 0; index < this.size; index++) {
            if (index === avoided || (skipFailing && this.failing.has(index))) continue;
            if (chosen === undefined || this.isBetterChoice(index, chosen)) chosen = index;
        }
        if (chosen === undefined && avoided !== undefined && !this.failing.has(avoided)) chosen = avoided;
        if (chosen === undefined) return undefined;

        this.assignmentCounts[chosen] += 1;
        this.lastAssignedAt[chosen] = this.assignmentSequence++;
        return chosen;
    }

    /**
     * Counts an assignment that already exists, e.g. a session restored from storage that keeps its
     * profile. Unlike {@link ProfilePool.acquire} it does not mark the profile as recently handed out.
     *
     * @param index Index of the session's profile.
     * @returns `true` if counted, `false` if `index` is not a profile of this pool (it is then ignored).
     */
    restore(index: number): boolean {
        if (!this.isValidIndex(index)) return false;
        this.assignmentCounts[index] += 1;
        return true;
    }

    /**
     * Gives back an assignment when a session is retired or moved to another profile.
     * The count never goes below zero.
     *
     * @param index Index of the profile the session had.
     * @returns `true` if a count was decremented, `false` if `index` is not in the pool or had no assignments.
     */
    release(index: number): boolean {
        if (!this.isValidIndex(index) || this.assignmentCounts[index] === 0) return false;
        this.assignmentCounts[index] -= 1;
        return true;
    }

    /**
     * Returns the profile at `index`, or `undefined` when there is none (out of range, not an integer).
     *
     * @param index A profile index, as returned by {@link ProfilePool.acquire}.
     */
    get(index: number): Profile | undefined {
        return this.isValidIndex(index) ? this.profiles[index] : undefined;
    }

    /**
     * Marks a profile as failing (its proxy refuses connections, say) or working again. A failing profile is not
     * handed out by {@link ProfilePool.acquire} while at least one other profile is not failing.
     *
     * @returns whether the mark changed.
     */
    setFailing(index: number, failing: boolean): boolean {
        if (!this.isValidIndex(index) || this.failing.has(index) === failing) return false;
        if (failing) this.failing.add(index);
        else this.failing.delete(index);
        return true;
    }

    /** Whether a profile is marked failing (see {@link ProfilePool.setFailing}). */
    isFailing(index: number): boolean {
        return this.failing.has(index);
    }

    /**
     * Returns how many sessions currently use each profile, by index (a copy).
     */
    usage(): number[] {
        return [...this.assignmentCounts];
    }

    /** Whether profile `candidate` should be preferred to `current`: fewer assignments, then older last use. */
    private isBetterChoice(candidate: number, current: number): boolean {
        const candidateCount = this.assignmentCounts[candidate];
        const currentCount = this.assignmentCounts[current];
        if (candidateCount !== currentCount) return candidateCount < currentCount;
        return this.lastAssignedAt[candidate] < this.lastAssignedAt[current];
    }

    /** Whether `index` is an integer index into {@link ProfilePool.profiles}. */
    private isValidIndex(index: number): boolean {
        return Number.isInteger(index) && index >= 0 && index < this.size;
    }
}
