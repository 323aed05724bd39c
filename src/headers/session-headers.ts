import { createHash, randomUUID } from 'node:crypto';

import { log as crawleeLog } from '@crawlee/core';

import { renameDeprecated } from '../shared/deprecation.js';
import type { SessionStore } from '../model/types.js';
import { compileCondition, type HeaderTarget, type TargetPredicate } from './conditions.js';
import { PeriodicTask } from './periodic.js';
import { describeSessionHeader } from './redact.js';
import {
    parseSessionHeaderInput,
    parseStoredSessionHeader,
    type SessionHeader,
    type SessionHeaderInput,
    type SessionHeaderPatch,
} from './rule.js';
import type { CompiledChange } from './strategies.js';

/** Options of {@link SessionHeaders}. */
export interface SessionHeadersOptions {
    /**
     * How often expired headers are deleted from memory and from the store, in ms. 0 disables the timer (call
     * {@link SessionHeaders.cleanup} yourself). Expired headers are never applied either way.
     * @default 60000
     */
    cleanupIntervalMillis?: number;
    /**
     * How often the headers are reloaded from the store, in ms, to pick up headers set by other processes sharing
     * it. 0 disables the reload.
     * @default 30000
     */
    refreshIntervalMillis?: number;
    /**
     * Checked by the timers: once it returns true they stop (used by `Sessions` to stop them on close).
     * @default () => false
     */
    isClosed?: () => boolean;
}

/** Options of {@link SessionHeaders.get}. */
export interface GetSessionHeadersOptions {
    /** Also return inactive and expired headers. @default false (active and unexpired only) */
    all?: boolean;
}

/** The store collection holding session headers, one entry per session and header name. */
export const SESSION_HEADERS_COLLECTION = 'session-headers';

/** A session header ready to apply. */
export interface CompiledSessionHeader extends CompiledChange {
    header: SessionHeader;
    applies: TargetPredicate;
}

/**
 * Headers attached to one session for a limited time (TTL 60–86400 s), kept in memory and in the store's
 * `session-headers` collection. One header per session and name: setting a name again updates it (same id,
 * `updatedAt` bumped, expiry re-armed from now). Expired headers are never applied and are deleted by a periodic
 * cleanup (memory and store). `sessions.setHeader()` & co. delegate here.
 */
export class SessionHeaders {
    /** sessionId → lower-case header name → header. */
    private readonly bySession = new Map<string, Map<string, CompiledSessionHeader>>();
    private loaded: Promise<void> | undefined;
    private version = 0;
    private readonly reload: PeriodicTask;
    private readonly sweeper: PeriodicTask;
    private readonly log = crawleeLog.child({ prefix: 'SessionHeaders' });

    /**
     * @param store Where the headers live (collection `session-headers`); only its entries API is used.
     * @param options See {@link SessionHeadersOptions}.
     */
    constructor(
        readonly store: SessionStore,
        options: SessionHeadersOptions = {},
    ) {
        const warn = (what: string) => (error: unknown) =>
            this.log.warning(`${what} session headers in ${store.description} failed: ${error instanceof Error ? error.message : String(error)}`);
        this.reload = new PeriodicTask(() => this.refresh(), options.refreshIntervalMillis ?? 30_000, warn('Reloading'), options.isClosed);
        this.sweeper = new PeriodicTask(() => this.cleanup(), options.cleanupIntervalMillis ?? 60_000, warn('Cleaning up'), options.isClosed);
    }

    /** Loads the headers from the store once and starts the timers. A failed load rejects and is retried by the next call. */
    ready(): Promise<void> {
        this.loaded ??= this.refresh().then(
            () => {
                this.reload.start();
                this.sweeper.start();
            },
            (error: unknown) => {
                this.loaded = undefined;
                throw error;
            },
        );
        return this.loaded;
    }

    /** Reloads every unexpired header from the store. Entries that fail validation are skipped with a warning. */
    async refresh(): Promise<void> {
        for (let attempt = 0; attempt < 5; attempt++) {
            const version = this.version;
            const entries = await this.store.listEntries<unknown>(SESSION_HEADERS_COLLECTION);
            if (version !== this.version) continue; // a local write is newer than what was read
            const now = Date.now();
            this.bySession.clear();
            for (const entry of entries) {
                const header = this.parseEntry(entry.key, entry.value);
                if (header && header.expiresAt > now) this.remember(header);
            }
            return;
        }
    }

