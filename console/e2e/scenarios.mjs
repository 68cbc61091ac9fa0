#!/usr/bin/env node
// The console in a real browser (Debian's chromium, driven by playwright-core)
// against a running angzarr. `e2e/run` starts the systems under test and
// calls this once per system:
//
//   node e2e/scenarios.mjs --base http://127.0.0.1:PORT --label embedded \
//     --out target/console-e2e --scenarios load,aggregate,stream
//
// Each scenario prints one line — PASS or FAIL, what it showed, and its
// screenshot — and the last line is `RESULT passed=N failed=N` for the
// runner. Every wait is on a condition with a deadline, never on time alone.
//
// The lag scenario starts the projector itself (E2E_PROJECTOR_CMD, a JSON
// argv), after it saw the lag rise, and stops it before it returns.

import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join, relative } from 'node:path';
import { chromium } from 'playwright-core';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const base = arg('--base');
const label = arg('--label', 'run');
const out = arg('--out', 'target/console-e2e');
const wanted = arg('--scenarios', 'load,aggregate,stream').split(',');
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const shown = (file) => relative(process.env.REPO_ROOT ?? process.cwd(), file);

// ---------------------------------------------------------------- helpers

/** Waits until `fn()` returns something truthy, or fails saying `what`. */
async function until(what, fn, timeoutMs = 20_000, everyMs = 200) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${last.message})` : ''}`,
      );
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

function check(cond, message) {
  if (!cond) throw new Error(message);
}

const b64 = (uuid) => Buffer.from(uuid.replace(/-/g, ''), 'hex').toString('base64');

async function http(method, path, body) {
  const res = await fetch(base + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, json, text };
}

/** A command through the gateway's REST mapping (not through the page). */
async function command(domain, root, sequence, type, fields, correlationId, syncMode = 'SYNC_MODE_DECISION') {
  const r = await http('POST', `/v1/ch/${domain}/commands`, {
    command: {
      cover: { domain, root: { value: b64(root) }, correlationId },
      pages: [{ header: { sequence }, command: { '@type': `type.googleapis.com/${type}`, ...fields } }],
    },
    syncMode,
  });
  check(r.status === 200, `${type} on ${domain}/${root}: HTTP ${r.status} ${r.text}`);
  return r.json;
}

const usd = (amount) => ({ amount: String(amount), currencyCode: 'USD' });

