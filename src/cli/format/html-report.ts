import { createHash } from 'node:crypto';

import type { MaintainerStatusRow } from '../../maintainer/status.js';
import type { SessionListRow } from '../commands/list.js';

/** What `crawlee-sessions report --html` shows. No secrets: rows as `list --json` prints them, maintainer rows. */
export interface ReportData {
    /** Where the data comes from, in words (`embedded store in ./storage`, `MySQL 127.0.0.1:3306/db`). */
    source: string;
    generatedAt: number;
    sessions: readonly SessionListRow[];
    maintainer: readonly MaintainerStatusRow[];
}

/** One point on the renewal timeline. */
interface TimelineEvent {
    at: number;
    session: string;
    what: string;
    failed: boolean;
}

/** Escapes text for HTML element content and double-quoted attribute values. */
export function escapeHtml(value: unknown): string {
    return String(value).replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

const CSS = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem; color: #1d2329; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
table { border-collapse: collapse; margin-top: .5rem; }
th, td { padding: .25rem .6rem; border-bottom: 1px solid #dde1e5; text-align: left; vertical-align: top; }
th { background: #f3f5f7; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.failed { color: #b3261e; font-weight: 600; } .ready { color: #1b6e3a; }
meter { width: 16rem; } .muted { color: #69737d; }
`.trim();

const CSS_HASH = createHash('sha256').update(CSS).digest('base64');

/**
 * A strict policy: nothing may load or run (no scripts, images, frames, fonts, connections, forms); only the page's
 * own style block, by hash. A value that somehow escaped into markup still could not execute or phone home.
 */
export const REPORT_CSP = `default-src 'none'; style-src 'sha256-${CSS_HASH}'; img-src 'none'; script-src 'none'; base-uri 'none'; form-action 'none'`;

function iso(at: number | null | undefined): string {
    return at === null || at === undefined ? '-' : `${new Date(at).toISOString().replace('T', ' ').slice(0, 19)} UTC`;
}

function cell(value: unknown, className?: string): string {
    return `<td${className ? ` class="${className}"` : ''}>${escapeHtml(value)}</td>`;
}

function timelineOf(data: ReportData): TimelineEvent[] {
    const events: TimelineEvent[] = [];
    for (const row of data.maintainer) {
        const session = `${row.recipe}/${row.session}`;
        if (row.lastRefreshAt !== null) events.push({ at: row.lastRefreshAt, session, what: 'refreshed by the maintainer', failed: false });
        if (row.lastCheckAt !== null) {
            const failed = row.state === 'failed' || row.state === 'check-error';
            events.push({ at: row.lastCheckAt, session, what: failed ? `${row.state}: ${row.lastError ?? ''}` : `checked: ${row.state}`, failed });
        }
    }
    for (const row of data.sessions) {
        if (row.renewals === 0 && row.status !== 'failed') continue;
        const what = row.status === 'failed'
            ? `renewal failed: ${row.lastRenewalError ?? ''}`
            : `last change (generation ${row.generation}, ${row.renewals} renewal${row.renewals === 1 ? '' : 's'})`;
        events.push({ at: Date.parse(row.updatedAt), session: row.id, what, failed: row.status === 'failed' });
    }
    return events.sort((a, b) => b.at - a.at);
}

interface ProfileFigures {
    profile: string;
    sessions: number;
    failedSessions: number;
    requests: number;
    failures: number;
    renewals: number;
}

function byProfile(sessions: readonly SessionListRow[]): ProfileFigures[] {
    const figures = new Map<string, ProfileFigures>();
    for (const row of sessions) {
        const profile = row.profile ?? '(no profile)';
        const entry = figures.get(profile) ?? { profile, sessions: 0, failedSessions: 0, requests: 0, failures: 0, renewals: 0 };
        entry.sessions++;
        if (row.status === 'failed') entry.failedSessions++;
        entry.requests += row.requests;
        entry.failures += row.failures;
        entry.renewals += row.renewals;
        figures.set(profile, entry);
    }
    return [...figures.values()].sort((a, b) => b.failures - a.failures || a.profile.localeCompare(b.profile));
}

/**
 * The report as one self-contained HTML page: inline CSS allowed by hash in a strict Content-Security-Policy, no
 * script, every value from the store escaped. Sections: the sessions table, the renewal timeline (newest first, each
 * event placed on a meter spanning the oldest to the newest), failures by profile, and the maintainer's table.
 */
export function renderHtmlReport(data: ReportData): string {
    const timeline = timelineOf(data);
    const oldest = Math.min(...timeline.map((event) => event.at));
    const newest = Math.max(...timeline.map((event) => event.at));
    const span = Math.max(1, newest - oldest);
    const sessionRows = data.sessions
        .map(
            (row) =>
                `<tr>${cell(row.id)}${cell(row.profile ?? '-')}${cell(row.cookies, 'num')}${cell(row.status, row.status)}` +
                `${cell(row.generation, 'num')}${cell(row.requests, 'num')}${cell(row.failures, 'num')}${cell(row.renewals, 'num')}` +
                `${cell(iso(row.lastUsedAt === null ? null : Date.parse(row.lastUsedAt)))}${cell(row.lastRenewalError ?? '')}</tr>`,
        )
        .join('\n');
    const timelineRows = timeline
        .map(
            (event) =>
                `<tr>${cell(iso(event.at))}<td><meter min="0" max="${span}" value="${event.at - oldest}"></meter></td>` +
                `${cell(event.session)}${cell(event.what, event.failed ? 'failed' : undefined)}</tr>`,
        )
        .join('\n');
    const profileRows = byProfile(data.sessions)
        .map(
            (row) =>
                `<tr>${cell(row.profile)}${cell(row.sessions, 'num')}${cell(row.failedSessions, 'num')}${cell(row.requests, 'num')}` +
                `${cell(row.failures, 'num')}${cell(row.renewals, 'num')}</tr>`,
        )
        .join('\n');
    const maintainerRows = data.maintainer
        .map(
            (row) =>
                `<tr>${cell(row.recipe)}${cell(row.session)}${cell(row.state, row.state === 'failed' ? 'failed' : undefined)}` +
                `${cell(iso(row.lastCheckAt))}${cell(iso(row.lastRefreshAt))}${cell(iso(row.nextRunAt))}${cell(row.failures, 'num')}` +
                `${cell(row.lastError ?? '')}</tr>`,
        )
        .join('\n');
    const failed = data.sessions.filter((row) => row.status === 'failed').length;
    const empty = (columns: number, text: string) => `<tr><td colspan="${columns}" class="muted">${escapeHtml(text)}</td></tr>`;
    return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(REPORT_CSP)}">
<meta name="referrer" content="no-referrer">
<title>crawlee-sessions report</title>
<style>${CSS}</style>
</head>
<body>
<h1>crawlee-sessions report</h1>
<p class="muted" id="summary">${escapeHtml(`${data.sessions.length} sessions (${data.sessions.length - failed} ready, ${failed} failed) · ${data.source} · generated ${iso(data.generatedAt)}`)}</p>
<h2>Sessions</h2>
<table id="sessions">
<thead><tr><th>id</th><th>profile</th><th>cookies</th><th>status</th><th>generation</th><th>requests</th><th>failures</th><th>renewals</th><th>last used</th><th>last renewal error</th></tr></thead>
<tbody>
${sessionRows || empty(10, 'no sessions stored')}
</tbody>
</table>
<h2>Renewal timeline</h2>
<table id="timeline">
<thead><tr><th>when</th><th>${escapeHtml(`${iso(timeline.length ? oldest : null)} → ${iso(timeline.length ? newest : null)}`)}</th><th>session</th><th>what</th></tr></thead>
<tbody>
${timelineRows || empty(4, 'no renewals recorded')}
</tbody>
</table>
<h2>Failures by profile</h2>
<table id="profiles">
<thead><tr><th>profile</th><th>sessions</th><th>failed sessions</th><th>requests</th><th>failures</th><th>renewals</th></tr></thead>
<tbody>
${profileRows || empty(6, 'no sessions stored')}
</tbody>
</table>
<h2>Maintainer</h2>
<table id="maintainer">
<thead><tr><th>recipe</th><th>session</th><th>state</th><th>last check</th><th>last refresh</th><th>next run</th><th>failures</th><th>last error</th></tr></thead>
<tbody>
${maintainerRows || empty(8, 'no maintained sessions')}
</tbody>
</table>
</body>
</html>
`;
}
