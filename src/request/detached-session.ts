import { CookieJar } from 'tough-cookie';

import type { SessionAuth } from '../model/types.js';
import { createJar } from '../shared/cookies.js';
import type { HopSession } from './pipeline.js';

/**
 * A session that lives outside a `Sessions` registry: a maintainer's refresh, `acquire()`, a check of a stored
 * record. Its requests go through the same request path as a crawl's; its login values are set in place.
 */
export interface DetachedSession extends HopSession {
    auth: SessionAuth | undefined;
}

/** A detached session over `jar` (default: a new, empty, limited jar), at generation 0. */
export function createDetachedSession(id: string, options: { jar?: CookieJar; auth?: SessionAuth } = {}): DetachedSession {
    return { id, jar: options.jar ?? createJar(), generation: 0, auth: options.auth };
}
