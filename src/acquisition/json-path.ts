/** One step of a JSON path: an object key or an array index. */
export type JsonPathSegment = string | number;

/**
 * Parses a simple JSON path: `$`, then any of `.key`, `['key']`, `["key"]` and `[0]`, e.g. `$.data.items[0].token`
 * or `$['x-token']`. The leading `$` may be left out (`data.token`). No wildcards, filters or recursive descent
 * (use a recursive key search for that).
 * @throws SyntaxError naming the position of the first character that does not fit.
 */
export function parseJsonPath(path: string): JsonPathSegment[] {
    const segments: JsonPathSegment[] = [];
    let rest = path.trim();
    if (rest.startsWith('$')) rest = rest.slice(1);
    else if (rest && !rest.startsWith('.') && !rest.startsWith('[')) rest = `.${rest}`;
    const step = /^(?:\.([A-Za-z_$][\w$-]*)|\[(\d+)\]|\['((?:[^'\\]|\\.)*)'\]|\["((?:[^"\\]|\\.)*)"\])/;
    while (rest) {
        const match = step.exec(rest);
        if (!match) {
            throw new SyntaxError(`cannot read the JSON path at position ${path.length - rest.length + 1} ("${rest.slice(0, 12)}")`);
        }
        if (match[1] !== undefined) segments.push(match[1]);
        else if (match[2] !== undefined) segments.push(Number(match[2]));
        else segments.push((match[3] ?? match[4] ?? '').replace(/\\(.)/g, '$1'));
        rest = rest.slice(match[0].length);
    }
    return segments;
}

/** The value at a parsed path, or undefined when some step is missing. */
export function valueAtJsonPath(root: unknown, segments: readonly JsonPathSegment[]): unknown {
    let current = root;
    for (const segment of segments) {
        if (current === null || typeof current !== 'object') return undefined;
        if (typeof segment === 'number') {
            if (!Array.isArray(current)) return undefined;
            current = current[segment];
        } else {
            if (Array.isArray(current) || !Object.hasOwn(current, segment)) return undefined;
            current = (current as Record<string, unknown>)[segment];
        }
    }
    return current;
}

/**
 * Searches a JSON value for a key at any depth, breadth first (the shallowest occurrence wins, then document
 * order), and returns the first value under that key that is a string, number or boolean.
 */
export function findKeyRecursively(root: unknown, key: string): unknown {
    const queue: unknown[] = [root];
    while (queue.length) {
        const current = queue.shift();
        if (current === null || typeof current !== 'object') continue;
        const children = Array.isArray(current) ? current : Object.values(current);
        if (!Array.isArray(current) && Object.hasOwn(current, key)) {
            const found = (current as Record<string, unknown>)[key];
            if (isScalar(found)) return found;
        }
        queue.push(...children);
    }
    return undefined;
}

/** A JSON scalar as extracted text, or undefined for objects, arrays, null and absent values. */
export function scalarText(value: unknown): string | undefined {
    return isScalar(value) ? String(value) : undefined;
}

function isScalar(value: unknown): value is string | number | boolean {
    return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}
