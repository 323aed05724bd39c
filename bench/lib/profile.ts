/**
 * Where a crawl's CPU time goes, from the V8 CPU profiler (`node:inspector`): self time per module, summed over the
 * crawl and divided by its requests. Bench-only: the product never profiles itself.
 */
import { Session } from 'node:inspector/promises';

import { round } from './stats.js';

interface ProfileNode {
    id: number;
    callFrame: { functionName: string; url: string };
    children?: number[];
}

interface CpuProfile {
    nodes: ProfileNode[];
    samples?: number[];
    timeDeltas?: number[];
}

/** Self time per request of one module, in µs. */
export interface ModuleCost {
    module: string;
    microsPerRequest: number;
}

/** What {@link profiledBreakdown} reports. */
export interface CostBreakdown {
    /** Self time per request in crawlee-sessions' own code and tough-cookie (which the limit does not run). */
    sessionWorkMicrosPerRequest: number;
    /** crawlee-sessions' modules (src/…) and tough-cookie, by self time, largest first. */
    sessionModules: ModuleCost[];
    /** The costliest functions of that session work (`module function`), largest first. */
    sessionFunctions: ModuleCost[];
    /** Every other package and Node itself, for scale (the crawler, got, the HTTP stack, garbage collection). */
    others: ModuleCost[];
    /**
     * Self time per request of all work: every module and pseudo-frame except {@link NOT_WORK} (`(idle)`,
     * `(program)`).
     */
    totalMicrosPerRequest: number;
    /** Every module and pseudo-frame (`(garbage collector)`, `node:internal`, …), by self time, largest first. */
    modules: ModuleCost[];
    /**
     * Time spent in crawlee-sessions' code and everything it calls synchronously (tough-cookie, URL parsing, Node),
     * per request: what the plugin's own calls cost, wherever the time lands. Async work it starts shows elsewhere.
     */
    underSessionCodeMicrosPerRequest: number;
    /** That time by the innermost crawlee-sessions frame on the stack and the module the time was spent in. */
    underSessionCode: ModuleCost[];
    /** The profiler's sampling interval, µs. */
    samplingIntervalMicros: number;
}

/** One module in {@link compareBreakdowns}: self time per request on each side, µs. */
export interface ModuleDiff {
    module: string;
    /** µs per request in the plugin's crawl. */
    plugin: number;
    /** µs per request in the limit's crawl. */
    limit: number;
    /** `plugin - limit`, µs per request. */
    diff: number;
}

/** What {@link compareBreakdowns} reports. */
export interface BreakdownComparison {
    /** Self time per request of all work in the plugin's crawl (without `(idle)` and `(program)`), µs. */
    pluginTotalMicrosPerRequest: number;
    /** The same for the limit's crawl, µs. */
    limitTotalMicrosPerRequest: number;
    /** `plugin - limit` of the totals, µs per request: the CPU the plugin costs, direct and indirect. */
    totalDiffMicrosPerRequest: number;
    /** Pseudo-frames listed in `modules` but left out of the totals: they are not work. */
    notInTotals: string[];
    /** Every module and pseudo-frame either side ran, by `diff`, largest first. */
    modules: ModuleDiff[];
    /** The profiler's sampling interval, µs. */
    samplingIntervalMicros: number;
}

/**
 * Packages whose time counts as session work: the plugin keeps and sends cookies through it. (header-generator is
 * got-scraping's, on every side: it orders every request's headers.)
 */
const SESSION_PACKAGES = new Set(['tough-cookie']);

/** The profiler's pseudo-frames that are not work: waiting for I/O, and time V8 could not place. */
const NOT_WORK = new Set(['(idle)', '(program)']);

const SAMPLING_INTERVAL_MICROS = 100;

/** Runs `crawl` (which handles `requests` requests) under the CPU profiler and attributes its self time. */
export async function profiledBreakdown(crawl: () => Promise<unknown>, requests: number): Promise<CostBreakdown> {
    const session = new Session();
    session.connect();
    try {
        await session.post('Profiler.enable');
        await session.post('Profiler.setSamplingInterval', { interval: SAMPLING_INTERVAL_MICROS });
        await session.post('Profiler.start');
        let profile: CpuProfile;
        try {
            await crawl();
        } finally {
            ({ profile } = (await session.post('Profiler.stop')) as { profile: CpuProfile });
            await session.post('Profiler.disable');
        }
        return attribute(profile, requests);
    } finally {
        session.disconnect();
    }
}

