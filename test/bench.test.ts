/**
 * The benchmark harness at its smallest size: every scenario runs and produces numbers, and the results file has
 * its shape. No timing is asserted (the numbers of a tiny run mean nothing).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { log } from 'crawlee';
import { describe, expect, it } from 'vitest';

import { mergeResults, runBench, selectScenarios } from '../bench/lib/harness.js';
import { benchResultsSchema, readResults, writeResults } from '../bench/lib/results.js';
import { alternate } from '../bench/lib/rounds.js';
import { metricRow } from '../bench/lib/rows.js';
import { median, percentile } from '../bench/lib/stats.js';
import { formatLoad, formatReport } from '../bench/lib/table.js';
import type { BenchResults, Scenario } from '../bench/lib/types.js';
import { scenarios } from '../bench/scenarios/index.js';

log.setLevel(log.LEVELS.OFF);

describe('benchmark harness', () => {
    it('runs every scenario at the tiny size: each one ok, with numbers, in a results file of the right shape', { timeout: 600_000 }, async () => {
        const results = await runBench({ scenarios, size: 'tiny' });

        expect(() => benchResultsSchema.parse(results)).not.toThrow();
        expect(results.scenarios.map((s) => s.name)).toEqual(scenarios.map((s) => s.name));
        // Outside CI a machine may lack MySQL or Chromium: those scenarios may then be skipped (CI has both).
        const mayLack = (text: string | undefined) => !process.env.CI && /MySQL|Chromium/.test(text ?? '');
        for (const scenario of results.scenarios) {
            if (scenario.status === 'skipped' && mayLack(scenario.reason)) continue;
            expect({ name: scenario.name, status: scenario.status, reason: scenario.reason }).toEqual({
                name: scenario.name,
                status: 'ok',
                reason: undefined,
            });
            expect(scenario.rows.length, `${scenario.name} has rows`).toBeGreaterThan(0);
            const goals = scenario.rows.filter((row) => row.goal !== '');
            expect(goals.length, `${scenario.name} has at least one goal`).toBeGreaterThan(0);
            for (const row of goals) {
                if (row.plugin === null && mayLack(row.note)) continue;
                const measured = row.goal.startsWith('ratio') ? row.ratio : row.plugin;
                expect(Number.isFinite(measured), `${scenario.name} · ${row.metric} produced a number`).toBe(true);
                expect(typeof row.met, `${scenario.name} · ${row.metric} has a verdict`).toBe('boolean');
            }
        }
        expect(results.machine.cores).toBeGreaterThan(0);
        expect(results.load?.start).toHaveLength(3);
        expect(results.load?.end.every((value) => Number.isFinite(value) && value >= 0)).toBe(true);
        expect(results.machine.versions.crawlee).toMatch(/^\d+\.\d+\.\d+/);

        // Correctness goals hold even at this size: no stale or failed request, one login per expiry.
        const rowOf = (scenario: string, metric: string) =>
            results.scenarios.find((s) => s.name === scenario)!.rows.find((row) => row.metric === metric);
        expect(rowOf('renewal', 'stale requests')?.plugin).toBe(0);
        expect(rowOf('renewal', 'failed requests')?.plugin).toBe(0);
        expect(rowOf('renewal', 'renewals per crawl')?.met).toBe(true);
        expect(rowOf('renewal', 'announced expiry: logged-out answers')?.plugin).toBe(0);
        const ran = (name: string) => results.scenarios.find((s) => s.name === name)?.status === 'ok';
        if (ran('multi-process')) {
            expect(rowOf('multi-process', 'logins')?.met).toBe(true);
            // Each worker had its own Crawlee storage directory (none purged another's), removed after the run.
            const dirs = results.scenarios.find((s) => s.name === 'multi-process')!.details.storageDirs as string[];
            expect(new Set(dirs).size).toBe(2);
            for (const dir of dirs) expect(existsSync(dir), dir).toBe(false);
        }
        if (ran('quick-login')) expect(rowOf('quick-login', 'form posts per login')?.plugin).toBe(0);

        const report = formatReport(results);
        expect(report).toContain('| scenario');
        expect(report).toMatch(/Load average \(1 \/ 5 \/ 15 min\): start [\d.]+ \/ [\d.]+ \/ [\d.]+ · end /);
        for (const scenario of scenarios) expect(report).toContain(`| ${scenario.name}`);

        const directory = await mkdtemp(path.join(tmpdir(), 'bench-test-'));
        try {
            const file = path.join(directory, 'results.json');
            await writeResults(file, results);
            expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(JSON.parse(JSON.stringify(results)));
            expect(await readResults(file)).toEqual(JSON.parse(JSON.stringify(results)));
        } finally {
            await rm(directory, { recursive: true, force: true });
        }
    });
});

describe('harness parts', () => {
    const fake = (name: string, value: number): Scenario => ({
        name,
        description: `fake ${name}`,
        run: async () => ({ rows: [metricRow({ metric: 'm', unit: '', plugin: value, goal: { on: 'plugin', op: '>=', value: 1 } })], details: {} }),
    });

    it('selects scenarios by name and refuses unknown names', () => {
        const all = [fake('a', 1), fake('b', 1), fake('c', 1)];
        expect(selectScenarios(all, undefined).map((s) => s.name)).toEqual(['a', 'b', 'c']);
        expect(selectScenarios(all, ['c', 'a']).map((s) => s.name)).toEqual(['a', 'c']);
        expect(() => selectScenarios(all, ['a', 'nope'])).toThrow(/Unknown scenario "nope"/);
    });

    it('records a failing scenario as an error and runs the others', async () => {
        const failing: Scenario = { name: 'boom', description: 'fails', run: async () => { throw new Error('it broke'); } };
        const results = await runBench({ scenarios: [failing, fake('ok', 2)], size: 'tiny' });
        expect(results.scenarios.map((s) => [s.name, s.status, s.reason])).toEqual([
            ['boom', 'error', 'it broke'],
            ['ok', 'ok', undefined],
        ]);
        expect(results.scenarios[1]!.rows[0]).toMatchObject({ plugin: 2, goal: '≥ 1', met: true });
    });

    it('merges a partial run into earlier results, replacing only the scenarios it ran', async () => {
        const earlier = await runBench({ scenarios: [fake('a', 1), fake('b', 1)], size: 'full' });
        const partial = await runBench({ scenarios: [fake('b', 5)], size: 'full' });
        const merged: BenchResults = mergeResults(earlier, partial);
        expect(merged.scenarios.map((s) => [s.name, s.rows[0]!.plugin])).toEqual([
            ['a', 1],
            ['b', 5],
        ]);
    });

    it('computes ratios both ways and judges goals', () => {
        expect(metricRow({ metric: 't', unit: 'req/s', plugin: 90, baseline: 100, goal: { on: 'ratio', op: '>=', value: 0.95 } }))
            .toMatchObject({ ratio: 0.9, goal: 'ratio ≥ 0.95', met: false });
        expect(metricRow({ metric: 't', unit: 'ms', plugin: 10, baseline: 100, ratio: 'baseline/plugin', goal: { on: 'ratio', op: '>=', value: 5 } }))
            .toMatchObject({ ratio: 10, met: true });
        expect(metricRow({ metric: 's', unit: '', plugin: null, goal: { on: 'plugin', op: '==', value: 0 } })).toMatchObject({ met: false });
        expect(metricRow({ metric: 'i', unit: 'B', plugin: 3 })).toMatchObject({ goal: '', met: null, ratio: null });
    });

    it('alternates sides in ABBA order after the warm-ups', async () => {
        const order: string[] = [];
        const samples = await alternate({
            rounds: 3,
            warmups: 1,
            sides: {
                a: async (round: number) => (order.push(`a${round}`), round),
                b: async (round: number) => (order.push(`b${round}`), round),
            },
        });
        expect(order).toEqual(['a-1', 'b-1', 'a0', 'b0', 'b1', 'a1', 'a2', 'b2']);
        expect(samples).toEqual({ a: [0, 1, 2], b: [0, 1, 2] });
    });

    it('prints the load average and flags a run busier than its cores', () => {
        expect(formatLoad({ start: [0.5, 0.4, 0.3], end: [1.25, 0.5, 0.3] }, 2)).toBe(
            'Load average (1 / 5 / 15 min): start 0.50 / 0.40 / 0.30 · end 1.25 / 0.50 / 0.30',
        );
        expect(formatLoad({ start: [3.1, 2, 1], end: [1, 1, 1] }, 2)).toContain('NOISY');
    });

    it('computes medians and percentiles', () => {
        expect(median([5, 1, 3])).toBe(3);
        expect(median([4, 1, 3, 2])).toBe(2.5);
        expect(percentile([1, 2, 3, 4, 5], 100)).toBe(5);
        expect(percentile([1, 2, 3, 4, 5], 0)).toBe(1);
        expect(Number.isNaN(median([]))).toBe(true);
    });
});
