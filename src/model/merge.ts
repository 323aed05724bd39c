import type { CookieKey, SessionDelta, SessionRecord, StoredCookie, StoredCounters, WriterTotals } from './types.js';

/** The identity of a stored cookie: domain, path and name. */
export function cookieKeyOf(cookie: Pick<StoredCookie, 'key' | 'domain' | 'path'>): string {
    return `${cookie.domain ?? ''}\t${cookie.path ?? '/'}\t${cookie.key}`;
}

/** The same identity, for a {@link CookieKey}. */
export function cookieKeyString(key: CookieKey): string {
    return `${key.domain}\t${key.path}\t${key.key}`;
}

/** Zero counters. */
export function zeroCounters(): StoredCounters {
    return { requests: 0, successes: 0, failures: 0, renewals: 0 };
}

/** Zero counters, shared and frozen: what a session holds until it counts something (copy before changing). */
export const NO_COUNTERS: StoredCounters = Object.freeze(zeroCounters());

/** Sums two counter sets. */
export function addCounters(a: StoredCounters, b: StoredCounters): StoredCounters {
    return {
        requests: a.requests + b.requests,
        successes: a.successes + b.successes,
        failures: a.failures + b.failures,
        renewals: a.renewals + b.renewals,
    };
}

/** How many writers a record remembers; the least recent is forgotten first (it then counts its deltas as sent). */
export const MAX_REMEMBERED_WRITERS = 32;

const COUNTER_NAMES = ['requests', 'successes', 'failures', 'renewals'] as const;

/**
 * The counters a delta adds to a record: what its writer sent beyond what the record already counted from it, or,
 * from a writer the record does not remember, the delta's increments.
 */
function countedIncrement(writers: WriterTotals | undefined, delta: SessionDelta): StoredCounters {
    const counted = delta.writer && writers ? writers[delta.writer.id] : undefined;
    if (!counted || !delta.writer) return delta.counters;
    const { sent } = delta.writer;
    const increment = zeroCounters();
    for (const name of COUNTER_NAMES) increment[name] = Math.max(0, sent[name] - counted[name]);
    return increment;
}

/** The writers a record remembers after `delta` (bounded by {@link MAX_REMEMBERED_WRITERS}). */
function rememberWriter(writers: WriterTotals | undefined, delta: SessionDelta, now: number): WriterTotals | undefined {
    if (!delta.writer) return writers;
    const next: WriterTotals = Object.create(null) as WriterTotals;
    const kept = Object.entries(writers ?? {})
        .filter(([id]) => id !== delta.writer!.id)
        .sort(([, a], [, b]) => b.at - a.at)
        .slice(0, MAX_REMEMBERED_WRITERS - 1);
    for (const [id, totals] of kept) next[id] = totals;
    next[delta.writer.id] = { ...delta.writer.sent, at: now };
    return next;
}

/** `a` minus `b`. */
export function subtractCounters(a: StoredCounters, b: StoredCounters): StoredCounters {
    return {
        requests: a.requests - b.requests,
        successes: a.successes - b.successes,
        failures: a.failures - b.failures,
        renewals: a.renewals - b.renewals,
    };
}

/**
 * Applies one process's {@link SessionDelta} to the stored record (or creates it): the merge every store
 * performs, inside its own atomicity (a row lock in MySQL, the single writer of the embedded store).
 *
 * - Counters always add up, whatever the generations, and a writer's counters are counted once (see
 *   {@link SessionDelta.writer}).
 * - A delta of the stored generation upserts and removes cookies per (domain, path, name): two processes
 *   changing different cookies of one session both keep their change.
 * - A delta of an older generation changes no cookies: they belong to a session that was cleared since.
 * - A reset to a newer (or the same) generation replaces cookies, profile, identity and auth.
 */
export function applySessionDelta(stored: SessionRecord | undefined, delta: SessionDelta, now: number): SessionRecord {
    if (!stored) {
        return {
            id: delta.id,
            generation: delta.generation,
            profileIndex: delta.assignment.profileIndex,
            identity: delta.assignment.identity,
            cookies: applyCookieChanges([], delta),
            auth: delta.assignment.auth,
            counters: { ...delta.counters },
            lastUsedAt: delta.lastUsedAt,
            lastRenewalError: delta.lastRenewalError ?? null,
            updatedAt: now,
            ...(delta.writer ? { writers: rememberWriter(undefined, delta, now) } : {}),
        };
    }
    const record: SessionRecord = {
        ...stored,
        counters: addCounters(stored.counters, countedIncrement(stored.writers, delta)),
        lastUsedAt: maxOrNull(stored.lastUsedAt, delta.lastUsedAt),
        updatedAt: now,
    };
    const writers = rememberWriter(stored.writers, delta, now);
    if (writers) record.writers = writers;
    if (delta.generation > stored.generation || (delta.reset && delta.generation === stored.generation)) {
        // A reset replaces the session's state (re-applying one is harmless). A non-reset delta from the future
        // means the record was deleted and re-created meanwhile: it is authoritative too.
        record.generation = delta.generation;
        record.profileIndex = delta.assignment.profileIndex;
        record.identity = delta.assignment.identity;
        record.cookies = applyCookieChanges([], delta);
        record.auth = delta.assignment.auth;
        if (delta.lastRenewalError !== undefined) record.lastRenewalError = delta.lastRenewalError;
    } else if (delta.generation === stored.generation) {
        record.cookies = applyCookieChanges(stored.cookies, delta);
        record.identity ??= delta.assignment.identity;
        record.profileIndex ??= delta.assignment.profileIndex;
        record.auth ??= delta.assignment.auth;
        if (delta.lastRenewalError !== undefined) record.lastRenewalError = delta.lastRenewalError;
    }
    return record;
}

function applyCookieChanges(cookies: readonly StoredCookie[], delta: SessionDelta): StoredCookie[] {
    if (delta.upserts.length === 0 && delta.removals.length === 0) return [...cookies];
    const byKey = new Map<string, StoredCookie>();
    for (const cookie of cookies) byKey.set(cookieKeyOf(cookie), cookie);
    for (const removal of delta.removals) byKey.delete(cookieKeyString(removal));
    for (const cookie of delta.upserts) byKey.set(cookieKeyOf(cookie), cookie);
    return [...byKey.values()];
}

function maxOrNull(a: number | null, b: number | null): number | null {
    if (a === null) return b;
    if (b === null) return a;
    return Math.max(a, b);
}
