import type { SessionIdentity } from './identity.js';
import { CrawleeSessionsError, ERROR_CODES } from '../shared/errors.js';

/**
 * A cookie as stores keep it: tough-cookie's `Cookie.toJSON()` shape (`key`, `value`, `domain`, `path`,
 * `expires`, `hostOnly`, …). Round-trips through `Cookie.fromJSON()`.
 */
export type StoredCookie = Record<string, unknown> & { key: string; value: string; domain?: string | null; path?: string | null };

/** Identifies one cookie within a session: RFC 6265 treats (domain, path, name) as the cookie's identity. */
export interface CookieKey {
    domain: string;
    path: string;
    key: string;
}

/**
 * What a login recipe extracted and applies to every later request of the session besides cookies, e.g.
 * `Authorization: Bearer …` or an `api_key` query parameter.
 */
export interface SessionAuth {
    /** Header name → value, added to the session's requests to the origins in {@link SessionAuth.origins}. */
    headers: Record<string, string>;
    /** Query parameter name → value, added to the session's request URLs on the origins in {@link SessionAuth.origins}. */
    query: Record<string, string>;
    /**
     * Where `headers` and `query` may go (deny by default): origins (`https://shop.example`), hosts
     * (`shop.example`), host globs (`*.shop.example`) or `'*'` for every host. A login sets the origins of its own
     * requests (steps and check) plus its recipe's `apply.origins`. Absent (records stored by older versions):
     * nowhere, until the session is renewed.
     */
    origins?: string[];
    /** Extracted values by name, with where each came from (e.g. `body:$.token`). */
    values: Record<string, { value: string; source: string }>;
    /**
     * When the login ends as the site announced it outside cookies and JWTs (an OAuth2 `expires_in`, a recipe's
     * `expiry.afterSecs`), in ms since the epoch. Absent: nothing announced besides cookies and JWTs.
     */
    expiresAt?: number;
    /** When the login was obtained (ms since the epoch), the start of the lifetime `expiresAt` ends. */
    issuedAt?: number;
    /** Where `expiresAt` comes from (`expires_in`, `afterSecs`), without values. */
    expirySource?: string;
}

/** Per-session counters as stores keep them (totals across every process). */
export interface StoredCounters {
    requests: number;
    successes: number;
    failures: number;
    renewals: number;
}

/** The durable state of one session, as every store returns it (decrypted). */
export interface SessionRecord {
    id: string;
    /** Bumped by every clear; stores never let a record's generation go backwards. */
    generation: number;
    /** Index of the assigned profile in the profile list every process shares; null without profiles. */
    profileIndex: number | null;
    /** The identity the current generation presents; null until one was generated. */
    identity: SessionIdentity | null;
    /** The current generation's cookies (secret: sealed at rest when a secret is set). */
    cookies: StoredCookie[];
    /** Values a login put on the session's requests besides cookies (secret: sealed at rest like cookies). */
    auth: SessionAuth | null;
    counters: StoredCounters;
    /** ms since the epoch; null if never used. */
    lastUsedAt: number | null;
    /** Why the last renewal failed for good (no secrets), or null. */
    lastRenewalError: string | null;
    /** ms since the epoch, set by the store on every write. */
    updatedAt: number;
    /**
     * What the store has counted from each recent writer (see {@link SessionDelta.writer}); kept by stores where a
     * commit can succeed without its answer arriving (MySQL), absent elsewhere.
     */
    writers?: WriterTotals;
}

/** Per writer, the counters a store has already added from it, and when it last wrote (ms since the epoch). */
export type WriterTotals = Record<string, StoredCounters & { at: number }>;

/**
 * What one process changed in one session since its last flush. Stores merge deltas so that concurrent writers
 * never silently drop each other's changes ({@link applySessionDelta} is the reference semantics):
 *
 * - counters are increments, added to the stored totals;
 * - cookie upserts and removals are per (domain, path, name), applied only when the stored generation equals
 *   `generation` (changes made under a generation that was cleared meanwhile belong to a dead session);
 * - `reset` means the process cleared the session to `generation`: a stored record of an older generation is
 *   replaced (cookies become exactly `upserts`, profile and identity become `assignment`).
 */
export interface SessionDelta {
    id: string;
    /** The generation the cookie changes were made under. */
    generation: number;
    /** True when this process cleared the session into `generation` (its cookies are then the full set). */
    reset: boolean;
    /** The profile and identity this process uses for the session; applied to new records and on reset. */
    assignment: { profileIndex: number | null; identity: SessionIdentity | null; auth: SessionAuth | null };
    upserts: StoredCookie[];
    removals: CookieKey[];
    /** Increments since the last flush. */
    counters: StoredCounters;
    /**
     * Who wrote the delta and the totals it has sent for this session so far, this delta included. A store that
     * remembers what it counted from each writer adds only the difference: a write retried after a commit whose
     * answer was lost (the server went away during COMMIT) is not counted twice.
     */
    writer?: { id: string; sent: StoredCounters };
    lastUsedAt: number | null;
    /** undefined: unchanged; null: cleared; a string: set. */
    lastRenewalError?: string | null;
}

/** The answer of {@link SessionStore.beginRenewal}. */
export type RenewalLease =
    /** This process holds the lease and must renew the session, then call `completeRenewal` or `abandonRenewal`. */
    | { granted: true }
    /** Another process holds an unexpired lease; `record` is the current stored state. */
    | { granted: false; reason: 'busy'; record: SessionRecord | undefined; leaseExpiresAt: number }
    /** The stored generation is already past the one being cleared: adopt `record`, nothing to renew. */
    | { granted: false; reason: 'advanced'; record: SessionRecord };

