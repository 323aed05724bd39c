#!/usr/bin/env node
// The `crawlee-sessions` command. Runs the compiled CLI (dist/cli/main.js) when it is built and not older than the
// sources next to it; otherwise (a checkout without a build, or sources edited since) runs the TypeScript entry
// through tsx, so that `npx crawlee-sessions …` works in the repository without `npm run build`.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const built = new URL('../dist/cli/main.js', import.meta.url);
const source = new URL('../src/cli/main.ts', import.meta.url);

/** The newest modification time of the .ts files under a directory (0 when it does not exist). */
function newestSource(directory) {
    let newest = 0;
    for (const entry of readdirSync(directory, { withFileTypes: true })) {
        const path = `${directory}/${entry.name}`;
        if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
        else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
    }
    return newest;
}

function useBuild() {
    const builtPath = fileURLToPath(built);
    if (!existsSync(builtPath)) return false;
    const sourcePath = fileURLToPath(source);
    if (!existsSync(sourcePath)) return true; // an installed package ships dist only
    return statSync(builtPath).mtimeMs >= newestSource(fileURLToPath(new URL('../src', import.meta.url)));
}

let cli;
if (useBuild()) {
    cli = await import(built.href);
} else {
    const { tsImport } = await import('tsx/esm/api');
    cli = await tsImport(source.href, import.meta.url);
}
process.exitCode = await cli.runCli(process.argv.slice(2));
