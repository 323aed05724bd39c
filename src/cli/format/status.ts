import type { SessionRecord } from '../../model/types.js';
import type { SessionStatus } from '../../session/bound-session.js';

/**
 * A stored session's status, in the words `Sessions.list()` uses (`SessionStatus`): `ready`, or `failed` when its
 * last renewal failed for good. (`renewing` exists only inside the process renewing it.)
 */
export type StoredSessionStatus = Extract<SessionStatus, 'ready' | 'failed'>;

/** The status of a stored session. */
export function storedStatusOf(record: Pick<SessionRecord, 'lastRenewalError'>): StoredSessionStatus {
    return record.lastRenewalError ? 'failed' : 'ready';
}
