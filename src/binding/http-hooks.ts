import { internalsOf } from '../core/internals.js';
import type { Sessions } from '../core/sessions.js';
import { ATTEMPT, pinAttempt } from '../session/attempt.js';
import { beginAttempt, proxyInfoFor, type BindableContext } from './attempts.js';

/**
 * The pre-navigation hook of HTTP crawlers (HttpCrawler, CheerioCrawler, …). It binds the request to its session
 * (`request.userData.sessionId`), exposes `context.sessions`, waits while the session is being renewed (the
 * waiting request is neither failed nor counted as a retry), and shows the session's proxy in
 * `context.proxyInfo`. The cookies, identity, login values and proxy themselves are applied at transmission by
 * {@link SessionBoundHttpClient}, hop by hop, so they are never out of date.
 *
 * Register it first, before hooks that rely on `context.sessions`. `withSessions()` does this for you.
 */
export function createHttpPreNavigationHook(sessions: Sessions) {
    const { coordinator, registry, resolveLive } = internalsOf(sessions);
    return async function bindSessionHook(context: BindableContext, gotOptions: Record<PropertyKey, unknown>): Promise<void> {
        const attempt = beginAttempt(sessions, context);
        const session = await resolveLive(attempt.sessionId);
        pinAttempt(attempt, session);
        const usable = coordinator.whenUsable(session);
        if (usable) await usable;
        gotOptions[ATTEMPT] = attempt;
        const proxyUrl = registry.proxyUrlOf(session);
        if (proxyUrl) context.proxyInfo = proxyInfoFor(proxyUrl, session.id);
    };
}
