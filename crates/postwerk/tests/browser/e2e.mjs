// The pages in Debian's chromium, headless, driven by playwright-core (issue 11).
// Started by crates/postwerk/tests/browser.rs, which prepares the server and passes:
//   BASE_URL, CHROMIUM, PASSWORD (the accounts'), MAILBOX_PASSWORD,
//   POSTWERK_SCREENSHOTS (optional: a folder for a screenshot of each main page).
// Each step prints its name; the first failure ends the run with a non-zero status.

import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';

const base = process.env.BASE_URL;
const password = process.env.PASSWORD;
const mailboxPassword = process.env.MAILBOX_PASSWORD;
const shots = process.env.POSTWERK_SCREENSHOTS;
if (shots) mkdirSync(shots, { recursive: true });

/** The current RFC 6238 code of a base32 secret, computed by oathtool (an independent implementation). */
function totp(secret) {
  return execFileSync('oathtool', ['--totp', '-b', secret]).toString().trim();
}

async function screenshot(page, name) {
  if (shots) await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

const steps = [];
function step(name, run) { steps.push({ name, run }); }

// ---- the steps (in order; later ones use what earlier ones made) ----

/** Waits for the next 30-second window when `secret`'s current code was already used (TOTP replay is refused). */
async function freshCode(world, secret) {
  for (;;) {
    const code = totp(secret);
    if (code !== world.state.lastCode) { world.state.lastCode = code; return code; }
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

async function signIn(page, login, secret, world) {
  await page.goto(`${base}/signin`);
  await page.fill('#login', login);
  await page.fill('#password', password);
  await page.click('#signin-submit');
  if (secret) {
    await page.waitForSelector('#code');
    await page.fill('#password', password);
    await page.fill('#code', await freshCode(world, secret));
    await page.click('#signin-submit');
  }
  await page.waitForURL((url) => !url.pathname.startsWith('/signin'));
}

step('Anna signs in with her account password', async ({ page }) => {
  await page.goto(`${base}/signin`);
  await screenshot(page, 'signin');
  assert.match(await page.textContent('#credential-hint'), /mail program|mailbox/i);
  // ID-2: the mailbox password is for mail programs, and the page says so.
  await page.fill('#login', 'anna@acme.test');
  await page.fill('#password', mailboxPassword);
  await page.click('#signin-submit');
  assert.match(await page.textContent('#form-problem'), /mailbox password/i);
  await signIn(page, 'anna@personal.test', null);
});

step('Anna turns on two-factor authentication with her authenticator app', async (world) => {
  const { page } = world;
  await page.goto(`${base}/account/2fa`);
  await page.click('#begin-2fa');
  await page.waitForSelector('#totp-qr svg, svg#totp-qr');
  const secret = (await page.textContent('#totp-secret')).replace(/\s+/g, '');
  world.state.secret = secret;
  await screenshot(page, 'account-2fa');
  await page.fill('#code', await freshCode(world, secret));
  await page.click('#confirm-2fa');
  await page.waitForSelector('#recovery-codes');
  assert.ok(await page.locator('#recovery-codes li').count() >= 5);
});

step('signing in again asks for the code, and the code lets her in', async (world) => {
  const { page } = world;
  await page.click('form.signout button');
  await page.waitForURL(/\/signin/);
  await signIn(page, 'anna@personal.test', world.state.secret, world);
  await page.goto(`${base}/account`);
  assert.match(await page.textContent('#account-2fa'), /on/i);
});

step('the Manager console shows the organization and the DNS report', async ({ page }) => {
  await page.goto(`${base}/manager`);
  await screenshot(page, 'manager-home');
  await page.goto(`${base}/manager/services/acme.test`);
  await screenshot(page, 'manager-service');
  await page.goto(`${base}/manager/services/acme.test/dns`);
  assert.ok(await page.locator('table.dns-report tr').count() > 3);
  await screenshot(page, 'manager-dns');
});

async function newAddress(page, mode, fill) {
  await page.goto(`${base}/manager/services/acme.test/addresses/new?mode=${mode}`);
  await fill();
  await page.click('#create-address');
  await page.waitForSelector('#created');
}

step('an address is created in each of the four modes (ADDR-1)', async ({ page }) => {
  // (a) for myself: I choose the password; it joins my webmail at once.
  await newAddress(page, 'myself', async () => {
    await page.fill('#local_part', 'anna.work');
    await page.fill('#password', 'Chosen-password-77');
  });
  // (b) for other users: the password is generated and shown once.
  await newAddress(page, 'users', async () => {
    await page.fill('#local_part', 'team');
    await page.check('input[name=user][value="bob@personal.test"]');
  });
  assert.ok((await page.textContent('#generated-password')).trim().length >= 10);
  await screenshot(page, 'manager-created');
  // (b') an invitation to an outside address, login of their choice.
  await newAddress(page, 'invitation', async () => {
    await page.fill('#local_part', 'carol');
    await page.check('input[name=send_to_choice][value=other]');
    await page.fill('#send_to', 'carol@outside.test');
    await page.check('input[name=login_mode][value=own_choice]');
  });
  await page.waitForSelector('#invitation-sent');
  // (c) "I don't know": nobody's webmail.
  await newAddress(page, 'nobody', async () => {
    await page.fill('#local_part', 'later');
  });
  await page.goto(`${base}/manager/services/acme.test/addresses`);
  const list = await page.textContent('#address-list');
  for (const local of ['anna.work', 'team', 'carol', 'later']) {
    assert.ok(list.includes(`${local}@acme.test`), `${local} is listed`);
  }
  await screenshot(page, 'manager-addresses');
});

step('a CSV with a bad line is refused with a report naming the line', async ({ page }) => {
  await page.goto(`${base}/manager/services/acme.test/bulk`);
  await page.setInputFiles('#csv', {
    name: 'people.csv',
    mimeType: 'text/csv',
    buffer: Buffer.from('address,display_name\ndora,Dora\nnot an address!,Broken\nemil,Emil\n'),
  });
  await page.click('#bulk-upload');
  await page.waitForSelector('#bulk-problems');
  assert.match(await page.textContent('#bulk-problems'), /Line 3/);
  await screenshot(page, 'manager-csv-report');
});

step('the device page gives the settings and tests the mailbox password', async ({ page }) => {
  await page.goto(`${base}/devices/anna@acme.test`);
  assert.match(await page.textContent('#device-settings'), /993/);
  await page.fill('#test-password-input', mailboxPassword);
  await page.click('#test-password-submit');
  assert.match(await page.getAttribute('#test-outcome', 'class'), /ok/);
  await screenshot(page, 'devices');
});

/** Webmail on `address`'s INBOX (the account may hold several mailboxes). */
async function openMailbox(page, address) {
  await page.goto(`${base}/mail`);
  if (await page.locator('#mailbox-switcher').count()) {
    await page.click(`#mailbox-switcher a:has-text("${address}")`);
  }
  await page.waitForSelector('#messages, #empty-state');
}

/**
 * Opens the message of the list with this subject. The list reloads itself when the folder
 * changes (live updates); a click during such a reload is lost, as it would be for a person,
 * who clicks again.
 */
async function openMessage(page, subject, ready = '#message-subject') {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await page.click(`#messages a:has-text("${subject}")`);
      await page.waitForSelector(ready, { timeout: 5000 });
      return;
    } catch (error) {
      if (attempt === 3) throw error;
    }
  }
}

step('Bob opens his INBOX, still empty', async (world) => {
  const context = await world.browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  world.state.bob = { context, page };
  await signIn(page, 'bob@personal.test', null);
  await openMailbox(page, 'bob@acme.test');
  assert.equal(await page.locator('#messages a:has-text("Lunch on Friday?")').count(), 0);
});

step('Anna writes to Bob from webmail', async ({ page }) => {
  await openMailbox(page, 'anna@acme.test');
  await page.waitForSelector('#messages');
  await screenshot(page, 'mail-list');
  await page.click('#compose-link');
  await page.waitForSelector('#compose-form');
  await page.fill('#to', 'bob@acme.test');
  await page.fill('#subject', 'Lunch on Friday?');
  await page.fill('#body', 'Hello Bob,\n\nshall we have lunch on Friday at noon?\n\nAnna');
  await screenshot(page, 'mail-compose');
  await page.click('#send-button');
  await page.waitForSelector('.notice');
  assert.match(await page.textContent('.notice'), /Message sent/);
});

step('the message appears in the open list of Bob by itself, and he replies with an attachment', async (world) => {
  const { page } = world.state.bob;
  // Pushed by the server (Server-Sent Events): nobody reloads Bob's page.
  await page.waitForSelector('#messages a:has-text("Lunch on Friday?")', { timeout: 20000 });
  await openMessage(page, 'Lunch on Friday?');
  assert.match(await page.textContent('#message-text'), /lunch on Friday at noon/);
  assert.match(await page.textContent('#message-from'), /anna@acme\.test/);
  await screenshot(page, 'mail-read');
  await page.click('#reply');
  await page.waitForSelector('#compose-form');
  assert.equal(await page.inputValue('#subject'), 'Re: Lunch on Friday?');
  await page.setInputFiles('#attachments', {
    name: 'menu.txt', mimeType: 'text/plain', buffer: Buffer.from('Soup of the day, then pie.\n'),
  });
  await page.fill('#body', 'Yes, gladly! The menu is attached.\n\n' + (await page.inputValue('#body')));
  await page.click('#send-button');
  await page.waitForSelector('.notice');
  assert.match(await page.textContent('.notice'), /Message sent/);
});

step('Anna gets the reply with its attachment, and marks it as spam', async ({ page }) => {
  await openMailbox(page, 'anna@acme.test');
  await openMessage(page, 'Re: Lunch on Friday?');
  assert.match(await page.textContent('#attachments'), /menu\.txt/);
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.click('#attachments a:has-text("menu.txt")'),
  ]);
  assert.equal(download.suggestedFilename(), 'menu.txt');
  await page.click('#spam-button');
  await page.waitForSelector('.notice');
  assert.match(await page.textContent('.notice'), /bob@acme\.test/);
  await page.goto(base + (await page.getAttribute('#folder-list a:has-text("Junk")', 'href')));
  await page.waitForSelector('#messages');
  assert.match(await page.textContent('#messages'), /Re: Lunch on Friday\?/);
});

