/**
 * Lag: every consumer group — command handlers (commands), projectors,
 * sagas and process managers (events) — per partition, live, with the
 * group's total over the last samples as a small chart.
 */

import type { GroupLag } from '../api';
import { chart, describeChart } from '../chart';
import type { Context, Page } from '../context';
import { errorBox, fill, h, s, setText, showError } from '../dom';
import { groupLabel } from '../groups';
import { summarize } from '../lag';
import { formatTime } from '../stream';

const W = 240;
const H = 48;

interface Card {
  el: HTMLElement;
  total: HTMLElement;
  detail: HTMLElement;
  svg: SVGElement;
  line: SVGElement;
  area: SVGElement;
  maxLabel: SVGElement;
  error: HTMLElement;
  partitionsSummary: HTMLElement;
  tbody: HTMLElement;
}

function card(g: GroupLag): Card {
  const id = `lag-${g.group.replace(/[^a-zA-Z0-9_-]/g, '_')}`;
  const total = h('span', { class: 'total' });
  const detail = h('span', { class: 'detail' });
  const area = s('path', { class: 'area' });
  const line = s('path', { class: 'line' });
  const maxLabel = s('text', { x: 4, y: 12, class: 'max' });
  const svg = s(
    'svg',
    { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', class: 'chart' },
    area,
    line,
    maxLabel,
  );
  const error = errorBox();
  const partitionsSummary = h('summary');
  const tbody = h('tbody');
  const el = h(
    'section',
    { class: 'lag-group', 'aria-labelledby': id, 'data-group': g.group },
    h('h2', { id }, groupLabel(g.group), ' ', h('span', { class: 'role' }, `${g.stream}`)),
    h('p', { class: 'numbers' }, 'lag ', total, ' ', detail),
    svg,
    error,
    h(
      'details',
      null,
      partitionsSummary,
      h(
        'table',
        null,
        h('caption', null, `${groupLabel(g.group)}: lag per partition`),
        h(
          'thead',
          null,
          h(
            'tr',
            null,
            ['domain', 'partition', 'committed', 'end', 'lag'].map((c) => h('th', { scope: 'col' }, c)),
          ),
        ),
        tbody,
      ),
    ),
  );
  return { el, total, detail, svg, line, area, maxLabel, error, partitionsSummary, tbody };
}

export function lagPage(ctx: Context): Page {
  const sampled = h('p', { class: 'sampled' });
  const live = h('p', { role: 'status', 'aria-live': 'polite', class: 'lag-total' });
  const pollError = errorBox();
  const groups = h('div', { class: 'lag-groups' });
  const el = h(
    'section',
    { class: 'page' },
    h('h1', { tabindex: -1 }, 'Lag'),
    h(
      'p',
      null,
      'Records each consumer group still has to read, per partition. The server samples every group on its own timer (',
      h('code', null, 'admin.lag_interval'),
      '); this page asks every 2 s and charts the samples it saw since it opened.',
    ),
    sampled,
    live,
    pollError,
    groups,
  );
  const cards = new Map<string, Card>();
  let order = '';

  const render = (error: string | null) => {
    showError(pollError, error === null ? null : `Cannot read the lag: ${error}`);
    const latest = ctx.lag.latest();
    if (!latest) {
      setText(
        sampled,
        error === null ? 'No lag sample yet: the server takes its first one shortly after it starts.' : '',
      );
      return;
    }
    const age = latest.sampledAt ? Math.max(0, Math.round((Date.now() - Date.parse(latest.sampledAt)) / 1000)) : null;
    setText(
      sampled,
      `Sampled at ${formatTime(latest.sampledAt)}${age !== null ? ` (${age} s ago)` : ''}; ${ctx.lag.size} samples kept.`,
    );
    const summaries = ctx.lag.summaries();
    setText(
      live,
      `Total lag ${summaries.reduce((n, g) => n + g.total, 0)} across ${summaries.length} consumer groups.`,
    );

    const want = summaries.map((g) => g.group).join('\u0000');
    const byGroup = new Map(latest.groups.map((g) => [g.group, g]));
    if (want !== order) {
      order = want;
      const list = summaries.map((sum) => {
        let c = cards.get(sum.group);
        if (!c) {
          c = card(byGroup.get(sum.group)!);
          cards.set(sum.group, c);
        }
        return c.el;
      });
      fill(groups, list);
    }
    for (const sum of summaries) {
      const c = cards.get(sum.group)!;
      const g = byGroup.get(sum.group)!;
      const k = summarize(g);
      setText(c.total, String(k.total));
      setText(
        c.detail,
        k.behind === 0
          ? '(every partition caught up)'
          : `(${k.behind} of ${k.partitions} partitions behind; most on ${k.worst!.domain}[${k.worst!.partition}]: ${k.worst!.lag})`,
      );
      c.el.classList.toggle('behind', k.total > 0);
      const ch = chart(ctx.lag.series(g.group), W, H);
      c.line.setAttribute('d', ch.line);
      c.area.setAttribute('d', ch.area);
      c.maxLabel.textContent = `max ${ch.max}`;
      c.svg.setAttribute('aria-label', `${groupLabel(g.group)}: ${describeChart(ch)}`);
      showError(c.error, g.error === null ? null : `The last sample failed: ${g.error}`);
      setText(c.partitionsSummary, `${k.partitions} partitions, ${k.behind} behind`);
      fill(
        c.tbody,
        g.partitions.map((p) =>
          h(
            'tr',
            { class: p.lag > 0 ? 'behind' : null },
            h('td', null, p.domain),
            h('td', null, String(p.partition)),
            h('td', null, p.committed === null ? '—' : String(p.committed)),
            h('td', null, String(p.end)),
            h('td', null, String(p.lag)),
          ),
        ),
      );
    }
  };
  render(null);
  const unsubscribe = ctx.onLag(render);
  return { title: 'Lag', el, stop: unsubscribe };
}
