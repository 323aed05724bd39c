import { CrawleeSessionsError, ERROR_CODES } from '../shared/errors.js';

/** `{{name}}` placeholders; whitespace inside the braces is allowed. */
const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}/g;

/** The names a template refers to, in order of appearance (duplicates kept once). */
export function templateNames(template: string): string[] {
    return [...new Set([...template.matchAll(PLACEHOLDER)].map((match) => match[1]!))];
}

/** Every template name inside a value: strings, and strings nested in arrays and objects (JSON bodies). */
export function templateNamesIn(value: unknown): string[] {
    const names = new Set<string>();
    visitStrings(value, (text) => templateNames(text).forEach((name) => names.add(name)));
    return [...names];
}

/** Thrown when a template names a value that does not exist when it is rendered. */
export class TemplateError extends CrawleeSessionsError {
    override readonly name = 'TemplateError';

    constructor(message: string, options?: { cause?: unknown }) {
        super(ERROR_CODES.templateValueMissing, message, options);
    }
}

/**
 * Replaces every `{{name}}` with `values[name]`. A name without a value is an error naming the placeholder
 * (never a value).
 */
export function renderTemplate(template: string, values: Readonly<Record<string, string>>): string {
    return template.replace(PLACEHOLDER, (_whole, name: string) => {
        const value = values[name];
        if (value === undefined) throw new TemplateError(`{{${name}}} has no value (known: ${Object.keys(values).join(', ') || 'none'})`);
        return value;
    });
}

/** Renders every string of a record. */
export function renderRecord(
    record: Readonly<Record<string, string>> | undefined,
    values: Readonly<Record<string, string>>,
): Record<string, string> | undefined {
    if (!record) return undefined;
    return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, renderTemplate(value, values)]));
}

/** Renders every string inside a JSON value (object keys are left alone). */
export function renderDeep(value: unknown, values: Readonly<Record<string, string>>): unknown {
    if (typeof value === 'string') return renderTemplate(value, values);
    if (Array.isArray(value)) return value.map((item) => renderDeep(item, values));
    if (value && typeof value === 'object') {
        return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, renderDeep(item, values)]));
    }
    return value;
}

function visitStrings(value: unknown, visit: (text: string) => void): void {
    if (typeof value === 'string') visit(value);
    else if (Array.isArray(value)) value.forEach((item) => visitStrings(item, visit));
    else if (value && typeof value === 'object') Object.values(value).forEach((item) => visitStrings(item, visit));
}
