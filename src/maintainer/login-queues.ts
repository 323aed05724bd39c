/**
 * A FIFO limit on how many tasks run at once, in this process (Session-Maintainer's RabbitMQ queues, without a
 * broker).
 */
export class ConcurrencyQueue {
    private active = 0;
    private readonly waiting: Array<() => void> = [];
    /** The most tasks that ever ran at once. */
    peak = 0;

    /**
     * @param name For messages, e.g. `browser logins`.
     * @param limit How many tasks may run at once (at least 1).
     */
    constructor(
        readonly name: string,
        readonly limit: number,
    ) {
        if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`The limit of ${name} must be a whole number of at least 1.`);
    }

    /** Tasks running now. */
    get running(): number {
        return this.active;
    }

    /** Tasks waiting for a slot. */
    get queued(): number {
        return this.waiting.length;
    }

    /** Runs `task` as soon as a slot is free; resolves or rejects with it. */
    async run<T>(task: () => Promise<T>): Promise<T> {
        if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
        else this.active++;
        this.peak = Math.max(this.peak, this.active);
        try {
            return await task();
        } finally {
            const next = this.waiting.shift();
            if (next) next(); // the slot passes straight to the next task
            else this.active--;
        }
    }
}

/** Limits of {@link LoginQueues}. */
export interface LoginQueueLimits {
    /** Browser-mode logins at once (each runs a Chromium). */
    browser: number;
    /** HTTP-mode logins at once. */
    http: number;
}

/** The two login queues: browser logins and HTTP logins are limited separately. */
export class LoginQueues {
    readonly browser: ConcurrencyQueue;
    readonly http: ConcurrencyQueue;

    constructor(limits: LoginQueueLimits) {
        this.browser = new ConcurrencyQueue('browser logins', limits.browser);
        this.http = new ConcurrencyQueue('HTTP logins', limits.http);
    }

    /** The queue of a recipe's mode. */
    of(mode: 'browser' | 'http'): ConcurrencyQueue {
        return mode === 'browser' ? this.browser : this.http;
    }
}
