/**
 * What `import 'crawlee-sessions'` costs an HTTP-only user: it must not load Playwright or mysql2 (they are loaded
 * when a browser crawler, a browser login or the MySQL store is used), nor Crawlee's browser crawlers.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

async function loadedBy(module: string, patterns: string[]): Promise<Record<string, string[]>> {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'test/fixtures/loaded-modules.ts', module, ...patterns], {
        timeout: 120_000,
    });
    return JSON.parse(stdout) as Record<string, string[]>;
}

describe('importing the package', () => {
    it('loads neither Playwright nor mysql2 nor Crawlee’s browser crawlers; the fixture does see them when they are loaded', async () => {
        const patterns = ['/node_modules/playwright', '/node_modules/mysql2/', '/node_modules/@crawlee/playwright/'];
        const ours = await loadedBy('./src/index.ts', patterns);
        for (const pattern of patterns) expect(ours[pattern], pattern).toEqual([]);
        // The probe works: importing the MySQL store and Playwright does load them.
        const mysql = await loadedBy('./src/stores/mysql-store.ts', patterns);
        expect(mysql['/node_modules/mysql2/']!.length).toBeGreaterThan(0);
        const playwright = await loadedBy('playwright', patterns);
        expect(playwright['/node_modules/playwright']!.length).toBeGreaterThan(0);
    });
});
