/**
 * Aggregates: pick a domain, page through its roots, open one: its events
 * decoded by descriptor on a timeline, the snapshot it restores from, and an
 * as-of slider (by sequence, or by time: the last event at or before it)
 * that asks the server for the book as of that sequence.
 */

import { describeError, type Book, type BookEvent } from '../api';
import type { Context, Page } from '../context';
import type { TypeIndex } from '../descriptor';
import { errorBox, fill, h, setText, showError } from '../dom';
import { formatRoute, type Route } from '../router';
import { formatTime, shortName } from '../stream';
import { isUuid } from '../uuid';
import { jsonView } from '../view';

type AggRoute = Extract<Route, { page: 'aggregates' }>;

const PAGE_SIZE = 50;

/** The as-of range of a book: from the snapshot (or first event) to the last event. */
export function asOfRange(book: Book): { min: number; max: number } | null {
  const seqs = book.events.map((e) => e.sequence).filter((s): s is number => s !== null);
  const snap = book.snapshot?.sequence ?? null;
  if (seqs.length === 0) return null;
  const min = snap ?? Math.min(...seqs);
  return { min, max: Math.max(...seqs) };
}

/** The sequence of the last event created at or before `t` (ms), or null. */
export function sequenceAtTime(events: BookEvent[], t: number): number | null {
  let best: number | null = null;
  for (const e of events) {
    if (e.sequence === null || e.createdAt === null) continue;
    const at = Date.parse(e.createdAt);
    if (!Number.isNaN(at) && at <= t && (best === null || e.sequence > best)) best = e.sequence;
  }
  return best;
}

function eventItem(e: BookEvent, index: TypeIndex | null): HTMLElement {
  return h(
    'li',
    { class: 'event' },
    h(
      'div',
      { class: 'event-head' },
      h('span', { class: 'seq', title: 'sequence' }, `#${e.sequence ?? '?'}`),
      ' ',
      h('strong', { title: e.type }, shortName(e.type) || '(no type)'),
      ' ',
      h('time', { datetime: e.createdAt ?? '' }, formatTime(e.createdAt)),
    ),
    jsonView(e.event, e.type, index),
  );
}

