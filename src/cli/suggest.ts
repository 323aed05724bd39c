/**
 * The edit distance between two short words: Levenshtein (insertions, deletions, substitutions) plus the swap of two
 * neighbouring letters (`lsit` → `list` is one edit, the commonest typo). Stops early once it exceeds `limit` (then
 * `limit + 1` is returned).
 */
export function editDistance(a: string, b: string, limit = Number.POSITIVE_INFINITY): number {
    if (Math.abs(a.length - b.length) > limit) return limit + 1;
    let before: number[] = [];
    let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
    for (let i = 1; i <= a.length; i++) {
        const current = [i];
        let best = i;
        for (let j = 1; j <= b.length; j++) {
            const cost = a[i - 1] === b[j - 1] ? 0 : 1;
            let value = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
            if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) value = Math.min(value, before[j - 2]! + 1);
            current.push(value);
            best = Math.min(best, value);
        }
        if (best > limit) return limit + 1;
        before = previous;
        previous = current;
    }
    return previous[b.length]!;
}

/**
 * The candidate closest to a mistyped word, if it is close enough to be what was meant: at most a third of the
 * word's length in edits (at least 1, at most 3), or the word is a prefix of exactly one candidate.
 */
export function closestMatch(word: string, candidates: readonly string[]): string | undefined {
    const typed = word.toLowerCase().slice(0, 100);
    if (typed === '') return undefined;
    const limit = Math.min(3, Math.max(1, Math.floor(typed.length / 3)));
    let best: { candidate: string; distance: number } | undefined;
    for (const candidate of candidates) {
        const distance = editDistance(typed, candidate, limit);
        if (distance <= limit && (!best || distance < best.distance)) best = { candidate, distance };
    }
    if (best) return best.candidate;
    const prefixed = candidates.filter((candidate) => candidate.startsWith(typed));
    return prefixed.length === 1 ? prefixed[0] : undefined;
}
