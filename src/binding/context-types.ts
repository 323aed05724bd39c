import type { Sessions } from '../core/sessions.js';

declare module '@crawlee/core' {
    interface CrawlingContext {
        /**
         * The crawl's sessions (the object given to `withSessions`): inspect, fill, clear and renew them.
         * Present in request handlers, pre/post-navigation hooks, `errorHandler` and `failedRequestHandler` of
         * crawlers created with `withSessions()`.
         */
        sessions: Sessions;
    }
}

export {};
