// The audit log with its in-browser proofs, and the checklist's latest
// report.
//
// - The owner reads the tenant's log, clicks Verify and sees "verified":
//   the page recomputed the leaf hash, folded the inclusion proof and
//   checked the checkpoint's Ed25519 signature with WebCrypto.
// - A proof, a signature or an entry altered on its way to the browser
//   (one byte flipped by the test between the server and the page) is
//   reported as failed, with the reason.
// - An agent sees no audit page, and its REST call is refused (403).
// - The checklist page shows a report stored through the admin route, to
//   the platform admin signed in through the secret path with TOTP.

/** Flips the first byte of a hex string. */
function flipHex(hex) {
  const first = (parseInt(hex.slice(0, 2), 16) ^ 0x01).toString(16).padStart(2, '0');
  return first + hex.slice(2);
}

/** Flips one byte of a base64 string's decoded bytes. */
function flipBase64(text) {
  const bytes = Buffer.from(text, 'base64');
  bytes[5] ^= 0x01;
  return bytes.toString('base64');
}

/** Answers the JSON of requests to `path` after `change` altered it. */
async function tamper(page, path, change) {
  await page.route((url) => url.pathname === path, async (route) => {
    const response = await route.fetch();
    const body = await response.json();
    change(body);
    await route.fulfill({ response, json: body });
  });
}

async function openAudit(t, page) {
  await page.goto(`${t.EDGE}/console/#/audit`);
  // Already there, goto changes nothing: reload, so that the list is
  // fetched again (through any route the check set up).
  await page.reload();
  await page.getByRole('table', { name: 'Audit events, oldest first' }).waitFor();
}

/** Clicks the first row's Verify and answers its proof cell's text. */
async function verifyFirst(page) {
  const cell = page.locator('.proof-cell').first();
  await cell.getByRole('button', { name: /^Verify entry/ }).click();
  await cell.locator('.proof-ok, .proof-failed').waitFor();
  return (await cell.textContent()).trim();
}

const REPORT = {
  generated_at: '2026-12-01T09:30:00Z',
  rampart_version: '0.1.0',
  url: 'https://edge.example',
  summary: { pass: 1, warn: 1, fail: 1 },
  items: [
    {
      id: 'backup', title: 'Backup and restore tested', status: 'pass', source: 'pg_dump into a scratch database',
      evidence: [{ status: 'pass', text: 'every count equal after restore' }],
    },
    {
      id: 'sign_ins', title: 'Failed sign-ins and lockouts', status: 'warn', source: 'user.sign_in audit events',
      evidence: [
        { status: 'pass', text: 'no lockout' },
        { status: 'warn', text: 'address 192.0.2.7: 6 failed' },
      ],
    },
    {
      id: 'second_factor', title: 'Admins without a second factor', status: 'fail', source: 'the admins baseline',
      evidence: [{ status: 'fail', text: 'ops@corp.example (usr_1) is a platform admin without a second factor' }],
    },
  ],
  users: [],
};

