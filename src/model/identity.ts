import type { BrowserFamily } from '../shared/user-agent.js';

export type { BrowserFamily, BrowserName, BrowserOs, DeviceClass } from '../shared/user-agent.js';

/**
 * The client identity a session presents on every request, its renewal included: the profile's User-Agent (or a
 * generated one), the browser family it belongs to, and the headers forced on every request (User-Agent,
 * Accept-Language and, for Chromium-based browsers, client hints consistent with the User-Agent).
 * Serializable, so a session resumed from a store keeps presenting the same identity; identities written by older
 * versions (without `family`) stay readable.
 */
export interface SessionIdentity {
    /** The User-Agent sent by HTTP crawlers and set as the browser context's user agent. */
    userAgent: string;
    /**
     * Lower-case header name → value, forced on every HTTP request of the session: `user-agent`,
     * `accept-language` and, only for Chromium-based browsers (Chrome, Edge, Android Chrome), `sec-ch-ua`,
     * `sec-ch-ua-mobile` and `sec-ch-ua-platform`.
     */
    headers: Record<string, string>;
    /**
     * The browser the User-Agent belongs to, which got-scraping's header generator is told to imitate (see
     * `headerGeneratorOptionsOf`); `null` when the generator cannot place the User-Agent (no client hints, and
     * got-scraping's default generated headers). Absent in identities stored by versions before it existed: it is
     * then derived from `userAgent` when the identity is first used.
     * @default undefined
     */
    family?: BrowserFamily | null;
}
