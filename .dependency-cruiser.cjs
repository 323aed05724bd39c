/**
 * The layers of src/, bottom first. A module may import from its own layer and the layers below it, never from a
 * layer above: `npm test` runs `npm run lint:layers`, which fails on any import that runs upwards and on any cycle.
 * The README's "Architecture" section draws the same picture.
 */
const LAYERS = [
    ['shared'], // ids, errors, redaction, validation, cookies, retry policy: no knowledge of sessions
    ['model'], // what a session is when stored: records, deltas, the store contract, the merge
    ['profiles', 'stores', 'headers', 'tokens', 'browser', 'pacing'], // one concern each, on the model (pacing: rates, cooldowns, the logout guard)
    ['session'], // a live session: its jar, generation, identity, counters, in-flight requests
    ['request'], // the one request path: prepare a hop, absorb a response; the login client
    ['renewal'], // clearing and renewing a session: the coordinator, the lease, the renewal types
    ['core', 'acquisition'], // the Sessions facade and store sync; login recipes, extraction and checks
    ['binding'], // Crawlee adapters: withSessions, hooks, the crawler's HTTP client, the browser route
    ['maintainer'], // scheduled refresh of stored sessions
    ['cli'], // the crawlee-sessions command
];

const layerOf = new Map(LAYERS.flatMap((names, index) => names.map((name) => [name, index])));

const upward = LAYERS.slice(0, -1).map((names, index) => {
    const above = LAYERS.slice(index + 1).flat();
    return {
        name: `layer-${names.join('-')}`,
        comment: `src/{${names.join(',')}} may not import from the layers above it (${above.join(', ')})`,
        severity: 'error',
        from: { path: `^src/(${names.join('|')})/` },
        to: { path: `^src/(${above.join('|')})/` },
    };
});

/** Folders of one layer (e.g. core and acquisition) do not import each other either: they are independent. */
const siblings = LAYERS.filter((names) => names.length > 1).flatMap((names) =>
    names.map((name) => ({
        name: `independent-${name}`,
        comment: `src/${name}/ is independent of the other folders of its layer (${names.filter((other) => other !== name).join(', ')})`,
        severity: 'error',
        from: { path: `^src/${name}/` },
        to: { path: `^src/(${names.filter((other) => other !== name).join('|')})/` },
    })),
);

module.exports = {
    forbidden: [
        { name: 'no-circular', severity: 'error', comment: 'modules must not import each other in a circle', from: {}, to: { circular: true } },
        {
            name: 'only-index-imports-everything',
            comment: 'src/index.ts is the public surface: nothing in src/ imports it',
            severity: 'error',
            from: { path: '^src/' },
            to: { path: '^src/index\\.ts$' },
        },
        {
            name: 'known-folders',
            comment: `every module of src/ lives in one of the layers' folders (${[...layerOf.keys()].join(', ')})`,
            severity: 'error',
            from: { path: '^src/', pathNot: `^src/(index\\.ts$|(${[...layerOf.keys()].join('|')})/)` },
            to: {},
        },
        ...upward,
        ...siblings,
    ],
    options: {
        doNotFollow: { path: 'node_modules' },
        includeOnly: '^src/',
        tsPreCompilationDeps: true,
        tsConfig: { fileName: 'tsconfig.json' },
        enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
    },
};
