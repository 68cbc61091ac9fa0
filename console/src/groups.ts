/**
 * Consumer groups as the coordinators name them (`angzarr-command-handler`,
 * `projector.NAME`, `saga.NAME`, `pm.NAME`), and which of them read which
 * domain — the columns of the topology and the order of the lag page.
 */

import type { ConsoleConfig } from './api';

export type GroupKind = 'command handler' | 'projector' | 'saga' | 'process manager' | 'other';

/** The partition owners' group: every domain's commands. */
export const COMMAND_HANDLER = 'angzarr-command-handler';

export interface GroupName {
  group: string;
  kind: GroupKind;
  /** The component's own name (`bankroll`), or the group for the command handler. */
  name: string;
}

const PREFIXES: [string, GroupKind][] = [
  ['projector.', 'projector'],
  ['saga.', 'saga'],
  ['pm.', 'process manager'],
];

/** What a group is, from its name. */
export function groupName(group: string): GroupName {
  if (group === COMMAND_HANDLER) return { group, kind: 'command handler', name: 'command handler' };
  for (const [prefix, kind] of PREFIXES) {
    if (group.startsWith(prefix)) return { group, kind, name: group.slice(prefix.length) };
  }
  return { group, kind: 'other', name: group };
}

/** The label a person reads: `projector bankroll`, `command handler`. */
export function groupLabel(group: string): string {
  const g = groupName(group);
  return g.kind === 'command handler' || g.kind === 'other' ? g.name : `${g.kind} ${g.name}`;
}

const KIND_ORDER: GroupKind[] = ['command handler', 'projector', 'saga', 'process manager', 'other'];

/** Sorts groups: command handler, projectors, sagas, process managers, others; by name within. */
export function compareGroups(a: string, b: string): number {
  const ga = groupName(a);
  const gb = groupName(b);
  const k = KIND_ORDER.indexOf(ga.kind) - KIND_ORDER.indexOf(gb.kind);
  return k !== 0 ? k : ga.name < gb.name ? -1 : ga.name > gb.name ? 1 : 0;
}

/** The groups the configuration runs over `domain`: its command handler and every component listening to it. */
export function groupsOf(config: ConsoleConfig, domain: string): string[] {
  const out = [COMMAND_HANDLER];
  for (const p of config.projectors) if (p.domains.includes(domain)) out.push(`projector.${p.name}`);
  for (const s of config.sagas) if (s.domains.includes(domain)) out.push(`saga.${s.name}`);
  for (const m of config.processManagers) if (m.domains.includes(domain)) out.push(`pm.${m.name}`);
  return out;
}

/** Whether `domain` is a process manager's own (its state is stored like an aggregate under its name). */
export function isProcessManagerDomain(config: ConsoleConfig, domain: string): boolean {
  return config.processManagers.some((m) => m.name === domain);
}

/** The sagas and process managers that react to `domain`'s events, by label. */
export function reactorsOf(config: ConsoleConfig, domain: string): string[] {
  return [
    ...config.sagas.filter((s) => s.domains.includes(domain)).map((s) => `saga ${s.name}`),
    ...config.processManagers.filter((m) => m.domains.includes(domain)).map((m) => `process manager ${m.name}`),
  ];
}
