/**
 * Send a command: domain, root, type, a JSON body checked against the
 * type's descriptor as it is typed, the sync mode and optionally the
 * expected sequence; shows the gateway's response or its refusal verbatim.
 * Only when the configuration allows it (`gateway.console_commands`, on in
 * `angzarr dev`): otherwise the page says so and offers no form.
 */

import { describeError, SYNC_MODES, type SyncMode } from '../api';
import type { Context, Page } from '../context';
import { describeFields, parseJson, template, validateBody, type TypeIndex } from '../descriptor';
import { errorBox, fill, h, setText, showError } from '../dom';
import { isProcessManagerDomain } from '../groups';
import { bookLink, workflowLink, type Route } from '../router';
import { shortName } from '../stream';
import { isUuid, newUuid, rootToUuid } from '../uuid';
import { jsonView } from '../view';

type SendRoute = Extract<Route, { page: 'send' }>;

const MODES: Record<SyncMode, string> = {
  ASYNC: 'answer once the command is durably in the commands log',
  DECISION: 'answer once the aggregate accepted (events committed) or rejected it',
  SIMPLE: 'DECISION, plus the sync projectors applied',
  CASCADE: 'SIMPLE, plus the sagas’ commands decided, recursively',
  ISOLATED: 'accepted and persisted; nothing downstream reacts',
};

