import type { SessionsInternals } from '../core/internals.js';
import { summarizeStats } from '../core/stats.js';

type StatusCallback = (context: { crawler: { setStatusMessage(message: string): Promise<void> }; message: string } & Record<string, unknown>) => unknown;

/**
 * Crawlee's `statusMessageCallback` with the sessions' figures added to the crawler's periodic status line
 * (`Crawled 120/400 pages, … · sessions: 12 ready, 1 renewing · 20 renewals · 0 stale retried`): the user's own
 * callback gets the extended message; without one, the crawler sets it as it would have set its own.
 */
export function statusWithSessions(internals: SessionsInternals, user: StatusCallback | undefined): StatusCallback {
    return async function sessionStatusMessage(context) {
        const message = `${context.message} · ${summarizeStats(internals.statsNow())}`;
        if (user) await user({ ...context, message });
        else await context.crawler.setStatusMessage(message);
    };
}

const extended = new WeakSet<object>();

/**
 * Adds the sessions' figures (`sessions: SessionStats`) to the crawler's final request statistics (what
 * `crawler.run()` resolves with and logs as "Final request statistics"), once per crawler.
 */
export function addSessionsToFinalStatistics(internals: SessionsInternals, crawler: unknown): void {
    const stats = (crawler as { stats?: { calculate?: () => object } } | undefined)?.stats;
    if (!stats || typeof stats.calculate !== 'function' || extended.has(stats)) return;
    extended.add(stats);
    const calculate = stats.calculate.bind(stats);
    stats.calculate = () => ({ ...calculate(), sessions: internals.statsNow() });
}
