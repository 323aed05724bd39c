import { randomBytes } from 'node:crypto';

import { Cookie } from 'tough-cookie';

import { NO_COUNTERS, addCounters, cookieKeyOf, subtractCounters } from '../model/merge.js';
import type { CookieKey, SessionDelta, SessionRecord, StoredCookie } from '../model/types.js';
import type { BoundSession } from './bound-session.js';
import { storedCookieOfRecord } from './stored-cookie.js';

/** A delta taken from a session, and how to give it back if writing it failed. */
export interface TakenDelta {
    delta: SessionDelta;
    /** Puts the taken changes back into the session, to be written by a later flush. */
    restore(): void;
}

/** Distinguishes this process's session objects from every other writer of a shared store. */
const PROCESS_WRITER = randomBytes(6).toString('base64url');
let writerSerial = 0;

/**
 * Takes what changed in a session since the last flush (cookies by key, counter increments, a reset) as a
 * {@link SessionDelta}; the session starts collecting the next delta right away.
 */
export function takeDelta(session: BoundSession): TakenDelta {
    const store = session.cookieStore;
    const dirty = store.takeDirty();
    const upserts: StoredCookie[] = [];
    const removals: CookieKey[] = [];
    if (dirty === 'all') {
        upserts.push(...allStoredCookies(session));
    } else {
        // Only the changed cookies are looked up and serialized, not the whole jar.
        for (const key of dirty) {
            const { domain, path, key: name } = parseCookieKey(key);
            const record = store.recordFor(domain, path, name);
            if (record) upserts.push(storedCookieOfRecord(record));
            else removals.push({ domain, path, key: name });
        }
    }
    const counters = session.pending;
    session.pending = NO_COUNTERS;
    // Most flushes carry cookie changes only: no new counter object for them.
    if (counters !== NO_COUNTERS) session.sent = addCounters(session.sent, counters);
    session.writerId ??= `${PROCESS_WRITER}.${++writerSerial}`;
    const reset = session.resetPending;
    session.resetPending = false;
    const renewalErrorChanged = session.renewalErrorPending;
    session.renewalErrorPending = false;
    const delta: SessionDelta = {
        id: session.id,
        generation: session.generation,
        reset,
        assignment: { profileIndex: session.profileIndex ?? null, identity: session.identity ?? null, auth: session.auth ?? null },
        upserts,
        removals,
        counters,
        writer: { id: session.writerId, sent: { ...session.sent } },
        lastUsedAt: session.counters.lastUsedAt ?? null,
        lastRenewalError: renewalErrorChanged ? (session.lastRenewalError ?? null) : undefined,
    };
    return {
        delta,
        restore() {
            // Only if the session was not reset meanwhile: changes of a cleared generation are worthless.
            if (session.generation === delta.generation) store.restoreDirty(dirty);
            if (counters !== NO_COUNTERS) {
                session.pending = addCounters(session.pending, counters);
                session.sent = subtractCounters(session.sent, counters);
            }
            session.resetPending ||= reset;
            session.renewalErrorPending ||= renewalErrorChanged;
        },
    };
}

/** Whether a session has anything the store has not seen. */
export function hasChanges(session: BoundSession): boolean {
    const { pending } = session;
    return (
        session.cookieStore.isDirty ||
        session.resetPending ||
        session.renewalErrorPending ||
        pending.requests !== 0 ||
        pending.successes !== 0 ||
        pending.failures !== 0 ||
        pending.renewals !== 0
    );
}

/**
 * Makes a session's cookies equal to a stored record's, without recording the change as the process's own:
 * cookies changed locally since the last flush keep their local state (they will be written next).
 */
export function mergeStoredCookies(session: BoundSession, record: SessionRecord): void {
    const store = session.cookieStore;
    const remote = new Map(record.cookies.map((cookie) => [cookieKeyOf(cookie), cookie]));
    const local = new Map<string, Cookie>();
    store.getAllCookies((_error: Error | null, cookies?: Cookie[]) => {
        for (const cookie of cookies ?? []) local.set(cookieKeyOf(cookie), cookie);
    });
    store.silently(() => {
        for (const [key, cookie] of local) {
            if (!remote.has(key) && !store.isKeyDirty(key)) store.removeCookie(cookie.domain, cookie.path, cookie.key, () => undefined);
        }
        for (const [key, json] of remote) {
            if (store.isKeyDirty(key)) continue;
            const current = local.get(key);
            // Most of the time the store returns what this process wrote: nothing to do, nothing to parse.
            if (current && current.value === json.value && sameExpiry(current, json)) continue;
            const cookie = Cookie.fromJSON(json);
            if (cookie) store.putCookie(cookie, () => undefined);
        }
    });
}

function sameExpiry(cookie: Cookie, json: StoredCookie): boolean {
    const expires = cookie.expires instanceof Date ? cookie.expires.toISOString() : cookie.expires;
    return (json.expires ?? 'Infinity') === expires && (json.maxAge ?? null) === (cookie.maxAge ?? null);
}


/**
 * Every cookie of the session (expired ones included: expiry is applied when cookies are read), as JSON: what
 * `jar.serializeSync().cookies` holds, made from the store's records.
 */
function allStoredCookies(session: BoundSession): StoredCookie[] {
    return session.cookieStore.sortedRecords().map(storedCookieOfRecord);
}

function parseCookieKey(key: string): CookieKey {
    const [domain = '', path = '/', name = ''] = key.split('\t');
    return { domain, path, key: name };
}
