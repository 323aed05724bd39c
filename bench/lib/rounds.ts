/**
 * Alternating rounds: the plugin and its baseline run in the same process, one after the other, in ABBA order,
 * so that drift (JIT warm-up, other load on the machine, a growing heap) weighs on both sides alike.
 */

/** Options of {@link alternate}. */
export interface AlternateOptions<S> {
    /** Measured rounds per side. */
    rounds: number;
    /** Unmeasured rounds per side first (JIT warm-up, connection pools, browser start). Default 0. */
    warmups?: number;
    plugin: (round: number) => Promise<S>;
    baseline: (round: number) => Promise<S>;
    /** Called after every round, e.g. to print progress. */
    onRound?: (side: 'plugin' | 'baseline', round: number, sample: S) => void;
}

/** The samples of each side, in the order they were taken. */
export interface AlternateSamples<S> {
    plugin: S[];
    baseline: S[];
}

/**
 * Runs the plugin and the baseline alternately, in ABBA order (plugin first in even rounds, baseline first in odd
 * ones), after the warm-up rounds. Runs a full garbage collection before each round when `--expose-gc` is on.
 */
export async function alternate<S>(options: AlternateOptions<S>): Promise<AlternateSamples<S>> {
    for (let warmup = 0; warmup < (options.warmups ?? 0); warmup++) {
        collectGarbage();
        await options.plugin(-1);
        collectGarbage();
        await options.baseline(-1);
    }
    const samples: AlternateSamples<S> = { plugin: [], baseline: [] };
    for (let round = 0; round < options.rounds; round++) {
        const order: Array<'plugin' | 'baseline'> = round % 2 === 0 ? ['plugin', 'baseline'] : ['baseline', 'plugin'];
        for (const side of order) {
            collectGarbage();
            const sample = await options[side](round);
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
