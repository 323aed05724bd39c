/**
 * Runs an async task every `intervalMs` on an unref'd timer (it never keeps the process alive). A tick that
 * comes while the previous run is still going is skipped, and errors are passed to `onError`.
 */
export class PeriodicTask {
    private timer: NodeJS.Timeout | undefined;
    private running = false;

    constructor(
        private readonly task: () => Promise<unknown>,
        private readonly intervalMs: number,
        private readonly onError: (error: unknown) => void,
        /** Checked on every tick: once it returns true the task stops itself (e.g. the owner was closed). */
        private readonly stopped: () => boolean = () => false,
    ) {}

    /** Starts the timer (no-op when already started or when the interval is 0). */
    start(): void {
        if (this.timer || this.intervalMs <= 0) return;
        this.timer = setInterval(() => void this.tick(), this.intervalMs);
        this.timer.unref();
    }

    /** Stops the timer. */
    stop(): void {
        if (this.timer) clearInterval(this.timer);
        this.timer = undefined;
    }

    /** Whether the timer is running. */
    get started(): boolean {
        return this.timer !== undefined;
    }

    private async tick(): Promise<void> {
        if (this.stopped()) return this.stop();
        if (this.running) return;
        this.running = true;
        try {
            await this.task();
        } catch (error) {
            this.onError(error);
        } finally {
            this.running = false;
        }
    }
}
