/**
 * Consumer lag over time. The server samples every group's lag on its own
 * timer (`admin.lag_interval`, 10 s by default) and `GET /v1/lag` returns the
 * latest sample; the page asks every 2 s and keeps the distinct samples (by
 * `sampledAt`) in memory, a short history for the charts.
 */

import type { GroupLag, LagSample } from './api';
import { compareGroups } from './groups';

export interface Point {
  /** Milliseconds since the epoch. */
  at: number;
  lag: number;
}

export interface GroupSummary {
  group: string;
  stream: GroupLag['stream'];
  total: number;
  /** Partitions with lag > 0. */
  behind: number;
  partitions: number;
  /** The partition furthest behind, if any is. */
  worst: { domain: string; partition: number; lag: number } | null;
  error: string | null;
}

/** One group's sample, summed. */
export function summarize(g: GroupLag): GroupSummary {
  let total = 0;
  let behind = 0;
  let worst: GroupSummary['worst'] = null;
  for (const p of g.partitions) {
    total += p.lag;
    if (p.lag > 0) {
      behind++;
      if (worst === null || p.lag > worst.lag) worst = { domain: p.domain, partition: p.partition, lag: p.lag };
    }
  }
  return { group: g.group, stream: g.stream, total, behind, partitions: g.partitions.length, worst, error: g.error };
}

/** The last `capacity` distinct samples, and each group's total lag over them. */
export class LagHistory {
  private samples: { at: number; sample: LagSample }[] = [];

  constructor(readonly capacity = 180) {}

  /** Adds a sample; false (and nothing changes) when it is the one already held or has no time. */
  add(sample: LagSample): boolean {
    if (sample.sampledAt === null) return false;
    const at = Date.parse(sample.sampledAt);
    if (Number.isNaN(at)) return false;
    const last = this.samples[this.samples.length - 1];
    if (last && at <= last.at) return false;
    this.samples.push({ at, sample });
    if (this.samples.length > this.capacity) this.samples.splice(0, this.samples.length - this.capacity);
    return true;
  }

  /** The newest sample, if any. */
  latest(): LagSample | null {
    return this.samples[this.samples.length - 1]?.sample ?? null;
  }

  get size(): number {
    return this.samples.length;
  }

  /** The group's total lag in each held sample that has it, oldest first. */
  series(group: string): Point[] {
    const out: Point[] = [];
    for (const { at, sample } of this.samples) {
      const g = sample.groups.find((x) => x.group === group);
      if (g) out.push({ at, lag: summarize(g).total });
    }
    return out;
  }

  /** Every group of the latest sample, summed, in display order. */
  summaries(): GroupSummary[] {
    const latest = this.latest();
    if (!latest) return [];
    return [...latest.groups].sort((a, b) => compareGroups(a.group, b.group)).map(summarize);
  }
}