step('a bounce from another provider is explained in plain words (CLI-2)', async ({ page }) => {
  await openMailbox(page, 'anna@acme.test');
  await openMessage(page, 'Undelivered Mail Returned to Sender', '#bounce-explanation');
  const box = await page.textContent('#bounce-explanation');
  assert.match(box, /What to do/i);
  assert.match(box, /carol@example\.org/);
  await screenshot(page, 'mail-bounce');
});

step('Carl changes his mailbox password and accepts one password for both (ID-5)', async ({ browser }) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, 'carl@acme.test', null);
  await page.goto(`${base}/settings/carl@acme.test`);
  await page.fill('#password-new', 'New-mailbox-password-9');
  await page.fill('#password-confirm', 'New-mailbox-password-9');
  await page.click('#password-submit');
  await page.waitForSelector('#unify-offer');
  await page.fill('#unify-password', 'One-password-for-both-9');
  await page.fill('#unify-confirm', 'One-password-for-both-9');
  await page.click('#unify-submit');
  await page.waitForSelector('#unification-unified');
  await screenshot(page, 'settings');
  await context.close();
});

// ---- runner ----

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, acceptDownloads: true });
const page = await context.newPage();
const errors = [];
// A refused form answers its page with 400, 401, 409, 422 or 429, which chromium also logs;
// anything else (a CSP violation, a missing asset, a script error) is a failure.
const expectedStatus = /status of (400|401|403|409|422|429) /;
page.on('console', (message) => {
  if (message.type() === 'error' && !expectedStatus.test(message.text())) errors.push(message.text());
});
page.on('pageerror', (error) => errors.push(String(error)));
const world = { page, context, browser, base, password, mailboxPassword, totp, screenshot, state: {} };
let failed = false;
for (const { name, run } of steps) {
  try {
    await run(world);
    console.log(`ok   ${name}`);
  } catch (error) {
    failed = true;
    console.log(`FAIL ${name}\n${error.stack || error}`);
    console.log(`at ${page.url()}`);
    break;
  }
}
// A Content-Security-Policy violation or a script error is a failure too.
if (!failed && errors.length) {
  failed = true;
  console.log(`FAIL the pages logged errors:\n${errors.join('\n')}`);
}
await browser.close();
process.exit(failed ? 1 : 0);
