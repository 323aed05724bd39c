import { z } from 'zod';

import type { HeaderRules } from '../../headers/header-rules.js';
import type { HeaderRule, HeaderRuleInput, HeaderRulePatch, MatchConditionInput } from '../../headers/rule.js';
import { ConfigValidationError } from '../../shared/validation.js';
import { STORE_OPTIONS_HELP, type CliCommand } from '../command.js';
import { CliError, EXIT_OK, UsageError } from '../errors.js';
import { formatInstant, formatTable, oneLine, toJsonOutput, type Column } from '../format/table.js';
import type { CliIo } from '../io.js';
import { HELP_OPTION, STORE_OPTIONS, parseArgument, parseCommandLine, parseOptions, requirePositionals, type OptionValues } from '../options.js';
import { parseStoreSelection, withStore, type StoreSelection } from '../store.js';

const RULE_FIELD_OPTIONS = {
    header: { type: 'string' },
    value: { type: 'string' },
    'value-env': { type: 'string' },
    strategy: { type: 'string' },
    separator: { type: 'string' },
    pattern: { type: 'string' },
    priority: { type: 'string' },
    'url-glob': { type: 'string' },
    'url-regex': { type: 'string' },
    host: { type: 'string' },
    method: { type: 'string', multiple: true },
    session: { type: 'string', multiple: true },
    secret: { type: 'boolean' },
} as const;

const OPTIONS = {
    ...STORE_OPTIONS,
    ...HELP_OPTION,
    ...RULE_FIELD_OPTIONS,
    json: { type: 'boolean' },
    reveal: { type: 'boolean' },
    active: { type: 'boolean' },
    inactive: { type: 'boolean' },
    rename: { type: 'string' },
    unset: { type: 'string', multiple: true },
} as const;

/** The options each subcommand accepts besides the store options. */
const SUBCOMMAND_OPTIONS: Record<string, readonly string[]> = {
    list: ['json', 'reveal'],
    add: [...Object.keys(RULE_FIELD_OPTIONS), 'inactive', 'json'],
    update: [...Object.keys(RULE_FIELD_OPTIONS), 'active', 'inactive', 'rename', 'unset', 'json'],
    enable: ['json'],
    disable: ['json'],
    rm: [],
};

/** Fields `rules update --unset` can remove. */
const UNSETTABLE = ['pattern', 'url-glob', 'url-regex', 'host', 'method', 'session', 'secret'] as const;

/** Where the fields of a rule are given on the command line, for error messages. */
const FIELD_OPTION: Record<string, string> = {
    name: '<name>',
    header: '--header',
    value: '--value',
    strategy: '--strategy',
    separator: '--separator',
    pattern: '--pattern',
    priority: '--priority',
    active: '--active/--inactive',
    secret: '--secret',
    'match.urlGlob': '--url-glob',
    'match.urlRegex': '--url-regex',
    'match.host': '--host',
    'match.methods': '--method',
    'match.sessionIds': '--session',
};

const schema = z.looseObject({
    json: z.boolean().optional(),
    reveal: z.boolean().optional(),
    priority: z
        .string()
        .regex(/^\d{1,3}$/, 'must be a whole number from 0 to 100')
        .transform(Number)
        .optional(),
    'value-env': z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be the name of an environment variable')
        .optional(),
    unset: z.array(z.enum(UNSETTABLE, { error: `must be one of ${UNSETTABLE.join(', ')}` })).optional(),
});

const ruleName = z.string().min(1).max(100);

/**
 * `crawlee-sessions rules list|add|update|enable|disable|rm`: the persistent header rules kept in the store (the
 * same rules every crawler sharing the store applies). Values of sensitive headers are hidden unless `--reveal`.
 */
