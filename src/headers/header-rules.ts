import { log as crawleeLog } from '@crawlee/core';

import type { SessionStore } from '../model/types.js';
import { compileCondition, type HeaderTarget, type TargetPredicate } from './conditions.js';
import { PeriodicTask } from './periodic.js';
import { describeRule } from './redact.js';
import {
    parseRuleInput,
    parseStoredRule,
    type HeaderRule,
    type HeaderRuleInput,
    type HeaderRulePatch,
} from './rule.js';
import type { CompiledChange } from './strategies.js';
import { CrawleeSessionsError, ERROR_CODES } from '../shared/errors.js';

/** Options of {@link HeaderRules}. */
export interface HeaderRulesOptions {
    /**
     * How often the rules are reloaded from the store, in ms, so that rules added, changed or removed by another
     * process (another crawler sharing the MySQL store, the CLI) are picked up. 0 disables the reload; call
     * {@link HeaderRules.refresh} yourself.
     * @default 30000
     */
    refreshIntervalMillis?: number;
    /**
     * Checked by the reload timer: once it returns true, the timer stops (used by `Sessions` to stop it on close).
     * @default () => false
     */
    isClosed?: () => boolean;
}

/** Options of {@link HeaderRules.list}. */
export interface ListRulesOptions {
    /** Show the values of sensitive headers (`Authorization`, …, anything marked `secret`). @default false */
    reveal?: boolean;
}

/** Thrown by {@link HeaderRules} when a rule does not exist, or a name is already taken. */
export class HeaderRuleError extends CrawleeSessionsError {
    override readonly name = 'HeaderRuleError';
    constructor(
        message: string,
        /** `not-found` or `exists`. */
        readonly reason: 'not-found' | 'exists',
    ) {
        super(ERROR_CODES.headerRule, message);
    }
}

/** The store collection holding the rules, one entry per rule keyed by its name. */
export const HEADER_RULES_COLLECTION = 'header-rules';

/** A rule ready to apply: its condition and pattern compiled. */
export interface CompiledRule extends CompiledChange {
    rule: HeaderRule;
    applies: TargetPredicate;
}

