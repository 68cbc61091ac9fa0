/**
 * A few lines instead of a framework: `h('button', {onclick}, 'Send')`
 * builds an element. The pages are forms, tables and lists that change a
 * little every two seconds; they update the nodes they own, so focus, open
 * `<details>` and half-typed input survive a refresh.
 */

export type Child = Node | string | number | null | undefined | false | Child[];

type Handler = (ev: Event) => void;
export type Attrs = Record<string, string | number | boolean | Handler | null | undefined>;

function append(parent: Node, child: Child): void {
  if (child === null || child === undefined || child === false) return;
  if (Array.isArray(child)) {
    for (const c of child) append(parent, c);
  } else if (child instanceof Node) {
    parent.appendChild(child);
  } else {
    parent.appendChild(document.createTextNode(String(child)));
  }
}

function setAttrs(el: Element, attrs: Attrs | null | undefined): void {
  if (!attrs) return;
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') {
      el.addEventListener(key.replace(/^on/, ''), value);
    } else if (key === 'value' && 'value' in el) {
      (el as HTMLInputElement).value = String(value);
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
}

/** An HTML element with attributes (`onclick` etc. become listeners) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Attrs | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG element, as `h` builds HTML ones. */
export function s(tag: string, attrs?: Attrs | null, ...children: Child[]): SVGElement {
  const el = document.createElementNS(SVG_NS, tag) as SVGElement;
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

/** Replaces the children of `el`. */
export function fill(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** Sets `el`'s text only when it changed, so a live region speaks only news. */
export function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

/** A message under a control: role=alert, so it is read when it appears. */
export function errorBox(id?: string): HTMLElement {
  const box = h('p', { class: 'error', role: 'alert', id: id ?? null, hidden: true });
  return box;
}

/** Shows `message` in an `errorBox` (verbatim), or hides it with null. */
export function showError(box: HTMLElement, message: string | null): void {
  if (message === null) {
    box.hidden = true;
    box.textContent = '';
  } else {
    box.hidden = false;
    setText(box, message);
  }
}
