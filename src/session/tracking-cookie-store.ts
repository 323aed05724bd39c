import { MemoryCookieStore, type Cookie } from 'tough-cookie';

import { cookieKeyOf } from '../model/merge.js';

type Callback = (error: Error | null, result?: unknown) => void;

/**
 * tough-cookie's in-memory store that also remembers which cookies changed since the last flush, by
 * (domain, path, name), so that a flush writes only those and a shared store can merge them with other
 * processes' changes. Changes applied from the store itself ({@link TrackingCookieStore.silently}) are not
 * recorded.
 */
export class TrackingCookieStore extends MemoryCookieStore {
    /** Keys (see `cookieKeyOf`) changed since the last {@link TrackingCookieStore.takeDirty}. */
    private dirty = new Set<string>();
    /** Every cookie changed: the whole jar must be written (a reset). */
    private allDirty = false;
    private muted = false;
    /** Bumped by every change, recorded or not: a cached Cookie header is valid while it stays the same. */
    version = 0;

    constructor(private readonly onChange: () => void = () => undefined) {
        super();
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
        return this.allDirty || this.dirty.size > 0;
    }

    /** Whether the cookie with this key changed since the last {@link TrackingCookieStore.takeDirty}. */
    isKeyDirty(key: string): boolean {
        return this.allDirty || this.dirty.has(key);
    }

    /** Returns and forgets what changed: `'all'` or the set of changed keys. */
    takeDirty(): Set<string> | 'all' {
        if (this.allDirty) {
            this.allDirty = false;
            this.dirty = new Set();
            return 'all';
        }
        const taken = this.dirty;
        this.dirty = new Set();
        return taken;
    }

    /** Puts back what a failed flush took, so the next flush writes it again. */
    restoreDirty(taken: Set<string> | 'all'): void {
        if (taken === 'all') this.allDirty = true;
        else for (const key of taken) this.dirty.add(key);
        this.onChange();
    }

    private record(key: string): void {
        this.version++;
        if (this.muted) return;
        this.dirty.add(key);
        this.onChange();
    }

    override putCookie(cookie: Cookie, callback?: Callback): any {
        if (cookie.domain != null && cookie.path != null) this.record(cookieKeyOf(cookie));
        return (super.putCookie as any)(cookie, callback);
    }

    override updateCookie(oldCookie: Cookie, newCookie: Cookie, callback?: Callback): any {
        // MemoryCookieStore's updateCookie goes through putCookie, which records the change; a re-set cookie
        // with the same value and attributes is not worth a write.
        const update = () => (super.updateCookie as any)(oldCookie, newCookie, callback);
        return sameCookie(oldCookie, newCookie) ? this.silently(update) : update();
    }

    override removeCookie(domain: string | null, path: string | null, key: string | null, callback?: Callback): any {
        if (domain != null && path != null && key != null) this.record(cookieKeyOf({ domain, path, key }));
        return (super.removeCookie as any)(domain, path, key, callback);
    }

    override removeCookies(domain: string, path: string | null, callback?: Callback): any {
        this.version++;
        if (!this.muted) {
            this.allDirty = true;
            this.onChange();
        }
        return (super.removeCookies as any)(domain, path, callback);
    }

    override removeAllCookies(callback?: Callback): any {
        this.version++;
        if (!this.muted) {
            this.allDirty = true;
            this.onChange();
        }
        return (super.removeAllCookies as any)(callback);
    }
}

function sameCookie(a: Cookie, b: Cookie): boolean {
    return (
        a.value === b.value &&
        expiryOf(a) === expiryOf(b) &&
        a.maxAge === b.maxAge &&
        a.secure === b.secure &&
        a.httpOnly === b.httpOnly &&
        a.sameSite === b.sameSite
    );
}

function expiryOf(cookie: Cookie): number | string | null {
    return cookie.expires instanceof Date ? cookie.expires.getTime() : cookie.expires;
}
