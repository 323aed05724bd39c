/**
 * quick login: a browser login recipe (Playwright fills in and submits a CSRF-protected form, as `playwright
 * codegen` records it) run in full, against the same recipe restored from the state its last good login left in
 * the store and verified with the recipe's check request. Goal: quick login at least 5× faster.
 */
import { log } from 'crawlee';

import { acquire, defineLogin, type LoginRecipe } from '../../src/acquisition/index.js';
import { findChromiumExecutable } from '../../src/index.js';
import { MemorySessionStore } from '../../src/stores/memory-store.js';
import { startLoginSite, type LoginSite } from '../../test/support/login-site.js';
import { alternate } from '../lib/rounds.js';
import { metricRow } from '../lib/rows.js';
import { median, nowMs, round } from '../lib/stats.js';
import { ScenarioSkipped, type BenchContext, type BenchSize, type Scenario, type ScenarioOutcome } from '../lib/types.js';

interface QuickLoginParams {
    rounds: number;
    warmups: number;
}

const SIZES: Record<BenchSize, QuickLoginParams> = {
    tiny: { rounds: 1, warmups: 0 },
    quick: { rounds: 3, warmups: 1 },
    full: { rounds: 5, warmups: 1 },
};

const GOAL_SPEEDUP = 5;
const USER = 'alice';
const PASSWORD = 'hunter2-Login-Pass';

/** The classic form, filled in by a browser; a logged-in `/account` page says "Log out". */
function browserFormRecipe(site: LoginSite): LoginRecipe {
    return defineLogin({
        name: 'bench-browser-form',
        credentials: { user: USER, password: PASSWORD },
        startUrl: `${site.url}/login`,
        async login({ page, credentials }) {
            await page.locator('input[name="user"]').fill(credentials.user);
            await page.locator('input[name="password"]').fill(credentials.password);
            await Promise.all([page.waitForURL('**/account'), page.getByRole('button', { name: 'Log in' }).click()]);
        },
        extract: [{ name: 'sid', from: { cookie: 'sid' } }],
        check: { request: { url: `${site.url}/account` }, indicators: [{ in: 'body', text: 'Log out', means: 'valid' }] },
    });
}

interface LoginSample {
    ms: number;
    quick: boolean;
    formPosts: number;
}

async function runQuickLogin(context: BenchContext): Promise<ScenarioOutcome> {
    log.setLevel(log.LEVELS.OFF);
    const params = SIZES[context.size];
    const chromium = findChromiumExecutable().path;
    if (!chromium) throw new ScenarioSkipped('no Chromium found (see README: Finding the browser)');
    const site = await startLoginSite({ user: USER, password: PASSWORD });
    try {
        const recipe = browserFormRecipe(site);
        // The state of one good login, which every quick login restores.
        const filled = new MemorySessionStore();
        await acquire(recipe, { quickLogin: { store: filled }, sessionId: 'bench' });

        const login = async (store: MemorySessionStore, expectQuick: boolean): Promise<LoginSample> => {
            const posts = site.formLoginPosts;
            const start = nowMs();
            const session = await acquire(recipe, { quickLogin: { store }, sessionId: 'bench' });
            const ms = nowMs() - start;
            if (session.quick !== expectQuick) throw new Error(`expected a ${expectQuick ? 'quick' : 'full'} login, got the other`);
            if (!session.values.sid?.value) throw new Error('the login produced no sid');
            return { ms, quick: session.quick, formPosts: site.formLoginPosts - posts };
        };
        const samples = await alternate({
            rounds: params.rounds,
            warmups: params.warmups,
            sides: {
                quick: () => login(filled, true),
                // An empty store: no state to restore, so the full browser login runs (and saves its state).
                full: () => login(new MemorySessionStore(), false),
            },
            onRound: (side, r, s: LoginSample) => context.progress(`${side} login ${r + 1}/${params.rounds}: ${s.ms.toFixed(1)} ms`),
        });
        const quickMs = median(samples.quick.map((s) => s.ms));
        const fullMs = median(samples.full.map((s) => s.ms));
        return {
            rows: [
                metricRow({
                    metric: 'login time',
                    unit: 'ms',
                    plugin: quickMs,
                    baseline: fullMs,
                    ratio: 'baseline/plugin',
                    goal: { on: 'ratio', op: '>=', value: GOAL_SPEEDUP },
                    note:
                        'plugin: quick login (stored state restored, verified with the recipe\'s check request, no browser); ' +
                        'baseline: the full scripted browser login (Chromium launched, form filled and posted, state saved); ' +
                        `acquire(), median of ${params.rounds} each (ABBA); ratio = speed-up`,
                }),
                metricRow({
                    metric: 'form posts per login',
                    unit: '',
                    plugin: median(samples.quick.map((s) => s.formPosts)),
                    baseline: median(samples.full.map((s) => s.formPosts)),
                    goal: { on: 'plugin', op: '==', value: 0 },
                }),
            ],
            details: {
                params,
                chromium,
                quickMs: samples.quick.map((s) => round(s.ms)),
                fullMs: samples.full.map((s) => round(s.ms)),
            },
        };
    } finally {
        await site.close();
    }
}

/** Browser login restored from cached state vs a full scripted login: ≥ 5× faster. */
export const quickLoginScenario: Scenario = {
    name: 'quick-login',
    description: 'browser login restored from cached state vs a full scripted login: speed-up',
    run: runQuickLogin,
};
