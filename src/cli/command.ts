import type { CliIo } from './io.js';

/** One `crawlee-sessions` command. */
export interface CliCommand {
    /** The word that selects it: `list`, `show`, … */
    name: string;
    /** One line for the command overview. */
    summary: string;
    /** The command's help: its synopsis, then its arguments and options. */
    help: string;
    /**
     * Runs the command with the arguments that follow its name. Resolves with the exit code; throws a `UsageError`
     * (exit 2) or any other error (exit 1), which the CLI prints as one line.
     */
    run(args: readonly string[], io: CliIo): Promise<number>;
}

/** The help lines describing the store options, shared by every store command. */
export const STORE_OPTIONS_HELP = [
    'Store options:',
    '  --storage-dir DIR    the crawler\'s Crawlee storage directory (default: CRAWLEE_STORAGE_DIR, else ./storage)',
    '  --store-name NAME    the embedded store\'s name (default: crawlee-sessions)',
    '  --mysql URL          use MySQL: mysql://user:pass@host:3306/db (default: CRAWLEE_SESSIONS_MYSQL_URL)',
    '  --table-prefix P     the MySQL tables\' prefix (default: crawlee_sessions)',
    '  --secret-env NAME    the environment variable holding the store\'s secret (default: CRAWLEE_SESSIONS_SECRET)',
].join('\n');
