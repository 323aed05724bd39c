import { z } from 'zod';

import { zeroCounters } from '../../model/merge.js';
import type { SessionDelta } from '../../model/types.js';
import { STORE_OPTIONS_HELP, type CliCommand } from '../command.js';
import { EXIT_OK } from '../errors.js';
import { fromStoredCookies, liveCookies } from '../format/cookies.js';
import { toJsonOutput } from '../format/table.js';
import { HELP_OPTION, parseSessionCommandLine, STORE_OPTIONS } from '../options.js';
import { parseStoreSelection, withStore } from '../store.js';
import { missingSession } from './show.js';

/** What `clear --json` prints. */
export interface ClearResult {
    id: string;
    previousGeneration: number;
    generation: number;
    /** Unexpired cookies the session had. */
    removedCookies: number;
    /** Whether the session had login values (auth headers, query values), now removed. */
    removedAuth: boolean;
}

const OPTIONS = { ...STORE_OPTIONS, ...HELP_OPTION, json: { type: 'boolean' } } as const;

const schema = z.looseObject({ json: z.boolean().optional() });

/**
 * `crawlee-sessions clear <id>`: empties a session the way `sessions.clear(id)` does, through the store: a reset to
 * the next generation with no cookies and no login values (profile kept, identity regenerated on next use).
 */
export const clearCommand: CliCommand = {
    name: 'clear',
    summary: 'empty a session: next generation, no cookies, no login values',
    help: [
        'crawlee-sessions clear <id> [--json] [store options]',
        '',
        'Clears a session in the store: bumps its generation and removes its cookies and login values (its profile',
        'is kept; a new identity is generated on next use). Crawlers sharing a MySQL store adopt the cleared session',
        'at their next sync (within about a second) and renew it when they need it; an embedded store can only be',
        'changed while no crawler uses it.',
        '',
        '  --json   print what was done as JSON',
        '',
        STORE_OPTIONS_HELP,
    ].join('\n'),
    async run(args, io) {
        const { id, options, values } = parseSessionCommandLine(args, OPTIONS, schema);
        const selection = parseStoreSelection(values);
        const result = await withStore(selection, io, {}, async (store): Promise<ClearResult> => {
            const record = await store.read(id);
            if (!record) throw missingSession(id, (await store.loadAll()).length);
            const delta: SessionDelta = {
                id,
                generation: record.generation + 1,
                reset: true,
                assignment: { profileIndex: record.profileIndex, identity: null, auth: null },
                upserts: [],
                removals: [],
                counters: zeroCounters(),
                lastUsedAt: null,
                lastRenewalError: null,
            };
            const [cleared] = await store.write([delta]);
            return {
                id,
                previousGeneration: record.generation,
                generation: cleared!.generation,
                removedCookies: liveCookies(fromStoredCookies(record.cookies)).length,
                removedAuth: record.auth !== null,
            };
        });
        if (options.json) {
            io.stdout(toJsonOutput(result));
        } else {
            const removed = [`${result.removedCookies} cookie${result.removedCookies === 1 ? '' : 's'}`];
            if (result.removedAuth) removed.push('its login values');
            io.stdout(
                `Cleared session ${JSON.stringify(id)}: generation ${result.previousGeneration} → ${result.generation}, ` +
                    `removed ${removed.join(' and ')}. Crawlers adopt the cleared session and renew it when they need it.\n`,
            );
        }
        return EXIT_OK;
    },
};
