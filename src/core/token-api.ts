import type { CookieSet, SessionTokens, SiteActivity, TokenRotation } from '../tokens/session-tokens.js';
import type { TokenNames } from '../tokens/token-names.js';

/**
 * `sessions.tokens`: session tokens tracked the way OWASP ZAP's HttpSessions does — which cookies are session
 * tokens per site, each session's token values, rotations, the active session of a site, per-site message counts.
 * Where a method takes a session id, `undefined` means the current request's session inside a handler, else the
 * default session. Token values are secrets: keep them out of logs.
 *
 * ```ts
 * sessions.tokens.names.add('shop.example:443', 'X-SID');
 * sessions.tokens.on('rotation', (rotation) => log.info(`${rotation.sessionId} rotated ${rotation.token}`));
 * const owner = sessions.tokens.match('PHPSESSID=abc', 'shop.example:443');
 * ```
 */
export class SessionTokensApi {
    /** @internal */
    constructor(
        private readonly tracker: SessionTokens,
        private readonly idOf: (id: string | number | undefined) => string,
    ) {}

    /** Which cookie names are tokens on which site: `names.add(site, name)`, `names.remove(site, name)`, `names.describe(site)`. */
    get names(): TokenNames {
        return this.tracker.names;
    }

    /** Listens for token rotations (no token values: fingerprints only). */
    on(event: 'rotation', listener: (rotation: TokenRotation) => void): this {
        this.tracker.on(event, listener);
        return this;
    }

    /** Stops listening. */
    off(event: 'rotation', listener: (rotation: TokenRotation) => void): this {
        this.tracker.off(event, listener);
        return this;
    }

    /**
     * A session's token values on a site (`host:port` or a URL): cookie name → value; without a site, per site for
     * every site the session sent requests to or is active on.
     */
    values(id: string | number | undefined, site: string): Record<string, string>;
    values(id?: string | number): Record<string, Record<string, string>>;
    values(id?: string | number, site?: string): Record<string, string> | Record<string, Record<string, string>> {
        const sessionId = this.idOf(id);
        return site === undefined ? this.tracker.tokensOf(sessionId) : this.tracker.tokensOf(sessionId, site);
    }

    /**
     * The session whose token values on `site` match a cookie set (ZAP's algorithm: equal values, or both absent, for
     * every token of the site; the most equal values wins), e.g. to adopt cookies captured elsewhere. Undefined when
     * no session matches.
     */
    match(cookies: CookieSet, site: string): string | undefined {
        return this.tracker.match(cookies, site);
    }

    /** Makes a session the active session of a site: requests to the site that name no session use it. */
    activate(site: string, id: string | number): void {
        this.tracker.activate(site, this.idOf(id));
    }

    /** Removes a site's active session (its requests that name no session use the default session again). */
    deactivate(site: string): boolean {
        return this.tracker.deactivate(site);
    }

    /** The active session of a site, if any. */
    activeSession(site: string): string | undefined {
        return this.tracker.activeSession(site);
    }

    /** Per-site message and rotation counts of a session. */
    activity(id?: string | number): SiteActivity[] {
        return this.tracker.activityOf(this.idOf(id));
    }
}
