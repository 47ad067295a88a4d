// The head-office dashboard (docs/DASHBOARD.md) end to end in Debian's Chromium, driven by
// playwright-core: a head office made from nothing with the command-line programs (scenario.mjs),
// two terminals synced, then a person at head office signs in, reads the overview, the terminals,
// resolves a conflict, reads a share's explanation and an event, approves a period and sees a late
// entry booked as an adjustment, downloads the payroll; and what must be refused is: a wrong
// password, an action without its form token or with another login's, a name that is a script.
// Selectors are the ones DASHBOARD.md guarantees (nav links, section ids, button names, form
// fields, role="alert"/"status"). A full-page screenshot of each page goes to
// $SHIFTBOOK_SCREENSHOTS. Run through ctest (README.md); every wait is bounded.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { required_env } from './world.mjs';
import { kLaterPeriod, kPassword, kPeriod, kRecorded, kScriptName, make_scenario } from './scenario.mjs';

const kChromium = '/usr/bin/chromium';
// The machine's network is closed, and a test must not reach out anyway: nothing in the background.
const kChromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                       '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const kActionMs = 15_000; // one click, fill or assertion's wait
const kPageMs = 20_000; // one navigation
const kTestMs = 90_000; // one test below
const kAllMs = 240_000; // all of them, setting up included: run.cmake allows 270 s

if (!existsSync(kChromium)) {
  throw new Error(`${kChromium} is missing: run tools/setup (it installs Debian's chromium), or tools/test`);
}
let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  throw new Error(`playwright-core is not installed (${e.message}): run 'npm ci' in tests/browser, or tools/test`);
}

const shots = required_env('SHIFTBOOK_SCREENSHOTS');
mkdirSync(shots, { recursive: true });

let world; // make_scenario()'s answer
let browser;
let base; // http://127.0.0.1:PORT/dashboard
const dialogs = []; // every dialog any page opened: there must be none

// A new browser context (its own cookies: another browser, as far as the server can tell) and a
// page in it that records any dialog.
async function new_page() {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(kActionMs);
  context.setDefaultNavigationTimeout(kPageMs);
  const page = await context.newPage();
  page.on('dialog', async (d) => { dialogs.push(`${d.type()}: ${d.message()}`); await d.dismiss(); });
  return page;
}

async function shoot(page, name) { await page.screenshot({ path: join(shots, name), fullPage: true }); }

// Signs in on the sign-in form; the answer to the form's POST.
async function sign_in(page, name, password) {
  await page.goto(`${base}/login`);
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Password').fill(password);
  const [answer] = await Promise.all([
    page.waitForResponse((r) => r.url() === `${base}/login` && r.request().method() === 'POST'),
    page.getByRole('button', { name: 'Sign in' }).click(),
  ]);
  await page.waitForLoadState();
  return answer;
}

async function signed_in_page(name = 'anna') {
  const page = await new_page();
  const answer = await sign_in(page, name, kPassword);
  assert.equal(answer.status(), 303, `signing in as ${name}`);
  assert.equal(new URL(page.url()).pathname, '/dashboard/');
  return page;
}

// Follows the navigation bar's link, as a person would. A link that is not there fails at once
// rather than after the click's wait.
async function nav_to(page, label, path) {
  const link = page.locator('nav').getByRole('link', { name: label, exact: true });
  assert.equal(await link.count(), 1, `a link '${label}' in the page's <nav> (DASHBOARD.md, "Every page")`);
  await link.click();
  await page.waitForURL((u) => u.pathname === path);
}

// Opens PATH (under /dashboard) and checks it answered 200.
async function open(page, path) {
  const answer = await page.goto(`${base}${path}`);
  if (answer.status() !== 200) {
    const text = (await page.locator('body').innerText()).slice(0, 300);
    assert.fail(`GET /dashboard${path} answered ${answer.status()}, not 200: ${text}`);
  }
}

// Clicks `button` and returns the answer to the form it submits (the POST, before any redirect).
async function submit(page, button) {
  const [answer] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST'),
    button.click(),
  ]);
  await page.waitForLoadState();
  return answer;
}

function csrf_of(page) { return page.locator('input[name="csrf"]').first().inputValue(); }

function text_of(locator) { return locator.innerText(); }

function return_of(unit, period) {
  return world.office.json(['returns', '--unit', unit, '--period', period]).returns;
}

