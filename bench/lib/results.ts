/**
 * The results file: its schema, reading and writing.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';

import { z } from 'zod';

import { BENCH_SIZES, type BenchResults } from './types.js';

const numberOrNull = z.number().nullable();

/** A row of the table. */
export const metricRowSchema = z.strictObject({
    metric: z.string().min(1),
    unit: z.string(),
    plugin: numberOrNull,
    baseline: numberOrNull,
    ratio: numberOrNull,
    goal: z.string(),
    met: z.boolean().nullable(),
    note: z.string().optional(),
});

/** One scenario's result. */
export const scenarioResultSchema = z.strictObject({
    name: z.string().min(1),
    description: z.string(),
    status: z.enum(['ok', 'skipped', 'error']),
    reason: z.string().optional(),
    size: z.enum(BENCH_SIZES as [string, ...string[]]),
    startedAt: z.string(),
    durationMs: z.number().nonnegative(),
    rows: z.array(metricRowSchema),
    details: z.record(z.string(), z.unknown()),
});

/** The whole file; `bench/results.json` must match it. */
export const benchResultsSchema = z.strictObject({
    format: z.literal(1),
    size: z.enum(BENCH_SIZES as [string, ...string[]]),
    startedAt: z.string(),
    durationMs: z.number().nonnegative(),
    machine: z.strictObject({
        cpuModel: z.string(),
        cores: z.number().int().positive(),
        node: z.string(),
        platform: z.string(),
        totalMemoryGb: z.number(),
        versions: z.record(z.string(), z.string()),
    }),
    load: z
        .strictObject({
            start: z.tuple([z.number(), z.number(), z.number()]),
            end: z.tuple([z.number(), z.number(), z.number()]),
        })
        .optional(),
    scenarios: z.array(scenarioResultSchema),
});

/** Reads a results file; undefined when it does not exist or does not match the schema (it is then replaced). */
export async function readResults(path: string): Promise<BenchResults | undefined> {
    if (!existsSync(path)) return undefined;
    try {
        const parsed = benchResultsSchema.safeParse(JSON.parse(await readFile(path, 'utf8')));
        return parsed.success ? (parsed.data as BenchResults) : undefined;
    } catch {
        return undefined;
    }
}

/** Writes a results file (pretty-printed JSON, trailing newline). */
export async function writeResults(path: string, results: BenchResults): Promise<void> {
    await writeFile(path, `${JSON.stringify(results, null, 2)}\n`);
}