export function aggregatesPage(ctx: Context, initial: AggRoute): Page & { update(r: AggRoute): void } {
  const domains = ctx.config.domains.map((d) => d.name);
  let route: AggRoute = { ...initial };
  let index: TypeIndex | null = null;
  ctx.types().then(
    (i) => (index = i),
    () => undefined, // UUIDs in bytes fields are a nicety; the events show without them
  );

  // --- choosing a domain and a root
  const domainSelect = h(
    'select',
    { id: 'agg-domain', onchange: () => go({ domain: domainSelect.value, root: null, asOf: null }) },
    domains.map((d) => h('option', { value: d }, d)),
  );
  const rootInput = h('input', {
    id: 'agg-root',
    type: 'text',
    placeholder: '5f0c0b8e-3f5d-4c1e-9d55-6a7c7e0e2a11',
    autocomplete: 'off',
    spellcheck: 'false',
    'aria-describedby': 'agg-root-hint',
    size: 38,
  });
  const openButton = h('button', { type: 'submit', disabled: true }, 'Open');
  const rootHint = h('span', { id: 'agg-root-hint', class: 'hint' }, 'a UUID');
  rootInput.addEventListener('input', () => {
    const v = rootInput.value.trim();
    openButton.disabled = !isUuid(v);
    setText(rootHint, v === '' || isUuid(v) ? 'a UUID' : 'not a UUID yet (8-4-4-4-12 hex digits)');
  });
  const chooser = h(
    'form',
    {
      class: 'row',
      onsubmit: (ev) => {
        ev.preventDefault();
        const v = rootInput.value.trim();
        if (isUuid(v)) go({ domain: domainSelect.value, root: v.toLowerCase(), asOf: null }, true);
      },
    },
    h('label', { for: 'agg-domain' }, 'Domain'),
    domainSelect,
    h('label', { for: 'agg-root' }, 'Root'),
    rootInput,
    openButton,
    rootHint,
  );

  // --- the roots of the domain, a page at a time
  const rootsHeading = h('h2', { id: 'roots-heading' }, 'Roots');
  const rootsList = h('ul', { class: 'roots', 'aria-labelledby': 'roots-heading' });
  const rootsError = errorBox();
  const rootsInfo = h('p', { class: 'hint', role: 'status' });
  const firstButton = h('button', { type: 'button', onclick: () => loadRoots([]) }, 'First page');
  const nextButton = h('button', { type: 'button' }, 'Next page');
  let cursors: string[] = []; // `after` of each page shown so far
  let next: string | null = null;
  nextButton.addEventListener('click', () => {
    if (next !== null) void loadRoots([...cursors, next]);
  });
  const rootsPanel = h(
    'section',
    { class: 'panel roots-panel', 'aria-labelledby': 'roots-heading' },
    rootsHeading,
    rootsInfo,
    rootsList,
    h('div', { class: 'row' }, firstButton, nextButton),
    rootsError,
  );

  let rootsDomain: string | null = null;
  async function loadRoots(stack: string[]): Promise<void> {
    const domain = route.domain;
    if (domain === null) return;
    rootsDomain = domain;
    setText(rootsHeading, `Roots of ${domain}`);
    setText(rootsInfo, 'Reading…');
    try {
      const after = stack.length ? stack[stack.length - 1]! : null;
      const page = await ctx.api.roots(domain, after, PAGE_SIZE);
      if (route.domain !== domain) return;
      cursors = stack;
      next = page.next;
      showError(rootsError, null);
      fill(
        rootsList,
        page.roots.map((r) =>
          h(
            'li',
            null,
            h(
              'a',
              {
                class: 'uuid',
                href: formatRoute({ page: 'aggregates', domain, root: r, asOf: null }),
                'aria-current': r === route.root ? 'true' : null,
              },
              r,
            ),
          ),
        ),
      );
      const first = cursors.length * PAGE_SIZE + 1;
      setText(
        rootsInfo,
        page.roots.length === 0
          ? cursors.length === 0
            ? `No aggregate of ${domain} has events yet.`
            : 'No more roots.'
          : `Page ${cursors.length + 1}: roots ${first}–${first + page.roots.length - 1}${page.next === null ? ' (the last page)' : ''}.`,
      );
      firstButton.disabled = cursors.length === 0;
      nextButton.disabled = page.next === null;
    } catch (e) {
      setText(rootsInfo, '');
      showError(rootsError, describeError(e));
    }
  }

  // --- one root's book
  const bookHeading = h('h2', { id: 'book-heading', tabindex: -1 });
  const bookError = errorBox();
  const bookInfo = h('p', { role: 'status' });
  const slider = h('input', { id: 'asof-seq', type: 'range', min: 0, max: 0, step: 1, value: 0 });
  const sliderOut = h('output', { for: 'asof-seq', id: 'asof-seq-out' });
  const timeInput = h('input', { id: 'asof-time', type: 'datetime-local', step: '0.001' });
  const timeButton = h('button', { type: 'submit' }, 'Go to time');
  const latestButton = h('button', { type: 'button', onclick: () => setAsOf(null) }, 'Latest');
  const reloadButton = h('button', { type: 'button', onclick: () => void loadBook(false) }, 'Reload');
  const asOfError = errorBox();
  const asOfControls = h(
    'div',
    { class: 'asof', role: 'group', 'aria-label': 'As of' },
    h(
      'div',
      { class: 'row' },
      h('label', { for: 'asof-seq' }, 'As of sequence'),
      slider,
      sliderOut,
      latestButton,
      reloadButton,
    ),
    h(
      'form',
      {
        class: 'row',
        onsubmit: (ev) => {
          ev.preventDefault();
          const t = timeInput.value ? new Date(timeInput.value).getTime() : NaN;
          if (Number.isNaN(t) || !full) return showError(asOfError, 'Give a date and time.');
          const seq = sequenceAtTime(full.events, t);
          if (seq === null)
            return showError(
              asOfError,
              `No event of this root was created at or before ${timeInput.value} (your local time).`,
            );
          setAsOf(seq);
        },
      },
      h('label', { for: 'asof-time' }, 'As of time (local)'),
      timeInput,
      timeButton,
    ),
    asOfError,
  );
  const snapshotView = h('div', { class: 'snapshot' });
  const timeline = h('ol', { class: 'timeline', 'aria-labelledby': 'book-heading' });
  const bookPanel = h(
    'section',
    { class: 'panel book', 'aria-labelledby': 'book-heading', hidden: true },
    bookHeading,
    bookInfo,
    asOfControls,
    bookError,
    snapshotView,
    timeline,
  );

  let full: Book | null = null; // the whole book: the slider's range
  let bookKey = '';
  let debounce: ReturnType<typeof setTimeout> | undefined;

  function describeAsOf(seq: number): string {
    const e = full?.events.find((x) => x.sequence === seq);
    return `sequence ${seq}${e?.createdAt ? `, ${formatTime(e.createdAt)}` : ''}`;
  }

  slider.addEventListener('input', () => {
    const seq = Number(slider.value);
    setText(sliderOut, describeAsOf(seq));
    slider.setAttribute('aria-valuetext', describeAsOf(seq));
    clearTimeout(debounce);
    debounce = setTimeout(() => setAsOf(seq === Number(slider.max) ? null : seq), 250);
  });

  function setAsOf(seq: number | null): void {
    showError(asOfError, null);
    route = { ...route, asOf: seq };
    ctx.replaceRoute(route);
    void showBook();
  }

  async function loadBook(focus: boolean): Promise<void> {
    const { domain, root } = route;
    if (domain === null || root === null) return;
    bookPanel.hidden = false;
    setText(bookHeading, `${domain} / ${root}`);
    setText(bookInfo, 'Reading the book…');
    try {
      const b = await ctx.api.book(domain, root);
      if (route.domain !== domain || route.root !== root) return;
      full = b;
      showError(bookError, null);
      await showBook();
      if (focus) bookHeading.focus();
    } catch (e) {
      full = null;
      setText(bookInfo, '');
      fill(timeline);
      fill(snapshotView);
      asOfControls.hidden = true;
      showError(bookError, describeError(e));
    }
  }

  async function showBook(): Promise<void> {
    if (!full) return;
    const range = asOfRange(full);
    asOfControls.hidden = range === null;
    let asOf = route.asOf;
    if (range && asOf !== null && (asOf < range.min || asOf >= range.max)) asOf = null; // outside what the page offers
    if (range) {
      slider.min = String(range.min);
      slider.max = String(range.max);
      slider.value = String(asOf ?? range.max);
      slider.disabled = range.min === range.max;
      setText(sliderOut, describeAsOf(asOf ?? range.max));
      slider.setAttribute('aria-valuetext', describeAsOf(asOf ?? range.max));
      latestButton.disabled = asOf === null;
    }
    let book = full;
    if (asOf !== null) {
      try {
        book = await ctx.api.book(full.domain, full.root, asOf);
        showError(asOfError, null);
      } catch (e) {
        showError(asOfError, describeError(e));
        return;
      }
    }
    const later = full.events.length - book.events.length;
    setText(
      bookInfo,
      full.events.length === 0 && !full.snapshot
        ? `No events: ${full.root} has no history in ${full.domain}.`
        : `${book.events.length} event${book.events.length === 1 ? '' : 's'}` +
            (book.snapshot ? ` after the snapshot at sequence ${book.snapshot.sequence}` : '') +
            (asOf !== null ? `, as of sequence ${asOf} (${later} later not shown)` : '') +
            '.',
    );
    fill(
      snapshotView,
      book.snapshot
        ? h(
            'details',
            { class: 'snapshot-mark' },
            h('summary', null, `Snapshot at sequence ${book.snapshot.sequence}`),
            jsonView(book.snapshot.state),
          )
        : null,
    );
    const key = JSON.stringify(book);
    if (key !== bookKey) {
      bookKey = key;
      fill(
        timeline,
        book.events.map((e) => eventItem(e, index)),
      );
    }
  }

  function go(r: Omit<AggRoute, 'page'>, focus = false): void {
    const target = formatRoute({ page: 'aggregates', ...r });
    if (location.hash === target) update({ page: 'aggregates', ...r }, focus || undefined);
    else {
      pendingFocus = focus;
      location.hash = target;
    }
  }
  let pendingFocus = false;

  /** Shows route `r`; focus moves to the book when a root is opened, unless `focus` says otherwise. */
  function update(r: AggRoute, focus?: boolean): void {
    const wanted = pendingFocus;
    pendingFocus = false;
    const domain = r.domain ?? route.domain ?? domains[0] ?? null;
    const before = route;
    route = { ...r, domain };
    if (domain !== null) domainSelect.value = domain;
    if (domain !== rootsDomain) void loadRoots([]);
    else
      for (const a of rootsList.querySelectorAll('a')) {
        if (a.textContent === route.root) a.setAttribute('aria-current', 'true');
        else a.removeAttribute('aria-current');
      }
    if (route.root === null) {
      bookPanel.hidden = true;
      full = null;
      bookKey = '';
    } else if (before.root !== route.root || before.domain !== route.domain || full === null) {
      bookKey = '';
      fill(timeline);
      void loadBook(focus ?? (wanted || before.root !== route.root));
    } else if (before.asOf !== route.asOf) {
      void showBook();
    }
  }

  const el = h(
    'section',
    { class: 'page' },
    h('h1', { tabindex: -1 }, 'Aggregates'),
    chooser,
    h('div', { class: 'split' }, rootsPanel, bookPanel),
  );
  route = { ...initial, root: null }; // so the first update opens the root
  update(initial, false);
  return {
    title: 'Aggregates',
    el,
    update: (r) => update(r),
    stop: () => clearTimeout(debounce),
  };
}