export default async function consoleAudit(t) {
  const { assert, check } = t;
  const page = await t.context.newPage();

  await check('the owner sees the tenant audit log and an entry verifies in the browser', async () => {
    await t.signIn(page, t.OWNER);
    const nav = await page.locator('#console-nav').textContent();
    assert(nav.includes('Audit log'), `the owner's navigation: ${nav}`);
    await openAudit(t, page);
    const rows = await page.locator('tbody tr').count();
    assert(rows >= 2, `the tenant log shows ${rows} entries`);
    const text = await verifyFirst(page);
    assert(text.includes('verified') && text.includes('signed checkpoint'), `the proof cell: ${text}`);
    await page.getByRole('button', { name: 'Verify this page' }).click();
    await page.locator('#console-status', { hasText: /entries verified|failed/ }).waitFor();
    const status = await page.locator('#console-status').textContent();
    assert(/^All \d+ entries verified$/.test(status), `verifying the page: ${status}`);
    assert(await page.locator('.proof-failed').count() === 0, 'an entry failed on an honest log');
    await t.screenshot(page, 'console-audit');
    await t.serious(page);
  });

  await check('filters narrow the log by action', async () => {
    await page.getByLabel('Action').fill('user.sign_in');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/action=user.sign_in/);
    await page.getByRole('table', { name: 'Audit events, oldest first' }).waitFor();
    const actions = await page.locator('tbody tr td:nth-child(3)').allTextContents();
    assert(actions.length > 0 && actions.every((a) => a === 'user.sign_in'), `actions: ${actions}`);
  });

  await check('a tampered inclusion proof is reported as failed', async () => {
    await tamper(page, '/v1/owner/audit/proofs/inclusion', (body) => {
      assert(body.proof.length > 0, 'the proof has no hash to flip');
      body.proof[0] = flipHex(body.proof[0]);
    });
    await openAudit(t, page);
    const text = await verifyFirst(page);
    assert(text.includes('failed') && text.includes('does not lead to the signed root'), `the proof cell: ${text}`);
    await page.unrouteAll({ behavior: 'wait' });
  });

  await check('a forged checkpoint signature is reported as failed', async () => {
    await tamper(page, '/v1/owner/audit/checkpoint', (body) => {
      body.signature = flipBase64(body.signature);
    });
    await openAudit(t, page);
    const text = await verifyFirst(page);
    assert(text.includes('failed') && text.includes('signature is not valid'), `the proof cell: ${text}`);
    await page.unrouteAll({ behavior: 'wait' });
  });

  await check('an entry altered on its way to the page is reported as failed', async () => {
    await tamper(page, '/v1/owner/audit', (body) => {
      body.events[0].actor = 'user:usr_someone_else';
    });
    await openAudit(t, page);
    const text = await verifyFirst(page);
    assert(text.includes('failed') && text.includes('do not hash to its leaf hash'), `the proof cell: ${text}`);
    await page.unrouteAll({ behavior: 'wait' });
  });

  await check('an agent is not shown the audit log, and its REST call is refused', async () => {
    const agentContext = await page.context().browser().newContext({ ignoreHTTPSErrors: true });
    const agentPage = await agentContext.newPage();
    try {
      await t.signIn(agentPage, t.AGENT);
      const nav = await agentPage.locator('#console-nav').textContent();
      assert(!nav.includes('Audit log') && !nav.includes('Checklist'), `the agent's navigation: ${nav}`);
      await agentPage.goto(`${t.EDGE}/console/#/audit`);
      await agentPage.getByText('Not available to your role.').waitFor();
    } finally {
      await agentContext.close();
    }
    let refused = '';
    try {
      await t.bearer(t.AGENT_TOKEN, 'GET', '/v1/owner/audit');
    } catch (error) {
      refused = String(error.message);
    }
    assert(refused.includes('answered 403'), `the agent's GET /v1/owner/audit: ${refused || '200'}`);
  });

  await check('an owner is not shown the checklist', async () => {
    const nav = await page.locator('#console-nav').textContent();
    assert(!nav.includes('Checklist'), `the owner's navigation: ${nav}`);
    await page.goto(`${t.EDGE}/console/#/checklist`);
    await page.getByText('Not available to your role.').waitFor();
  });

  const adminContext = await page.context().browser().newContext({ ignoreHTTPSErrors: true });
  const adminPage = await adminContext.newPage();
  let stored = null;

  await check('the checklist page shows the stored report, each item in words, with its audit event', async () => {
    stored = await t.admin('POST', '/v1/admin/checklist/reports', REPORT);
    assert(/^chk_[0-9a-f]{32}$/.test(stored.report_id), `stored: ${JSON.stringify(stored)}`);
    await t.signInAdmin(adminPage);
    await adminPage.goto(`${t.EDGE}/console/#/checklist`);
    await adminPage.getByRole('heading', { name: 'Admins without a second factor' }).waitFor();
    const nav = await adminPage.locator('#console-nav').textContent();
    assert(nav.includes('Checklist') && nav.includes('Audit log'), `the admin's navigation: ${nav}`);
    for (const [title, word] of [
      ['Backup and restore tested', 'PASS'],
      ['Failed sign-ins and lockouts', 'WARN'],
      ['Admins without a second factor', 'FAIL'],
    ]) {
      const heading = await adminPage.getByRole('heading', { name: title }).textContent();
      assert(heading.includes(word), `${title}: ${heading}`);
    }
    const body = await adminPage.locator('main').textContent();
    assert(body.includes('1 passed, 1 warned, 1 failed'), 'the summary is missing');
    assert(body.includes('address 192.0.2.7: 6 failed') && body.includes(stored.sha256), 'evidence or digest missing');
    await t.screenshot(adminPage, 'console-checklist');
    await t.serious(adminPage);
  });

  await check('its checklist.completed event is in the platform log and verifies', async () => {
    assert(stored, 'no report was stored');
    await adminPage.getByRole('link', { name: new RegExp(`checklist.completed ${stored.audit_event_id}`) }).click();
    await adminPage.waitForURL(/#\/audit\?/);
    // The relay delivers the event a moment after the commit.
    const deadline = Date.now() + 15_000;
    for (;;) {
      await adminPage.getByRole('table', { name: 'Audit events, oldest first' })
        .waitFor({ timeout: 2000 }).catch(() => {});
      if (await adminPage.locator('tbody tr').count() > 0) break;
      assert(Date.now() < deadline, 'checklist.completed never reached the platform log');
      await adminPage.waitForTimeout(300);
      await adminPage.reload();
    }
    const row = await adminPage.locator('tbody tr').first().textContent();
    assert(row.includes('checklist.completed') && row.includes(stored.sha256), `the row: ${row}`);
    const text = await verifyFirst(adminPage);
    assert(text.includes('verified'), `the proof cell: ${text}`);
    await t.serious(adminPage);
  });

  await adminContext.close();
  await page.close();
}
