// Rampart's browser tests: the website widget and the console in Debian's
// Chromium, driven by playwright-core. `cargo xtask browser` starts the
// stack and the host pages and runs this file with:
//
//   RAMPART_EDGE              the edge, https://localhost:<port>
//   RAMPART_TENANT_ID         the business the tests act for
//   RAMPART_OWNER_EMAIL, RAMPART_OWNER_PASSWORD
//                             its owner (password only, no second factor yet)
//   RAMPART_AGENT_EMAIL, RAMPART_AGENT_PASSWORD
//                             one of its agents
//   RAMPART_AGENT_TOKEN       that agent's bearer session, for REST calls
//   RAMPART_ADMIN_KEY         the platform admin key (`rampart dev`'s)
//   RAMPART_ADMIN_SIGN_IN_PATH the secret segment of the admins' sign-in
//   RAMPART_ADMIN_EMAIL, RAMPART_ADMIN_PASSWORD, RAMPART_ADMIN_TOTP_SECRET
//                             a platform admin made by `rampart admin
//                             create-user` (its second factor not yet
//                             confirmed: the first sign-in confirms it)
//   WIDGET_HOST_URL           a business's page embedding the widget, on an
//                             origin the widget key allows
//   WIDGET_DENIED_URL         the same page on an origin the key does not list
//   BROWSER_ARTEFACTS         where screenshots go
//
// Each file in specs/ exports one async function taking the harness `t`
// below; they run in the order of SPECS, in one browser, and each records
// its checks with `t.check(name, body)`. A spec that needs a fresh account
// (one whose second factor it changes, say) makes it through `t.admin`.
//
// TLS: the edge's certificate comes from `rampart dev`'s scratch CA, made
// for this run. Chromium is told to accept it (`ignoreHTTPSErrors`), which
// is acceptable for a test-only CA that nothing else trusts; Node's fetch
// trusts it properly (NODE_EXTRA_CA_CERTS).
//
// Exits non-zero when any check fails.

import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const SPECS = ['widget', 'console-shell', 'console-work', 'console-audit', 'console-admin'];

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`set ${name} (cargo xtask browser does)`);
  return value;
};

const failures = [];
const usedSteps = new Map();
const screenshots = [];

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