function attribute(profile: CpuProfile, requests: number): CostBreakdown {
    const nodes = new Map<number, ProfileNode['callFrame'] & { module: string }>();
    for (const node of profile.nodes) nodes.set(node.id, { ...node.callFrame, module: moduleName(node.callFrame) });
    const parents = new Map<number, number>();
    for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
    /** Time in code called (synchronously) from crawlee-sessions: by the innermost of its frames on the stack. */
    const underOurCode = new Map<string, number>();
    const isOurs = (id: number) => nodes.get(id)?.module.startsWith('src/') === true;
    const micros = new Map<string, number>();
    const functionMicros = new Map<string, number>();
    const samples = profile.samples ?? [];
    const deltas = profile.timeDeltas ?? [];
    const isSessionWork = (module: string) => module.startsWith('src/') || SESSION_PACKAGES.has(module);
    // A sample's time is the delta to the next sample.
    for (let i = 0; i < samples.length; i++) {
        const node = nodes.get(samples[i]!);
        const module = node?.module ?? '(unknown)';
        const time = deltas[i + 1] ?? 0;
        micros.set(module, (micros.get(module) ?? 0) + time);
        if (node && isSessionWork(module)) {
            const name = `${module} ${node.functionName || '(anonymous)'}`;
            functionMicros.set(name, (functionMicros.get(name) ?? 0) + time);
        }
        let caller = samples[i]!;
        while (caller !== undefined && !isOurs(caller)) caller = parents.get(caller)!;
        if (caller !== undefined) {
            const frame = nodes.get(caller)!;
            const name = `${frame.module} ${frame.functionName || '(anonymous)'} → ${module}`;
            underOurCode.set(name, (underOurCode.get(name) ?? 0) + time);
        }
    }
    const perRequest = (total: number) => round(total / Math.max(1, requests), 2);
    const sessionFunctions = [...functionMicros]
        .map(([module, total]) => ({ module, microsPerRequest: perRequest(total) }))
        .sort((a, b) => b.microsPerRequest - a.microsPerRequest)
        .slice(0, 25);
    const all = [...micros].map(([module, total]) => ({ module, microsPerRequest: perRequest(total) }));
    all.sort((a, b) => b.microsPerRequest - a.microsPerRequest);
    const sessionModules = all.filter((cost) => isSessionWork(cost.module));
    let work = 0;
    for (const [module, total] of micros) if (!NOT_WORK.has(module)) work += total;
    return {
        sessionWorkMicrosPerRequest: round(
            sessionModules.reduce((sum, cost) => sum + cost.microsPerRequest, 0),
            2,
        ),
        sessionModules,
        sessionFunctions,
        others: all.filter((cost) => !isSessionWork(cost.module)).slice(0, 15),
        totalMicrosPerRequest: perRequest(work),
        modules: all,
        underSessionCodeMicrosPerRequest: perRequest([...underOurCode.values()].reduce((sum, each) => sum + each, 0)),
        underSessionCode: [...underOurCode]
            .map(([module, total]) => ({ module, microsPerRequest: perRequest(total) }))
            .sort((a, b) => b.microsPerRequest - a.microsPerRequest)
            .slice(0, 40),
        samplingIntervalMicros: SAMPLING_INTERVAL_MICROS,
    };
}

/**
 * The share of a plugin crawl's CPU time that is session work: crawlee-sessions' own code, plus tough-cookie beyond
 * the share the limit crawl spends in it too (Crawlee merges Cookie headers through tough-cookie on every request,
 * sessions or not). Both are shares of one profile's total, so a machine running faster or slower during a profile
 * changes neither; 1 − share is the throughput a crawl bound by the CPU keeps against the limit.
 */
export function sessionShareOf(plugin: CostBreakdown, limit: CostBreakdown): number {
    const share = (breakdown: CostBreakdown, module: string) =>
        (breakdown.modules.find((cost) => cost.module === module)?.microsPerRequest ?? 0) / Math.max(1e-9, breakdown.totalMicrosPerRequest);
    let own = 0;
    for (const cost of plugin.modules) if (cost.module.startsWith('src/')) own += cost.microsPerRequest;
    const ownShare = own / Math.max(1e-9, plugin.totalMicrosPerRequest);
    return ownShare + Math.max(0, share(plugin, 'tough-cookie') - share(limit, 'tough-cookie'));
}

/**
 * Self time per request of two crawls side by side, module by module: the plugin's crawl against the limit's (the
 * same crawl doing no session work), so the plugin's indirect costs show too (garbage collection, got's hooks,
 * Crawlee's validation, Node's internals), not only its own code. A module one side never ran counts 0 there.
 */
export function compareBreakdowns(plugin: CostBreakdown, limit: CostBreakdown): BreakdownComparison {
    const sides = new Map<string, { plugin: number; limit: number }>();
    const side = (module: string) => {
        let found = sides.get(module);
        if (!found) sides.set(module, (found = { plugin: 0, limit: 0 }));
        return found;
    };
    for (const cost of plugin.modules) side(cost.module).plugin = cost.microsPerRequest;
    for (const cost of limit.modules) side(cost.module).limit = cost.microsPerRequest;
    const modules = [...sides]
        // Rounded to 4 digits, not 2 like the sides: each row's diff is then exactly what its two columns show.
        .map(([module, micros]) => ({ module, ...micros, diff: round(micros.plugin - micros.limit) }))
        .sort((a, b) => b.diff - a.diff || a.module.localeCompare(b.module));
    return {
        pluginTotalMicrosPerRequest: plugin.totalMicrosPerRequest,
        limitTotalMicrosPerRequest: limit.totalMicrosPerRequest,
        totalDiffMicrosPerRequest: round(plugin.totalMicrosPerRequest - limit.totalMicrosPerRequest),
        notInTotals: [...NOT_WORK],
        modules,
        samplingIntervalMicros: plugin.samplingIntervalMicros,
    };
}

/** `src/request/pipeline.ts`, a package name, `node:…` for Node's own code, or the profiler's pseudo-frames. */
function moduleName({ url, functionName }: ProfileNode['callFrame']): string {
    if (url === '') return `(${functionName.replace(/[()]/g, '') || 'native'})`;
    const packageMatch = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
    if (packageMatch) return packageMatch[1]!;
    const source = /\/(src\/[^?#]+)/.exec(url);
    if (source && !url.includes('/bench/')) return source[1]!;
    if (url.startsWith('node:')) return 'node:internal';
    return url.includes('/bench/') ? 'bench' : url;
}
