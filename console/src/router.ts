/**
 * The pages' addresses: `#/topology`, `#/lag`,
 * `#/aggregates/{domain}/{root}?asOf={sequence}`, `#/workflows/{correlationId}`,
 * `#/send`. Hash routing, so the gateway serves one page for every address
 * and a link or a reload lands on the same view.
 */

export type Route =
  | { page: 'topology' }
  | { page: 'lag' }
  | { page: 'aggregates'; domain: string | null; root: string | null; asOf: number | null }
  | { page: 'workflows'; correlation: string | null }
  | { page: 'send'; domain: string | null; root: string | null }
  | { page: 'unknown'; path: string };

export type PageName = Route['page'];

function dec(s: string | undefined): string | null {
  if (s === undefined || s === '') return null;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** The route of a location hash (`#/aggregates/player`); '' and '#' are the topology. */
export function parseRoute(hash: string): Route {
  const raw = hash.replace(/^#/, '');
  const [slashed = '', query = ''] = raw.split('?', 2);
  const path = slashed.replace(/^\/+/, '');
  const parts = path.split('/').filter((p) => p !== '');
  const params = new URLSearchParams(query);
  const [page, a, b] = parts;
  switch (page) {
    case undefined:
    case 'topology':
      return parts.length <= 1 ? { page: 'topology' } : { page: 'unknown', path };
    case 'lag':
      return parts.length === 1 ? { page: 'lag' } : { page: 'unknown', path };
    case 'aggregates': {
      if (parts.length > 3) return { page: 'unknown', path };
      const asOf = params.get('asOf');
      const n = asOf !== null && /^\d+$/.test(asOf) ? Number(asOf) : null;
      return { page: 'aggregates', domain: dec(a), root: dec(b), asOf: n };
    }
    case 'workflows':
      // A correlation id may hold '/', so everything after the page is it.
      return { page: 'workflows', correlation: dec(parts.slice(1).join('/')) };
    case 'send':
      return {
        page: 'send',
        domain: params.get('domain') || null,
        root: params.get('root') || null,
      };
    default:
      return { page: 'unknown', path };
  }
}

const enc = encodeURIComponent;

/** The hash of a route; `parseRoute(formatRoute(r))` is `r`. */
export function formatRoute(r: Route): string {
  switch (r.page) {
    case 'topology':
    case 'lag':
      return `#/${r.page}`;
    case 'aggregates': {
      let h = '#/aggregates';
      if (r.domain !== null) {
        h += `/${enc(r.domain)}`;
        if (r.root !== null) h += `/${enc(r.root)}`;
      }
      if (r.asOf !== null && r.domain !== null && r.root !== null) h += `?asOf=${r.asOf}`;
      return h;
    }
    case 'workflows':
      return r.correlation === null ? '#/workflows' : `#/workflows/${enc(r.correlation)}`;
    case 'send': {
      const q = new URLSearchParams();
      if (r.domain !== null) q.set('domain', r.domain);
      if (r.root !== null) q.set('root', r.root);
      const qs = q.toString();
      return qs ? `#/send?${qs}` : '#/send';
    }
    case 'unknown':
      return `#/${r.path}`;
  }
}

/** The link to an aggregate's book. */
export function bookLink(domain: string, root: string): string {
  return formatRoute({ page: 'aggregates', domain, root, asOf: null });
}

/** The link that watches a correlation id. */
export function workflowLink(correlation: string): string {
  return formatRoute({ page: 'workflows', correlation });
}
