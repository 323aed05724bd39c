import type { StoredCounters } from '../model/types.js';
import type { SessionObserver, SessionStatus } from '../session/bound-session.js';

/** What `sessions.stats()` reports: totals kept as they change, so reading them costs nothing whatever the number of sessions. */
export interface SessionStats {
    /** Sessions this process knows. */
    sessions: number;
    /** Sessions by status. */
    ready: number;
    renewing: number;
    failed: number;
    /** Requests transmitted, handled, failed and renewals completed, by this process since `Sessions.open()`. */
    requests: number;
    successes: number;
    failures: number;
    renewals: number;
    /**
     * Requests that were about to be sent with a session cleared since they were prepared, and were prepared again
     * after its renewal instead (the transmission-time guard at work; never sent stale).
     */
    staleRetries: number;
    /** Requests skipped because they would have logged their session out (the logout guard). */
    logoutSkipped: number;
    /** Cooldowns started (a session paused after a 429, 503 or another cooldown status). */
    cooldowns: number;
    /** Sessions with changes not yet written to the store. */
    pendingWrites: number;
    /** Whether the store is currently unreachable (the crawl goes on from memory). */
    storeOutage: boolean;
    /** The earliest announced end of a session's login (ms since the epoch); undefined: none known. */
    nextExpiryAt: number | undefined;
    /** Sessions whose renewal ahead of expiry is due: under way, or waiting to be retried. */
    expiringSoon: number;
    /** Renewals ahead of expiry completed by this process since `Sessions.open()`. */
    renewalsAhead: number;
}

/** Keeps the totals of {@link SessionStats} from the sessions' own notifications. */
export class StatsCollector implements SessionObserver {
    readonly byStatus: Record<SessionStatus, number> = { ready: 0, renewing: 0, failed: 0 };
    readonly totals: StoredCounters = { requests: 0, successes: 0, failures: 0, renewals: 0 };
    sessions = 0;
    staleRetries = 0;
    logoutSkipped = 0;
    cooldowns = 0;

    counted(counter: keyof StoredCounters, by: number): void {
        this.totals[counter] += by;
    }

    statusChanged(before: SessionStatus | undefined, after: SessionStatus): void {
        if (before === undefined) this.sessions++;
        else this.byStatus[before]--;
        this.byStatus[after]++;
    }

    /** A session dropped from memory stays counted in `sessions`, in no status (it is idle in the store). */
    evicted(status: SessionStatus): void {
        this.byStatus[status]--;
    }

    /** Sessions left in the store at open count as sessions. */
    coldAdded(count: number): void {
        this.sessions += count;
    }

    /** Its new object counted itself as a new session: it was one already. */
    reloaded(): void {
        this.sessions--;
    }
}

/** A one-line summary for the crawler's status line: `sessions: 12 ready, 1 renewing · 20 renewals · 0 stale`. */
export function summarizeStats(stats: SessionStats): string {
    const states = [`${stats.ready} ready`];
    if (stats.renewing) states.push(`${stats.renewing} renewing`);
    if (stats.failed) states.push(`${stats.failed} failed`);
    const parts = [`sessions: ${states.join(', ')}`, `${stats.renewals} renewals`, `${stats.staleRetries} stale retried`];
    if (stats.cooldowns) parts.push(`${stats.cooldowns} cooldowns`);
    if (stats.logoutSkipped) parts.push(`${stats.logoutSkipped} logout URLs skipped`);
    if (stats.storeOutage) parts.push(`store unreachable, ${stats.pendingWrites} pending`);
    return parts.join(' · ');
}
