import { parseArgs, type ParseArgsConfig } from 'node:util';

import { z } from 'zod';

import { ConfigValidationError, parseWithZod } from '../shared/validation.js';
import { UsageError } from './errors.js';
import { sessionIdStringSchema } from '../shared/ids.js';

/** Option definitions as `util.parseArgs` takes them. */
export type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** Option values as `util.parseArgs` returns them, keyed by the option's long name (`storage-dir`). */
export type OptionValues = Record<string, string | boolean | Array<string | boolean> | undefined>;

/** A command line split into options and positional arguments. */
export interface ParsedCommandLine {
    values: OptionValues;
    positionals: string[];
}

/** Options every store command accepts: which store to open, and its secret. */
export const STORE_OPTIONS = {
    'storage-dir': { type: 'string' },
    'store-name': { type: 'string' },
    mysql: { type: 'string' },
    'table-prefix': { type: 'string' },
    'secret-env': { type: 'string' },
} as const satisfies OptionsConfig;

/** `--help`, accepted everywhere. */
export const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const satisfies OptionsConfig;

/**
 * Parses a command's arguments strictly: unknown options, missing option values and surplus positional arguments
 * are refused with a {@link UsageError} that names them in one line.
 *
 * @param args The arguments after the command name.
 * @param options The command's options (store options and `--help` are not added automatically).
 */
export function parseCommandLine(args: readonly string[], options: OptionsConfig): ParsedCommandLine {
    try {
        const { values, positionals } = parseArgs({ args: [...args], options, strict: true, allowPositionals: true });
        return { values: values as OptionValues, positionals };
    } catch (error) {
        throw new UsageError(describeParseError(error, options));
    }
}

function describeParseError(error: unknown, options: OptionsConfig): string {
    const { code, message } = error as { code?: string; message?: string };
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
        const option = /'([^']+)'/.exec(message ?? '')?.[1] ?? '';
        const known = Object.keys(options).map((name) => `--${name}`);
        return `unknown option ${option.startsWith('-') ? option : `--${option}`} (this command accepts ${known.join(', ')})`;
    }
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
        const option = /'(--?[\w-]+)/.exec(message ?? '')?.[1];
        const config = option ? options[option.replace(/^-+/, '')] : undefined;
        if (option && config?.type === 'string') return `${option} needs a value`;
        if (option) return `${option} takes no value`;
    }
    return (message ?? String(error)).split('\n')[0]!;
}

/**
 * Validates option values with zod ({@link parseWithZod}) and turns a failure into a {@link UsageError} naming
 * each bad option the way it is written on the command line: `--format: must be one of "playwright", … (got "xml")`.
 * Secret-looking values are never quoted (see `parseWithZod`).
 */
export function parseOptions<T>(schema: z.ZodType<T>, values: unknown): T {
    try {
        return parseWithZod(schema, values, 'options');
    } catch (error) {
        if (!(error instanceof ConfigValidationError)) throw error;
        const problems = error.issues.map((issue) => {
            const option = issue.path.replace(/^\["?|"?\]$/g, '').replace(/^([\w-]+).*$/, '$1');
            return option === '' ? issue.message : `--${option}: ${issue.message}`;
        });
        throw new UsageError(problems.join('; '));
    }
}

/** Zod schema of a session id given on the command line (the rule every session id follows). */
export const sessionIdArgument = sessionIdStringSchema;

/**
 * Checks the positional arguments of a command against their names and returns them; a missing or surplus one is a
 * {@link UsageError}: `missing <id>`, `unexpected argument "x"`.
 *
 * @param positionals What `parseArgs` found.
 * @param names The names of the required arguments, in order (`['id', 'file']`).
 */
export function requirePositionals(positionals: readonly string[], names: readonly string[]): string[] {
    if (positionals.length < names.length) throw new UsageError(`missing <${names[positionals.length]}>`);
    if (positionals.length > names.length) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[names.length])}`);
    return [...positionals];
}

/**
 * Validates one positional argument with zod, naming it `<name>` in the error: `<id>: must not be empty`.
 */
export function parseArgument<T>(schema: z.ZodType<T>, value: unknown, name: string): T {
    try {
        return parseWithZod(schema, value, name);
    } catch (error) {
        if (!(error instanceof ConfigValidationError)) throw error;
        throw new UsageError(`<${name}>: ${error.issues.map((issue) => issue.message).join('; ')}`);
    }
}

/**
 * Parses the command line of a command about one session (`<id>`, then `extra` positionals): the id and options
 * validated, the raw option values kept for the store selection.
 */
export function parseSessionCommandLine<T>(
    args: readonly string[],
    options: OptionsConfig,
    schema: z.ZodType<T>,
    extra: readonly string[] = [],
): { id: string; rest: string[]; options: T; values: OptionValues } {
    const { values, positionals } = parseCommandLine(args, options);
    const [rawId, ...rest] = requirePositionals(positionals, ['id', ...extra]);
    return { id: parseSessionId(rawId), rest, options: parseOptions(schema, values), values };
}

/** Validates a session id argument. */
export function parseSessionId(id: string | undefined): string {
    return parseArgument(sessionIdArgument, id, 'id');
}
