import { log } from '@crawlee/core';

/** The deprecations already reported in this process: each is reported once. */
const reported = new Set<string>();

/**
 * Accepts an option under its old name for one more version: returns a copy of `options` with every old name in
 * `renames` (old → new) moved to its new name, converted by `convert` when the unit changed (e.g. seconds → ms).
 * Each old name used is reported once per process with a warning naming `where`, the old and the new name. Giving
 * both names is refused by the caller's schema as usual (the new one is kept, the old one left in place).
 *
 * ```ts
 * const options = renameDeprecated(input, 'Sessions.open() options', { 'persistence.flushIntervalMs': 'persistence.flushIntervalMillis' });
 * ```
 */
export function renameDeprecated<T>(
    options: T,
    where: string,
    renames: Readonly<Record<string, string | { to: string; convert: (value: unknown) => unknown }>>,
): T {
    if (options === null || typeof options !== 'object') return options;
    let result = options as Record<string, unknown>;
    for (const [from, rename] of Object.entries(renames)) {
        const { to, convert } = typeof rename === 'string' ? { to: rename, convert: (value: unknown) => value } : rename;
        const fromPath = from.split('.');
        const toPath = to.split('.');
        const holder = objectAt(result, fromPath.slice(0, -1));
        const oldKey = fromPath.at(-1)!;
        if (!holder || !Object.hasOwn(holder, oldKey)) continue;
        const target = objectAt(result, toPath.slice(0, -1));
        if (target && Object.hasOwn(target, toPath.at(-1)!)) continue; // both given: let the schema refuse the old one
        result = withMoved(result, fromPath, toPath, convert(holder[oldKey]));
        const key = `${where}\0${from}`;
        if (!reported.has(key)) {
            reported.add(key);
            log.warning(`${where}: "${from}" is deprecated and will be removed in the next version; use "${to}" instead.`);
        }
    }
    return result as T;
}

function objectAt(root: Record<string, unknown>, path: readonly string[]): Record<string, unknown> | undefined {
    let current: unknown = root;
    for (const key of path) {
        if (current === null || typeof current !== 'object') return undefined;
        current = (current as Record<string, unknown>)[key];
    }
    return current !== null && typeof current === 'object' ? (current as Record<string, unknown>) : undefined;
}

/** A copy of `root` (copied along both paths only) with the value at `from` removed and `value` set at `to`. */
function withMoved(root: Record<string, unknown>, from: readonly string[], to: readonly string[], value: unknown): Record<string, unknown> {
    const copy = (object: Record<string, unknown>, path: readonly string[], edit: (leaf: Record<string, unknown>) => void) => {
        const top = { ...object };
        let current = top;
        for (const key of path) {
            const next = { ...(current[key] as Record<string, unknown> | undefined) };
            current[key] = next;
            current = next;
        }
        edit(current);
        return top;
    };
    const removed = copy(root, from.slice(0, -1), (leaf) => delete leaf[from.at(-1)!]);
    return copy(removed, to.slice(0, -1), (leaf) => (leaf[to.at(-1)!] = value));
}
