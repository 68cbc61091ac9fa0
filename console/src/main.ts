/**
 * The console's shell: reads the configuration, draws the navigation, and
 * mounts the page the address names (hash routing). Lag is polled here,
 * whatever page shows, so its history survives moving between pages.
 */

import './style.css';
import { Api, describeError, type ConsoleConfig } from './api';
import type { Context, Page } from './context';
import { every } from './context';
import { indexTypes, type TypeIndex } from './descriptor';
import { errorBox, fill, h, showError } from './dom';
import { LagHistory } from './lag';
import { aggregatesPage } from './pages/aggregates';
import { lagPage } from './pages/lag';
import { sendPage } from './pages/send';
import { topologyPage } from './pages/topology';
import { workflowsPage } from './pages/workflows';
import { formatRoute, parseRoute, type PageName, type Route } from './router';

const NAV: { page: PageName; label: string }[] = [
  { page: 'topology', label: 'Topology' },
  { page: 'lag', label: 'Lag' },
  { page: 'aggregates', label: 'Aggregates' },
  { page: 'workflows', label: 'Workflows' },
  { page: 'send', label: 'Send' },
];

function mount(ctx: Context, route: Route): Page & { update?(r: Route): void } {
  switch (route.page) {
    case 'topology':
      return topologyPage(ctx);
    case 'lag':
      return lagPage(ctx);
    case 'aggregates': {
      const p = aggregatesPage(ctx, route);
      return { ...p, update: (r) => r.page === 'aggregates' && p.update(r) };
    }
    case 'workflows': {
      const p = workflowsPage(ctx, route);
      return { ...p, update: (r) => r.page === 'workflows' && p.update(r) };
    }
    case 'send':
      return sendPage(ctx, route);
    case 'unknown':
      return {
        title: 'Not found',
        el: h(
          'section',
          { class: 'page' },
          h('h1', { tabindex: -1 }, 'No such page'),
          h(
            'p',
            null,
            'The address ',
            h('code', null, `#/${route.path}`),
            ' names no page. ',
            h('a', { href: '#/topology' }, 'Go to the topology'),
            '.',
          ),
        ),
        stop: () => undefined,
      };
  }
}

function shell(config: ConsoleConfig): { nav: HTMLElement; main: HTMLElement } {
  const app = document.getElementById('app')!;
  const main = h('main', { id: 'main', tabindex: -1 });
  const nav = h(
    'nav',
    { 'aria-label': 'Pages' },
    h(
      'ul',
      null,
      NAV.map((n) =>
        h(
          'li',
          null,
          h(
            'a',
            { href: `#/${n.page}`, 'data-page': n.page },
            n.label,
            n.page === 'send' && !config.commandsEnabled ? h('span', { class: 'off' }, ' (off)') : null,
          ),
        ),
      ),
    ),
  );
  const skip = h(
    'a',
    {
      class: 'skip',
      href: '#main',
      onclick: (ev) => {
        ev.preventDefault();
        main.focus();
      },
    },
    'Skip to the page',
  );
  const logInfo = config.log.type === 'kafka' ? `Kafka · ${config.log.topicPrefix ?? ''}` : 'embedded log';
  fill(
    app,
    skip,
    h('header', null, h('p', { class: 'brand' }, 'angzarr console'), h('p', { class: 'log' }, logInfo), nav),
    main,
  );
  return { nav, main };
}

async function boot(): Promise<void> {
  const api = new Api();
  const app = document.getElementById('app')!;
  let config: ConsoleConfig;
  try {
    config = await api.config();
  } catch (e) {
    const error = errorBox();
    fill(
      app,
      h(
        'main',
        { id: 'main' },
        h('h1', null, 'angzarr console'),
        error,
        h('button', { type: 'button', onclick: () => void boot() }, 'Try again'),
      ),
    );
    showError(error, `Cannot read the console's configuration: ${describeError(e)}`);
    return;
  }

  const lag = new LagHistory();
  const lagListeners = new Set<(error: string | null) => void>();
  let types: Promise<TypeIndex> | null = null;
  const ctx: Context = {
    api,
    config,
    lag,
    types: () => {
      types ??= api.types().then(indexTypes);
      types.catch(() => (types = null)); // ask again next time
      return types;
    },
    onLag: (l) => {
      lagListeners.add(l);
      return () => lagListeners.delete(l);
    },
    replaceRoute: (r) => history.replaceState(null, '', formatRoute(r)),
  };
  every(2000, async () => {
    if (document.visibilityState === 'hidden') return;
    let error: string | null = null;
    try {
      lag.add(await api.lag());
    } catch (e) {
      error = describeError(e);
    }
    for (const l of lagListeners) l(error);
  });

  const { nav, main } = shell(config);
  let current: (Page & { update?(r: Route): void }) | null = null;
  let currentPage: PageName | null = null;
  const show = (first: boolean) => {
    const route = parseRoute(location.hash);
    if (current && currentPage === route.page && current.update) {
      current.update(route);
      return;
    }
    current?.stop();
    current = mount(ctx, route);
    currentPage = route.page;
    fill(main, current.el);
    document.title = `${current.title} · angzarr console`;
    for (const a of nav.querySelectorAll('a')) {
      if (a.dataset.page === route.page) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    // After moving between pages, start reading at the new page's heading.
    if (!first) current.el.querySelector<HTMLElement>('h1')?.focus();
  };
  window.addEventListener('hashchange', () => show(false));
  show(true);
}

void boot();
