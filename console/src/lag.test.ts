import { describe, expect, it } from 'vitest';
import type { LagSample } from './api';
import recorded from '../fixtures/lag-embedded.json';
import { LagHistory, summarize } from './lag';
import { chart, describeChart } from './chart';

function sample(at: string, lag: number): LagSample {
  return {
    sampledAt: at,
    groups: [
      {
        group: 'saga.s',
        stream: 'events',
        error: null,
        partitions: [{ domain: 'player', partition: 0, committed: 1, end: 1, lag: 0 }],
      },
      {
        group: 'projector.watcher',
        stream: 'events',
        error: null,
        partitions: [
          { domain: 'player', partition: 0, committed: null, end: lag, lag },
          { domain: 'player', partition: 1, committed: 2, end: 2 + 2 * lag, lag: 2 * lag },
        ],
      },
    ],
  };
}

describe('lag', () => {
  it('sums the recorded sample of angzarr dev per group, command handler first', () => {
    const h = new LagHistory();
    expect(h.add(recorded as LagSample)).toBe(true);
    const s = h.summaries();
    expect(s.map((g) => g.group)).toEqual([
      'angzarr-command-handler',
      'projector.bankroll',
      'saga.hand-settlement',
      'saga.transfer-settlement',
      'pm.hand-flow',
    ]);
    expect(s.every((g) => g.total === 0 && g.behind === 0 && g.worst === null)).toBe(true);
    expect(s[0]!.partitions).toBe(32);
  });

  it('keeps each distinct sample once, however often it is polled, and forgets the oldest', () => {
    const h = new LagHistory(3);
    expect(h.add(sample('2026-01-01T00:00:00Z', 1))).toBe(true);
    expect(h.add(sample('2026-01-01T00:00:00Z', 1))).toBe(false); // the same sample, polled again
    expect(h.add({ sampledAt: null, groups: [] })).toBe(false);
    for (const [i, lag] of [5, 9, 0].entries()) h.add(sample(`2026-01-01T00:00:0${i + 1}Z`, lag));
    expect(h.size).toBe(3);
    expect(h.series('projector.watcher').map((p) => p.lag)).toEqual([15, 27, 0]);
    expect(h.series('nobody')).toEqual([]);
  });

  it('finds the partition furthest behind', () => {
    const s = summarize(sample('2026-01-01T00:00:00Z', 4).groups[1]!);
    expect(s).toMatchObject({ total: 12, behind: 2, partitions: 2, worst: { domain: 'player', partition: 1, lag: 8 } });
  });
});

describe('chart', () => {
  it('draws lag rising then falling inside the box, zero at the bottom', () => {
    const c = chart(
      [
        { at: 0, lag: 0 },
        { at: 1000, lag: 10 },
        { at: 2000, lag: 0 },
      ],
      100,
      50,
      0,
    );
    expect(c.line).toBe('M0 50 L50 0 L100 50');
    expect(c.area).toBe('M0 50 L50 0 L100 50 L100 50 L0 50 Z');
    expect(c.max).toBe(10);
    expect(describeChart(c)).toBe('lag now 0; over the last 2 s between 0 and 10');
  });

  it('draws nothing without points, and a flat line at zero when nothing lags', () => {
    expect(chart([], 100, 50).line).toBe('');
    expect(describeChart(chart([], 100, 50))).toBe('no samples yet');
    const flat = chart([{ at: 5, lag: 0 }], 100, 50, 0);
    expect(flat.line).toBe('M100 50');
    expect(flat.area).toBe('');
  });
});
