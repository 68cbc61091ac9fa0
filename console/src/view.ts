/** Small views several pages share: JSON, UUIDs, state badges. */

import { h } from './dom';
import { bytesUuids, type TypeIndex } from './descriptor';
import { bookLink } from './router';

/**
 * JSON indented like `JSON.stringify(v, null, 2)`, except that an object or
 * list whose one-line form fits in `width` characters stays on one line:
 * `"amount": {"amount": "100", "currencyCode": "USD"}` reads better than
 * four lines.
 */
export function compactJson(value: unknown, width = 72, indent = ''): string {
  const one = flat(value);
  if (value === null || typeof value !== 'object' || indent.length + one.length <= width) return one;
  const inner = indent + '  ';
  if (Array.isArray(value)) {
    return `[\n${value.map((v) => inner + compactJson(v, width, inner)).join(',\n')}\n${indent}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>);
  return `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${compactJson(v, width, inner)}`).join(',\n')}\n${indent}}`;
}

function flat(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(flat).join(', ')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `${JSON.stringify(k)}: ${flat(v)}`)
      .join(', ')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** Pretty JSON in a `<pre>`, with the UUIDs held in `bytes` fields listed under it. */
export function jsonView(value: unknown, typeName?: string, index?: TypeIndex | null): HTMLElement {
  const pre = h('pre', { class: 'json' }, compactJson(value));
  const uuids = typeName && index ? bytesUuids(index, typeName, value) : [];
  if (uuids.length === 0) return pre;
  return h(
    'div',
    null,
    pre,
    h(
      'ul',
      { class: 'uuids', 'aria-label': 'UUIDs in bytes fields' },
      uuids.map((u) => h('li', null, h('code', null, u.path), ' is the UUID ', h('code', { class: 'uuid' }, u.uuid))),
    ),
  );
}

/** A root as a link to its book. */
export function rootLink(domain: string, root: string | null): HTMLElement {
  if (root === null) return h('span', { class: 'uuid' }, '(no root)');
  return h('a', { class: 'uuid', href: bookLink(domain, root) }, root);
}

/** A task state as a word with a colour (the word carries the meaning). */
export function stateBadge(state: string): HTMLElement {
  return h('span', { class: `badge state-${state}` }, state);
}
