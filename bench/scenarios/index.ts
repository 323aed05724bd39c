/**
 * Every benchmark scenario, in the order a full run executes them.
 */
import type { Scenario } from '../lib/types.js';
import { coldMillionScenario } from './cold-million.js';
import { coldSessionsScenario } from './cold-sessions.js';
import { overheadCheerioScenario, overheadPlaywrightScenario, overheadScenario } from './overhead.js';
import { importScenario } from './import.js';
import { memoryScenario } from './memory.js';
import { multiProcessScenario } from './multi-process.js';
import { quickLoginScenario } from './quick-login.js';
import { renewalScenario } from './renewal.js';
import { slotsScenario } from './slots.js';
import { storeScenario } from './store.js';

/** The scenarios of `npm run bench`. */
export const scenarios: readonly Scenario[] = [
    overheadScenario,
    overheadCheerioScenario,
    overheadPlaywrightScenario,
    renewalScenario,
    slotsScenario,
    memoryScenario,
    storeScenario,
    multiProcessScenario,
    quickLoginScenario,
    importScenario,
    coldSessionsScenario,
    coldMillionScenario,
];