    /**
     * Sets a header on a session (creates it, or updates the session's header of that name: same id, new
     * `updatedAt`, expiry re-armed). It applies to the session's next request at once; the promise settles when
     * the store has it. Throws ConfigValidationError (naming the field, never the value) on invalid input.
     */
    async set(sessionId: string, input: SessionHeaderInput): Promise<SessionHeader> {
        const [header] = await this.setMany(sessionId, [input]);
        return header!;
    }

    /** Sets several headers at once: all are validated before any is set. */
    async setMany(sessionId: string, inputs: readonly SessionHeaderInput[]): Promise<SessionHeader[]> {
        await this.ready();
        const parsed = inputs.map((input, index) =>
            parseSessionHeaderInput(input, inputs.length === 1 ? 'sessionHeader' : `sessionHeaders[${index}]`),
        );
        const now = Date.now();
        const headers = parsed.map((fields): SessionHeader => {
            const existing = this.find(sessionId, fields.name);
            return {
                ...fields,
                id: existing?.id ?? randomUUID(),
                sessionId,
                expiresAt: now + fields.ttlSecs * 1000,
                createdAt: existing?.createdAt ?? now,
                updatedAt: existing ? Math.max(now, existing.updatedAt + 1) : now,
            };
        });
        await this.writeAll(headers);
        return headers;
    }

    /**
     * Changes some fields of a session's header (same id, `updatedAt` bumped). A `ttlSecs` re-arms the expiry from now;
     * without one the expiry is kept. Throws when the session has no header of that name.
     */
    async update(sessionId: string, name: string, patch: SessionHeaderPatch): Promise<SessionHeader> {
        await this.ready();
        const existing = this.find(sessionId, name);
        if (!existing) throw new Error(`Session "${sessionId}" has no header named "${name}".`);
        const { id, sessionId: _sessionId, expiresAt, createdAt, updatedAt, ...fields } = existing;
        const changes = renameDeprecated(patch, 'Session header', { ttl: 'ttlSecs' });
        const parsed = parseSessionHeaderInput({ ...fields, ...changes, name: existing.name }, 'sessionHeader');
        const now = Date.now();
        const header: SessionHeader = {
            ...parsed,
            id,
            sessionId,
            expiresAt: changes.ttlSecs === undefined ? expiresAt : now + parsed.ttlSecs * 1000,
            createdAt,
            updatedAt: Math.max(now, updatedAt + 1),
        };
        await this.writeAll([header]);
        return header;
    }

    /** A session's headers (values included): active and unexpired ones, or with `all` every one this process holds. */
    async get(sessionId: string, options: GetSessionHeadersOptions = {}): Promise<SessionHeader[]> {
        await this.ready();
        const now = Date.now();
        return [...(this.bySession.get(sessionId)?.values() ?? [])]
            .map((compiled) => compiled.header)
            .filter((header) => options.all || (header.active && header.expiresAt > now))
            .sort((a, b) => a.priority - b.priority || a.createdAt - b.createdAt);
    }

    /** Every session's headers this process holds, sensitive values hidden: for listings and logs. */
    describeAll(): SessionHeader[] {
        return [...this.bySession.values()].flatMap((headers) => [...headers.values()].map((compiled) => describeSessionHeader(compiled.header)));
    }

    /** Removes one header of a session; returns whether it existed. */
    async remove(sessionId: string, name: string): Promise<boolean> {
        await this.ready();
        const lower = name.toLowerCase();
        const existed = this.bySession.get(sessionId)?.has(lower) ?? false;
        this.forget(sessionId, lower);
        this.version++;
        const stored = await this.store.deleteEntry(SESSION_HEADERS_COLLECTION, entryKey(sessionId, lower));
        return existed || stored;
    }

    /** Removes every header of a session; returns how many were removed. */
    async clear(sessionId: string): Promise<number> {
        await this.ready();
        const names = [...(this.bySession.get(sessionId)?.keys() ?? [])];
        this.bySession.delete(sessionId);
        this.version++;
        const stored = await this.store.listEntries<{ sessionId?: unknown; name?: unknown }>(SESSION_HEADERS_COLLECTION);
        const keys = new Set(names.map((name) => entryKey(sessionId, name)));
        for (const entry of stored) if (entry.value?.sessionId === sessionId) keys.add(entry.key);
        await Promise.all([...keys].map((key) => this.store.deleteEntry(SESSION_HEADERS_COLLECTION, key)));
        return keys.size;
    }

