import { accessSync, constants, statSync } from 'node:fs';
import { createRequire } from 'node:module';

/**
 * Where {@link findChromiumExecutable} found the browser:
 * - `'option'`: the `executablePath` option passed by the caller;
 * - `'env'`: an environment variable (see {@link CHROMIUM_ENV_VARS});
 * - `'playwright'`: Playwright's own downloaded Chromium (`npx playwright install chromium`);
 * - `'system'`: a distribution package such as Debian's `/usr/bin/chromium`;
 * - `'none'`: nothing was found.
 */
export type ChromiumExecutableSource = 'option' | 'env' | 'playwright' | 'system' | 'none';

/** Result of {@link findChromiumExecutable}: the executable path (undefined when none was found) and where it came from. */
export interface ChromiumExecutable {
    /** Absolute path of the Chromium executable, or `undefined` when `source` is `'none'`. */
    path: string | undefined;
    /** Which lookup step produced `path`. */
    source: ChromiumExecutableSource;
}

/** Options of {@link findChromiumExecutable}. */
export interface FindChromiumExecutableOptions {
    /** Explicit path of the Chromium executable; wins over everything else and must exist. */
    executablePath?: string;
}

/**
 * Environment variables consulted by {@link findChromiumExecutable}, in order:
 * our own `CRAWLEE_SESSIONS_CHROMIUM`, then `CRAWLEE_CHROME_EXECUTABLE_PATH`, which Crawlee 3.18 itself reads
 * (`Configuration.chromeExecutablePath`, used by its browser launchers when `useChrome` is set).
 * An empty value counts as unset.
 */
export const CHROMIUM_ENV_VARS: readonly string[] = ['CRAWLEE_SESSIONS_CHROMIUM', 'CRAWLEE_CHROME_EXECUTABLE_PATH'];

/** Distribution-packaged Chromium locations tried after Playwright's own browser. */
export const SYSTEM_CHROMIUM_PATHS: readonly string[] = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

/**
 * Command-line switches to launch Chromium with (pass as `args` to `chromium.launch`).
 *
 * - `--no-sandbox`: the sandbox needs user namespaces / setuid helpers that containers and CI runners
 *   (often running as root) do not provide; without it Chromium refuses to start there.
 * - `--disable-background-networking`, `--disable-component-update`, `--disable-sync`: stop Chromium's own
 *   background traffic (component updater, safe-browsing lists, sync, variations). On a closed network it
 *   otherwise floods the log with refused connections, and on an open one it leaks non-crawl traffic through
 *   the session's proxy.
 * - `--disable-dev-shm-usage`: write shared memory to /tmp instead of /dev/shm, which is only 64 MB in Docker
 *   and makes renderers crash on large pages.
 */
export const chromiumLaunchArgs: readonly string[] = [
    '--no-sandbox',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-dev-shm-usage',
];

/** True when `path` is an existing regular file that we may execute. */
function isExecutableFile(path: string): boolean {
    try {
        if (!statSync(path).isFile()) return false;
        if (process.platform !== 'win32') accessSync(path, constants.X_OK);
        return true;
    } catch {
        return false;
    }
}

/** Throws a descriptive error unless the explicitly configured `path` is a usable executable. */
function requireExecutable(path: string, what: string): void {
    if (isExecutableFile(path)) return;
    let problem = 'does not exist';
    try {
        problem = statSync(path).isFile() ? 'is not executable' : 'is not a regular file';
    } catch {
        // keep "does not exist"
    }
    throw new Error(
        `The ${what} points to "${path}", which ${problem}. ` +
            `Set the ${what} to the path of a Chromium executable (for example /usr/bin/chromium after ` +
            `\`apt-get install chromium\`), or remove it to let crawlee-sessions auto-detect Playwright's ` +
            `Chromium (\`npx playwright install chromium\`) or a system Chromium.`,
    );
}

/** Path of Playwright's bundled Chromium if it is actually installed; Playwright reports a path even when it is not. */
function playwrightChromium(): string | undefined {
    let path: string;
    try {
        // Loaded here, not at import: Playwright is an optional peer, and HTTP-only crawls never need it.
        const { chromium } = createRequire(import.meta.url)('playwright') as typeof import('playwright');
        path = chromium.executablePath();
    } catch {
        return undefined; // Playwright not installed, or a platform it has no build for
    }
    return path && isExecutableFile(path) ? path : undefined;
}

/**
 * Locates a Chromium executable to pass as `executablePath` to Playwright's `chromium.launch`.
 *
 * Lookup order:
 * 1. `options.executablePath`;
 * 2. the environment variables in {@link CHROMIUM_ENV_VARS} (`CRAWLEE_SESSIONS_CHROMIUM`, then Crawlee's
 *    `CRAWLEE_CHROME_EXECUTABLE_PATH`);
 * 3. Playwright's own installed Chromium (`chromium.executablePath()`, used only if the file exists);
 * 4. {@link SYSTEM_CHROMIUM_PATHS} (`/usr/bin/chromium`, `/usr/bin/chromium-browser`).
 *
 * @returns the path and its source, or `{ path: undefined, source: 'none' }` when nothing was found.
 * @throws Error when the option or one of the environment variables is set but does not name an existing
 *   executable file; the message names the option/variable and the path, and says how to fix it.
 */
export function findChromiumExecutable(options: FindChromiumExecutableOptions = {}): ChromiumExecutable {
    if (options.executablePath) {
        requireExecutable(options.executablePath, 'option executablePath');
        return { path: options.executablePath, source: 'option' };
    }
    for (const name of CHROMIUM_ENV_VARS) {
        const value = process.env[name];
        if (value) {
            requireExecutable(value, `environment variable ${name}`);
            return { path: value, source: 'env' };
        }
    }
    const fromPlaywright = playwrightChromium();
    if (fromPlaywright) return { path: fromPlaywright, source: 'playwright' };
    for (const path of SYSTEM_CHROMIUM_PATHS) {
        if (isExecutableFile(path)) return { path, source: 'system' };
    }
    return { path: undefined, source: 'none' };
}