/** Answers the JSON of a REST call, or throws with its status and body. */
async function rest(method, path, headers, body) {
  const response = await fetch(`${env('RAMPART_EDGE')}${path}`, {
    method,
    headers: { ...headers, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  assert(response.ok, `${method} ${path} answered ${response.status}: ${text}`);
  return text ? JSON.parse(text) : null;
}

/** RFC 6238 TOTP (SHA-1, 30 s, 6 digits) for a base32 secret, at `time`. */
function totp(secret, time = Date.now()) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const char of secret.replace(/=+$/, '').toUpperCase()) {
    const value = alphabet.indexOf(char);
    assert(value >= 0, `not base32: ${secret}`);
    bits += value.toString(2).padStart(5, '0');
  }
  const key = Buffer.from(bits.match(/.{8}/g).map((byte) => parseInt(byte, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(time / 1000 / 30)));
  const digest = createHmac('sha1', key).update(counter).digest();
  const offset = digest[digest.length - 1] & 0x0f;
  const code = (digest.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(code).padStart(6, '0');
}

const t = {
  EDGE: env('RAMPART_EDGE'),
  TENANT_ID: env('RAMPART_TENANT_ID'),
  OWNER: { email: env('RAMPART_OWNER_EMAIL'), password: env('RAMPART_OWNER_PASSWORD') },
  AGENT: { email: env('RAMPART_AGENT_EMAIL'), password: env('RAMPART_AGENT_PASSWORD') },
  AGENT_TOKEN: env('RAMPART_AGENT_TOKEN'),
  ADMIN_KEY: env('RAMPART_ADMIN_KEY'),
  ADMIN_SIGN_IN_PATH: env('RAMPART_ADMIN_SIGN_IN_PATH'),
  ADMIN: {
    email: env('RAMPART_ADMIN_EMAIL'),
    password: env('RAMPART_ADMIN_PASSWORD'),
    totpSecret: env('RAMPART_ADMIN_TOTP_SECRET'),
  },
  HOST_URL: env('WIDGET_HOST_URL'),
  DENIED_URL: env('WIDGET_DENIED_URL'),
  ARTEFACTS: env('BROWSER_ARTEFACTS'),
  TIMEOUT: 15_000,
  context: null,
  assert,
  totp,

  /** Runs one named check; a failure is recorded and the run goes on. */
  async check(name, body) {
    try {
      await body();
      console.log(`ok    ${name}`);
    } catch (error) {
      failures.push(name);
      console.log(`FAIL  ${name}\n      ${String(error?.stack || error).split('\n').join('\n      ')}`);
    }
  },

  /** A full-page screenshot in the artefacts folder, named `name.png`. */
  async screenshot(page, name) {
    const path = join(t.ARTEFACTS, `${name}.png`);
    await page.screenshot({ path, fullPage: true });
    screenshots.push(path);
  },

  /**
   * axe-core on the page, injected through the DevTools protocol (the
   * pages' CSP blocks `addScriptTag`, as it should, but not the test's own
   * evaluation): throws on any serious or critical violation.
   */
  async serious(page) {
    await page.evaluate(AXE_SOURCE);
    const violations = await page.evaluate(async () => {
      const results = await globalThis.axe.run(document, { resultTypes: ['violations'] });
      return results.violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    });
    assert(violations.length === 0, `axe found:\n${violations.join('\n')}`);
  },

  /** A REST call as the platform admin (X-Admin-API-Key). */
  admin(method, path, body) {
    return rest(method, path, { 'X-Admin-API-Key': t.ADMIN_KEY }, body);
  },

  /** A REST call with a bearer session token. */
  bearer(token, method, path, body) {
    return rest(method, path, { Authorization: `Bearer ${token}` }, body);
  },

  /** A REST call with no credential. */
  anonymous(method, path, body) {
    return rest(method, path, {}, body);
  },

  /**
   * A code for `secret` from a time step no earlier check has used: auth
   * refuses a code used before (replay), so two sign-ins of one account
   * within 30 s must wait for the next step.
   */
  async freshTotp(secret) {
    const used = usedSteps.get(secret) ?? -1;
    let step = Math.floor(Date.now() / 30_000);
    while (step <= used) {
      await new Promise((resolve) => setTimeout(resolve, (step + 1) * 30_000 - Date.now() + 50));
      step = Math.floor(Date.now() / 30_000);
    }
    usedSteps.set(secret, step);
    return totp(secret, step * 30_000);
  },

  /**
   * Signs `page` in as the platform admin through the secret sign-in path
   * and the second factor; the first time, the answer's recovery codes are
   * shown once and passed with "Continue".
   */
  async signInAdmin(page) {
    await page.goto(`${t.EDGE}/console/#/admin-sign-in`);
    await page.getByLabel('Admin sign-in path').fill(t.ADMIN_SIGN_IN_PATH);
    await page.getByLabel('Email').fill(t.ADMIN.email);
    await page.getByLabel('Password').fill(t.ADMIN.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByLabel('Authentication code').fill(await t.freshTotp(t.ADMIN.totpSecret));
    await page.getByRole('button', { name: 'Verify' }).click();
    const proceed = page.getByRole('button', { name: 'Continue' });
    const who = page.locator('#console-who', { hasText: t.ADMIN.email });
    await Promise.race([proceed.waitFor(), who.waitFor()]);
    if (await proceed.isVisible()) {
      assert(await page.locator('.once .secret').count() === 1, 'no recovery codes were shown');
      await proceed.click();
    }
    await who.waitFor();
  },

  /**
   * Signs `page` in to the console as a tenant's user, through the sign-in
   * page; with `totpSecret`, answers the second-factor step too. Waits for
   * the signed-in user's email in the header.
   */
  async signIn(page, { email, password, tenant = t.TENANT_ID, totpSecret = null }) {
    await page.goto(`${t.EDGE}/console/#/sign-in`);
    await page.getByLabel('Business ID').fill(tenant);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    if (totpSecret) {
      await page.getByLabel('Authentication code').fill(await t.freshTotp(totpSecret));
      await page.getByRole('button', { name: 'Verify' }).click();
    }
    await page.locator('#console-who', { hasText: email }).waitFor();
  },
};

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true });
try {
  for (const name of SPECS) {
    // One context a spec: its own cookies, so sessions never leak between them.
    t.context = await browser.newContext({ ignoreHTTPSErrors: true });
    t.context.setDefaultTimeout(t.TIMEOUT);
    console.log(`\n# ${name}`);
    try {
      const spec = await import(`./specs/${name}.mjs`);
      await spec.default(t);
    } catch (error) {
      failures.push(`${name} (stopped)`);
      console.log(`FAIL  ${name} stopped: ${String(error?.stack || error)}`);
    } finally {
      await t.context.close();
    }
  }
} finally {
  await browser.close();
}

for (const path of screenshots) console.log(`screenshot: ${path}`);
if (failures.length > 0) {
  console.log(`\n${failures.length} browser check(s) failed`);
  process.exit(1);
}
console.log('\nall browser checks passed');
