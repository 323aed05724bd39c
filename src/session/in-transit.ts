/**
 * Counts a session's requests that reached Node's HTTP layer and have not been answered yet, so that a renewal can
 * wait for them (the server sees the old generation's requests before the new login). Costs a counter per request;
 * a promise exists only while someone waits.
 */
export class InTransit {
    private count = 0;
    /** Made when someone waits (most sessions never have a waiter). */
    private waiters: Array<() => void> | undefined;
    #slowestRecentMillis = 0;

    /** Requests sent and not answered yet. */
    get size(): number {
        return this.count;
    }

    /**
     * How long the session's slowest recent request took to be answered (ms): the longest answer time, decaying by a
     * tenth with every later answer, so that it follows the load. A renewal ahead must finish at least this long before
     * the login ends, or requests sent just before it are answered after the end.
     */
    get slowestRecentMillis(): number {
        return this.#slowestRecentMillis;
    }

    /** Records a request sent; the returned function records its answer (calling it again does nothing). */
    enter(): () => void {
        this.count++;
        const sentAt = performance.now();
        let left = false;
        return () => {
            if (left) return;
            left = true;
            this.#slowestRecentMillis = Math.max(performance.now() - sentAt, this.#slowestRecentMillis * 0.9);
            if (--this.count === 0 && this.waiters) {
                const waiters = this.waiters;
                this.waiters = undefined;
                for (const wake of waiters) wake();
            }
        };
    }

    /** Settles when every request sent so far (and any sent meanwhile) has been answered. */
    drained(): Promise<void> {
        if (this.count === 0) return Promise.resolve();
        return new Promise((resolve) => (this.waiters ??= []).push(resolve));
    }
}
