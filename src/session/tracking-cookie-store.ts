import type { Cookie } from 'tough-cookie';

import { cookieKeyOf } from '../model/merge.js';
import { BoundedCookieStore, type CookieRecord } from '../shared/bounded-cookie-store.js';

type Callback = (error: Error | null, result?: unknown) => void;

/** What a session's store tells of its changes (an object, not a closure per store). */
export interface CookieChangeListener {
    cookiesChanged(): void;
}

/**
 * The cookie store of every session jar: tough-cookie's in-memory store with a browser's limits (see
 * {@link BoundedCookieStore}) that also remembers which cookies changed since the last flush, by
 * (domain, path, name), so that a flush writes only those and a shared store can merge them with other
 * processes' changes. Changes applied from the store itself ({@link TrackingCookieStore.silently}) are not
 * recorded — except evictions by the limits, which always are, so that the store drops what the jar dropped.
 */
export class TrackingCookieStore extends BoundedCookieStore {
    /** Keys (see `cookieKeyOf`) changed since the last {@link TrackingCookieStore.takeDirty}; made at the first one. */
    private dirty: Set<string> | undefined;
    /** Every cookie changed: the whole jar must be written (a reset). */
    private allDirty = false;
    private muted = false;
    /**
     * Bumped by every change of which cookies the jar holds and how they match requests (recorded or not), not by a
     * value replaced in place (`replaceValue`): the cookies a cached Cookie header lists are valid while it stays.
     */
    version = 0;

    /** @param listener Told of every recorded change (a function, or an object whose `cookiesChanged` is called). */
    constructor(private readonly listener: (() => void) | CookieChangeListener | undefined = undefined) {
        super();
    }

    private onChange(): void {
        const { listener } = this;
        if (typeof listener === 'function') listener();
        else listener?.cookiesChanged();
    }

    /** Runs `action` without recording its changes (used to apply state read from the store). */
    silently<T>(action: () => T): T {
        this.muted = true;
        try {
            return action();
        } finally {
            this.muted = false;
        }
    }

    /** Marks every cookie as changed, e.g. after a reset, so the next flush writes the full set. */
    markAllDirty(): void {
        this.allDirty = true;
        this.onChange();
    }

    /** Whether anything changed since the last {@link TrackingCookieStore.takeDirty}. */
    get isDirty(): boolean {
        return this.allDirty || (this.dirty !== undefined && this.dirty.size > 0);
    }

    /** Whether the cookie with this key changed since the last {@link TrackingCookieStore.takeDirty}. */
    isKeyDirty(key: string): boolean {
        return this.allDirty || this.dirty?.has(key) === true;
    }

    /** Returns and forgets what changed: `'all'` or the set of changed keys. */
    takeDirty(): Set<string> | 'all' {
        const taken = this.dirty ?? new Set<string>();
        this.dirty = undefined;
        if (this.allDirty) {
            this.allDirty = false;
            return 'all';
        }
        return taken;
    }

    /** Puts back what a failed flush took, so the next flush writes it again. */
    restoreDirty(taken: Set<string> | 'all'): void {
        if (taken === 'all') this.allDirty = true;
        else for (const key of taken) (this.dirty ??= new Set()).add(key);
        this.onChange();
    }

    /**
     * @param always recorded even while muted (evictions)
     * @param sameShape only a value changed: the jar's {@link version} (which cookies there are, and where) stays
     */
    private record(key: string, always = false, sameShape = false): void {
        if (!sameShape) this.version++;
        if (this.muted && !always) return;
        (this.dirty ??= new Set()).add(key);
        this.onChange();
    }

    protected override stored(cookie: CookieRecord): void {
        this.record(cookieKeyOf(cookie));
    }

    protected override valueReplaced(cookie: CookieRecord): void {
        this.record(cookieKeyOf(cookie), false, true);
    }

    protected override removed(domain: string, path: string, key: string, evicted: boolean): void {
        this.record(cookieKeyOf({ domain, path, key }), evicted);
    }

    override updateCookie(oldCookie: Cookie, newCookie: Cookie, callback?: Callback): any {
        if (!sameCookie(oldCookie, newCookie)) return super.updateCookie(oldCookie, newCookie, callback);
        // A cookie set again as it is: only its use time moves. The stored object stays (a cached Cookie header holds
        // it), nothing is written and the jar's version does not change.
        oldCookie.lastAccessed = newCookie.lastAccessed;
        if (callback) {
            callback(null);
            return undefined;
        }
        return Promise.resolve();
    }

    override removeAllCookies(callback?: Callback): any {
        this.version++;
        if (!this.muted) {
            this.allDirty = true;
            this.onChange();
        }
        return super.removeAllCookies(callback);
    }
}

function sameCookie(a: Cookie, b: Cookie): boolean {
    return (
        a.value === b.value &&
        expiryOf(a) === expiryOf(b) &&
        a.maxAge === b.maxAge &&
        a.secure === b.secure &&
        a.httpOnly === b.httpOnly &&
        a.sameSite === b.sameSite &&
        a.hostOnly === b.hostOnly &&
        sameExtensions(a.extensions, b.extensions)
    );
}

function sameExtensions(a: string[] | null, b: string[] | null): boolean {
    if (!a || !b) return !a?.length && !b?.length;
    return a.length === b.length && a.every((each, i) => each === b[i]);
}

function expiryOf(cookie: Cookie): number | string | null {
    return cookie.expires instanceof Date ? cookie.expires.getTime() : cookie.expires;
}
