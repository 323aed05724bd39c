/**
 * Crawlee set-up shared by the scenarios: in-memory storage and no log output.
 */
import { Configuration, log } from 'crawlee';

/** A Crawlee configuration that keeps queues and stores in memory and never writes to ./storage. */
export function freshConfig(): Configuration {
    return new Configuration({ persistStorage: false, purgeOnStart: true });
}

/** Silences Crawlee's log (the harness prints its own progress). */
export function quietCrawlee(): void {
    log.setLevel(log.LEVELS.OFF);
}

/** Throws when a crawl did not handle every request: its timing would not be comparable. */
export function expectHandled(label: string, handled: number, expected: number): void {
    if (handled !== expected) {
        throw new Error(`${label}: handled ${handled} of ${expected} requests; the measurement is not valid.`);
    }
}
