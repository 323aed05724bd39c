import type { CookieJar } from 'tough-cookie';

import { allCookies } from '../shared/cookies.js';
import { fromPlaywrightCookies, toPlaywrightCookies, type PlaywrightCookie } from '../browser/cookies.js';
import type { SessionStore } from '../model/types.js';
import type { BrowserStorageState } from './browser-login.js';
import type { ExtractedValue } from './extract.js';
import type { LoginRecipe } from './recipe.js';

/** The store collection quick-login states are kept in. */
export const LOGIN_STATES_COLLECTION = 'login-states';

/**
 * What a good login leaves for the next one (Session-Maintainer's quick login): the browser storage state
 * (cookies and localStorage per origin; for HTTP mode, the session's cookies) plus the extracted values. Stored
 * as a secret entry (encrypted at rest when the store has a secret).
 */
export interface LoginState extends BrowserStorageState {
    version: 1;
    /** The recipe that produced it. */
    recipe: string;
    /** ms since the epoch. */
    savedAt: number;
    /** The values the login extracted, with their sources. */
    values: Record<string, ExtractedValue>;
    /** Where the login's values may go (its `SessionAuth.origins` when it was saved). Absent in older states. */
    scope?: string[];
}

/** The part of a store quick login uses. */
export type LoginStateStore = Pick<SessionStore, 'getEntry' | 'putEntry' | 'deleteEntry'>;

/** Quick-login settings of {@link loginRenewal} and {@link acquire}. */
export interface QuickLoginOptions {
    /** Where login states are kept (`login-states` collection). */
    store: LoginStateStore;
    /**
     * The state's key.
     * @default `<recipe name>:<session id>`, so sessions logged in with different credentials never share one state
     */
    key?: string | ((sessionId: string, recipe: LoginRecipe) => string);
}

/** The key a session's login state is stored under. */
export function loginStateKey(options: QuickLoginOptions, recipe: LoginRecipe, sessionId: string): string {
    if (typeof options.key === 'function') return options.key(sessionId, recipe);
    return options.key ?? `${recipe.name}:${sessionId}`;
}

/** Reads a stored login state; undefined when there is none or it belongs to another recipe. */
export async function loadLoginState(store: LoginStateStore, key: string, recipe: LoginRecipe): Promise<LoginState | undefined> {
    const entry = await store.getEntry<LoginState>(LOGIN_STATES_COLLECTION, key);
    const state = entry?.value;
    if (!state || state.version !== 1 || state.recipe !== recipe.name || !Array.isArray(state.cookies)) return undefined;
    return state;
}

/** Stores a login state (as a secret entry). */
export async function saveLoginState(store: LoginStateStore, key: string, state: LoginState): Promise<void> {
    await store.putEntry(LOGIN_STATES_COLLECTION, key, state, { secret: true });
}

/** A login state from a session's jar (HTTP mode, or a browser state without localStorage). */
export function loginStateFromJar(recipe: LoginRecipe, jar: CookieJar, values: Record<string, ExtractedValue>): LoginState {
    return {
        version: 1,
        recipe: recipe.name,
        savedAt: Date.now(),
        cookies: toPlaywrightCookies(allCookies(jar)) as PlaywrightCookie[],
        origins: [],
        values,
    };
}

/** Puts a login state's cookies into a jar (unexpired ones); returns how many were accepted. */
export function restoreCookies(state: LoginState, jar: CookieJar): number {
    let restored = 0;
    const now = Date.now() / 1000;
    for (const cookie of fromPlaywrightCookies(state.cookies.filter((c) => c.expires < 0 || c.expires > now))) {
        if (jar.setCookieSync(cookie, `https://${cookie.domain}${cookie.path ?? '/'}`, { ignoreError: true })) restored++;
    }
    return restored;
}
