/**
 * `npm run bench`: runs every benchmark scenario with its baseline, prints the table and writes bench/results.json.
 *
 *   tsx bench/run.ts                      full size, writes bench/results.json
 *   tsx bench/run.ts --quick              quick size (same code, smaller numbers), writes nothing
 *   tsx bench/run.ts --only renewal,store  only these scenarios (a full run merges them into bench/results.json)
 *   tsx bench/run.ts --out file.json      write the results there
 *   tsx bench/run.ts --list               list the scenarios
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { mergeResults, runBench } from './lib/harness.js';
import { readResults, writeResults } from './lib/results.js';
import { formatReport } from './lib/table.js';
import { BENCH_SIZES, type BenchSize } from './lib/types.js';
import { scenarios } from './scenarios/index.js';

const DEFAULT_OUT = fileURLToPath(new URL('./results.json', import.meta.url));

const USAGE = `Usage: npm run bench -- [--quick | --size tiny|quick|full] [--only name,name] [--out file.json] [--list]
Scenarios: ${scenarios.map((scenario) => scenario.name).join(', ')}`;

async function main(): Promise<number> {
    const { values } = parseArgs({
        options: {
            quick: { type: 'boolean', default: false },
            size: { type: 'string' },
            only: { type: 'string', multiple: true },
            out: { type: 'string' },
            list: { type: 'boolean', default: false },
            help: { type: 'boolean', short: 'h', default: false },
        },
        strict: true,
    });
    if (values.help) {
        console.log(USAGE);
        return 0;
    }
    if (values.list) {
        for (const scenario of scenarios) console.log(`${scenario.name.padEnd(22)} ${scenario.description}`);
        return 0;
    }
    const size = (values.size ?? (values.quick ? 'quick' : 'full')) as BenchSize;
    if (!BENCH_SIZES.includes(size)) {
        console.error(`--size must be one of ${BENCH_SIZES.join(', ')}, not "${size}".\n${USAGE}`);
        return 2;
    }
    const only = values.only?.flatMap((value) => value.split(',')).map((name) => name.trim()).filter(Boolean);
    const out = values.out ?? (size === 'full' ? DEFAULT_OUT : undefined);

    const results = await runBench({ scenarios, size, only, progress: (line) => console.error(line) });
    const written = out ? mergeResults(only?.length ? await readResults(out) : undefined, results) : results;
    console.log(`\n${formatReport(written)}`);
    if (out) {
        await writeResults(out, written);
        console.log(`\nResults written to ${out}`);
    }
    return results.scenarios.some((scenario) => scenario.status === 'error') ? 1 : 0;
}

main().then(
    (code) => process.exit(code),
    (error: unknown) => {
        console.error(error instanceof Error ? error.message : error);
        process.exit(2);
    },
);