export function sendPage(ctx: Context, initial: SendRoute): Page {
  const heading = h('h1', { tabindex: -1 }, 'Send a command');
  if (!ctx.config.commandsEnabled) {
    return {
      title: 'Send a command',
      el: h(
        'section',
        { class: 'page' },
        heading,
        h(
          'p',
          { class: 'notice', id: 'send-off' },
          'Sending commands from the console is off in this configuration. ',
          h('code', null, 'angzarr dev'),
          ' turns it on; elsewhere set ',
          h('code', null, 'gateway.console_commands: true'),
          '.',
        ),
      ),
      stop: () => undefined,
    };
  }

  // Process managers' own domains take commands only from their routers.
  const domains = ctx.config.domains.map((d) => d.name).filter((d) => !isProcessManagerDomain(ctx.config, d));
  const domain = h(
    'select',
    { id: 'send-domain', name: 'domain' },
    domains.map((d) => h('option', { value: d }, d)),
  );
  if (initial.domain && domains.includes(initial.domain)) domain.value = initial.domain;

  const root = h('input', {
    id: 'send-root',
    name: 'root',
    type: 'text',
    autocomplete: 'off',
    spellcheck: 'false',
    size: 38,
    required: true,
    'aria-describedby': 'send-root-problem',
    value: initial.root ?? '',
  });
  const rootProblem = h('span', { id: 'send-root-problem', class: 'hint' });
  const newRoot = h(
    'button',
    {
      type: 'button',
      onclick: () => {
        root.value = newUuid();
        check();
      },
    },
    'New UUID',
  );

  const type = h(
    'select',
    { id: 'send-type', name: 'type', disabled: true, 'aria-describedby': 'send-type-fields' },
    h('option', { value: '' }, 'Reading the types…'),
  );
  const typeFields = h('ul', { id: 'send-type-fields', class: 'fields', 'aria-label': 'Fields of the type' });
  const typesError = errorBox();
  const fillTemplate = h('button', { type: 'button', disabled: true }, 'Fill in every field');

  const body = h('textarea', {
    id: 'send-body',
    name: 'body',
    rows: 10,
    cols: 60,
    spellcheck: 'false',
    'aria-describedby': 'send-body-problems',
    value: '{}',
  });
  const bodyProblems = h('ul', { id: 'send-body-problems', class: 'problems', 'aria-live': 'polite' });

  const mode = h(
    'select',
    { id: 'send-mode', name: 'syncMode', 'aria-describedby': 'send-mode-hint' },
    SYNC_MODES.map((m) => h('option', { value: m }, m)),
  );
  mode.value = 'DECISION';
  const modeHint = h('span', { id: 'send-mode-hint', class: 'hint' });
  mode.addEventListener('change', () => setText(modeHint, MODES[mode.value as SyncMode]));
  setText(modeHint, MODES.DECISION);

  const sequence = h('input', {
    id: 'send-sequence',
    name: 'sequence',
    type: 'number',
    min: 0,
    step: 1,
    inputmode: 'numeric',
    placeholder: 'current',
    'aria-describedby': 'send-sequence-hint',
  });
  const sequenceHint = h(
    'span',
    { id: 'send-sequence-hint', class: 'hint' },
    'empty: the server reads the aggregate’s current sequence',
  );

  const submit = h('button', { type: 'submit', disabled: true, class: 'primary' }, 'Send');
  const sendError = errorBox('send-error');
  const sendStatus = h('p', { role: 'status', class: 'send-status' });
  const result = h('div', { class: 'result' });

  let index: TypeIndex | null = null;

  function check(): boolean {
    let ok = true;
    const r = root.value.trim();
    if (!isUuid(r)) {
      ok = false;
      setText(rootProblem, r === '' ? 'required: a UUID' : 'not a UUID (8-4-4-4-12 hex digits)');
      root.setAttribute('aria-invalid', 'true');
    } else {
      setText(rootProblem, '');
      root.removeAttribute('aria-invalid');
    }
    const problems: string[] = [];
    const parsed = parseJson(body.value);
    if (!parsed.ok) problems.push(parsed.message);
    else if (index !== null && type.value !== '') {
      for (const p of validateBody(index, type.value, parsed.value))
        problems.push(p.path ? `${p.path}: ${p.message}` : p.message);
    }
    if (index === null || type.value === '') ok = false;
    const seq = sequence.value.trim();
    if (seq !== '' && !/^\d+$/.test(seq)) {
      problems.push('sequence: a whole number ≥ 0, or empty');
      sequence.setAttribute('aria-invalid', 'true');
    } else sequence.removeAttribute('aria-invalid');
    fill(
      bodyProblems,
      problems.map((p) => h('li', null, p)),
    );
    if (problems.length) {
      ok = false;
      body.setAttribute('aria-invalid', 'true');
    } else body.removeAttribute('aria-invalid');
    submit.disabled = !ok;
    return ok;
  }

  function showFields(): void {
    const t = index?.get(type.value);
    fill(
      typeFields,
      t
        ? t.fields.length
          ? describeFields(t).map((f) => h('li', null, h('code', null, f)))
          : h('li', null, 'no fields')
        : null,
    );
    fillTemplate.disabled = !t;
  }

  type.addEventListener('change', () => {
    showFields();
    check();
  });
  fillTemplate.addEventListener('click', () => {
    if (!index || !type.value) return;
    body.value = JSON.stringify(template(index, type.value), null, 2);
    check();
    body.focus();
  });
  for (const el of [root, body, sequence]) el.addEventListener('input', check);

  ctx.types().then(
    (i) => {
      index = i;
      // Every message the gateway knows; the contract does not say which are commands.
      const names = [...i.keys()].sort((a, b) => shortName(a).localeCompare(shortName(b)) || a.localeCompare(b));
      fill(
        type,
        h('option', { value: '' }, 'Choose a type…'),
        names.map((n) => h('option', { value: n }, `${shortName(n)} (${n})`)),
      );
      type.disabled = false;
      showFields();
      check();
    },
    (e) => {
      fill(type, h('option', { value: '' }, 'No types'));
      showError(typesError, `Cannot read the command types: ${describeError(e)}`);
    },
  );

  const form = h(
    'form',
    {
      class: 'send',
      novalidate: true,
      onsubmit: async (ev) => {
        ev.preventDefault();
        if (!check()) return;
        const parsed = parseJson(body.value);
        if (!parsed.ok) return;
        submit.disabled = true;
        showError(sendError, null);
        fill(result);
        setText(sendStatus, 'Sending…');
        const seq = sequence.value.trim();
        const request = {
          domain: domain.value,
          root: root.value.trim().toLowerCase(),
          type: type.value,
          body: parsed.value,
          syncMode: mode.value as SyncMode,
          sequence: seq === '' ? null : Number(seq),
        };
        try {
          const answer = await ctx.api.send(request);
          const cover = (answer.response as { events?: { cover?: { correlationId?: string; root?: unknown } } })?.events
            ?.cover;
          const correlation = cover?.correlationId;
          setText(sendStatus, `Accepted by ${request.domain} ${request.root}.`);
          fill(
            result,
            h('h2', null, 'Response'),
            h(
              'p',
              null,
              h(
                'a',
                { href: bookLink(request.domain, rootToUuid(cover?.root) ?? request.root) },
                `Open ${request.domain} ${request.root}`,
              ),
              correlation ? [' · correlation id ', h('a', { href: workflowLink(correlation) }, correlation)] : null,
            ),
            jsonView(answer.response),
          );
        } catch (e) {
          setText(sendStatus, 'Refused.');
          showError(sendError, describeError(e));
        } finally {
          check();
        }
      },
    },
    h('div', { class: 'field' }, h('label', { for: 'send-domain' }, 'Domain'), domain),
    h('div', { class: 'field' }, h('label', { for: 'send-root' }, 'Root'), root, newRoot, rootProblem),
    h('div', { class: 'field' }, h('label', { for: 'send-type' }, 'Type'), type, fillTemplate, typesError),
    typeFields,
    h(
      'div',
      { class: 'field column' },
      h('label', { for: 'send-body' }, 'Body (proto3 JSON of the type)'),
      body,
      bodyProblems,
    ),
    h('div', { class: 'field' }, h('label', { for: 'send-mode' }, 'Sync mode'), mode, modeHint),
    h('div', { class: 'field' }, h('label', { for: 'send-sequence' }, 'Expected sequence'), sequence, sequenceHint),
    h('div', { class: 'field' }, submit, sendStatus),
    sendError,
  );
  check();
  return {
    title: 'Send a command',
    el: h('section', { class: 'page' }, heading, form, result),
    stop: () => undefined,
  };
}
