import type { CliCommand } from '../command.js';

/**
 * `maintain` and `status` belong to the maintainer (`src/maintainer/cli.ts`), which parses its own options; its
 * module is loaded only when one of them runs, so the other commands start without it.
 */
function maintainerCommand(name: 'maintain' | 'status', summary: string, help: string): CliCommand {
    return {
        name,
        summary,
        help,
        async run(args, io) {
            const { runMaintainerCli } = await import('../../maintainer/cli.js');
            return runMaintainerCli([name, ...args], { stdout: io.stdout, stderr: io.stderr });
        },
    };
}

/** `crawlee-sessions maintain --config FILE`: the maintainer daemon. */
export const maintainCommand = maintainerCommand(
    'maintain',
    'keep the sessions of every login recipe fresh in the store (daemon)',
    [
        'crawlee-sessions maintain [--config sessions.config.ts] [--once]',
        '',
        'Runs the maintainer of the config module (its recipes, schedules and store) until SIGINT/SIGTERM.',
        '',
        '  --config, -c FILE   the config module (default: sessions.config.ts)',
        '  --once              run every recipe once, then exit (1 if some session could not be refreshed)',
    ].join('\n'),
);

/** `crawlee-sessions status`: the maintainer's status table. */
export const statusCommand = maintainerCommand(
    'status',
    'show the maintainer\'s status table (no secrets)',
    [
        'crawlee-sessions status [--config sessions.config.ts] [--json]',
        '',
        'Prints the status the maintainer keeps in the config\'s store: recipe, session, last check, state, last',
        'refresh, next run, failures.',
        '',
        '  --config, -c FILE   the config module (default: sessions.config.ts)',
        '  --json              print JSON instead of a table',
    ].join('\n'),
);
