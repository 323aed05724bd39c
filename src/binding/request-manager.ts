import {
    log as crawleeLog,
    Request,
    RequestQueue,
    type AddRequestsBatchedOptions,
    type AddRequestsBatchedResult,
    type IRequestManager,
    type RequestQueueOperationInfo,
    type RequestQueueOperationOptions,
    type RequestsLike,
    type Source,
} from '@crawlee/core';
import type { Dictionary } from '@crawlee/types';

import { internalsOf, type SessionsInternals } from '../core/internals.js';
import type { Sessions } from '../core/sessions.js';
import { attemptStorage, sessionIdOf } from '../session/attempt.js';
import { logoutGuarded } from './pacing-gate.js';

/** Most requests kept aside at once (waiting sessions'); beyond it, the rest stay in the queue. */
export const MAX_REQUESTS_ASIDE = 10_000;
/** Most requests one fetch takes from the queue looking for one of a ready session. */
const MAX_FETCHES_PER_CALL = 1000;
/** How often the locks of requests kept aside are checked (the queue would hand a request out again once it expires). */
const LOCK_CHECK_MILLIS = 10_000;

interface Aside {
    request: Request;
    /** When the queue's lock on it expires (ms since the epoch); Infinity when the queue does not lock. */
    lockedUntil: number;
}

interface Pool {
    notify(): unknown;
}

/** Every manager of this module (the proxies crawlers see), to tell them from the queues they wrap. */
const managers = new WeakSet<object>();

/** Whether a crawler's request manager or queue is already a {@link SessionRequestManager}. */
export function isSessionRequestManager(value: unknown): boolean {
    return typeof value === 'object' && value !== null && managers.has(value);
}

/**
 * Sits between a crawler and its request manager (its queue, its list, or both): the crawler fetches and adds through
 * it (`withSessions()` puts it in place as soon as it sees the crawler).
 *
 * - It hands out only requests whose session can send now: requests of a session that is renewing, paced or cooling
 *   down are kept aside (still locked in the queue, never lost) and handed out once it is ready, so a waiting session
 *   holds none of the crawler's concurrency slots while other sessions' requests run.
 * - Requests that would log their session out (the logout guard) are marked handled without being fetched.
 * - Requests added while a bound request's handler runs (`enqueueLinks`, `context.addRequests`,
 *   `crawler.addRequests`) carry its session unless they name one (`userData.sessionId: null` opts out).
 *
 * `isEmpty()` is true while no request can be handed out now and `isFinished()` false while requests are kept aside,
 * so the crawler neither spins nor finishes early; the crawler's autoscaled pool is woken when a session gets ready.
 * Everything else (`name`, `drop()`, `getInfo()`, Crawlee's timeouts, …) is the wrapped manager's.
 */
export class SessionRequestManager implements IRequestManager {
    readonly #internals: SessionsInternals;
    readonly #inner: IRequestManager;
    readonly #log = crawleeLog.child({ prefix: 'Sessions' });
    /** Requests kept aside, per session, oldest first; sessions in the order they are served. */
    readonly #aside = new Map<string, Aside[]>();
    #asideCount = 0;
    #wakeAt = Number.POSITIVE_INFINITY;
    #wakeTimer: NodeJS.Timeout | undefined;
    #lockTimer: NodeJS.Timeout | undefined;
    readonly #watched = new WeakSet<Promise<unknown>>();
    readonly #pool: () => Pool | undefined;

    /**
     * @param inner the crawler's own request manager
     * @param pool the crawler's autoscaled pool (woken when a session gets ready)
     */
    constructor(sessions: Sessions, inner: IRequestManager, pool: () => Pool | undefined = () => undefined) {
        this.#internals = internalsOf(sessions);
        this.#inner = inner;
        this.#pool = pool;
        // Crawlee reads a method on every call (fetchNextRequest, isEmpty, markRequestHandled, …): each is bound once.
        const bound = new Map<PropertyKey, { method: unknown; owner: object; bound: unknown }>();
        const proxy = new Proxy(this, {
            get: (target, property) => {
                const owner = (property in target ? target : inner) as unknown as Record<PropertyKey, unknown>;
                const value = owner[property];
                if (typeof value !== 'function') return value;
                const known = bound.get(property);
                if (known && known.method === value && known.owner === owner) return known.bound;
                const method = (value as (...args: unknown[]) => unknown).bind(owner);
                bound.set(property, { method: value, owner, bound: method });
                return method;
            },
            set: (target, property, value) => Reflect.set((property in target ? target : inner) as object, property, value),
        });
        managers.add(proxy);
        return proxy;
    }

    /** The request manager it wraps. */
    get inner(): IRequestManager {
        return this.#inner;
    }

