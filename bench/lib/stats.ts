/**
 * Small statistics for benchmark samples.
 */

/** The median of the samples (the mean of the two middle ones for an even count); NaN for none. */
export function median(samples: readonly number[]): number {
    return percentile(samples, 50);
}

/**
 * The p-th percentile (0–100) by linear interpolation between closest ranks; NaN for no samples.
 */
export function percentile(samples: readonly number[], p: number): number {
    if (samples.length === 0) return Number.NaN;
    const sorted = [...samples].sort((a, b) => a - b);
    const rank = (Math.min(Math.max(p, 0), 100) / 100) * (sorted.length - 1);
    const low = Math.floor(rank);
    const high = Math.ceil(rank);
    return sorted[low]! + (sorted[high]! - sorted[low]!) * (rank - low);
}

/** `numerator / denominator`, or null when either is missing or the denominator is 0. */
export function ratioOf(numerator: number | null | undefined, denominator: number | null | undefined): number | null {
    if (numerator == null || denominator == null || !Number.isFinite(numerator) || !Number.isFinite(denominator)) return null;
    if (denominator === 0) return null;
    return numerator / denominator;
}

/** Rounds to a number of significant digits, keeping integers ≥ 10^digits whole (for tables and JSON). */
export function round(value: number, digits = 4): number {
    if (!Number.isFinite(value) || value === 0) return value;
    const magnitude = Math.floor(Math.log10(Math.abs(value))) + 1;
    const decimals = Math.max(0, digits - magnitude);
    return Number(value.toFixed(Math.min(decimals, 6)));
}

/** Milliseconds since an arbitrary origin, with sub-millisecond precision. */
export function nowMs(): number {
    return Number(process.hrtime.bigint()) / 1e6;
}

/** Runs `action` and returns its result with the wall time it took in milliseconds. */
export async function timed<T>(action: () => Promise<T>): Promise<{ result: T; ms: number }> {
    const start = nowMs();
    const result = await action();
    return { result, ms: nowMs() - start };
}