/** A screenshot in the middle of a scenario, named and printed on its own line. */
async function snap(page, name, what) {
  const file = join(out, `${label}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`  ${label} ${name}: ${what} — ${shown(file)}`);
}

/** The text of a locator, trimmed. */
const text = async (loc) => ((await loc.textContent()) ?? '').trim();

// ---------------------------------------------------------------- scenarios

const scenarios = {
  /** The page loads: title, navigation, the topology read from the API; keyboard moves between pages. */
  async load(page) {
    await page.goto(`${base}/ui/`);
    await until('the Topology heading', async () => (await text(page.locator('h1'))) === 'Topology');
    check((await page.title()) === 'Topology · angzarr console', `title is "${await page.title()}"`);
    const nav = await page.locator('nav[aria-label="Pages"] a').allTextContents();
    check(
      JSON.stringify(nav.map((n) => n.replace(/\s*\(off\)$/, ''))) ===
        JSON.stringify(['Topology', 'Lag', 'Aggregates', 'Workflows', 'Send']),
      `navigation is ${JSON.stringify(nav)}`,
    );
    const summary = await until('the partition tasks', async () => {
      const s = await text(page.locator('#topology-summary'));
      return /\d+ serving/.test(s) && s;
    });
    const serving = await page.locator('td.task-serving').count();
    check(serving > 0, 'no serving task in the tables');
    // Keyboard: Tab to the skip link, then the first two page links; Enter opens Lag and focus lands on its heading.
    await page.keyboard.press('Tab');
    check(
      (await page.evaluate(() => document.activeElement?.className)) === 'skip',
      'the first Tab does not reach the skip link',
    );
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    check(
      (await page.evaluate(() => document.activeElement?.textContent)) === 'Lag',
      'Tab does not reach the Lag link',
    );
    await page.keyboard.press('Enter');
    await until('focus on the Lag heading', () =>
      page.evaluate(() => document.activeElement?.tagName === 'H1' && document.activeElement.textContent === 'Lag'),
    );
    await page.goto(`${base}/ui/#/topology`);
    await until('the Topology heading again', async () => (await text(page.locator('h1'))) === 'Topology');
    await until('the tables again', async () => (await page.locator('td.task-serving').count()) > 0);
    return `title, 5 page links, "${summary}", keyboard to Lag`;
  },

  /** After a command, the aggregate's events appear in the Aggregates page (and as of an earlier sequence, fewer). */
  async aggregate(page) {
    const config = (await http('GET', '/v1/console/config')).json;
    const root = randomUUID();
    let how;
    if (config.commandsEnabled) {
      await page.goto(`${base}/ui/#/send`);
      await until('the types in the form', async () => (await page.locator('#send-type option').count()) > 10);
      await page.selectOption('#send-domain', 'player');
      await page.fill('#send-root', root);
      await page.selectOption('#send-type', 'examples.RegisterPlayer');
      // What the descriptor refuses cannot be sent.
      await page.fill('#send-body', '{"displayNam": "Ada"}');
      await until('the problem under the body', async () =>
        /has no field `displayNam`/.test(await text(page.locator('#send-body-problems'))),
      );
      check(
        await page.locator('button[type=submit]', { hasText: 'Send' }).isDisabled(),
        'Send is enabled for a body the descriptor refuses',
      );
      await page.fill('#send-body', JSON.stringify({ displayName: 'Ada', email: 'ada@example.com' }));
      await page.selectOption('#send-mode', 'SIMPLE');
      await until('Send enabled', () => page.locator('button[type=submit]', { hasText: 'Send' }).isEnabled());
      await page.click('button[type=submit]');
      await until('the registration accepted', async () => /^Accepted/.test(await text(page.locator('.send-status'))));
      await page.selectOption('#send-type', 'examples.DepositFunds');
      await page.fill('#send-body', JSON.stringify({ amount: usd(100) }));
      await page.click('button[type=submit]');
      await until('the deposit in the response', async () =>
        /FundsDeposited/.test(await text(page.locator('.result'))),
      );
      // What the aggregate refuses is shown as the API said it, next to the form.
      await page.selectOption('#send-type', 'examples.RegisterPlayer');
      await page.fill('#send-body', JSON.stringify({ displayName: 'Ada', email: 'ada@example.com' }));
      await page.click('button[type=submit]');
      const shownError = await until('the refusal under the form', async () => {
        const box = page.locator('#send-error');
        return (await box.isVisible()) && (await text(box));
      });
      const direct = await http('POST', '/v1/console/send', {
        domain: 'player',
        root,
        type: 'examples.RegisterPlayer',
        body: { displayName: 'Ada', email: 'ada@example.com' },
        syncMode: 'DECISION',
        sequence: null,
      });
      check(direct.status >= 400, `a second registration was accepted: ${direct.text}`);
      check(
        shownError === `${direct.json.code}: ${direct.json.message}`,
        `the page shows "${shownError}", the API says "${direct.json.code}: ${direct.json.message}"`,
      );
      // Open the root by typing it on the Aggregates page.
      await page.click('nav a[data-page="aggregates"]');
      await page.selectOption('#agg-domain', 'player');
      await page.fill('#agg-root', root);
      await page.press('#agg-root', 'Enter');
      how = `sent through the Send form (refusal shown verbatim: "${shownError}"), opened by typing the root`;
    } else {
      await command(
        'player',
        root,
        0,
        'examples.RegisterPlayer',
        { displayName: 'Ada', email: 'ada@example.com' },
        randomUUID(),
      );
      await command('player', root, 1, 'examples.DepositFunds', { amount: usd(100) }, randomUUID());
      await page.goto(`${base}/ui/#/send`);
      await until('the notice that sending is off', () => page.locator('#send-off').isVisible());
      check((await page.locator('#send-body').count()) === 0, 'the Send form is there although commands are off');
      await page.goto(`${base}/ui/#/aggregates/player/${root}`);
      how = 'sent through POST /v1/ch/player/commands (the Send page offers no form: commands are off)';
    }
    await until('the book heading', async () => (await text(page.locator('#book-heading'))) === `player / ${root}`);
    const types = await until('both events on the timeline', async () => {
      const t = await page.locator('ol.timeline > li strong').allTextContents();
      return t.length === 2 && t;
    });
    check(types[0] === 'PlayerRegistered' && types[1] === 'FundsDeposited', `timeline shows ${types}`);
    check(
      /"displayName": "Ada"/.test(await text(page.locator('ol.timeline > li').first())),
      'the registration is not decoded',
    );
    await snap(page, 'aggregate-book', 'the whole book');
    // As of sequence 0: keyboard on the slider (Home), the server answers with one event.
    await page.focus('#asof-seq');
    await page.keyboard.press('Home');
    await until('the book as of sequence 0', async () => (await page.locator('ol.timeline > li').count()) === 1);
    check(/as of sequence 0/.test(await text(page.locator('.book p[role=status]'))), 'the as-of is not stated');
    check(page.url().endsWith(`#/aggregates/player/${root}?asOf=0`), `the address is ${page.url()}`);
    return `${how}; PlayerRegistered, FundsDeposited on the timeline; as of sequence 0: one event`;
  },

  /** The Workflows page receives live events of a correlation id, across aggregates, with the saga's command's effect. */
  async stream(page) {
    const correlation = `console-e2e-${randomUUID()}`;
    const [payee, payer] = [randomUUID(), randomUUID()];
    await command(
      'player',
      payer,
      0,
      'examples.RegisterPlayer',
      { displayName: 'Bo', email: 'bo@example.com' },
      randomUUID(),
    );
    await command('player', payer, 1, 'examples.DepositFunds', { amount: usd(500) }, randomUUID());
    await page.goto(`${base}/ui/#/workflows`);
    await page.fill('#wf-correlation', correlation);
    await page.press('#wf-correlation', 'Enter');
    await until('the stream connected', async () => /connected/.test(await text(page.locator('.stream-status'))));
    await command(
      'player',
      payee,
      0,
      'examples.RegisterPlayer',
      { displayName: 'Ada', email: 'ada@example.com' },
      correlation,
    );
    await command(
      'player',
      payee,
      1,
      'examples.TransferFunds',
      { fromPlayerRoot: b64(payer), amount: usd(50), reason: 'e2e' },
      correlation,
      'SYNC_MODE_CASCADE',
    );
    const items = await until('three events on the page', async () => {
      const t = await page.locator('ol.stream > li strong').allTextContents();
      return t.length >= 3 && t;
    });
    check(
      JSON.stringify(items) === JSON.stringify(['PlayerRegistered', 'FundsTransferred', 'FundsWithdrawn']),
      `the stream shows ${items}`,
    );
    const caused = page.locator('ol.stream > li.caused');
    check((await caused.count()) === 1, 'the withdrawal is not marked as caused by a saga command');
    const cause = await text(caused.locator('.cause'));
    check(cause.includes(payee) && /saga transfer-settlement/.test(cause), `the cause says "${cause}"`);
    check((await caused.locator(`a:has-text("${payer}")`).count()) === 1, 'the payer’s root is not shown as a UUID');
    check(page.url().endsWith(`#/workflows/${correlation}`), `the address is ${page.url()}`);
    return `3 live events of ${correlation} (PlayerRegistered, FundsTransferred, then FundsWithdrawn on the payer, caused by the saga's command)`;
  },

  /** Lag rises while a projector is down and falls after it returns. */
  async lag(page) {
    const argv = JSON.parse(process.env.E2E_PROJECTOR_CMD ?? 'null');
    check(Array.isArray(argv), 'E2E_PROJECTOR_CMD (a JSON argv) is not set');
    const card = page.locator('section.lag-group[data-group="projector.watcher"]');
    await page.goto(`${base}/ui/#/lag`);
    await until('the watcher projector on the page', () => card.isVisible());
    await until('the command handler on the page too', () =>
      page.locator('section.lag-group[data-group="angzarr-command-handler"]').isVisible(),
    );
    // The card's numbers as the page shows them; NaN unless the total is a whole number, so that
    // an empty or placeholder text never reads as 0.
    const total = async () => {
      const t = await text(card.locator('.total'));
      return /^\d+$/.test(t) ? Number(t) : NaN;
    };
    // Caught up: a total of 0 over at least one partition, none behind, and no failed sample (a
    // group whose sample failed has no partitions, hence a total of 0 too).
    const caughtUp = async () => {
      const partitions = /^(\d+) partitions, (\d+) behind$/.exec(await text(card.locator('details > summary')));
      return (
        (await total()) === 0 &&
        partitions !== null &&
        Number(partitions[1]) > 0 &&
        partitions[2] === '0' &&
        (await text(card.locator('.detail'))) === '(every partition caught up)' &&
        !(await card.locator('.error').isVisible())
      );
    };
    for (let i = 0; i < 6; i++) {
      await command(
        'player',
        randomUUID(),
        0,
        'examples.RegisterPlayer',
        { displayName: `P${i}`, email: `p${i}@example.com` },
        randomUUID(),
      );
    }
    const high = await until(
      'the projector’s lag to rise',
      async () => {
        const n = await total();
        return n >= 6 && n;
      },
      30_000,
    );
    await snap(page, 'lag-rising', `projector down, lag ${high}`);

    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let said = '';
    child.stdout.on('data', (d) => (said += d));
    child.stderr.on('data', (d) => (said += d));
    try {
      await until('the projector listening', () => /listening on/.test(said) || child.exitCode !== null, 30_000);
      check(child.exitCode === null, `the projector exited: ${said}`);
      try {
        await until('the projector’s lag to fall to 0 on every partition', caughtUp, 60_000);
      } catch (e) {
        const rows = (await http('GET', '/v1/lag')).json?.groups?.find(
          (g) => g.group === 'projector.watcher',
        )?.partitions;
        const shows = await text(card.locator('p.numbers')).catch(() => '?');
        throw new Error(`${e.message}; the page shows "${shows}"; the API's rows: ${JSON.stringify(rows)}`);
      }
      const described = await card.locator('svg').getAttribute('aria-label');
      const max = Number(/between 0 and (\d+)/.exec(described ?? '')?.[1] ?? -1);
      check(max >= high, `the chart says "${described}", after a lag of ${high}`);
      check(
        (await card.locator('path.line').getAttribute('d')).split('L').length >= 3,
        'the chart has fewer than 3 points',
      );
      return `lag rose to ${high} with the projector down, fell to 0 after it started; chart: "${described}"`;
    } finally {
      child.kill('SIGTERM');
      await until('the projector stopped', () => child.exitCode !== null || child.signalCode !== null, 10_000).catch(
        () => child.kill('SIGKILL'),
      );
    }
  },
};

// ---------------------------------------------------------------- runner

const browser = await chromium.launch({
  executablePath,
  args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
});
let passed = 0;
let failed = 0;
try {
  for (const name of wanted) {
    const scenario = scenarios[name];
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const problems = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/Failed to load resource/.test(m.text()))
        problems.push(`console error: ${m.text()}`);
    });
    const file = join(out, `${label}-${name}.png`);
    try {
      check(scenario, `no scenario ${name}`);
      const what = await scenario(page);
      check(problems.length === 0, problems.join('; '));
      await page.screenshot({ path: file, fullPage: true });
      passed++;
      console.log(`PASS ${label} ${name}: ${what} — ${shown(file)}`);
    } catch (e) {
      failed++;
      await page.screenshot({ path: file, fullPage: true }).catch(() => undefined);
      console.log(
        `FAIL ${label} ${name}: ${e.message}${problems.length ? ` [${problems.join('; ')}]` : ''} — ${shown(file)}`,
      );
    } finally {
      await context.close();
    }
  }
} finally {
  await browser.close();
}
console.log(`RESULT passed=${passed} failed=${failed}`);
process.exit(failed === 0 ? 0 : 1);
