// Rampart's browser tests: the website widget and the console shell in
// Debian's Chromium, driven by playwright-core. `cargo xtask browser` starts
// the stack and the host pages and runs this file with:
//
//   RAMPART_EDGE         the edge, https://localhost:<port>
//   RAMPART_AGENT_TOKEN  a signed-in agent's session token (the agent acts
//                        through the REST API until the console has pages)
//   WIDGET_HOST_URL      a business's page embedding the widget, on an
//                        origin the widget key allows
//   WIDGET_DENIED_URL    the same page on an origin the key does not list
//   BROWSER_ARTEFACTS    where screenshots go
//
// TLS: the edge's certificate comes from `rampart dev`'s scratch CA, made
// for this run. Chromium is told to accept it (`ignoreHTTPSErrors`), which
// is acceptable for a test-only CA that nothing else trusts; Node's fetch
// trusts it properly (NODE_EXTRA_CA_CERTS).
//
// Exits non-zero when any check fails.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`set ${name} (cargo xtask browser does)`);
  return value;
};
const EDGE = env('RAMPART_EDGE');
const AGENT_TOKEN = env('RAMPART_AGENT_TOKEN');
const HOST_URL = env('WIDGET_HOST_URL');
const DENIED_URL = env('WIDGET_DENIED_URL');
const ARTEFACTS = env('BROWSER_ARTEFACTS');
const TIMEOUT = 15_000;
const AGENT_REPLY = 'I am sorry to hear that. I am looking at your case now.';

const failures = [];
const screenshots = [];

async function check(name, body) {
  try {
    await body();
    console.log(`ok    ${name}`);
  } catch (error) {
    failures.push(name);
    console.log(`FAIL  ${name}\n      ${String(error?.stack || error).split('\n').join('\n      ')}`);
  }
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

async function screenshot(page, name) {
  const path = join(ARTEFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  screenshots.push(path);
}

// axe-core, injected through the DevTools protocol: the pages' CSP blocks
// `addScriptTag` (as it should), but not the test's own evaluation.
async function serious(page) {
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const results = await globalThis.axe.run(document, { resultTypes: ['violations'] });
    return results.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
  assert(violations.length === 0, `axe found:\n${violations.join('\n')}`);
}

async function agent(method, path, body) {
  const response = await fetch(`${EDGE}${path}`, {
    method,
    headers: { Authorization: `Bearer ${AGENT_TOKEN}`, 'Content-Type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  assert(response.ok, `${method} ${path} answered ${response.status}: ${text}`);
  return text ? JSON.parse(text) : null;
}

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true });
const context = await browser.newContext({ ignoreHTTPSErrors: true });
context.setDefaultTimeout(TIMEOUT);

try {
  const visitor = await context.newPage();
  let handoff = null;

  await check('the visitor writes "I will sue you" and is told a person will answer', async () => {
    await visitor.goto(HOST_URL);
    const launcher = visitor.getByRole('button', { name: 'Chat with us' });
    await launcher.focus();
    await visitor.keyboard.press('Enter');
    await visitor.locator('rampart-chat[data-state="ready"]').waitFor({ state: 'attached' });
    const field = visitor.getByLabel('Your message');
    assert(await field.evaluate((node) => node.getRootNode().activeElement === node),
      'opening the panel puts the focus in the message field');
    await field.fill('I will sue you');
    await visitor.keyboard.press('Enter');
    await visitor.getByText('A person will answer').waitFor();
    await visitor.getByText('I will sue you').waitFor();
    await screenshot(visitor, 'widget-handed-off');
  });

  await check('axe: no serious or critical violation on the widget host page', async () => {
    await serious(visitor);
  });

  await check('the agent sees the handoff, claims it and replies', async () => {
    const deadline = Date.now() + TIMEOUT;
    while (!handoff && Date.now() < deadline) {
      const queue = await agent('GET', '/v1/handoffs?status=open');
      handoff = queue.handoffs[0] ?? null;
      if (!handoff) await new Promise((resolve) => setTimeout(resolve, 300));
    }
    assert(handoff, 'no open handoff in the queue');
    const claimed = await agent('POST', `/v1/handoffs/${handoff.id}/claim`);
    assert(claimed.status === 'claimed', `claim answered ${JSON.stringify(claimed)}`);
    await agent('POST', `/v1/crm/conversations/${handoff.conversation_id}/agent-replies`, { text: AGENT_REPLY });
  });

  await check('the visitor sees the agent\'s reply in the widget', async () => {
    await visitor.getByText(AGENT_REPLY).waitFor();
    await visitor.getByText('A person from the support team has joined').waitFor();
    await screenshot(visitor, 'widget-agent-reply');
  });

  await check('Escape closes the panel and gives the focus back to the launcher', async () => {
    await visitor.getByLabel('Your message').focus();
    await visitor.keyboard.press('Escape');
    const launcher = visitor.getByRole('button', { name: 'Chat with us' });
    assert(await launcher.getAttribute('aria-expanded') === 'false', 'the panel stays open');
    assert(await launcher.evaluate((node) => node.getRootNode().activeElement === node),
      'the focus is not on the launcher');
  });

  await check('the widget is refused on an origin the key does not allow', async () => {
    const page = await context.newPage();
    await page.goto(DENIED_URL);
    await page.getByRole('button', { name: 'Chat with us' }).click();
    await page.getByText('Chat is unavailable on this page.').waitFor();
    assert(await page.getByLabel('Your message').count() === 0 || !(await page.getByLabel('Your message').isVisible()),
      'the message field is still offered');
    await screenshot(page, 'widget-unavailable');
    await page.close();
  });

  await check('the console shell loads its own script and style under its CSP', async () => {
    const page = await context.newPage();
    const response = await page.goto(`${EDGE}/console/`);
    const csp = response.headers()['content-security-policy'] ?? '';
    assert(csp.includes("script-src 'self'") && !csp.includes('unsafe'), `CSP: ${csp}`);
    await page.getByRole('heading', { name: 'Rampart console' }).waitFor();
    await page.locator('#edge-status', { hasText: 'ready' }).waitFor();
    await screenshot(page, 'console-shell');
    await page.close();
  });

  await check('an inline script injected into the console does not run, and is reported', async () => {
    const page = await context.newPage();
    await page.goto(`${EDGE}/console/`);
    await page.evaluate(() => {
      globalThis.violations = [];
      document.addEventListener('securitypolicyviolation', (event) => {
        globalThis.violations.push(`${event.violatedDirective} ${event.blockedURI}`);
      });
    });
    try {
      await page.addScriptTag({ content: 'globalThis.injectedRan = true;' });
    } catch {
      // Refused by the CSP: what this test expects.
    }
    await page.waitForFunction(() => globalThis.violations.length > 0);
    const [ran, violations] = await page.evaluate(() => [globalThis.injectedRan === true, globalThis.violations]);
    assert(!ran, 'the injected inline script ran');
    assert(violations.some((v) => v.startsWith('script-src')), `violations: ${violations}`);
    await page.close();
  });

  await check('axe: no serious or critical violation on the console shell', async () => {
    const page = await context.newPage();
    await page.goto(`${EDGE}/console/`);
    await page.locator('#edge-status', { hasText: 'ready' }).waitFor();
    await serious(page);
    await page.close();
  });
} finally {
  await browser.close();
}

for (const path of screenshots) console.log(`screenshot: ${path}`);
if (failures.length > 0) {
  console.log(`\n${failures.length} browser check(s) failed`);
  process.exit(1);
}
console.log('\nall browser checks passed');
