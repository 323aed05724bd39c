/**
 * The `crawlee-sessions` command line: look at, clear, export and import stored sessions, manage header rules, run
 * the maintainer. `bin/crawlee-sessions.js` calls {@link runCli}.
 * @packageDocumentation
 */
import { readFile } from 'node:fs/promises';

import type { CliCommand } from './command.js';
import { clearCommand } from './commands/clear.js';
import { exportCommand } from './commands/export.js';
import { importCommand } from './commands/import.js';
import { listCommand } from './commands/list.js';
import { maintainCommand, statusCommand } from './commands/maintainer.js';
import { repairCommand } from './commands/repair.js';
import { reportCommand } from './commands/report.js';
import { rulesCommand } from './commands/rules.js';
import { showCommand } from './commands/show.js';
import { EXIT_OK, EXIT_USAGE, describeError, exitCodeOf } from './errors.js';
import { oneLine } from './format/table.js';
import { processIo, type CliIo } from './io.js';
import { closestMatch } from './suggest.js';

export type { CliIo } from './io.js';

/** Every command, in the order the overview lists them. */
export const COMMANDS: readonly CliCommand[] = [
    listCommand,
    showCommand,
    clearCommand,
    exportCommand,
    importCommand,
    rulesCommand,
    maintainCommand,
    statusCommand,
    reportCommand,
    repairCommand,
];

/** The options that take a value, so that the command word can be found after them (`--storage-dir DIR list`). */
const OPTIONS_WITH_VALUE = new Set(['--storage-dir', '--store-name', '--mysql', '--table-prefix', '--secret-env', '--config', '-c']);

/** Options that stand for a command when they come first: help and version. */
const COMMAND_LIKE_OPTIONS = new Set(['-h', '--help', '--version', '-V']);

/** The package's version, from its package.json (next to dist/ or src/). */
async function packageVersion(): Promise<string> {
    const manifest = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof manifest.version === 'string' ? manifest.version : 'unknown';
}

/** The overview printed by `crawlee-sessions --help`. */
export function overview(): string {
    const width = Math.max(...COMMANDS.map((command) => command.name.length));
    return [
        'Usage: crawlee-sessions <command> [arguments] [options]   (or --help, --version)',
        '',
        'Commands:',
        ...COMMANDS.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
        '',
        'Sessions are read from the embedded store in Crawlee\'s storage directory (--storage-dir, CRAWLEE_STORAGE_DIR,',
        'default ./storage), or from MySQL with --mysql URL or CRAWLEE_SESSIONS_MYSQL_URL. Secrets (cookie values,',
        'login values, proxy passwords) are never printed unless asked for (--reveal, export).',
        '',
        'Run crawlee-sessions <command> --help for a command\'s options; crawlee-sessions --version for the version.',
        'Exit codes: 0 done, 1 failed (one line on stderr), 2 bad command line.',
    ].join('\n');
}

/**
 * Runs one command line (the arguments after the program name) and resolves with the process exit code: 0 done,
 * 1 failed, 2 bad command line. Failures are printed as one line on stderr, prefixed with `crawlee-sessions`.
 *
 * @param argv e.g. `['show', 'alice', '--reveal']`.
 * @param io Where to write; default the process's streams and environment.
 */
export async function runCli(argv: readonly string[], io: Partial<CliIo> = {}): Promise<number> {
    const streams: CliIo = { ...processIo(), ...io };
    const { command, args } = splitCommand(argv);
    if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
        const topic = command === 'help' ? COMMANDS.find((candidate) => candidate.name === args[0]) : undefined;
        if (topic) {
            streams.stdout(`${topic.help}\n`);
            return EXIT_OK;
        }
        if (command === undefined) {
            streams.stderr(`${overview()}\n`);
            return EXIT_USAGE;
        }
        streams.stdout(`${overview()}\n`);
        return EXIT_OK;
    }
    if (command === '--version' || command === '-V' || command === 'version') {
        streams.stdout(`crawlee-sessions ${await packageVersion()}\n`);
        return EXIT_OK;
    }
    const selected = COMMANDS.find((candidate) => candidate.name === command);
    if (!selected) {
        const names = COMMANDS.map((c) => c.name);
        const guess = closestMatch(command, names);
        const shown = JSON.stringify(oneLine(command.slice(0, 100)));
        const hint = guess ? `did you mean ${JSON.stringify(guess)}? ` : '';
        streams.stderr(`crawlee-sessions: unknown command ${shown} (${hint}commands: ${names.join(', ')}; see crawlee-sessions --help)\n`);
        return EXIT_USAGE;
    }
    if (wantsHelp(args)) {
        streams.stdout(`${selected.help}\n`);
        return EXIT_OK;
    }
    try {
        return await selected.run(args, streams);
    } catch (error) {
        const code = exitCodeOf(error);
        const hint = code === EXIT_USAGE ? ` (see crawlee-sessions ${selected.name} --help)` : '';
        streams.stderr(`crawlee-sessions ${selected.name}: ${describeError(error)}${hint}\n`);
        return code;
    }
}

/** Finds the command word, which may come after store options: `--storage-dir DIR list`. */
function splitCommand(argv: readonly string[]): { command: string | undefined; args: string[] } {
    for (let index = 0; index < argv.length; index++) {
        const token = argv[index]!;
        if (token === '--') break;
        if (OPTIONS_WITH_VALUE.has(token)) {
            index++;
            continue;
        }
        if (token.startsWith('-') && !COMMAND_LIKE_OPTIONS.has(token)) continue;
        return { command: token, args: [...argv.slice(0, index), ...argv.slice(index + 1)] };
    }
    return { command: undefined, args: [...argv] };
}

/** `--help` or `-h` before any `--`. */
function wantsHelp(args: readonly string[]): boolean {
    const end = args.indexOf('--');
    return (end === -1 ? args : args.slice(0, end)).some((arg) => arg === '--help' || arg === '-h');
}