    /** Deletes expired headers from memory and from the store (every session's); returns how many were deleted. */
    async cleanup(): Promise<number> {
        const now = Date.now();
        const expired = new Set<string>();
        for (const [sessionId, headers] of this.bySession) {
            for (const [name, compiled] of headers) {
                if (compiled.header.expiresAt > now) continue;
                headers.delete(name);
                expired.add(entryKey(sessionId, name));
            }
            if (headers.size === 0) this.bySession.delete(sessionId);
        }
        for (const entry of await this.store.listEntries<{ expiresAt?: unknown }>(SESSION_HEADERS_COLLECTION)) {
            const expiresAt = entry.value?.expiresAt;
            if (typeof expiresAt !== 'number' || expiresAt <= now) expired.add(entry.key);
        }
        await Promise.all([...expired].map((key) => this.store.deleteEntry(SESSION_HEADERS_COLLECTION, key)));
        if (expired.size) this.log.debug(`Deleted ${expired.size} expired session header(s).`);
        return expired.size;
    }

    /**
     * The session's active, unexpired headers that apply to a request, in application order (lower priority
     * first, then older first). Synchronous: called at transmission.
     * @internal
     */
    applicable(target: HeaderTarget): CompiledSessionHeader[] {
        const headers = this.bySession.get(target.sessionId);
        if (!headers) return [];
        const now = Date.now();
        return [...headers.values()]
            .filter((compiled) => compiled.header.active && compiled.header.expiresAt > now && compiled.applies(target))
            .sort((a, b) => a.header.priority - b.header.priority || a.header.createdAt - b.header.createdAt);
    }

    /** Whether this process holds any header (even expired or inactive) for the session. */
    has(sessionId: string): boolean {
        return (this.bySession.get(sessionId)?.size ?? 0) > 0;
    }

    /** Stops the timers. */
    close(): void {
        this.reload.stop();
        this.sweeper.stop();
    }

    private find(sessionId: string, name: string): SessionHeader | undefined {
        return this.bySession.get(sessionId)?.get(name.toLowerCase())?.header;
    }

    private async writeAll(headers: readonly SessionHeader[]): Promise<void> {
        this.version++;
        for (const header of headers) this.remember(header);
        await Promise.all(
            headers.map((header) =>
                // Sealed whatever the name (a name heuristic misses `X-Tenant-Key`) when the store has a secret.
                this.store.putEntry(SESSION_HEADERS_COLLECTION, entryKey(header.sessionId, header.name), header, { secret: true }),
            ),
        );
    }

    private remember(header: SessionHeader): void {
        let headers = this.bySession.get(header.sessionId);
        if (!headers) this.bySession.set(header.sessionId, (headers = new Map()));
        headers.set(header.name.toLowerCase(), {
            header,
            applies: compileCondition(header.scope),
            name: header.name.toLowerCase(),
            value: header.value,
            strategy: header.strategy,
            separator: header.separator,
            pattern: header.pattern === undefined ? undefined : new RegExp(header.pattern),
        });
    }

    private forget(sessionId: string, lowerName: string): void {
        const headers = this.bySession.get(sessionId);
        headers?.delete(lowerName);
        if (headers?.size === 0) this.bySession.delete(sessionId);
    }

    private parseEntry(key: string, value: unknown): SessionHeader | undefined {
        try {
            return parseStoredSessionHeader(value, `session header ${key}`);
        } catch (error) {
            this.log.warning(`Skipping session header ${key} in ${this.store.description}: ${error instanceof Error ? error.message : String(error)}`);
            return undefined;
        }
    }
}

/**
 * The store key of a session's header: a hash of the session id and the lower-case name, so that one session
 * has one entry per header name in every process, and keys stay short (64 characters) whatever the ids.
 */
export function entryKey(sessionId: string, name: string): string {
    return createHash('sha256').update(`${sessionId}\n${name.toLowerCase()}`).digest('hex');
}
