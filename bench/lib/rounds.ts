/**
 * Alternating rounds: the plugin and its baseline run in the same process, one after the other, in ABBA order
 * (ABC CBA for three sides), so that drift (JIT warm-up, other load on the machine, a growing heap) weighs on
 * every side alike.
 */

/** Options of {@link alternate}. */
export interface AlternateOptions<Side extends string, S> {
    /** Measured rounds per side. */
    rounds: number;
    /** Unmeasured rounds per side first (JIT warm-up, connection pools, browser start). Default 0. */
    warmups?: number;
    /** The sides, in the order of the first round; each gets the round number (negative for warm-ups). */
    sides: Record<Side, (round: number) => Promise<S>>;
    /** Called after every measured round, e.g. to print progress. */
    onRound?: (side: Side, round: number, sample: S) => void;
}

/**
 * Runs every side once per round, in ABBA order (the given order in even rounds, reversed in odd ones), after the
 * warm-up rounds, and returns each side's samples in the order they were taken. Runs a full garbage collection
 * before each round when `--expose-gc` is on.
 */
export async function alternate<Side extends string, S>(options: AlternateOptions<Side, S>): Promise<Record<Side, S[]>> {
    const names = Object.keys(options.sides) as Side[];
    for (let warmup = 0; warmup < (options.warmups ?? 0); warmup++) {
        for (const side of names) {
            collectGarbage();
            await options.sides[side](-1 - warmup);
        }
    }
    const samples = Object.fromEntries(names.map((side) => [side, [] as S[]])) as Record<Side, S[]>;
    for (let round = 0; round < options.rounds; round++) {
        const order = round % 2 === 0 ? names : [...names].reverse();
        for (const side of order) {
            collectGarbage();
            const sample = await options.sides[side](round);
            samples[side].push(sample);
            options.onRound?.(side, round, sample);
        }
    }
    return samples;
}

/** Runs a full garbage collection if the process was started with `--expose-gc`. */
export function collectGarbage(): void {
    (globalThis as { gc?: () => void }).gc?.();
}
