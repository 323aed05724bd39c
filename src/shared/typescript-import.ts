import { extname } from 'node:path';
import { pathToFileURL } from 'node:url';

/** File extensions imported through tsx (compiled on the fly, no build step). */
const TYPESCRIPT_EXTENSIONS = new Set(['.ts', '.mts', '.cts', '.tsx']);

/** Whether a file is TypeScript that {@link importModuleFile} compiles through tsx. */
export function isTypeScriptFile(path: string): boolean {
    return TYPESCRIPT_EXTENSIONS.has(extname(path).toLowerCase());
}

/**
 * Imports a user's module file by absolute path: `.js`/`.mjs`/`.cjs` natively, TypeScript through tsx's `tsImport`.
 * tsx is an optional peer dependency, loaded only here: a `.ts` file without tsx installed is refused with an error
 * saying what to install (or to point at compiled JavaScript instead).
 *
 * @param absolutePath The module's absolute path.
 * @param what What the file is, for the error: `the maintainer config`, `profiles`.
 */
export async function importModuleFile(absolutePath: string, what: string): Promise<Record<string, unknown>> {
    const fileUrl = pathToFileURL(absolutePath).href;
    if (!isTypeScriptFile(absolutePath)) return (await import(fileUrl)) as Record<string, unknown>;
    let tsImport: (specifier: string, parent: string) => Promise<unknown>;
    try {
        ({ tsImport } = await import('tsx/esm/api'));
    } catch (error) {
        if ((error as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw error;
        throw new Error(
            `Loading ${what} from a TypeScript file (${extname(absolutePath)}) needs tsx, which is not installed: ` +
                'run `npm install --save-dev tsx`, or give a compiled .js/.mjs file instead.',
        );
    }
    return (await tsImport(fileUrl, import.meta.url)) as Record<string, unknown>;
}
