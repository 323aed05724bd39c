import type { Log } from '@crawlee/core';

import type { SessionStore } from '../model/types.js';
import type { BoundSession } from '../session/bound-session.js';
import { describeCause } from '../shared/describe.js';

/** The store collection holding each session's `userData` (`context.session.userData`), keyed by session id. */
export const USER_DATA_COLLECTION = 'session-user-data';

/** The largest `userData` a session keeps (as JSON): it is stored with the session and read in every process. */
export const MAX_USER_DATA_BYTES = 64 * 1024;

/**
 * Per-session user data (Crawlee's `session.userData`), persisted in the store as a secret entry (sealed with a
 * secret), so every process sharing the store and every later run sees it. Read once per session and process, before
 * the session's first handler; written after a handler that changed it.
 */
export class UserDataStore {
    constructor(
        private readonly store: SessionStore,
        private readonly log: Log,
    ) {}

    /** Loads a session's user data from the store, once. */
    async load(session: BoundSession): Promise<Record<string, unknown>> {
        if (session.userData) return session.userData;
        let stored: unknown;
        try {
            stored = (await this.store.getEntry(USER_DATA_COLLECTION, session.id))?.value;
        } catch (error) {
            this.log.warning(`The user data of session "${session.id}" could not be read (${describeCause(error)}); it starts empty.`);
        }
        session.userData ??= isPlainObject(stored) ? stored : {};
        session.userDataSaved ??= JSON.stringify(session.userData);
        return session.userData;
    }

    /** Writes a session's user data when it changed since it was read or last written. */
    async saveIfChanged(session: BoundSession): Promise<void> {
        if (!session.userData) return;
        let json: string;
        try {
            json = JSON.stringify(session.userData);
        } catch (error) {
            this.log.warning(`The user data of session "${session.id}" cannot be stored (${describeCause(error)}).`);
            return;
        }
        if (json === session.userDataSaved) return;
        if (Buffer.byteLength(json) > MAX_USER_DATA_BYTES) {
            this.log.warning(`The user data of session "${session.id}" is larger than ${MAX_USER_DATA_BYTES} bytes: it is not stored.`);
            return;
        }
        session.userDataSaved = json;
        await this.store.putEntry(USER_DATA_COLLECTION, session.id, JSON.parse(json), { secret: true }).catch((error: unknown) => {
            session.userDataSaved = undefined; // written again after the next handler
            this.log.warning(`The user data of session "${session.id}" could not be stored (${describeCause(error)}).`);
        });
    }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
    return typeof value === 'object' && value !== null && !Array.isArray(value);
}
