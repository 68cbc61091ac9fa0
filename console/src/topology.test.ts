import { describe, expect, it } from 'vitest';
import type { ConsoleConfig, Status } from './api';
import config from '../fixtures/config-embedded.json';
import status from '../fixtures/status-embedded.json';
import kafkaConfig from '../fixtures/synthetic-config-kafka.json';
import kafkaStatus from '../fixtures/synthetic-status-kafka.json';
import { formatSince, topology } from './topology';
import { groupLabel, groupsOf } from './groups';

describe('topology', () => {
  it('puts every task of angzarr dev in a partition × group grid, nothing elsewhere', () => {
    const m = topology(config as ConsoleConfig, status as Status);
    expect(m.grids.map((g) => g.domain.name)).toEqual(['hand', 'hand-flow', 'player', 'table']);
    const player = m.grids.find((g) => g.domain.name === 'player')!;
    expect(player.groups).toEqual(['angzarr-command-handler', 'projector.bankroll', 'saga.transfer-settlement']);
    expect(player.rows).toHaveLength(8);
    expect(player.rows.every((r) => r.cells.every((c) => c?.state === 'serving'))).toBe(true);
    expect(m.grids.find((g) => g.domain.name === 'hand-flow')!.role).toBe('process manager');
    expect(m.grids.find((g) => g.domain.name === 'table')!.groups).toEqual(['angzarr-command-handler', 'pm.hand-flow']);
    expect(m.counts).toEqual({ serving: status.tasks.length, restoring: 0, failed: 0, elsewhere: 0 });
    expect(m.owners).toHaveLength(1);
  });

  it('on Kafka shows the partitions this worker does not own as another worker’s, and what failed', () => {
    const m = topology(kafkaConfig as ConsoleConfig, kafkaStatus as Status);
    const player = m.grids.find((g) => g.domain.name === 'player')!;
    expect(player.rows).toHaveLength(2);
    expect(player.rows[1]!.cells.every((c) => c === null)).toBe(true);
    const bankroll = player.rows[0]!.cells[player.groups.indexOf('projector.bankroll')]!;
    expect(bankroll.state).toBe('failed');
    expect(bankroll.lastError).toMatch(/unreachable/);
    expect(m.counts.failed).toBe(1);
    expect(m.counts.restoring).toBe(1);
    expect(m.counts.elsewhere).toBe(kafkaStatus.tasks.length);
    expect(m.owners).toEqual(['worker-a:4242']);
  });

  it('shows a task of a group or domain the configuration does not name rather than hiding it', () => {
    const m = topology(config as ConsoleConfig, {
      tasks: [
        {
          group: 'projector.other',
          domain: 'player',
          partition: 9,
          state: 'failed',
          sinceMs: 0,
          restarts: 1,
          lastError: 'x',
          owner: 'h:1',
        },
        {
          group: 'angzarr-command-handler',
          domain: 'ghost',
          partition: 0,
          state: 'serving',
          sinceMs: 0,
          restarts: 0,
          lastError: null,
          owner: 'h:1',
        },
      ],
    });
    const player = m.grids.find((g) => g.domain.name === 'player')!;
    expect(player.groups).toContain('projector.other');
    expect(player.rows).toHaveLength(10);
    expect(m.grids.map((g) => g.domain.name)).toContain('ghost');
  });

  it('names groups for people', () => {
    expect(groupLabel('angzarr-command-handler')).toBe('command handler');
    expect(groupLabel('projector.bankroll')).toBe('projector bankroll');
    expect(groupLabel('pm.hand-flow')).toBe('process manager hand-flow');
    expect(groupsOf(config as ConsoleConfig, 'hand')).toEqual([
      'angzarr-command-handler',
      'saga.hand-settlement',
      'pm.hand-flow',
    ]);
  });

  it('says how long in words', () => {
    expect(formatSince(1234)).toBe('1 s');
    expect(formatSince(61_000)).toBe('1 min');
    expect(formatSince(3 * 3600_000)).toBe('3 h');
    expect(formatSince(72 * 3600_000)).toBe('3 d');
  });
});
