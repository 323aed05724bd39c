import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

import type { RenewalLease, SessionDelta, SessionRecord, SessionStore } from '../model/types.js';

/**
 * The renewal lease of a shared store: the protocol that lets exactly one process (a crawler or a maintainer)
 * renew a generation of a session, used by every renewal in this package.
 *
 * 1. {@link requestLease} asks for the right to renew the session out of a generation. The answer is granted, busy
 *    (another process holds an unexpired lease) or advanced (the stored generation is already past: adopt it).
 * 2. The holder renews under {@link underLease}, which keeps the lease alive with heartbeats while the work runs and
 *    abandons it when the work fails.
 * 3. The holder commits with `store.completeRenewal(owner, delta)`; if the lease was lost meanwhile, the store keeps
 *    the other process's result and returns it.
 */
export interface LeaseRequest {
    store: SessionStore;
    /** The session. */
    id: string;
    /** The generation being renewed (the one the holder clears). */
    fromGeneration: number;
    /** Who asks: {@link processLeaseOwner}, or a maintainer's own id. */
    owner: string;
    /** How long the lease lasts without a heartbeat, in ms: another process may take over after that. */
    leaseMillis: number;
}

/** This process's identity in renewal leases: host, pid and a random suffix. */
export function processLeaseOwner(role = 'crawler'): string {
    return `${role}:${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

/** Asks once for the lease (see {@link LeaseRequest}). */
export function requestLease(request: LeaseRequest): Promise<RenewalLease> {
    return request.store.beginRenewal(request.id, request.fromGeneration, request.owner, request.leaseMillis);
}

/**
 * Asks for the lease until it is granted or the session advanced, polling while another process holds it (its
 * holder may die: its lease then expires and is granted here). Rejects when the store cannot be reached.
 */
export async function waitForLease(request: LeaseRequest): Promise<{ granted: true } | { granted: false; record: SessionRecord }> {
    // Every 100 ms at most: the waiting process adopts the holder's renewal within a poll (one indexed row read).
    const pollMillis = Math.min(100, Math.max(50, Math.round(request.leaseMillis / 10)));
    for (;;) {
        const lease = await requestLease(request);
        if (lease.granted) return { granted: true };
        if (lease.reason === 'advanced') return { granted: false, record: lease.record };
        await sleep(pollMillis);
    }
}

/**
 * Runs `work` while holding a granted lease: heartbeats extend it every third of `leaseMillis` and stop when the
 * work ends (work must be bounded: renewals have a deadline per attempt). When the work fails, the lease is
 * abandoned (the session stays as stored) and the error rethrown.
 */
export async function underLease<T>(request: LeaseRequest, work: () => Promise<T>): Promise<T> {
    const heartbeat = setInterval(
        () => void request.store.extendRenewal(request.id, request.owner, request.leaseMillis).catch(() => undefined),
        Math.max(50, Math.round(request.leaseMillis / 3)),
    );
    heartbeat.unref();
    try {
        return await work();
    } catch (error) {
        await request.store.abandonRenewal(request.id, request.owner).catch(() => undefined);
        throw error;
    } finally {
        clearInterval(heartbeat);
    }
}

/** Commits a renewal made under the lease (see {@link LeaseRequest}, step 3). */
export function completeUnderLease(request: LeaseRequest, delta: SessionDelta): Promise<SessionRecord> {
    return request.store.completeRenewal(request.owner, delta);
}