export const rulesCommand: CliCommand = {
    name: 'rules',
    summary: 'manage the persistent header rules kept in the store',
    help: [
        'crawlee-sessions rules list [--reveal] [--json]',
        'crawlee-sessions rules add <name> --header NAME (--value V | --value-env VAR) [rule options]',
        'crawlee-sessions rules update <name> [rule options] [--rename NEW] [--active|--inactive] [--unset FIELD]…',
        'crawlee-sessions rules enable|disable|rm <name>',
        '',
        'Header rules change request headers of every crawler sharing the store (they reload them every 30 s).',
        'Values of sensitive headers (Authorization, tokens, keys, anything marked --secret) are hidden in listings',
        'unless --reveal. Prefer --value-env over --value for secrets: command lines are visible to other users.',
        '',
        'Rule options:',
        '  --header NAME         the request header, e.g. X-Api-Key',
        '  --value V             the value (--value-env VAR: read it from the environment variable VAR)',
        '  --strategy S          UPSERT (default), REPLACE, APPEND, PREPEND or CONDITIONAL',
        '  --separator S         joins values for APPEND/PREPEND (default ", ")',
        '  --pattern REGEX       CONDITIONAL: replace only when the current value matches',
        '  --priority N          0–100, higher wins (default 50)',
        '  --url-glob G, --url-regex R, --host H, --method M…, --session ID…   which requests it applies to',
        '  --secret              treat the value as a secret (hidden, sealed at rest with a store secret)',
        '  --inactive            add or set it inactive (update: --active to re-activate)',
        '  --unset FIELD         update: remove pattern, url-glob, url-regex, host, method, session or secret',
        '  --rename NEW          update: rename the rule',
        '  --json                print the rule(s) as JSON',
        '',
        STORE_OPTIONS_HELP,
    ].join('\n'),
    async run(args, io) {
        const [subcommand, ...rest] = args;
        if (subcommand === undefined || subcommand.startsWith('-')) {
            throw new UsageError('missing subcommand: list, add, update, enable, disable or rm');
        }
        const allowed = SUBCOMMAND_OPTIONS[subcommand];
        if (!allowed) throw new UsageError(`unknown subcommand ${JSON.stringify(subcommand)}: use list, add, update, enable, disable or rm`);
        const { values, positionals } = parseCommandLine(rest, OPTIONS);
        for (const [option, value] of Object.entries(values)) {
            if (value !== undefined && !allowed.includes(option) && !(option in STORE_OPTIONS) && option !== 'help') {
                throw new UsageError(`rules ${subcommand} does not take --${option}`);
            }
        }
        const options = parseOptions(schema, values);
        const selection = parseStoreSelection(values);
        if (subcommand === 'list') {
            requirePositionals(positionals, []);
            return listRules(selection, io, options.reveal === true, options.json === true);
        }
        const [rawName] = requirePositionals(positionals, ['name']);
        const name = parseArgument(ruleName, rawName, 'name');
        const json = options.json === true;
        return withRules(selection, io, subcommand === 'add' || subcommand === 'update', async (rules) => {
            switch (subcommand) {
                case 'add': {
                    const input = ruleInput(name, values, options.priority, io);
                    printRule(io, 'Added', await validated(() => rules.add(input)), rules, json);
                    return EXIT_OK;
                }
                case 'update': {
                    const patch = rulePatch(values, options.priority, options.unset ?? [], io);
                    if (Object.keys(patch).length === 0) throw new UsageError('nothing to update: give at least one rule option');
                    printRule(io, 'Updated', await validated(() => rules.update(name, patch)), rules, json);
                    return EXIT_OK;
                }
                case 'enable':
                    printRule(io, 'Enabled', await rules.enable(name), rules, json);
                    return EXIT_OK;
                case 'disable':
                    printRule(io, 'Disabled', await rules.disable(name), rules, json);
                    return EXIT_OK;
                default: {
                    if (!(await rules.remove(name))) throw new CliError(`There is no header rule named ${JSON.stringify(name)}.`);
                    io.stdout(json ? toJsonOutput({ removed: name }) : `Removed header rule ${JSON.stringify(name)}.\n`);
                    return EXIT_OK;
                }
            }
        });
    },
};

async function withRules<T>(selection: StoreSelection, io: CliIo, mayCreate: boolean, task: (rules: HeaderRules) => Promise<T>): Promise<T> {
    return withStore(selection, io, { mustExist: !mayCreate }, async (store) => {
        const { HeaderRules } = await import('../../headers/header-rules.js');
        const rules = new HeaderRules(store, { refreshIntervalMillis: 0 });
        try {
            return await task(rules);
        } finally {
            rules.close();
        }
    });
}

async function listRules(selection: StoreSelection, io: CliIo, reveal: boolean, json: boolean): Promise<number> {
    const rules = await withRules(selection, io, false, (headerRules) => headerRules.list({ reveal }));
    if (json) {
        io.stdout(toJsonOutput(rules));
        return EXIT_OK;
    }
    const columns: Column<HeaderRule>[] = [
        { title: 'name', cell: (rule) => rule.name, maxWidth: 40 },
        { title: 'header', cell: (rule) => rule.header, maxWidth: 40 },
        { title: 'value', cell: (rule) => rule.value, maxWidth: 60 },
        { title: 'strategy', cell: (rule) => rule.strategy },
        { title: 'priority', cell: (rule) => String(rule.priority), alignRight: true },
        { title: 'active', cell: (rule) => (rule.active ? 'yes' : 'no') },
        { title: 'applies to', cell: (rule) => describeMatch(rule), maxWidth: 80 },
        { title: 'updated', cell: (rule) => formatInstant(rule.updatedAt) },
    ];
    io.stdout(`${formatTable(columns, rules)}\n${rules.length === 0 ? '(no header rules)\n' : ''}`);
    return EXIT_OK;
}

