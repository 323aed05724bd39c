import type { HeaderPipeline } from '../headers/pipeline.js';
import type { HeaderRules } from '../headers/header-rules.js';
import type { SessionHeader, SessionHeaderInput, SessionHeaderPatch } from '../headers/rule.js';
import type { GetSessionHeadersOptions } from '../headers/session-headers.js';

/**
 * `sessions.headers`: persistent header rules and per-session TTL headers, both kept in the sessions' store so that
 * every process sharing it (and the CLI) applies the same ones. Where a method takes a session id, `undefined` means
 * the current request's session inside a handler, else the default session. The order in which they apply to a
 * request is the request path's (see the README's "The request path").
 *
 * ```ts
 * await sessions.headers.rules.add({ name: 'api-key', header: 'X-Api-Key', value: key, match: { host: 'api.example.com' } });
 * await sessions.headers.set('alice', { name: 'X-Tenant', value: 'acme', ttlSecs: 600 });
 * ```
 */
export class SessionHeadersApi {
    /** @internal */
    constructor(
        private readonly pipeline: HeaderPipeline,
        private readonly idOf: (id: string | number | undefined) => string,
    ) {}

    /** Persistent header rules (`add`, `update`, `enable`, `disable`, `remove`, `list`, `get`, `refresh`). */
    get rules(): HeaderRules {
        return this.pipeline.rules;
    }

    /**
     * Attaches a header to a session for `ttlSecs` seconds (60–86400, default 3600), or updates the session's header
     * of that name (same id, `updatedAt` bumped, expiry re-armed). Applies from the session's next request on.
     */
    set(id: string | number | undefined, header: SessionHeaderInput): Promise<SessionHeader> {
        return this.pipeline.sessionHeaders.set(this.idOf(id), header);
    }

    /** {@link set} for several headers: all are validated before any is set. */
    setMany(id: string | number | undefined, headers: readonly SessionHeaderInput[]): Promise<SessionHeader[]> {
        return this.pipeline.sessionHeaders.setMany(this.idOf(id), headers);
    }

    /** Changes some fields of a session's header; a `ttlSecs` re-arms its expiry from now. */
    update(id: string | number | undefined, name: string, patch: SessionHeaderPatch): Promise<SessionHeader> {
        return this.pipeline.sessionHeaders.update(this.idOf(id), name, patch);
    }

    /**
     * A session's headers, values included: the active, unexpired ones, or with `{ all: true }` every one (expired
     * and inactive too, until the cleanup deletes them). For display, pass each through `describeSessionHeader()`.
     */
    get(id?: string | number, options: GetSessionHeadersOptions = {}): Promise<SessionHeader[]> {
        return this.pipeline.sessionHeaders.get(this.idOf(id), options);
    }

    /** Removes one header of a session; resolves whether it existed. */
    remove(id: string | number | undefined, name: string): Promise<boolean> {
        return this.pipeline.sessionHeaders.remove(this.idOf(id), name);
    }

    /** Removes every header of a session; resolves how many there were. */
    clear(id?: string | number): Promise<number> {
        return this.pipeline.sessionHeaders.clear(this.idOf(id));
    }
}
