import { z } from 'zod';

import type { SessionStore } from '../model/types.js';
import type { HeaderTarget } from './conditions.js';
import { HeaderRules, type HeaderRulesOptions } from './header-rules.js';
import { SessionHeaders, type SessionHeadersOptions } from './session-headers.js';
import { applyChange, readHeader, writeHeader, type CompiledChange, type RequestHeaders } from './strategies.js';

/** Options of the header pipeline (`Sessions.open({ headers })`). */
export interface HeaderPipelineOptions {
    /**
     * How often header rules and session headers are reloaded from the store, in ms (picks up changes made by
     * other processes and the CLI). 0 disables the reload.
     * @default 30000
     */
    refreshIntervalMillis?: number;
    /**
     * How often expired session headers are deleted from memory and the store, in ms. 0 disables the cleanup
     * (expired headers are never applied either way).
     * @default 60000
     */
    cleanupIntervalMillis?: number;
}

/** Zod schema of {@link HeaderPipelineOptions}, for `Sessions.open()`'s option validation. */
export const headerPipelineOptionsSchema = z.strictObject({
    refreshIntervalMillis: z.number().int().min(0).max(86_400_000).optional(),
    cleanupIntervalMillis: z.number().int().min(0).max(86_400_000).optional(),
});

/**
 * What the pipeline changed in one request's headers: per lower-case name, the value before and after. Given back
 * on the next redirect hop, so that the changes are undone before the rules are evaluated for the new URL (an
 * `APPEND` is never applied twice, and a header a rule set for the first host is not carried to another one).
 */
export type AppliedHeaders = ReadonlyMap<string, { before: string | undefined; after: string | undefined }>;

/**
 * Computes the headers of one request of a session. The order, for every request and every redirect hop:
 *
 * 1. the request's own headers and the HTTP client's generated browser headers;
 * 2. the session's identity (profile User-Agent, Accept-Language, client hints), set by the binding, then the
 *    headers a login extracted for the session (`Authorization: Bearer …`, maintainer);
 * 3. persistent header rules that match the request, lower priority first (higher priority wins), ties by
 *    creation time;
 * 4. the session's active, unexpired, in-scope session headers, in the same order; a session header overrides the
 *    persistent rules of the same header name (those rules are skipped for the request);
 * 5. cookies: the session's jar, then the request's explicit `Cookie` header (set by the binding, after this).
 */
export class HeaderPipeline {
    /** The persistent rules. */
    readonly rules: HeaderRules;
    /** The per-session TTL headers. */
    readonly sessionHeaders: SessionHeaders;

    constructor(store: SessionStore, options: HeaderPipelineOptions & { isClosed?: () => boolean } = {}) {
        const rulesOptions: HeaderRulesOptions = { refreshIntervalMillis: options.refreshIntervalMillis, isClosed: options.isClosed };
        const headersOptions: SessionHeadersOptions = {
            refreshIntervalMillis: options.refreshIntervalMillis,
            cleanupIntervalMillis: options.cleanupIntervalMillis,
            isClosed: options.isClosed,
        };
        this.rules = new HeaderRules(store, rulesOptions);
        this.sessionHeaders = new SessionHeaders(store, headersOptions);
    }

    private loaded: Promise<void> | undefined;

    /** Loads rules and session headers once (later calls return the same settled promise; a failure is retried). */
    ready(): Promise<void> {
        this.loaded ??= Promise.all([this.rules.ready(), this.sessionHeaders.ready()]).then(
            () => undefined,
            (error: unknown) => {
                this.loaded = undefined;
                throw error;
            },
        );
        return this.loaded;
    }

    /**
     * Applies rules and session headers to `headers` in place (steps 3 and 4 above). `previous` is what this
     * function returned for the previous hop of the same request: those changes are undone first.
     */
    apply(headers: RequestHeaders, target: HeaderTarget, previous?: AppliedHeaders): AppliedHeaders {
        if (previous) undo(headers, previous);
        if (this.isIdle(target.sessionId)) return NOTHING_APPLIED; // the common case: no rule, no session header
        const sessionChanges = this.sessionHeaders.applicable(target);
        const overridden = new Set(sessionChanges.map((change) => change.name));
        const changes: CompiledChange[] = [
            ...this.rules.applicable(target).filter((rule) => !overridden.has(rule.name)),
            ...sessionChanges,
        ];
        const before = new Map<string, string | undefined>();
        for (const change of changes) {
            if (!before.has(change.name)) before.set(change.name, readHeader(headers, change.name));
            applyChange(headers, change);
        }
        const applied = new Map<string, { before: string | undefined; after: string | undefined }>();
        for (const [name, value] of before) {
            const after = readHeader(headers, name);
            if (after !== value) applied.set(name, { before: value, after });
        }
        return applied;
    }

    /** True when nothing can apply to the session's requests: no rule is loaded and the session has no header. */
    isIdle(sessionId: string): boolean {
        return this.rules.loadedRules.length === 0 && !this.sessionHeaders.has(sessionId);
    }

    /** Stops the reload and cleanup timers. */
    close(): void {
        this.rules.close();
        this.sessionHeaders.close();
    }
}

const NOTHING_APPLIED: AppliedHeaders = new Map();

/** Restores the headers a previous hop changed, unless something else changed them since (e.g. got dropped them). */
function undo(headers: RequestHeaders, applied: AppliedHeaders): void {
    for (const [name, { before, after }] of applied) {
        if (readHeader(headers, name) === after) writeHeader(headers, name, before);
    }
}
