import type { ReplaceStrategy } from './rule.js';

/** Request headers as got and Node keep them (names are case-insensitive; this module writes lower-case). */
export type RequestHeaders = Record<string, string | string[] | undefined>;

/** One header change to apply: the validated fields of a rule or session header, its pattern compiled. */
export interface CompiledChange {
    /** Lower-case header name. */
    name: string;
    value: string;
    strategy: ReplaceStrategy;
    separator: string;
    pattern?: RegExp;
}

/** The current value of a header, whatever the case of its name; arrays are joined with `, `. */
export function readHeader(headers: RequestHeaders, name: string): string | undefined {
    let found: string | undefined;
    for (const [key, value] of Object.entries(headers)) {
        if (value === undefined || key.toLowerCase() !== name) continue;
        const text = Array.isArray(value) ? value.join(', ') : String(value);
        found = found === undefined ? text : `${found}, ${text}`;
    }
    return found;
}

/** Sets a header under its lower-case name, removing any other spelling of it; `undefined` deletes it. */
export function writeHeader(headers: RequestHeaders, name: string, value: string | undefined): void {
    for (const key of Object.keys(headers)) if (key.toLowerCase() === name && key !== name) delete headers[key];
    if (value === undefined) delete headers[name];
    else headers[name] = value;
}

/**
 * The value a header has after a change, or `undefined` when the change leaves it as it is. A header that is
 * absent (`undefined`) or empty (only whitespace) is treated as having no value, except by `REPLACE`, which
 * replaces a present header even when it is empty.
 */
export function changedValue(current: string | undefined, change: CompiledChange): string | undefined {
    const empty = current === undefined || current.trim() === '';
    switch (change.strategy) {
        case 'REPLACE':
            return current === undefined ? undefined : change.value;
        case 'UPSERT':
            return change.value;
        case 'APPEND':
            return empty ? change.value : `${current}${change.separator}${change.value}`;
        case 'PREPEND':
            return empty ? change.value : `${change.value}${change.separator}${current}`;
        case 'CONDITIONAL':
            if (empty) return change.value;
            return change.pattern && testPattern(change.pattern, current) ? change.value : undefined;
    }
}

/** Applies a change to a header set in place; returns whether the header changed. */
export function applyChange(headers: RequestHeaders, change: CompiledChange): boolean {
    const current = readHeader(headers, change.name);
    const next = changedValue(current, change);
    if (next === undefined || next === current) return false;
    writeHeader(headers, change.name, next);
    return true;
}

function testPattern(pattern: RegExp, value: string): boolean {
    pattern.lastIndex = 0; // a `g` or `y` flag would make test() stateful
    return pattern.test(value);
}
