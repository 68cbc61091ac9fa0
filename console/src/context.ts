/** What every page is given: the API, the configuration, and the shared lag history. */

import type { Api, ConsoleConfig } from './api';
import type { TypeIndex } from './descriptor';
import type { LagHistory } from './lag';
import type { Route } from './router';

export interface Context {
  api: Api;
  config: ConsoleConfig;
  /** The message descriptors (fetched once, on first use). */
  types(): Promise<TypeIndex>;
  /** Lag samples, polled every 2 s while the page is open (whatever page shows). */
  lag: LagHistory;
  /** Called after each new lag sample (or a failed poll, with its message); returns an unsubscribe. */
  onLag(listener: (error: string | null) => void): () => void;
  /** Replaces the address without reloading the page (state a link should keep). */
  replaceRoute(route: Route): void;
}

/** A mounted page: its element, and how to stop its timers and streams. */
export interface Page {
  title: string;
  el: HTMLElement;
  stop(): void;
}

/** Polls `fn` every `ms` (after the previous call finished) until stopped. */
export function every(ms: number, fn: () => Promise<void>): () => void {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const tick = async () => {
    if (stopped) return;
    try {
      await fn();
    } finally {
      if (!stopped) timer = setTimeout(tick, ms);
    }
  };
  void tick();
  return () => {
    stopped = true;
    if (timer !== undefined) clearTimeout(timer);
  };
}
