import type { CookieJar } from 'tough-cookie';

import { addCookiesToJar } from '../shared/cookies.js';
import type { SessionAuth } from '../model/types.js';
import type { ExtractedValue } from './extract.js';
import type { ApplyRules } from './recipe.js';
import { renderRecord, renderTemplate } from './template.js';

/** Plain name → value pairs of extracted values, for templates. */
export function valueMap(values: Readonly<Record<string, ExtractedValue>>): Record<string, string> {
    return Object.fromEntries(Object.entries(values).map(([name, entry]) => [name, entry.value]));
}

/**
 * The {@link SessionAuth} a recipe's `apply` rules make of extracted values: headers and query parameters for the
 * session's later requests to `origins` (the login's own origins plus `apply.origins`), and every extracted value
 * with its source.
 */
export function buildAuth(
    apply: Readonly<ApplyRules>,
    values: Readonly<Record<string, ExtractedValue>>,
    origins: readonly string[],
): SessionAuth {
    const plain = valueMap(values);
    return {
        headers: renderRecord(apply.headers, plain) ?? {},
        query: renderRecord(apply.query, plain) ?? {},
        values: Object.fromEntries(Object.entries(values).map(([name, entry]) => [name, { value: entry.value, source: entry.source }])),
        origins: [...new Set([...origins, ...(apply.origins ?? [])])],
    };
}

/** Sets the cookies of a recipe's `apply.cookies` rules in the jar; returns how many were accepted. */
export function applyCookies(apply: Readonly<ApplyRules>, values: Readonly<Record<string, ExtractedValue>>, jar: CookieJar): number {
    const plain = valueMap(values);
    let added = 0;
    for (const rule of apply.cookies ?? []) {
        const cookie = { name: rule.name, value: renderTemplate(rule.value, plain), ...(rule.path ? { path: rule.path } : {}) };
        added += addCookiesToJar(jar, [cookie], rule.url);
    }
    return added;
}
