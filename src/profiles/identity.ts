import { HeaderGenerator } from 'header-generator';

import type { Profile } from './profile.js';

/**
 * The client identity a session presents on every request, its renewal included: the profile's User-Agent (or a
 * generated one) plus the generated browser headers sites bind logins to (Accept-Language, client hints).
 * Serializable, so a session resumed from a store keeps presenting the same identity.
 */
export interface SessionIdentity {
    /** The User-Agent sent by HTTP crawlers and set as the browser context's user agent. */
    userAgent: string;
    /** Lower-case header name → value, sent with every HTTP request of the session (user-agent included). */
    headers: Record<string, string>;
}

let generator: HeaderGenerator | undefined;

/** Client-hint headers only make sense next to the Chromium User-Agent they were generated with. */
const CLIENT_HINT_HEADERS = ['sec-ch-ua', 'sec-ch-ua-mobile', 'sec-ch-ua-platform'];

/**
 * Generates a consistent identity for a session. With a profile User-Agent that string is used as is and only
 * the locale headers are generated; otherwise a realistic desktop Chrome header set is generated once.
 */
export function createIdentity(profile: Profile | undefined): SessionIdentity {
    generator ??= new HeaderGenerator({
        browsers: [{ name: 'chrome', minVersion: 110 }],
        devices: ['desktop'],
        operatingSystems: ['windows', 'macos', 'linux'],
        locales: ['en-US', 'en'],
    });
    const generated = generator.getHeaders();
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(generated)) headers[name.toLowerCase()] = value;

    const userAgent = profile?.userAgent ?? headers['user-agent'] ?? 'Mozilla/5.0';
    const identity: Record<string, string> = { 'user-agent': userAgent };
    if (headers['accept-language']) identity['accept-language'] = headers['accept-language'];
    if (!profile?.userAgent) {
        for (const name of CLIENT_HINT_HEADERS) if (headers[name]) identity[name] = headers[name];
    }
    return { userAgent, headers: identity };
}
