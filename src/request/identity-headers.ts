import type { RequestHeaders } from '../headers/strategies.js';
import type { SessionIdentity } from '../model/identity.js';

/**
 * Makes a hop's headers present the session's identity: its User-Agent, Accept-Language and client hints replace
 * whatever the HTTP client generated, and client hints (`sec-ch-*`) are removed when the identity has none (a
 * Firefox or Safari User-Agent, or one the generator cannot place): no real browser sends hints that contradict
 * its User-Agent. Cheap on the hot path: no allocation, one pass over the headers.
 */
export function conformIdentityHeaders(identity: SessionIdentity, headers: RequestHeaders): void {
    const wanted = identity.headers;
    const hints = wanted['sec-ch-ua'] !== undefined;
    for (const key in headers) {
        const lower = key.toLowerCase();
        if (lower in wanted) {
            if (key !== lower) delete headers[key];
        } else if (!hints && lower.startsWith('sec-ch-')) {
            delete headers[key];
        }
    }
    for (const name in wanted) headers[name] = wanted[name];
}
