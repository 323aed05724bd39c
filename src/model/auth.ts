import type { SessionAuth } from './types.js';

/** Whether an auth carries anything to put on requests (headers or query parameters). */
export function authHasEffect(auth: SessionAuth | null | undefined): boolean {
    return !!auth && (Object.keys(auth.headers).length > 0 || Object.keys(auth.query).length > 0);
}
