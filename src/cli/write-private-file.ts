import { randomBytes } from 'node:crypto';
import { lstat, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

import { CliError } from './errors.js';

/**
 * Writes a file the way a report with session data must be written: readable by its owner only (mode 0600), whole or
 * not at all (a temporary file in the same folder, synced, then renamed over the target), and never through a
 * symbolic link (a link planted at the target could point the write at another file). Refuses a target that is a
 * symbolic link or not a regular file.
 */
export async function writePrivateFile(path: string, content: string): Promise<void> {
    const existing = await lstat(path).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return undefined;
        throw error;
    });
    if (existing?.isSymbolicLink()) throw new CliError(`${path} is a symbolic link: refusing to write through it (give the real path)`);
    if (existing && !existing.isFile()) throw new CliError(`${path} exists and is not a regular file`);
    const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
    // `wx`: fails if something (a link) appeared at the temporary name; the mode applies on creation.
    const handle = await open(temporary, 'wx', 0o600);
    try {
        await handle.writeFile(content, 'utf8');
        await handle.sync();
        await handle.close();
        await rename(temporary, path);
    } catch (error) {
        await handle.close().catch(() => undefined);
        await rm(temporary, { force: true });
        throw error;
    }
}