    /**
     * Gives every request kept aside back to the wrapped manager (Crawlee replaced the crawler's manager: the new one
     * must be able to hand them out).
     */
    release(): void {
        const entries = [...this.#aside.values()].flat();
        this.#aside.clear();
        this.#asideCount = 0;
        for (const { request } of entries) {
            this.#inner.reclaimRequest(request).catch((error: unknown) => {
                this.#log.warning(`A request kept aside could not be given back to the queue: ${String(error)}`);
            });
        }
    }

    /** Requests kept aside for sessions that are not ready. */
    get waiting(): number {
        return this.#asideCount;
    }

    async fetchNextRequest<T extends Dictionary = Dictionary>(): Promise<Request<T> | null> {
        const inner = this.#inner;
        const aside = this.#takeReady(Date.now());
        if (aside) return aside as Request<T>;
        for (let fetched = 0; fetched < MAX_FETCHES_PER_CALL && this.#asideCount < MAX_REQUESTS_ASIDE; fetched++) {
            const request = await inner.fetchNextRequest<T>();
            if (!request) return null;
            const sessionId = this.#sessionIdOf(request);
            if (logoutGuarded(this.#internals, sessionId ?? '?', request.url) !== undefined) {
                await this.#skipLogout(inner, request);
                continue;
            }
            if (sessionId === undefined) return request; // the binding's hook fails it with the reason
            const now = Date.now();
            const queued = this.#aside.get(sessionId);
            if (queued) {
                queued.push(this.#entry(request)); // behind the session's older requests
                this.#asideCount++;
                continue;
            }
            const wait = this.#waitOf(sessionId, now);
            if (wait === 0) {
                this.#handOut(sessionId, now);
                return request;
            }
            this.#aside.set(sessionId, [this.#entry(request)]);
            this.#asideCount++;
            this.#wakeOn(wait, now);
            this.#keepLocks();
        }
        return null;
    }

    async isEmpty(): Promise<boolean> {
        const inner = this.#inner;
        if (this.#hasReady(Date.now())) return false;
        if (this.#asideCount >= MAX_REQUESTS_ASIDE) return true;
        return inner.isEmpty();
    }

    async isFinished(): Promise<boolean> {
        if (this.#asideCount > 0) return false;
        const finished = await this.#inner.isFinished();
        return finished && this.#asideCount === 0;
    }

    async handledCount(): Promise<number> {
        return this.#inner.handledCount();
    }

    getTotalCount(): number {
        return this.#inner.getTotalCount();
    }

    getPendingCount(): number {
        return this.#inner.getPendingCount();
    }

    async *[Symbol.asyncIterator](): AsyncGenerator<Request<Dictionary>, void, unknown> {
        for (;;) {
            const request = await this.fetchNextRequest();
            if (!request) return;
            yield request;
        }
    }

    // Handed straight through (not `async`: a wrapping promise would cost every request a few turns of the microtask queue).
    markRequestHandled(request: Request): Promise<RequestQueueOperationInfo | void | null> {
        return this.#inner.markRequestHandled(request);
    }

    reclaimRequest(request: Request, options?: RequestQueueOperationOptions): Promise<RequestQueueOperationInfo | null> {
        return this.#inner.reclaimRequest(request, options);
    }

    async addRequest(requestLike: Source, options?: RequestQueueOperationOptions): Promise<RequestQueueOperationInfo> {
        const sessionId = attemptStorage.getStore()?.sessionId;
        const inner = this.#inner;
        return inner.addRequest(sessionId === undefined ? requestLike : (withSession(requestLike, sessionId) as Source), options);
    }

    async addRequestsBatched(requests: RequestsLike, options?: AddRequestsBatchedOptions): Promise<AddRequestsBatchedResult> {
        const sessionId = attemptStorage.getStore()?.sessionId;
        const inner = this.#inner;
        return inner.addRequestsBatched(sessionId === undefined ? requests : inheriting(requests, sessionId), options);
    }

    /** `RequestProvider.addRequests` (the queue's own method, for code that calls it on `crawler.requestQueue`). */
    async addRequests(requests: RequestsLike, options?: RequestQueueOperationOptions): Promise<unknown> {
        const sessionId = attemptStorage.getStore()?.sessionId;
        const inner = this.#inner as unknown as { addRequests?: (requests: RequestsLike, options?: unknown) => Promise<unknown> };
        if (typeof inner.addRequests !== 'function') return this.addRequestsBatched(requests, options);
        return inner.addRequests(sessionId === undefined ? requests : inheriting(requests, sessionId), options);
    }

    #sessionIdOf(request: Request): string | undefined {
        try {
            return sessionIdOf(request.userData, this.#internals.sessionIdForUrl(request.url));
        } catch {
            return undefined;
        }
    }

    /**
     * 0 when a request of the session may be handed out now; else how long (ms) until it may, or the renewal to wait
     * for.
     */
    #waitOf(sessionId: string, now: number): number | Promise<unknown> {
        const { registry, pacing, coordinator } = this.#internals;
        const session = registry.find(sessionId);
        if (session?.renewal) return session.renewal;
        const ending = session && coordinator.whenEnding?.(session);
        if (ending) return ending;
        return pacing.pacerOf(sessionId)?.readyInMillis(now) ?? 0;
    }

    #handOut(sessionId: string, now: number): void {
        this.#internals.pacing.pacerOf(sessionId)?.handOut(now);
    }

    /** The oldest request of the first ready session, which then goes to the back of the line (round robin). */
    #takeReady(now: number): Request | undefined {
        for (const [sessionId, queued] of this.#aside) {
            const wait = this.#waitOf(sessionId, now);
            if (wait !== 0) {
                this.#wakeOn(wait, now);
                continue;
            }
            const entry = queued.shift()!;
            this.#asideCount--;
            this.#aside.delete(sessionId);
            if (queued.length) this.#aside.set(sessionId, queued);
            this.#handOut(sessionId, now);
            return entry.request;
        }
        return undefined;
    }

    #hasReady(now: number): boolean {
        let ready = false;
        for (const sessionId of this.#aside.keys()) {
            const wait = this.#waitOf(sessionId, now);
            if (wait === 0) ready = true;
            else this.#wakeOn(wait, now); // its wait may have grown since it was put aside (a login took the turn)
        }
        return ready;
    }

    /** Wakes the crawler's pool when the wait is over (a timer, or the renewal settling). */
    #wakeOn(wait: number | Promise<unknown>, now: number): void {
        if (typeof wait !== 'number') {
            if (this.#watched.has(wait)) return;
            this.#watched.add(wait);
            const wake = () => this.#notify();
            wait.then(wake, wake);
            return;
        }
        const at = now + wait;
        if (at >= this.#wakeAt) return;
        clearTimeout(this.#wakeTimer);
        this.#wakeAt = at;
        this.#wakeTimer = setTimeout(() => {
            this.#wakeAt = Number.POSITIVE_INFINITY;
            this.#wakeTimer = undefined;
            this.#notify();
        }, wait);
        this.#wakeTimer.unref();
    }

    #notify(): void {
        void this.#pool()?.notify();
    }

    #entry(request: Request): Aside {
        const locks = this.#inner instanceof RequestQueue;
        const lockSecs = (this.#inner as { requestLockSecs?: number }).requestLockSecs ?? 60;
        return { request, lockedUntil: locks ? Date.now() + lockSecs * 1000 : Number.POSITIVE_INFINITY };
    }

    /**
     * A RequestQueue (v2) locks a fetched request for `requestLockSecs` and hands it out again once the lock expires:
     * requests kept aside longer have their locks prolonged, so that none is ever crawled twice.
     */
    #keepLocks(): void {
        if (this.#lockTimer || !(this.#inner instanceof RequestQueue)) return;
        const queue = this.#inner;
        this.#lockTimer = setInterval(() => {
            if (this.#asideCount === 0) {
                clearInterval(this.#lockTimer);
                this.#lockTimer = undefined;
                return;
            }
            const lockSecs = queue.requestLockSecs;
            const soon = Date.now() + 2 * LOCK_CHECK_MILLIS;
            for (const queued of this.#aside.values()) {
                for (const entry of queued) {
                    if (entry.lockedUntil > soon) continue;
                    entry.lockedUntil += lockSecs * 1000;
                    const forefront = Boolean((entry.request.userData as { __crawlee?: { forefront?: boolean } }).__crawlee?.forefront);
                    queue.client.prolongRequestLock(entry.request.id!, { lockSecs, forefront }).catch((error: unknown) => {
                        this.#log.debug(`Could not prolong the lock of a request kept aside: ${String(error)}`);
                    });
                }
            }
        }, LOCK_CHECK_MILLIS);
        this.#lockTimer.unref();
    }

    /** A request the logout guard refused (one info line each, counted) is marked handled for good, never fetched. */
    async #skipLogout(inner: IRequestManager, request: Request): Promise<void> {
        request.noRetry = true;
        await inner.markRequestHandled(request);
    }
}

/** The request with `userData.sessionId` set to the session, unless it names one (or `null`: no inheritance). */
function withSession(source: unknown, sessionId: string): unknown {
    if (typeof source === 'string') return { url: source, userData: { sessionId } };
    if (!source || typeof source !== 'object') return source;
    const userData = (source as { userData?: Record<string, unknown> }).userData;
    if (userData && userData.sessionId !== undefined) return source;
    if (source instanceof Request) {
        source.userData.sessionId = sessionId;
        return source;
    }
    return { ...source, userData: { ...userData, sessionId } };
}

/** The requests, each inheriting the session (arrays stay arrays; iterables are mapped lazily). */
function inheriting(requests: RequestsLike, sessionId: string): RequestsLike {
    if (Array.isArray(requests)) return requests.map((each) => withSession(each, sessionId)) as RequestsLike;
    return (async function* () {
        for await (const each of requests as AsyncIterable<unknown>) yield withSession(each, sessionId) as Source;
    })();
}