/** One entry of a named collection (header rules, quick-login states, maintainer status, …). */
export interface StoreEntry<T = unknown> {
    key: string;
    value: T;
    /** ms since the epoch, set by the store. */
    updatedAt: number;
}

/**
 * Where sessions outlive a process. Two implementations ship: the embedded store (Crawlee's storage directory,
 * one process) and MySQL (shared by every crawler process of a deployment). Every method may reject with a
 * {@link StoreUnavailableError} when the backend cannot be reached; callers keep their state and retry.
 */
export interface SessionStore {
    /** `embedded`, `mysql` or `memory`. */
    readonly kind: string;
    /** Where the data lives, for messages: never contains a password. */
    readonly description: string;
    /**
     * True when other processes may write the same sessions (MySQL): the caller then reconciles what writes
     * return, pulls changes and takes a renewal lease before renewing.
     */
    readonly shared: boolean;

    /** Every stored session. */
    loadAll(): Promise<SessionRecord[]>;
    /**
     * Optional: the `limit` most recently used sessions and the ids of the others, so that a process with
     * `maxLiveSessions` starts without reading every session. Without it, `loadAll()` is used.
     */
    loadRecent?(limit: number): Promise<{ records: SessionRecord[]; otherIds: string[] }>;
    /** One stored session, or undefined. */
    read(id: string): Promise<SessionRecord | undefined>;
    /** Applies deltas (one batch, atomically per session) and returns the resulting records in the same order. */
    write(deltas: readonly SessionDelta[]): Promise<SessionRecord[]>;
    /** Deletes sessions; unknown ids are ignored. */
    remove(ids: readonly string[]): Promise<void>;
    /**
     * Records changed since `cursor` (an opaque value from a previous call; undefined: start now and return
     * nothing). Non-shared stores return no records.
     */
    changes(cursor: string | undefined): Promise<{ records: SessionRecord[]; cursor: string }>;
    /**
     * Optional, for shared stores: a cheap read (one indexed row) of a value that changes whenever a write commits,
     * such as the store's revision. When it is there, other processes' changes are polled with it and `changes()` is
     * called only when it moved; without it, `changes()` is called on every poll.
     */
    changeSignal?(): Promise<string>;

    /** Asks for the right to renew session `id` out of `fromGeneration` (see {@link RenewalLease}). */
    beginRenewal(id: string, fromGeneration: number, owner: string, leaseMs: number): Promise<RenewalLease>;
    /** Extends a held lease; false when it was lost (expired and taken by another process). */
    extendRenewal(id: string, owner: string, leaseMs: number): Promise<boolean>;
    /**
     * Commits a renewal: applies `delta` (a reset) and releases the lease, atomically. Returns the stored record;
     * if the lease was lost meanwhile, the delta is not applied and the current record is returned.
     */
    completeRenewal(owner: string, delta: SessionDelta): Promise<SessionRecord>;
    /** Releases a lease without changing the session (the renewal failed). */
    abandonRenewal(id: string, owner: string): Promise<void>;

    /** Every entry of a collection. */
    listEntries<T = unknown>(collection: string): Promise<StoreEntry<T>[]>;
    /** One entry, or undefined. */
    getEntry<T = unknown>(collection: string, key: string): Promise<StoreEntry<T> | undefined>;
    /** Creates or replaces an entry. With `secret`, the value is encrypted at rest when a secret is configured. */
    putEntry(collection: string, key: string, value: unknown, options?: { secret?: boolean }): Promise<void>;
    /** Deletes an entry; returns whether it existed. */
    deleteEntry(collection: string, key: string): Promise<boolean>;

    /** Releases connections and file handles. Pending writes must have been flushed by the caller. */
    close(): Promise<void>;
}

/**
 * Thrown by a store when its backend cannot be reached or failed (connection refused, lost connection, disk
 * full). The message names the backend (never its password) and the cause.
 */
export class StoreUnavailableError extends CrawleeSessionsError {
    override readonly name = 'StoreUnavailableError';
    constructor(message: string, cause?: unknown) {
        super(ERROR_CODES.storeUnavailable, message, { cause });
    }
}

/** Thrown when a store's data cannot be decrypted with the configured secret, or is encrypted and none is set. */
export class StoreSecretError extends CrawleeSessionsError {
    override readonly name = 'StoreSecretError';

    constructor(message: string, options?: { cause?: unknown }) {
        super(ERROR_CODES.storeSecret, message, options);
    }
}

/** A delta a store refused for good: it can never be written as it is (too large for the backend, invalid data). */
export interface RejectedDelta {
    /** The session. */
    id: string;
    /** Why, in one line, without secret values. */
    reason: string;
}

/**
 * Thrown by {@link SessionStore.write} when some deltas of a batch can never be written. The other deltas of the
 * batch were written: `records` holds their results in the order of the deltas, `undefined` at the rejected
 * positions. Callers set the rejected sessions aside (retrying them cannot help) and go on with the rest; an
 * outage is a {@link StoreUnavailableError} instead, and nothing of its batch was written.
 */
export class StoreWriteRejectedError extends CrawleeSessionsError {
    override readonly name = 'StoreWriteRejectedError';

    constructor(
        /** The deltas refused, with why. */
        readonly rejected: readonly RejectedDelta[],
        /** The written records, in the order of the deltas; undefined where a delta was rejected. */
        readonly records: ReadonlyArray<SessionRecord | undefined>,
    ) {
        super(
            ERROR_CODES.storeWriteRejected,
            `The store refused ${rejected.length} session(s) for good: ${rejected
                .slice(0, 3)
                .map((entry) => `"${entry.id}" (${entry.reason})`)
                .join(', ')}${rejected.length > 3 ? ', …' : ''}`,
        );
    }
}
