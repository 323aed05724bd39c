import { Cookie } from 'tough-cookie';

import type { StoredCookie } from '../model/types.js';
import type { TrackingCookieStore } from './tracking-cookie-store.js';

/** Fills an empty jar's store with a record's cookies, silently (they are the store's, not changes). */
export function loadStoredCookies(store: TrackingCookieStore, cookies: readonly StoredCookie[]): void {
    store.silently(() => {
        for (const json of cookies) {
            const cookie = Cookie.fromJSON(json);
            if (cookie) store.putCookie(cookie, () => undefined);
        }
    });
}
