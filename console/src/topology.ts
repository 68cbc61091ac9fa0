/**
 * The topology page's model: for each domain, a partition × consumer-group
 * grid of the partition tasks (`GET /v1/status`) over the configuration
 * (`GET /v1/console/config`). A cell with no task is a partition this
 * process does not own: on Kafka another worker has it; on the embedded log
 * nobody else can, so it is shown as not running here.
 */

import type { ConsoleConfig, DomainInfo, Status, Task, TaskState } from './api';
import { compareGroups, groupsOf, isProcessManagerDomain } from './groups';

export interface DomainGrid {
  domain: DomainInfo;
  /** `process manager` for a process manager's own domain. */
  role: 'aggregate' | 'process manager';
  /** Consumer groups, in display order. */
  groups: string[];
  /** One row per partition: the task of each group (null: not owned by this process). */
  rows: { partition: number; cells: (Task | null)[] }[];
}

export interface Counts {
  serving: number;
  restoring: number;
  failed: number;
  /** Partition × group cells this process does not own. */
  elsewhere: number;
}

export interface TopologyModel {
  grids: DomainGrid[];
  counts: Counts;
  /** The owners named by the tasks (`host:pid`): this process. */
  owners: string[];
}

export function topology(config: ConsoleConfig, status: Status): TopologyModel {
  const byKey = new Map<string, Task>();
  for (const t of status.tasks) byKey.set(`${t.group}\u0000${t.domain}\u0000${t.partition}`, t);
  const counts: Counts = { serving: 0, restoring: 0, failed: 0, elsewhere: 0 };
  for (const t of status.tasks) counts[t.state satisfies TaskState]++;

  const known = new Set(config.domains.map((d) => d.name));
  // A task of a domain the configuration does not list still shows.
  const domains: DomainInfo[] = [...config.domains];
  for (const t of status.tasks) {
    if (!known.has(t.domain)) {
      known.add(t.domain);
      domains.push({ name: t.domain, partitions: 0, topics: null });
    }
  }

  const grids = domains.map((domain): DomainGrid => {
    const groups = new Set(groupsOf(config, domain.name));
    let partitions = domain.partitions;
    for (const t of status.tasks) {
      if (t.domain !== domain.name) continue;
      groups.add(t.group);
      partitions = Math.max(partitions, t.partition + 1);
    }
    const ordered = [...groups].sort(compareGroups);
    const rows = [];
    for (let p = 0; p < partitions; p++) {
      const cells = ordered.map((g) => byKey.get(`${g}\u0000${domain.name}\u0000${p}`) ?? null);
      counts.elsewhere += cells.filter((c) => c === null).length;
      rows.push({ partition: p, cells });
    }
    return {
      domain,
      role: isProcessManagerDomain(config, domain.name) ? 'process manager' : 'aggregate',
      groups: ordered,
      rows,
    };
  });
  const owners = [...new Set(status.tasks.map((t) => t.owner))].sort();
  return { grids, counts, owners };
}

/** `12 s`, `4 min`, `3 h`: how long a task has been in its state. */
export function formatSince(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const hours = Math.floor(m / 60);
  if (hours < 48) return `${hours} h`;
  return `${Math.floor(hours / 24)} d`;
}
