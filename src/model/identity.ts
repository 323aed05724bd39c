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