/** Application order: lower priority first (so higher priority is applied later and wins), then older first. */
export function compareRules(a: HeaderRule, b: HeaderRule): number {
    return a.priority - b.priority || a.createdAt - b.createdAt || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/**
 * Persistent header rules: named, prioritised changes to request headers, kept in a {@link SessionStore} so that
 * every process sharing the store (and the CLI) sees the same rules. `sessions.headerRules` is the instance a crawl
 * uses; the CLI creates its own on the store it opens.
 *
 * - Writes (`add`, `update`, `enable`, `disable`, `remove`) go to the store at once and take effect in this process
 *   immediately; other processes pick them up at their next reload (`refreshIntervalMillis`, default 30 s).
 * - `list` and `get` read the store; values of sensitive headers are hidden by `list` unless `reveal` is set.
 * - Every rule is stored sealed when the store has a secret, whatever its header's name (a name heuristic misses
 *   `X-Tenant-Key`); `secret` and the sensitive names only decide what `list` hides.
 *
 * ```ts
 * await sessions.headerRules.add({ name: 'api-key', header: 'X-Api-Key', value: key, match: { host: 'api.example.com' } });
 * await sessions.headerRules.disable('api-key');
 * ```
 */
export class HeaderRules {
    private compiled: CompiledRule[] = [];
    private loaded: Promise<void> | undefined;
    private version = 0;
    private readonly reload: PeriodicTask;
    private readonly log = crawleeLog.child({ prefix: 'HeaderRules' });

    /**
     * @param store Where the rules live (collection `header-rules`); only its entries API is used.
     * @param options See {@link HeaderRulesOptions}.
     */
    constructor(
        readonly store: SessionStore,
        options: HeaderRulesOptions = {},
    ) {
        this.reload = new PeriodicTask(
            () => this.refresh(),
            options.refreshIntervalMillis ?? 30_000,
            (error) => this.log.warning(`Reloading header rules from ${store.description} failed: ${describe(error)}`),
            options.isClosed,
        );
    }

    /**
     * Loads the rules from the store once and starts the periodic reload. Requests wait for it before their
     * headers are computed. A failed first load rejects (and is tried again by the next call).
     */
    ready(): Promise<void> {
        this.loaded ??= this.refresh().then(
            () => this.reload.start(),
            (error: unknown) => {
                this.loaded = undefined;
                throw error;
            },
        );
        return this.loaded;
    }

    /** Reloads every rule from the store now. Rules that fail validation are skipped with a warning. */
    async refresh(): Promise<void> {
        for (let attempt = 0; attempt < 5; attempt++) {
            const version = this.version;
            const rules = await this.readAll();
            // A local write that happened while reading is newer than what was read: read again.
            if (version !== this.version) continue;
            this.compiled = rules.sort(compareRules).map(compileRule);
            return;
        }
    }

    /** Every rule in application order, read from the store. Sensitive values hidden unless `reveal`. */
    async list(options: ListRulesOptions = {}): Promise<HeaderRule[]> {
        const rules = (await this.readAll()).sort(compareRules);
        return options.reveal ? rules : rules.map(describeRule);
    }

    /** One rule, read from the store, with its value; undefined when there is none of that name. */
    async get(name: string): Promise<HeaderRule | undefined> {
        const entry = await this.store.getEntry<unknown>(HEADER_RULES_COLLECTION, name);
        return entry && this.parseEntry(entry.key, entry.value);
    }

    /** Adds a rule. Throws {@link HeaderRuleError} (`exists`) if the name is taken, ConfigValidationError if invalid. */
    async add(input: HeaderRuleInput): Promise<HeaderRule> {
        const parsed = parseRuleInput(input);
        if (await this.store.getEntry(HEADER_RULES_COLLECTION, parsed.name)) {
            throw new HeaderRuleError(`A header rule named "${parsed.name}" already exists: update it or choose another name.`, 'exists');
        }
        const now = Date.now();
        const rule: HeaderRule = { ...parsed, createdAt: now, updatedAt: now };
        await this.write(rule);
        return rule;
    }

    /**
     * Changes some fields of a rule; `updatedAt` is bumped, `createdAt` kept. A `match` patch is merged into the
     * current condition (`{ match: { host: undefined } }` removes the host condition). A new `name` renames the rule.
     */
    async update(name: string, patch: HeaderRulePatch): Promise<HeaderRule> {
        const current = await this.require(name);
        const cleaned = withoutNulls(patch as Record<string, unknown>);
        const match: Record<string, unknown> =
            cleaned.match === undefined ? { ...current.match } : { ...current.match, ...withoutNulls(cleaned.match as Record<string, unknown>) };
        const { createdAt, updatedAt: _updatedAt, ...fields } = current;
        const parsed = parseRuleInput({ ...fields, ...cleaned, match: withoutUndefined(match) });
        if (parsed.name !== name && (await this.store.getEntry(HEADER_RULES_COLLECTION, parsed.name))) {
            throw new HeaderRuleError(`Cannot rename header rule "${name}": a rule named "${parsed.name}" already exists.`, 'exists');
        }
        const rule: HeaderRule = { ...parsed, createdAt, updatedAt: Math.max(Date.now(), current.updatedAt + 1) };
        await this.write(rule);
        if (parsed.name !== name) await this.delete(name);
        return rule;
    }

    /** Activates a rule. */
    enable(name: string): Promise<HeaderRule> {
        return this.update(name, { active: true });
    }

    /** Deactivates a rule (it is kept, and no longer applied). */
    disable(name: string): Promise<HeaderRule> {
        return this.update(name, { active: false });
    }

    /** Deletes a rule; returns whether it existed. */
    async remove(name: string): Promise<boolean> {
        return this.delete(name);
    }

    /** A rule safe to print (sensitive value hidden). */
    describe(rule: HeaderRule): HeaderRule {
        return describeRule(rule);
    }

    /**
     * The active rules that apply to a request, in application order, from the rules this process has loaded
     * (see {@link ready}). Synchronous: called at transmission for every request and redirect hop.
     * @internal
     */
    applicable(target: HeaderTarget): CompiledRule[] {
        return this.compiled.filter((compiled) => compiled.rule.active && compiled.applies(target));
    }

    /** The rules this process currently applies (values included), in application order. */
    get loadedRules(): HeaderRule[] {
        return this.compiled.map((compiled) => compiled.rule);
    }

    /** Stops the periodic reload. */
    close(): void {
        this.reload.stop();
    }

    private async require(name: string): Promise<HeaderRule> {
        const rule = await this.get(name);
        if (!rule) throw new HeaderRuleError(`There is no header rule named "${name}".`, 'not-found');
        return rule;
    }

    private async readAll(): Promise<HeaderRule[]> {
        const entries = await this.store.listEntries<unknown>(HEADER_RULES_COLLECTION);
        const rules: HeaderRule[] = [];
        for (const entry of entries) {
            try {
                rules.push(this.parseEntry(entry.key, entry.value));
            } catch (error) {
                this.log.warning(`Skipping header rule "${entry.key}" in ${this.store.description}: ${describe(error)}`);
            }
        }
        return rules;
    }

    private parseEntry(key: string, value: unknown): HeaderRule {
        const object = typeof value === 'object' && value !== null ? value : {};
        return parseStoredRule({ ...object, name: key }, `header rule "${key}"`);
    }

    private async write(rule: HeaderRule): Promise<void> {
        this.version++;
        await this.store.putEntry(HEADER_RULES_COLLECTION, rule.name, rule, { secret: true });
        this.compiled = [...this.compiled.filter((compiled) => compiled.rule.name !== rule.name), compileRule(rule)].sort((a, b) =>
            compareRules(a.rule, b.rule),
        );
    }

    private async delete(name: string): Promise<boolean> {
        this.version++;
        const existed = await this.store.deleteEntry(HEADER_RULES_COLLECTION, name);
        this.compiled = this.compiled.filter((compiled) => compiled.rule.name !== name);
        return existed;
    }
}

function compileRule(rule: HeaderRule): CompiledRule {
    return {
        rule,
        applies: compileCondition(rule.match),
        name: rule.header.toLowerCase(),
        value: rule.value,
        strategy: rule.strategy,
        separator: rule.separator,
        pattern: rule.pattern === undefined ? undefined : new RegExp(rule.pattern),
    };
}

// Null-prototype objects: a key such as `__proto__` in a patch stays a plain (refused) field, never a prototype.
function withoutNulls(object: Record<string, unknown> | undefined): Record<string, unknown> {
    const result: Record<string, unknown> = Object.create(null);
    for (const [key, value] of Object.entries(object ?? {})) result[key] = value === null ? undefined : value;
    return result;
}

function withoutUndefined(object: Record<string, unknown>): Record<string, unknown> {
    const result: Record<string, unknown> = Object.create(null);
    for (const [key, value] of Object.entries(object)) if (value !== undefined) result[key] = value;
    return result;
}

/** An error's message (validation errors never contain header values). */
function describe(error: unknown): string {
    return error instanceof Error ? error.message : String(error);
}
