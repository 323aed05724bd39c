/**
 * Masks every occurrence of a set of literal strings (secrets) in a text in one pass, with an Aho–Corasick automaton
 * over UTF-16 code units: time linear in the length of the text plus the total length of the literals, whatever
 * they are (the `split`/`join` per secret it replaces took O(text × secrets), 2 s for 100 secrets over 4 MB).
 *
 * Occurrences are masked as the union of their ranges: overlapping or adjacent occurrences of different secrets
 * become one mask, so that no part of any secret is left visible (masking one by one, longest first, left the tail
 * of a second secret overlapping the first in clear). Matching is exact and by code unit — not by grapheme or
 * after Unicode normalization — so a secret is found wherever its characters appear, also next to a combining mark.
 */
export class LiteralMask {
    /** Transitions of each state: code unit → state. */
    private readonly next: Array<Map<number, number>> = [new Map()];
    private readonly fail: number[] = [0];
    /** The length of the longest literal that ends at each state (0: none). */
    private readonly longest: number[] = [0];

    /** @param literals The strings to mask; empty strings are ignored. */
    constructor(literals: Iterable<string>) {
        for (const literal of literals) if (literal.length > 0) this.insert(literal);
        this.link();
    }

    /** The text with every occurrence of the literals replaced by `mask` (one per run of overlapping occurrences). */
    mask(text: string, mask: string): string {
        if (this.next.length === 1) return text;
        // Ranges to mask, as [start, end) pairs; merged as they come (they arrive by increasing end).
        const starts: number[] = [];
        const ends: number[] = [];
        let state = 0;
        for (let index = 0; index < text.length; index++) {
            state = this.step(state, text.charCodeAt(index));
            const length = this.longest[state]!;
            if (length === 0) continue;
            let start = index + 1 - length;
            while (ends.length > 0 && ends[ends.length - 1]! >= start) {
                start = Math.min(start, starts.pop()!);
                ends.pop();
            }
            starts.push(start);
            ends.push(index + 1);
        }
        if (starts.length === 0) return text;
        let result = '';
        let copied = 0;
        for (let range = 0; range < starts.length; range++) {
            result += text.slice(copied, starts[range]) + mask;
            copied = ends[range]!;
        }
        return result + text.slice(copied);
    }

    private insert(literal: string): void {
        let state = 0;
        for (let index = 0; index < literal.length; index++) {
            const code = literal.charCodeAt(index);
            let target = this.next[state]!.get(code);
            if (target === undefined) {
                target = this.next.length;
                this.next.push(new Map());
                this.fail.push(0);
                this.longest.push(0);
                this.next[state]!.set(code, target);
            }
            state = target;
        }
        this.longest[state] = literal.length;
    }

    /** Failure links, breadth first; a state's longest literal includes those ending at its failure state. */
    private link(): void {
        const queue: number[] = [...this.next[0]!.values()];
        for (let head = 0; head < queue.length; head++) {
            const state = queue[head]!;
            for (const [code, target] of this.next[state]!) {
                let fallback = this.fail[state]!;
                while (fallback !== 0 && !this.next[fallback]!.has(code)) fallback = this.fail[fallback]!;
                const linked = this.next[fallback]!.get(code);
                this.fail[target] = linked !== undefined && linked !== target ? linked : 0;
                this.longest[target] = Math.max(this.longest[target]!, this.longest[this.fail[target]!]!);
                queue.push(target);
            }
        }
    }

    private step(state: number, code: number): number {
        let current = state;
        for (;;) {
            const target = this.next[current]!.get(code);
            if (target !== undefined) return target;
            if (current === 0) return 0;
            current = this.fail[current]!;
        }
    }
}
