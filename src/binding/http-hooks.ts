import { ATTEMPT } from '../session/attempt.js';
import type { Sessions } from '../core/sessions.js';
import { beginAttempt, proxyInfoFor, type BindableContext } from './attempts.js';

/**
 * The pre-navigation hook of HTTP crawlers (HttpCrawler, CheerioCrawler, …). It binds the request to its session
 * (`request.userData.sessionId`), exposes `context.sessions`, waits while the session is being renewed (the
 * waiting request is neither failed nor counted as a retry), and shows the session's proxy in
 * `context.proxyInfo`. The cookies, identity and proxy themselves are applied at transmission by
 * {@link SessionBoundHttpClient}, so they are never out of date.
 *
 * Register it first, before hooks that rely on `context.sessions`. `withSessions()` does this for you.
 */
export function createHttpPreNavigationHook(sessions: Sessions) {
    return async function bindSessionHook(context: BindableContext, gotOptions: Record<PropertyKey, unknown>): Promise<void> {
        const attempt = beginAttempt(sessions, context);
        const session = sessions.resolve(attempt.sessionId);
        await sessions.whenUsable(session);
        gotOptions[ATTEMPT] = attempt;
        const proxyUrl = sessions.proxyUrlOf(session);
        if (proxyUrl) context.proxyInfo = proxyInfoFor(proxyUrl, session.id);
    };
}
