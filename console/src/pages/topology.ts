/**
 * Topology: every domain's partitions, the consumer groups over them, and
 * for each partition × group the task of this process that owns it — its
 * state (restoring, serving, failed), since when, restarts and last error —
 * or that another worker owns it. (The transactional producer's epoch is not
 * shown: librdkafka does not expose it.)
 */

import { describeError, type Task } from '../api';
import type { Context, Page } from '../context';
import { every } from '../context';
import { errorBox, fill, h, setText, showError } from '../dom';
import { groupLabel } from '../groups';
import { formatSince, topology, type DomainGrid, type TopologyModel } from '../topology';
import { stateBadge } from '../view';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Fills a cell with its task, or says who else owns the partition. */
function fillCell(td: HTMLElement, task: Task | null, elsewhere: string): void {
  if (task === null) {
    td.className = 'elsewhere';
    td.removeAttribute('title');
    fill(td, elsewhere);
    return;
  }
  const facts = [`for ${formatSince(task.sinceMs)}`];
  if (task.restarts > 0) facts.push(`${task.restarts} restart${task.restarts === 1 ? '' : 's'}`);
  td.className = `task task-${task.state}`;
  td.title = `owner ${task.owner}`;
  fill(
    td,
    stateBadge(task.state),
    h('span', { class: 'facts' }, ' ', facts.join(' · ')),
    task.lastError !== null ? h('span', { class: 'last-error' }, task.lastError) : null,
  );
}

function grid(g: DomainGrid, cells: HTMLElement[][]): HTMLElement {
  const topics = g.domain.topics;
  return h(
    'section',
    { class: 'domain', 'aria-labelledby': `domain-${g.domain.name}` },
    h(
      'h2',
      { id: `domain-${g.domain.name}` },
      g.domain.name,
      h('span', { class: 'role' }, g.role === 'process manager' ? ' process manager' : ' aggregate'),
    ),
    topics
      ? h(
          'dl',
          { class: 'topics' },
          h('dt', null, 'commands'),
          h('dd', null, h('code', null, topics.commands)),
          h('dt', null, 'events'),
          h('dd', null, h('code', null, topics.events)),
          h('dt', null, 'snapshots'),
          h('dd', null, h('code', null, topics.snapshots)),
        )
      : null,
    h(
      'div',
      { class: 'scroll', tabindex: 0, role: 'region', 'aria-label': `${g.domain.name} partitions` },
      h(
        'table',
        null,
        h(
          'caption',
          null,
          `${g.domain.name}: ${plural(g.rows.length, 'partition')} × ${plural(g.groups.length, 'consumer group')}`,
        ),
        h(
          'thead',
          null,
          h(
            'tr',
            null,
            h('th', { scope: 'col' }, 'partition'),
            g.groups.map((grp) => h('th', { scope: 'col' }, groupLabel(grp))),
          ),
        ),
        h(
          'tbody',
          null,
          g.rows.map((row) => {
            const tds = row.cells.map(() => h('td'));
            cells.push(tds);
            return h('tr', null, h('th', { scope: 'row' }, String(row.partition)), tds);
          }),
        ),
      ),
    ),
  );
}

export function topologyPage(ctx: Context): Page {
  const kafka = ctx.config.log.type === 'kafka';
  const elsewhere = kafka ? 'owned by another worker' : 'not running in this process';
  const summary = h('p', { id: 'topology-summary', role: 'status' }, 'Reading the partition tasks…');
  const error = errorBox();
  const grids = h('div', { class: 'grids' });
  const el = h(
    'section',
    { class: 'page' },
    h('h1', { tabindex: -1 }, 'Topology'),
    h(
      'p',
      null,
      kafka
        ? [
            'Log: Kafka, topic prefix ',
            h('code', null, ctx.config.log.topicPrefix ?? ''),
            '. Other workers own the partitions this process does not list.',
          ]
        : 'Log: embedded (one SQLite file, every partition in this process).',
    ),
    summary,
    error,
    grids,
  );
  // The tables are rebuilt only when their shape changes; every tick
  // refills the cells in place (focus and scroll stay where they are).
  let shape = '';
  let cells: HTMLElement[][][] = [];
  const render = (m: TopologyModel) => {
    const c = m.counts;
    setText(
      summary,
      `This worker (${m.owners.join(', ') || 'no tasks'}): ${c.serving} serving, ${c.restoring} restoring, ${c.failed} failed` +
        (kafka ? `; ${c.elsewhere} owned by other workers.` : '.'),
    );
    const key = JSON.stringify(m.grids.map((g) => [g.domain.name, g.groups, g.rows.length]));
    if (key !== shape) {
      shape = key;
      cells = m.grids.map(() => []);
      fill(
        grids,
        m.grids.map((g, i) => grid(g, cells[i]!)),
      );
    }
    m.grids.forEach((g, i) =>
      g.rows.forEach((row, r) => row.cells.forEach((t, k) => fillCell(cells[i]![r]![k]!, t, elsewhere))),
    );
  };
  const stop = every(2000, async () => {
    try {
      const status = await ctx.api.status();
      showError(error, null);
      render(topology(ctx.config, status));
    } catch (e) {
      showError(error, `Cannot read the partition tasks: ${describeError(e)}`);
    }
  });
  return { title: 'Topology', el, stop };
}
