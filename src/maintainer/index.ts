/**
 * The maintainer: keeps the sessions of login recipes fresh in a session store, on schedules.
 * @packageDocumentation
 */
export { Maintainer } from './maintainer.js';
export { defineMaintainerConfig, loadMaintainerConfig } from './config.js';
export type {
    MaintainerConfig,
    MaintainerConfigInput,
    MaintainedRecipe,
    MaintainedRecipeInput,
    MaintainerConcurrency,
} from './config.js';
export { compileSchedule, ScheduledJob, scheduleSchema } from './schedule.js';
export type {
    Schedule,
    OnceSchedule,
    DailySchedule,
    IntervalSchedule,
    DeprecatedIntervalSchedule,
    ScheduleInput,
    CronSchedule,
    ScheduleTimes,
    ScheduledJobOptions,
} from './schedule.js';
export { parseCron, CronSyntaxError } from './cron.js';
export { defineUrlNormalizerRules, normalizeUrl, sessionHash } from './url-normalizer.js';
export type { UrlNormalizerRule, UrlNormalizerRules } from './url-normalizer.js';
export { formatStatusTable, MAINTAINER_STATUS_COLLECTION } from './status.js';
export type { MaintainerStatusRow, MaintainedState } from './status.js';
export { runMaintainerCli, runMaintainCommand, runStatusCommand, MAINTAINER_USAGE, DEFAULT_MAINTAINER_CONFIG_PATH } from './cli.js';
export type { MaintainerCliIo, MaintainCommandOptions, StatusCommandOptions } from './cli.js';