// The author and kind of an event's canonical bytes (EVENTS.md section 2: the author's u32 length
// at byte 85, then the kind's).
function author_and_kind(raw) {
  const author_length = raw.readUInt32BE(85);
  const author = raw.subarray(89, 89 + author_length).toString('utf8');
  const kind_at = 89 + author_length;
  const kind = raw.subarray(kind_at + 4, kind_at + 4 + raw.readUInt32BE(kind_at)).toString('ascii');
  return { author, kind };
}

describe('dashboard in Chromium', { timeout: kAllMs }, () => {
  before(async () => {
    world = await make_scenario();
    base = `${world.office.url}/dashboard`;
    // launch() starts the browser on a fresh user-data folder of its own, removed at close().
    browser = await chromium.launch({ executablePath: kChromium, args: kChromiumArgs, timeout: 30_000 });
  }, { timeout: kTestMs });

  after(async () => {
    if (browser) await browser.close();
    if (world) {
      await world.office.stop();
      writeFileSync(join(shots, 'server.log'), world.office.log());
      world.office.remove();
    }
  }, { timeout: 30_000 });

  test('sign-in: a wrong password is refused with its words, and no session', { timeout: kTestMs }, async () => {
    const page = await new_page();
    await page.goto(`${base}/`);
    assert.equal(new URL(page.url()).pathname, '/dashboard/login', 'a page without a session sends to sign-in');
    await shoot(page, 'login.png');
    const answer = await sign_in(page, 'anna', `${kPassword}!`);
    assert.equal(answer.status(), 401);
    assert.match(await text_of(page.getByRole('alert')), /wrong name or password/);
    await shoot(page, 'login-refused.png');
    const cookies = await page.context().cookies();
    assert.deepEqual(cookies.filter((c) => c.name === 'sb_session'), [], 'no session cookie');
    await page.goto(`${base}/`);
    assert.equal(new URL(page.url()).pathname, '/dashboard/login', 'still not signed in');
    await page.context().close();
  });

  test('overview: the figures the terminals recorded, against the quota', { timeout: kTestMs }, async () => {
    const page = await signed_in_page();
    const [session] = (await page.context().cookies()).filter((c) => c.name === 'sb_session');
    assert.ok(session && session.httpOnly && session.sameSite === 'Strict', 'an HttpOnly, SameSite=Strict cookie');
    assert.ok(!(await page.evaluate(() => document.cookie)).includes('sb_session'), "the page's script cannot read it");
    await open(page, `/?period=${kPeriod}`);
    assert.match(await text_of(page.locator('body')), /Signed in as anna/);
    await shoot(page, 'overview.png');
    for (const [product, want] of Object.entries(kRecorded)) {
      const row = page.getByRole('row').filter({ hasText: `(${product})` }).filter({ hasText: 'Press shop (U1)' });
      assert.equal(await row.count(), 1, `one row of U1 and ${product}`);
      // Quantities in the product's decimals (DASHBOARD.md), with or without its unit after them.
      const cells = (await row.getByRole('cell').allInnerTexts()).map((c) => c.trim().replace(/ (pcs|kg)$/, ''));
      assert.deepEqual(cells.slice(2, 6), [want.quota, want.actual, want.fulfilment, want.above],
                       `quota, actual, fulfilment, above quota of ${product}`);
      assert.equal(await row.locator('svg').count(), 1, `a bar of ${product}`);
    }
    await page.context().close();
  });

  test('overview: says every terminal synced in the last 24 hours (step 3)', { timeout: kTestMs }, async () => {
    const page = await signed_in_page();
    await open(page, `/?period=${kPeriod}`);
    assert.match(await text_of(page.locator('body')), /Every terminal of this site synced in the last 24 hours\./);
    await page.context().close();
  });

  test('terminals: both terminals, with their last contact', { timeout: kTestMs }, async () => {
    const page = await signed_in_page();
    await nav_to(page, 'Terminals', '/dashboard/terminals');
    await shoot(page, 'terminals.png');
    const table = page.locator('table#terminals');
    for (const t of [world.t1, world.t2]) {
      const key = t.device();
      const row = table.getByRole('row').filter({ hasText: key.slice(0, 8) });
      assert.equal(await row.count(), 1, `one row of terminal ${key.slice(0, 8)}`);
      assert.equal(await row.locator(`[title="${key}"]`).count(), 1, 'the whole key as its title');
      const text = await text_of(row);
      assert.match(text, /S1/);
      assert.match(text, /U1/);
      assert.doesNotMatch(text, /\bnever\b/, 'it synced');
      assert.equal(await row.getByRole('button', { name: 'Revoke' }).count(), 1);
    }
    assert.equal(await page.getByRole('button', { name: 'Create code' }).count(), 1);
    await page.context().close();
  });

  test('conflicts: resolving a fork in the browser; the command line agrees and names the account',
       { timeout: kTestMs }, async () => {
    const [conflict] = world.office.json(['conflicts']).conflicts;
    assert.ok(conflict && conflict.open, 'the scenario made an open conflict');
    // The child the rule did not choose wins: the decision must change what is current.
    const winner = conflict.children.find((c) => c.hash !== conflict.winner).hash;
    const page = await signed_in_page();
    await nav_to(page, 'Conflicts', '/dashboard/conflicts');
    const section = page.locator(`section.conflict#fork-${conflict.fork.hash.slice(0, 16)}`);
    await shoot(page, 'conflicts-open.png');
    assert.equal(await section.count(), 1, 'a section of the fork');
    assert.match(await text_of(section), /\bopen\b/);
    for (const child of conflict.children) assert.match(await text_of(section), new RegExp(child.hash.slice(0, 16)));

    await section.locator(`input[type="radio"][name="winner"][value="${winner}"]`).check();
    await section.locator('[name="reason"]').fill('Checked with the gate log: he left at 21:00');
    const answer = await submit(page, section.getByRole('button', { name: 'Resolve' }));
    assert.equal(answer.status(), 303, 'done: a redirect back');
    await shoot(page, 'conflicts.png');
    const url = new URL(page.url());
    assert.equal(url.pathname, '/dashboard/conflicts');
    assert.equal(url.searchParams.get('done'), 'resolved');
    const event = url.searchParams.get('event');
    assert.match(event ?? '', /^[0-9a-f]{64}$/, 'the resolution event in the query');
    assert.match(await text_of(page.getByRole('status')), new RegExp(event.slice(0, 16)));
    assert.match(await text_of(page.locator(`section.conflict#fork-${conflict.fork.hash.slice(0, 16)}`)), /\bresolved\b/);

    const [now] = world.office.json(['conflicts']).conflicts;
    assert.equal(now.resolved, true, 'conflicts --json: resolved');
    assert.equal(now.open, false);
    assert.equal(now.chosen_by, 'resolution');
    assert.equal(now.winner, winner);
    assert.equal(now.resolution, event, 'the deciding resolution is the event the page named');

    // The audit export holds the signed bytes: the resolution's author is the account.
    const exported = join(world.office.root, 'audit.jsonl');
    world.office.run(['audit', 'export', exported]);
    const resolutions = readFileSync(exported, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))
      .filter((l) => l.type === 'event').map((l) => author_and_kind(Buffer.from(l.raw, 'hex')))
      .filter((e) => e.kind === 'resolution');
    // The only resolution the store holds, so the one conflicts --json names: H.
    assert.equal(resolutions.length, 1, 'one resolution event in the audit export');
    assert.equal(resolutions[0].author, 'anna', "the resolution's author is the signed-in account");

    // The event's page says the same.
    await open(page, `/event?hash=${event}`);
    await shoot(page, 'resolution-event.png');
    const text = await text_of(page.locator('body'));
    assert.match(text, /resolution/);
    assert.match(text, /\banna\b/);
    await page.context().close();
  });

  test("returns: each share links to the worker's explanation", { timeout: kTestMs }, async () => {
    const page = await signed_in_page();
    await nav_to(page, 'Returns', '/dashboard/returns');
    await open(page, `/returns?period=${kPeriod}`);
    const section = page.locator('section.return#return-U1');
    assert.equal(await section.count(), 1, 'a section of unit U1');
    await shoot(page, 'returns-open.png');
    assert.match(await text_of(section), /\bopen\b/);
    const share = section.locator('a[href*="/dashboard/share?"][href*="worker=W1"]').first();
    assert.equal(await share.count(), 1, "a link to W1's share explanation");
    const href = await share.getAttribute('href');
    const [answer] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === '/dashboard/share'),
      share.click(),
    ]);
    await page.waitForLoadState();
    const url = new URL(page.url());
    assert.equal(url.pathname, '/dashboard/share');
    const shown = (await text_of(page.locator('body'))).replace(/\s+/g, ' ').slice(0, 200);
    assert.deepEqual([url.searchParams.get('unit'), url.searchParams.get('period'), url.searchParams.get('worker')],
                     ['U1', kPeriod, 'W1'],
                     `the link's href attribute is ${href}, which opened ${page.url()}: ${answer.status()}, "${shown}"`);
    assert.equal(answer.status(), 200);
    await page.context().close();
  });

  test('share explanation: the figures step by step, and an event behind them', { timeout: kTestMs }, async () => {
    const page = await signed_in_page();
    await open(page, `/share?unit=U1&period=${kPeriod}&worker=W1`);
    await shoot(page, 'share-explanation.png');
    const text = await text_of(page.locator('body'));
    assert.match(text, /\b480\b/, "W1's minutes");
    assert.match(text, /\b75\.0 %|\b750\b/, "the rule set's pool share");
    // The exact share and the share paid of P1, as `shares` prints them (columns P1 EXACT, P1 SHARE).
    const row = world.office.run(['shares', '--unit', 'U1', '--period', kPeriod]).split('\n')
      .find((l) => l.startsWith('W1 ')).split(/\s{2,}/);
    assert.ok(text.includes(row[7]) && text.includes(row[8]), `the exact share ${row[7]} and the share ${row[8]}`);

    // The rule set's event comes first; the entries behind the figures last (DASHBOARD.md).
    const entry = page.locator('a[href*="/dashboard/event?hash="]').last();
    assert.equal(await entry.count(), 1, 'an entry behind the figures, as a link to its event');
    await entry.click();
    await page.waitForURL((u) => u.pathname === '/dashboard/event');
    assert.match(new URL(page.url()).searchParams.get('hash') ?? '', /^[0-9a-f]{64}$/);
    await shoot(page, 'event.png');
    // DASHBOARD.md: the hash recomputed and said to match, author, kind, and for a terminal's event
    // the terminal and site that recorded it and the receipt, verified with the server's key.
    const event = await text_of(page.locator('body'));
    assert.match(event, /matches/, 'the hash recomputed from the stored bytes matches');
    assert.match(event, /\bL1\b/, 'the leader who recorded it');
    assert.match(event, /\bhours\b/, 'its kind');
    assert.match(event, new RegExp(`terminal ${world.t1.device().slice(0, 8)}`), 'the terminal that recorded it');
    assert.match(event, /\bS1\b/, 'its site');
    assert.match(event, /receipt[^.]*verifies/i, "the receipt, verified with the server's key");
    await page.context().close();
  });

  test('a unit named like a script shows as text; nothing runs, no element is added', { timeout: kTestMs }, async () => {
    const page = await signed_in_page();
    await open(page, `/?period=${kPeriod}`);
    assert.ok((await text_of(page.locator('body'))).includes(`${kScriptName} (U7)`), 'the name, literally, on the overview');
    assert.equal(await page.locator('script').count(), 0, 'no script element');
    assert.deepEqual(dialogs, [], 'no dialog opened');
    await page.context().close();
  });

  test('a worker named like a script shows as text; nothing runs, no element is added', { timeout: kTestMs }, async () => {
    const page = await signed_in_page();
    for (const path of [`/returns?period=${kPeriod}`, `/share?unit=U1&period=${kPeriod}&worker=W3`]) {
      await open(page, path);
      assert.ok((await text_of(page.locator('body'))).includes(kScriptName), `the name, literally, on ${path}`);
      assert.equal(await page.locator('script').count(), 0, `no script element on ${path}`);
    }
    await shoot(page, 'share-explanation-script-name.png');
    assert.deepEqual(dialogs, [], 'no dialog opened');
    await page.context().close();
  });

  test('actions: without the form token, 403 and nothing done', { timeout: kTestMs }, async () => {
    const page = await signed_in_page();
    await open(page, `/returns?period=${kPeriod}`);
    const form = page.locator('section.return#return-U1 form')
      .filter({ has: page.getByRole('button', { name: 'Approve' }) });
    assert.equal(await form.count(), 1, 'the Approve form');
    await form.locator('input[name="csrf"]').evaluate((input) => input.remove());
    const answer = await submit(page, form.getByRole('button', { name: 'Approve' }));
    assert.equal(answer.status(), 403);
    await shoot(page, 'refused-no-token.png');
    assert.match(await text_of(page.locator('body')), /security token is missing or is not this session's/);
    assert.ok(return_of('U1', kPeriod).every((r) => !r.approved), 'the period is still open');
    await page.context().close();
  });

  test("sign-out: another account's token is 403, and the session goes on", { timeout: kTestMs }, async () => {
    const a = await signed_in_page('anna');
    const c = await signed_in_page('boris');
    const a_token = await csrf_of(a);
    assert.match(a_token, /^[0-9a-f]{64}$/);
    const sign_out = c.locator('form[action="/dashboard/logout"]');
    await sign_out.locator('input[name="csrf"]').evaluate((input, token) => { input.value = token; }, a_token);
    const refused = await submit(c, sign_out.getByRole('button', { name: 'Sign out' }));
    assert.equal(refused.status(), 403);
    assert.match(await text_of(c.locator('body')), /security token/);
    await c.goto(`${base}/`);
    assert.equal(new URL(c.url()).pathname, '/dashboard/', 'still signed in');
    for (const p of [a, c]) await p.context().close();
  });

  test("actions: another login's token is 403 and nothing done", { timeout: kTestMs }, async () => {
    const a = await signed_in_page('anna');
    const b = await signed_in_page('anna'); // another login of the same account
    const a_token = await csrf_of(a);
    assert.notEqual(await csrf_of(b), a_token);
    await open(b, `/returns?period=${kPeriod}`);
    const form = b.locator('section.return#return-U1 form').filter({ has: b.getByRole('button', { name: 'Approve' }) });
    assert.equal(await form.count(), 1, 'the Approve form');
    await form.locator('input[name="csrf"]').evaluate((input, token) => { input.value = token; }, a_token);
    const answer = await submit(b, form.getByRole('button', { name: 'Approve' }));
    assert.equal(answer.status(), 403);
    assert.match(await text_of(b.locator('body')), /security token/);
    assert.ok(return_of('U1', kPeriod).every((r) => !r.approved), 'the period is still open');
    await b.goto(`${base}/`);
    assert.equal(new URL(b.url()).pathname, '/dashboard/', 'still signed in');
    for (const p of [a, b]) await p.context().close();
  });

  test('returns: approving a period; a late entry then shows as changed since approval', { timeout: kTestMs }, async () => {
    const page = await signed_in_page();
    await open(page, `/returns?period=${kPeriod}`);
    const section = () => page.locator('section.return#return-U1');
    const approve = section().getByRole('button', { name: 'Approve' });
    assert.equal(await approve.count(), 1, 'an Approve button in the section of U1');
    const answer = await submit(page, approve);
    assert.equal(answer.status(), 303);
    const url = new URL(page.url());
    assert.equal(url.pathname, '/dashboard/returns');
    await shoot(page, 'returns-approved.png');
    assert.equal(url.searchParams.get('done'), 'approved');
    assert.match(await text_of(page.getByRole('status')), /\S/);
    assert.match(await text_of(section()), /approved at/);
    assert.match(await text_of(section()), /\banna\b/, 'who approved it');
    assert.equal(await section().getByRole('button', { name: 'Reopen' }).count(), 1);
    assert.ok(return_of('U1', kPeriod).every((r) => r.approved), 'returns --json: approved');

    // A terminal records a late shift of 20 November, in the approved period, and syncs.
    const t1 = world.t1;
    t1.run(['login', 'L1'], '4321\n');
    t1.run(['shift', 'open', '--unit', 'U1', '--date', '2026-11-20', '--name', 'late entry']);
    t1.run(['log', 'hours', '--worker', 'W1', '--start', '08:00', '--end', '09:00']);
    t1.run(['log', 'output', '--product', 'P1', '--quantity', '15']);
    t1.run(['shift', 'close']);
    t1.sync();
    const p1 = return_of('U1', kPeriod).find((r) => r.product === 'P1');
    assert.equal(p1.adjusted_into, kLaterPeriod, 'returns --json: booked into the next period');

    await open(page, `/returns?period=${kPeriod}`);
    const text = await text_of(section());
    await shoot(page, 'returns.png');
    assert.match(text, /changed since its approval/i);
    assert.match(text, new RegExp(`booked into period ${kLaterPeriod}`, 'i'));
    await page.context().close();
  });

  test('exports: the payroll CSV is the bytes export payroll writes', { timeout: kTestMs }, async () => {
    const page = await signed_in_page();
    await nav_to(page, 'Exports', '/dashboard/exports');
    await open(page, `/exports?period=${kPeriod}`);
    await shoot(page, 'exports.png');
    const link = page.locator(`a[href*="/dashboard/export/payroll.csv?period=${kPeriod}"]`);
    assert.equal(await link.count(), 1, 'a link to the payroll CSV');
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    assert.equal(download.suggestedFilename(), `payroll-${kPeriod}.csv`);
    const got = readFileSync(await download.path());
    const want = world.office.bytes(['export', 'payroll', '--period', kPeriod, '--format', 'csv']);
    assert.ok(want.length > 0);
    assert.ok(got.equals(want), `the same bytes:\n--- dashboard\n${got}\n--- export payroll\n${want}`);
    await page.context().close();
  });

  test('server: stops on SIGTERM after all of it', { timeout: kTestMs }, async () => {
    const status = await world.office.stop();
    assert.match(world.office.log(), /^stopped$/m, world.office.log());
    assert.equal(status, 0, 'exit status 0 (under the sanitizers: no leak, no error at exit)');
  });
});
