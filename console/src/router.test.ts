import { describe, expect, it } from 'vitest';
import { formatRoute, parseRoute, type Route } from './router';

describe('router', () => {
  it('lands on the topology with no address', () => {
    expect(parseRoute('')).toEqual({ page: 'topology' });
    expect(parseRoute('#')).toEqual({ page: 'topology' });
    expect(parseRoute('#/')).toEqual({ page: 'topology' });
  });

  it('round-trips every page', () => {
    const routes: Route[] = [
      { page: 'topology' },
      { page: 'lag' },
      { page: 'aggregates', domain: null, root: null, asOf: null },
      { page: 'aggregates', domain: 'player', root: null, asOf: null },
      { page: 'aggregates', domain: 'player', root: '5f0c0b8e-3f5d-4c1e-9d55-6a7c7e0e2a11', asOf: null },
      { page: 'aggregates', domain: 'hand-flow', root: '5f0c0b8e-3f5d-4c1e-9d55-6a7c7e0e2a11', asOf: 7 },
      { page: 'workflows', correlation: null },
      { page: 'workflows', correlation: 'a b/c?d#e' },
      { page: 'send', domain: null, root: null },
      { page: 'send', domain: 'player', root: '5f0c0b8e-3f5d-4c1e-9d55-6a7c7e0e2a11' },
    ];
    for (const r of routes) expect(parseRoute(formatRoute(r))).toEqual(r);
  });

  it('keeps a correlation id whole, slashes and all', () => {
    expect(parseRoute('#/workflows/a/b')).toEqual({ page: 'workflows', correlation: 'a/b' });
  });

  it('ignores an as-of that is not a sequence, and names an address that is no page', () => {
    expect(parseRoute('#/aggregates/player/x?asOf=-1')).toMatchObject({ asOf: null });
    expect(parseRoute('#/aggregates/player/x?asOf=3')).toMatchObject({ asOf: 3 });
    expect(parseRoute('#/nope')).toEqual({ page: 'unknown', path: 'nope' });
    expect(formatRoute(parseRoute('#/nope'))).toBe('#/nope');
    expect(parseRoute('#/lag/extra')).toEqual({ page: 'unknown', path: 'lag/extra' });
  });
});
