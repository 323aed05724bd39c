import { setTimeout as sleep } from 'node:timers/promises';

import type { Log } from '@crawlee/core';

import { describeCause } from '../shared/describe.js';

/** What {@link ExitFlush} needs. */
export interface ExitFlushOptions {
    /** Writes pending changes. */
    flush: () => Promise<void>;
    /** How long a flush on a signal may take before the signal takes its course anyway, in ms. */
    timeoutMillis: number;
    /** Flush on SIGINT/SIGTERM too (not only on `beforeExit`). */
    onSignals: boolean;
    log: Log;
}

type Listener = (...args: unknown[]) => void;

/**
 * Flushes pending session changes when the process ends without `close()`: on `beforeExit`, and on SIGINT/SIGTERM
 * (then lets the signal take its course). If the program (or a running crawler) has its own signal handler, that
 * handler decides what happens; otherwise the signal is raised again, so the process ends as it would have without
 * this handler: passive library listeners such as signal-exit only act when they are alone, and this one was not.
 */
export class ExitFlush {
    /** Signal listeners that existed before ours: libraries' passive ones (e.g. signal-exit), not the program's. */
    private readonly listenersBefore = new Set<Listener>();
    private readonly onSignal = (signal: NodeJS.Signals) => void this.flushOnSignal(signal);
    private readonly onBeforeExit = () => void this.options.flush().catch(() => undefined);

    constructor(private readonly options: ExitFlushOptions) {}

    install(): void {
        if (this.options.onSignals) {
            for (const signal of ['SIGINT', 'SIGTERM'] as const) {
                for (const listener of process.listeners(signal)) this.listenersBefore.add(listener as Listener);
                process.on(signal, this.onSignal);
            }
        }
        process.on('beforeExit', this.onBeforeExit);
    }

    uninstall(): void {
        process.off('SIGINT', this.onSignal);
        process.off('SIGTERM', this.onSignal);
        process.off('beforeExit', this.onBeforeExit);
    }

    private async flushOnSignal(signal: NodeJS.Signals): Promise<void> {
        const programHandles = process
            .listeners(signal)
            .some((listener) => listener !== this.onSignal && !this.listenersBefore.has(listener as Listener));
        process.off('SIGINT', this.onSignal);
        process.off('SIGTERM', this.onSignal);
        const limit = new AbortController();
        try {
            await Promise.race([this.options.flush(), sleep(this.options.timeoutMillis, undefined, { signal: limit.signal })]);
        } catch (error) {
            this.options.log.error(`Pending session changes could not be written on ${signal}: ${describeCause(error)}`);
        } finally {
            limit.abort();
        }
        if (!programHandles) process.kill(process.pid, signal);
    }
}
