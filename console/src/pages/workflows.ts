/**
 * Live workflows: type a correlation id and watch its events arrive from
 * every domain as they are committed (the Server-Sent Events stream). An
 * event that a saga's or process manager's command caused names the event
 * that caused it (the command's source cover), so the chain reads top to
 * bottom. The stream starts at subscription: watch first, then send.
 */

import type { Context, Page } from '../context';
import { errorBox, fill, h, setText, showError } from '../dom';
import { isProcessManagerDomain, reactorsOf } from '../groups';
import type { Route } from '../router';
import { decodeEventBook, formatTime, shortName, type StreamRow } from '../stream';
import { newUuid } from '../uuid';
import { jsonView, rootLink } from '../view';
import type { TypeIndex } from '../descriptor';

type WfRoute = Extract<Route, { page: 'workflows' }>;

export function workflowsPage(ctx: Context, initial: WfRoute): Page & { update(r: WfRoute): void } {
  let index: TypeIndex | null = null;
  ctx.types().then(
    (i) => (index = i),
    () => undefined,
  );
  const input = h('input', {
    id: 'wf-correlation',
    type: 'text',
    autocomplete: 'off',
    spellcheck: 'false',
    size: 40,
    'aria-describedby': 'wf-hint',
  });
  const watchButton = h('button', { type: 'submit', disabled: true }, 'Watch');
  const stopButton = h('button', { type: 'button', disabled: true, onclick: () => stop(true) }, 'Stop');
  const newButton = h(
    'button',
    {
      type: 'button',
      onclick: () => {
        input.value = newUuid();
        input.dispatchEvent(new Event('input'));
        input.focus();
      },
    },
    'New id',
  );
  input.addEventListener('input', () => (watchButton.disabled = input.value.trim() === ''));
  const form = h(
    'form',
    {
      class: 'row',
      onsubmit: (ev) => {
        ev.preventDefault();
        const id = input.value.trim();
        if (id !== '') {
          ctx.replaceRoute({ page: 'workflows', correlation: id });
          watch(id);
        }
      },
    },
    h('label', { for: 'wf-correlation' }, 'Correlation id'),
    input,
    watchButton,
    stopButton,
    newButton,
  );
  const hint = h(
    'p',
    { id: 'wf-hint', class: 'hint' },
    'Events committed from the moment you press Watch appear below, from every domain. To send a command with this correlation id: ',
    h('code', { class: 'cli' }),
  );
  const cli = hint.querySelector('code')!;
  const status = h('p', { role: 'status', class: 'stream-status' }, 'Not watching.');
  const streamError = errorBox();
  const counts = h('p', { class: 'counts' });
  const log = h('ol', { class: 'stream', role: 'log', 'aria-live': 'polite', 'aria-label': 'Events as they arrive' });

  let source: EventSource | null = null;
  let rows: StreamRow[] = [];

  const updateCli = () =>
    setText(
      cli,
      `angzarr send player DepositFunds --root <uuid> --correlation ${input.value.trim() || '<id>'} --json '{"amount":{"amount":"5","currencyCode":"USD"}}'`,
    );
  input.addEventListener('input', updateCli);

  function stop(byUser: boolean): void {
    source?.close();
    source = null;
    stopButton.disabled = true;
    if (byUser) setText(status, `Stopped; ${rows.length} events received.`);
  }

  function item(r: StreamRow): HTMLElement {
    const pm = isProcessManagerDomain(ctx.config, r.domain);
    const received = new Date().toISOString().slice(11, 23);
    let cause: HTMLElement | null = null;
    if (r.causedBy) {
      const by = reactorsOf(ctx.config, r.causedBy.domain);
      cause = h(
        'p',
        { class: 'cause' },
        'caused by a command from ',
        by.length ? by.join(' or ') : 'a saga or process manager',
        ', reacting to ',
        r.causedBy.domain,
        ' ',
        rootLink(r.causedBy.domain, r.causedBy.root),
      );
    }
    return h(
      'li',
      { class: `event${r.causedBy ? ' caused' : ''}`, 'data-domain': r.domain },
      h(
        'div',
        { class: 'event-head' },
        h('span', { class: 'received', title: 'received' }, received),
        ' ',
        h('span', { class: 'badge domain' }, pm ? `process manager ${r.domain}` : r.domain),
        ' ',
        h('strong', { title: r.type }, shortName(r.type)),
        ' ',
        h('span', { class: 'seq' }, `#${r.sequence}`),
        ' ',
        rootLink(r.domain, r.root),
        ' ',
        h('time', { datetime: r.createdAt ?? '' }, formatTime(r.createdAt)),
      ),
      cause,
      jsonView(r.event, r.type, index),
    );
  }

  function showCounts(): void {
    const per = new Map<string, number>();
    for (const r of rows) per.set(r.domain, (per.get(r.domain) ?? 0) + 1);
    setText(counts, [...per].map(([d, n]) => `${d}: ${n}`).join(' · '));
  }

  function watch(id: string): void {
    stop(false);
    rows = [];
    fill(log);
    showCounts();
    showError(streamError, null);
    input.value = id;
    watchButton.disabled = false;
    updateCli();
    log.setAttribute('aria-label', `Events of ${id} as they arrive`);
    setText(status, `Subscribing to ${id}…`);
    const es = new EventSource(ctx.api.streamUrl(id));
    source = es;
    stopButton.disabled = false;
    es.addEventListener('open', () => {
      if (source === es)
        setText(status, `Watching ${id}: connected, ${rows.length} event${rows.length === 1 ? '' : 's'} so far.`);
    });
    es.addEventListener('event', (ev) => {
      let got: StreamRow[];
      try {
        got = decodeEventBook((ev as MessageEvent<string>).data);
      } catch (e) {
        showError(streamError, `An event the page cannot read: ${e instanceof Error ? e.message : String(e)}`);
        return;
      }
      rows.push(...got);
      for (const r of got) log.append(item(r));
      showCounts();
      setText(status, `Watching ${id}: connected, ${rows.length} event${rows.length === 1 ? '' : 's'} so far.`);
    });
    // The server's own `error` events carry its message (e.g. a subscriber that fell behind).
    es.addEventListener('error', (ev) => {
      const data = (ev as MessageEvent<string>).data;
      if (typeof data === 'string' && data !== '') {
        showError(streamError, `The stream said: ${data}`);
      } else if (es.readyState === EventSource.CLOSED) {
        setText(status, `The stream of ${id} closed.`);
        stopButton.disabled = true;
      } else {
        setText(
          status,
          `The stream of ${id} was interrupted; reconnecting (events committed meanwhile are not replayed)…`,
        );
      }
    });
  }

  function update(r: WfRoute): void {
    if (r.correlation !== null && r.correlation !== input.value.trim()) watch(r.correlation);
  }

  const el = h(
    'section',
    { class: 'page' },
    h('h1', { tabindex: -1 }, 'Live workflows'),
    form,
    hint,
    status,
    streamError,
    counts,
    log,
  );
  updateCli();
  if (initial.correlation !== null) watch(initial.correlation);
  return { title: 'Live workflows', el, update, stop: () => stop(false) };
}
