/**
 * The package as a user installs it: compiled with the build config into `<root>/node_modules/crawlee-sessions`
 * with the real `package.json` (its `exports` conditions) and LICENSE, next to an empty app folder `<root>/app`.
 * The root lies inside the repository's `node_modules`, so the built files resolve Crawlee, zod, … as an installed
 * package would (Node walks up to the repository's `node_modules`).
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The repository root. */
export const REPOSITORY = fileURLToPath(new URL('../../', import.meta.url));

/** A built copy of the package. */
export interface BuiltPackage {
    /** The temporary root (holds `node_modules/crawlee-sessions` and `app`). */
    root: string;
    /** `<root>/node_modules/crawlee-sessions`. */
    packageDir: string;
    /** `<root>/app`: run child processes here so that `crawlee-sessions` resolves to the built package. */
    appDir: string;
    /** Removes everything. */
    remove(): Promise<void>;
}

/** Builds the package (about 20 s of tsc on 2 cores). */
export async function buildPackage(): Promise<BuiltPackage> {
    const root = await mkdtemp(join(REPOSITORY, 'node_modules', '.built-package-'));
    const packageDir = join(root, 'node_modules', 'crawlee-sessions');
    const appDir = join(root, 'app');
    try {
        await mkdir(packageDir, { recursive: true });
        await mkdir(appDir);
        await run(
            process.execPath,
            [join(REPOSITORY, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', join(packageDir, 'dist')],
            { cwd: REPOSITORY, timeout: 300_000 },
        );
        await cp(join(REPOSITORY, 'package.json'), join(packageDir, 'package.json'));
        await cp(join(REPOSITORY, 'LICENSE'), join(packageDir, 'LICENSE'));
    } catch (error) {
        await rm(root, { recursive: true, force: true });
        throw error;
    }
    return { root, packageDir, appDir, remove: () => rm(root, { recursive: true, force: true }) };
}
