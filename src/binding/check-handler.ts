import { RetryRequestError } from '@crawlee/core';

import { attemptOf } from './attempts.js';
import { internalsOf } from '../core/internals.js';
import type { Sessions } from '../core/sessions.js';
import { checkResponseOf, type SessionCheck } from '../acquisition/check.js';
import { CrawleeSessionsError, ERROR_CODES } from '../shared/errors.js';

type Handler = (context: any, ...rest: any[]) => unknown;

/** Where a request remembers how many times a check renewed its session (bounds a logged-out loop). */
export const CHECK_RENEWALS_KEY = '__crawleeSessionsCheckRenewals';

/** Renewals a check may trigger for one request before the request fails like any other error. */
export const MAX_CHECK_RENEWALS_PER_REQUEST = 3;

/** Thrown when a request's session is still logged out after {@link MAX_CHECK_RENEWALS_PER_REQUEST} renewals. */
export class SessionCheckError extends CrawleeSessionsError {
    override readonly name = 'SessionCheckError';

    constructor(message: string, options?: { cause?: unknown }) {
        super(ERROR_CODES.sessionCheckFailed, message, options);
    }
}

/**
 * Wraps a request handler (or the crawler's router) so that each response is first judged by the check: when the
 * session is logged out, the session is cleared and renewed (single flight, ahead of the queue) through its own login
 * (`bindRenewal`, `loginFor`), else `check.renewal`, else the default `login`, and the request is retried with a
 * `RetryRequestError`, which does not count against `maxRequestRetries`.
 *
 * It must run inside the request's attempt (withSessions' handler wrapper), so that a logged-out response to a
 * request sent before the last renewal joins that renewal instead of logging in again (ZAP's re-auth guard, done
 * by `Sessions.clear`). A request whose session stays logged out after 3 renewals fails with
 * {@link SessionCheckError} (counted as a failure, retried per `maxRequestRetries`).
 */
export function withSessionCheck(sessions: Sessions, check: SessionCheck, handler: Handler | undefined): Handler {
    const { resolve, clientOf, ownLoginOf, loginEnded } = internalsOf(sessions);
    return async function sessionCheckedRequestHandler(context: Record<string, any>, ...rest: unknown[]): Promise<unknown> {
        const attempt = attemptOf(context);
        if (attempt) {
            const session = resolve(attempt.sessionId);
            const verdict = await check.verdict({
                sessionId: session.id,
                response: check.check.request ? undefined : await checkResponseOf(context),
                http: clientOf(session),
                auth: session.auth,
            });
            if (!verdict.valid) {
                const userData = context.request.userData as Record<string, unknown>;
                const renewals = Number(userData[CHECK_RENEWALS_KEY] ?? 0);
                if (renewals >= MAX_CHECK_RENEWALS_PER_REQUEST) {
                    throw new SessionCheckError(
                        `Session "${session.id}" is still logged out after ${renewals} renewals for this request (${verdict.reason}).`,
                    );
                }
                userData[CHECK_RENEWALS_KEY] = renewals + 1;
                loginEnded(session, attempt.sentGeneration);
                // The session's own login (bindRenewal, loginFor) first: a check shared by the crawl's sessions must
                // never log a session in with another session's account. Then the check's, then the default login.
                await sessions.clear(session.id, { renewal: ownLoginOf(session.id) ?? check.renewal });
                check.forget(session.id);
                throw new RetryRequestError(`Session "${session.id}" was logged out (${verdict.reason}); renewed, retrying the request.`);
            }
        }
        const target: Handler = handler ?? context.crawler.router;
        return target(context, ...rest);
    };
}
