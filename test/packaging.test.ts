/**
 * The package as a user installs it: built with the build config into a `node_modules/crawlee-sessions` folder next to
 * an app, with the real `package.json` (its `exports` conditions), then loaded by plain Node from a CommonJS file
 * (`require`, Node >= 20.19) and from an ES module (`import`). Importing it must not load Playwright or mysql2.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { buildPackage, REPOSITORY as repo, type BuiltPackage } from './support/built-package.js';

const run = promisify(execFile);

let built: BuiltPackage | undefined;
let app: string;

/** What a probe file prints: the package's export names, and the loaded CommonJS modules matching the patterns. */
interface Probe {
    exports: string[];
    loaded: Record<string, string[]>;
    /** The same patterns after the probe required playwright and mysql2 itself (shows the probe sees them). */
    loadedAfter: Record<string, string[]>;
}

const PATTERNS = ['/node_modules/playwright', '/node_modules/mysql2/', '/node_modules/tsx/'];

const REPORT = `
const patterns = ${JSON.stringify(PATTERNS)};
const seen = () => Object.fromEntries(patterns.map((p) => [p, Object.keys(require.cache).filter((path) => path.includes(p))]));
`;

beforeAll(async () => {
    built = await buildPackage();
    app = built.appDir;
    await writeFile(
        join(app, 'probe.cjs'),
        `${REPORT}
const sessions = require('crawlee-sessions');
const loaded = seen();
require('playwright'); require('mysql2');
process.stdout.write(JSON.stringify({ exports: Object.keys(sessions), loaded, loadedAfter: seen() }));
`,
    );
    await writeFile(
        join(app, 'probe.mjs'),
        `import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
${REPORT}
const sessions = await import('crawlee-sessions');
const loaded = seen();
require('playwright'); require('mysql2');
process.stdout.write(JSON.stringify({ exports: Object.keys(sessions), loaded, loadedAfter: seen() }));
`,
    );
}, 300_000);

afterAll(async () => {
    await built?.remove();
});

async function probe(file: string): Promise<Probe> {
    const { stdout } = await run(process.execPath, [file], { cwd: app, timeout: 120_000 });
    return JSON.parse(stdout) as Probe;
}

describe('the built package', () => {
    it('is required from CommonJS and imported from an ES module, without loading Playwright, mysql2 or tsx', async () => {
        for (const file of ['probe.cjs', 'probe.mjs']) {
            const result = await probe(file);
            expect(result.exports, file).toEqual(expect.arrayContaining(['Sessions', 'withSessions', 'defineProfiles', 'openStore']));
            for (const pattern of PATTERNS) expect(result.loaded[pattern], `${file}: ${pattern}`).toEqual([]);
            // The probe does see a module once it is loaded.
            expect(result.loadedAfter['/node_modules/playwright']!.length, file).toBeGreaterThan(0);
            expect(result.loadedAfter['/node_modules/mysql2/']!.length, file).toBeGreaterThan(0);
        }
    });

    it('declares Crawlee as a peer, Playwright and tsx as optional peers, and ships the Apache-2.0 licence', async () => {
        const manifest = JSON.parse(await readFile(join(repo, 'package.json'), 'utf8')) as Record<string, Record<string, unknown>>;
        expect(manifest.dependencies).not.toHaveProperty('crawlee');
        expect(manifest.dependencies).not.toHaveProperty('playwright');
        expect(manifest.dependencies).not.toHaveProperty('tsx');
        expect(manifest.peerDependencies).toMatchObject({ crawlee: '^3.18.0', '@crawlee/core': '^3.18.0' });
        expect(manifest.peerDependenciesMeta).toEqual({ playwright: { optional: true }, tsx: { optional: true } });
        expect(manifest.license).toBe('Apache-2.0');
        const licence = await readFile(join(repo, 'LICENSE'), 'utf8');
        expect(licence).toContain('Apache License');
        expect(licence).toContain('Version 2.0, January 2004');
    });
});