/** A rule's match condition in words: `host=api.example.com methods=GET,POST`, or `every request`. */
function describeMatch(rule: HeaderRule): string {
    const { match } = rule;
    const parts: string[] = [];
    if (match.host) parts.push(`host=${match.host}`);
    if (match.urlGlob) parts.push(`url-glob=${match.urlGlob}`);
    if (match.urlRegex) parts.push(`url-regex=${match.urlRegex}`);
    if (match.methods?.length) parts.push(`methods=${match.methods.join(',')}`);
    if (match.sessionIds?.length) parts.push(`sessions=${match.sessionIds.join(',')}`);
    return parts.length > 0 ? parts.join(' ') : 'every request';
}

function printRule(io: CliIo, verb: string, rule: HeaderRule, rules: HeaderRules, json: boolean): void {
    const shown = rules.describe(rule);
    if (json) {
        io.stdout(toJsonOutput(shown));
        return;
    }
    io.stdout(
        `${verb} header rule ${JSON.stringify(shown.name)}: ${oneLine(shown.header)}: ${oneLine(shown.value)} ` +
            `(${shown.strategy}, priority ${shown.priority}, ${shown.active ? 'active' : 'inactive'}; applies to ${describeMatch(shown)}).\n`,
    );
}

/** The rule's value from `--value` or `--value-env` (at most one of them). */
function ruleValue(values: OptionValues, io: CliIo): string | undefined {
    const direct = values.value as string | undefined;
    const envName = values['value-env'] as string | undefined;
    if (direct !== undefined && envName !== undefined) throw new UsageError('give --value or --value-env, not both');
    if (envName === undefined) return direct;
    const fromEnv = io.env[envName];
    if (fromEnv === undefined || fromEnv === '') throw new UsageError(`--value-env: the environment variable ${envName} is not set`);
    return fromEnv;
}

function matchFrom(values: OptionValues): MatchConditionInput {
    const match: MatchConditionInput = {};
    if (values['url-glob'] !== undefined) match.urlGlob = values['url-glob'] as string;
    if (values['url-regex'] !== undefined) match.urlRegex = values['url-regex'] as string;
    if (values.host !== undefined) match.host = values.host as string;
    if (values.method !== undefined) match.methods = values.method as string[];
    if (values.session !== undefined) match.sessionIds = values.session as string[];
    return match;
}

function ruleInput(name: string, values: OptionValues, priority: number | undefined, io: CliIo): HeaderRuleInput {
    const header = values.header as string | undefined;
    const value = ruleValue(values, io);
    if (header === undefined) throw new UsageError('--header is required');
    if (value === undefined) throw new UsageError('--value (or --value-env) is required');
    return {
        name,
        header,
        value,
        ...common(values, priority),
        ...(values.inactive ? { active: false } : {}),
        match: matchFrom(values),
    };
}

function rulePatch(values: OptionValues, priority: number | undefined, unset: readonly string[], io: CliIo): HeaderRulePatch {
    if (values.active && values.inactive) throw new UsageError('give --active or --inactive, not both');
    const value = ruleValue(values, io);
    const patch: HeaderRulePatch = { ...common(values, priority) };
    if (values.rename !== undefined) patch.name = values.rename as string;
    if (values.header !== undefined) patch.header = values.header as string;
    if (value !== undefined) patch.value = value;
    if (values.active) patch.active = true;
    if (values.inactive) patch.active = false;
    const match: Record<string, unknown> = { ...matchFrom(values) };
    for (const field of unset) {
        if (field === 'pattern') patch.pattern = undefined;
        else if (field === 'secret') patch.secret = false;
        else match[{ 'url-glob': 'urlGlob', 'url-regex': 'urlRegex', host: 'host', method: 'methods', session: 'sessionIds' }[field]!] = undefined;
    }
    if (Object.keys(match).length > 0) patch.match = match as MatchConditionInput;
    return patch;
}

function common(values: OptionValues, priority: number | undefined): Partial<HeaderRuleInput> {
    const fields: Partial<HeaderRuleInput> = {};
    if (values.strategy !== undefined) fields.strategy = values.strategy as HeaderRuleInput['strategy'];
    if (values.separator !== undefined) fields.separator = values.separator as string;
    if (values.pattern !== undefined) fields.pattern = values.pattern as string;
    if (priority !== undefined) fields.priority = priority;
    if (values.secret) fields.secret = true;
    return fields;
}

/** Runs a rule write; a validation error is restated with the options that hold the bad fields. */
async function validated<T>(write: () => Promise<T>): Promise<T> {
    try {
        return await write();
    } catch (error) {
        if (!(error instanceof ConfigValidationError)) throw error;
        const problems = error.issues.map((issue) => `${FIELD_OPTION[issue.path.replace(/\[\d+\]$/, '')] ?? issue.path}: ${issue.message}`);
        throw new UsageError(`invalid header rule: ${problems.join('; ')}`);
    }
}
