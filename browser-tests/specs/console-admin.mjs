// The account, users, keys, policy and tenants pages, as their users and
// as those who must not use them. A fresh business and owner are made
// through the admin API, so changing the owner's second factor leaves the
// shared owner (other specs sign in as it with a password) alone.
//
// The owner: requires a second factor for the business on the users page,
// signs out, enrols an authenticator at the next sign-in (the secret read
// off the page, the recovery codes shown once), signs in again with a
// fresh code; adds an agent; creates an API key (shown once, and it
// works), rotates it (the old key then gets 401) and revokes the successor
// after a confirmation step (then 401 too); edits the escalation policy.
// The agent: sees no owner page (no link, "not available" at the address)
// and gets 403 from the owners' routes called from its own page with its
// CSRF token; ends another of its sessions; enrols an authenticator on
// the account page. A platform admin signs in through the secret path
// when the harness provides one with a second factor (see that check).

import { randomBytes } from 'node:crypto';

const COOKIE = '__Host-rampart_session';

/** A password the policy accepts: long, random, not built on the email. */
function password() {
  return `Kite-${randomBytes(9).toString('hex')}-Mosaic!`;
}

/** Milliseconds until the next 30-second TOTP step (plus a margin). */
function untilNextStep() {
  return 30_000 - (Date.now() % 30_000) + 1_000;
}

/** The status of a request made with `key` as X-API-Key. */
async function withKey(t, key, path = '/v1/crm/customers') {
  const response = await fetch(`${t.EDGE}${path}`, { headers: { 'X-API-Key': key } });
  return response.status;
}

/** Polls `body` until it answers true (revocations reach every gateway within a second). */
async function eventually(body, message, timeout = 5_000) {
  const end = Date.now() + timeout;
  for (;;) {
    if (await body()) return;
    if (Date.now() > end) throw new Error(message);
    await new Promise((resolve) => { setTimeout(resolve, 200); });
  }
}

/** A REST call from the page itself: the session cookie and its CSRF token, as the console's own code sends them. */
function fromPage(page, method, path, body) {
  return page.evaluate(async ([m, p, b]) => {
    const me = await (await fetch('/v1/auth/me', { credentials: 'same-origin' })).json();
    const headers = { 'X-CSRF-Token': me.csrf_token ?? '', Accept: 'application/json' };
    if (b !== null) headers['Content-Type'] = 'application/json';
    const response = await fetch(p, {
      method: m, credentials: 'same-origin', headers, body: b === null ? undefined : JSON.stringify(b),
    });
    return { status: response.status, body: await response.text() };
  }, [method, path, body ?? null]);
}

async function signOut(page) {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
}

export default async function consoleAdmin(t) {
  const { assert, check } = t;
  const stamp = randomBytes(4).toString('hex');
  const tenant = await t.admin('POST', '/v1/admin/tenants', {
    name: `Pages Plumbing ${stamp}`, office_domains: ['pages.example'],
  });
  const owner = { email: `owner-${stamp}@pages.example`, password: password(), tenant: tenant.tenant_id };
  await t.admin('POST', `/v1/admin/tenants/${tenant.tenant_id}/users`, {
    email: owner.email, password: owner.password, role: 'owner',
  });
  const agent = { email: `agent-${stamp}@pages.example`, password: password(), tenant: tenant.tenant_id };
  let ownerSecret = null;
  const keyName = `pages key ${stamp}`;
  let firstKey = null;
  let secondKey = null;
  const page = await t.context.newPage();

  await check('the owner requires a second factor for the business on the users page (axe: nothing serious)', async () => {
    await t.signIn(page, owner);
    // A tenant user lands on the queue; the owner has the owner pages in the navigation.
    for (const link of ['Users', 'API keys', 'Policy', 'Account']) {
      await page.getByRole('navigation').getByRole('link', { name: link, exact: true }).waitFor();
    }
    assert(await page.getByRole('link', { name: 'Tenants' }).count() === 0, 'an owner sees the tenants link');
    await page.goto(`${t.EDGE}/console/#/users`);
    await page.getByRole('table', { name: 'The business\'s users' }).waitFor();
    await page.getByText(`${owner.email} (you)`).waitFor();
    const box = page.getByLabel('Require an authenticator of owners and managers');
    assert(!(await box.isChecked()), 'a new business already requires a second factor');
    await box.check();
    await page.getByRole('button', { name: 'Save security setting' }).click();
    await page.getByText('Saved: owners and managers need an authenticator.').waitFor();
    await t.serious(page);
    // The server holds it: a sign-in now asks for a second factor, and enrolment.
    const first = await t.anonymous('POST', '/v1/auth/sign-in', {
      tenant_id: owner.tenant, email: owner.email, password: owner.password,
    });
    assert(first.second_factor_required && first.enrolment_required && !first.session_token,
      `the sign-in answered ${JSON.stringify({ ...first, challenge: '…' })}`);
  });

  await check('signing in again, the owner enrols an authenticator read off the page and sees the recovery codes once', async () => {
    await signOut(page);
    await page.getByLabel('Business ID').fill(owner.tenant);
    await page.getByLabel('Email').fill(owner.email);
    await page.getByLabel('Password').fill(owner.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    ownerSecret = (await page.locator('#totp-secret').textContent()).trim();
    assert(/^[A-Z2-7]{16,}=*$/.test(ownerSecret), `the secret on the page: ${ownerSecret}`);
    await t.screenshot(page, 'console-totp-enrolment');
    await t.serious(page);
    await page.getByLabel('Authentication code').fill(t.totp(ownerSecret));
    await page.getByRole('button', { name: 'Verify' }).click();
    const codes = page.locator('.once', { hasText: 'Your recovery codes' }).locator('.secret');
    await codes.waitFor();
    const shown = (await codes.textContent()).split('\n').filter(Boolean);
    assert(shown.length >= 5, `recovery codes: ${shown.length}`);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.locator('#console-who', { hasText: owner.email }).waitFor();
    // Shown once: the account page says the factor is set up and shows no code.
    await page.goto(`${t.EDGE}/console/#/account`);
    await page.getByText('Your authenticator is set up').waitFor();
    const html = await page.content();
    assert(!shown.some((code) => html.includes(code)), 'a recovery code is shown again');
  });

  await check('the owner signs out and signs in again with a fresh code from the authenticator', async () => {
    assert(ownerSecret, 'no secret from the enrolment');
    await signOut(page);
    // A code is good once: wait for the authenticator's next one.
    await page.waitForTimeout(untilNextStep());
    await t.signIn(page, { ...owner, totpSecret: ownerSecret });
    const cookies = await t.context.cookies(t.EDGE);
    assert(cookies.some((c) => c.name === COOKIE && c.httpOnly), 'no HttpOnly session cookie');
    // A wrong code is refused with the server's message.
    await signOut(page);
    await page.getByLabel('Business ID').fill(owner.tenant);
    await page.getByLabel('Email').fill(owner.email);
    await page.getByLabel('Password').fill(owner.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const wrong = t.totp(ownerSecret) === '000000' ? '111111' : '000000';
    await page.getByLabel('Authentication code').fill(wrong);
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('alert').waitFor();
    assert(await page.locator('#console-who', { hasText: owner.email }).count() === 0, 'a wrong code signed in');
    // The second step is at the sign-in page's address: start it afresh.
    await page.reload();
    await page.waitForTimeout(untilNextStep());
    await t.signIn(page, { ...owner, totpSecret: ownerSecret });
  });

  await check('the owner adds an agent on the users page', async () => {
    await page.goto(`${t.EDGE}/console/#/users`);
    await page.getByRole('table', { name: 'The business\'s users' }).waitFor();
    await page.getByLabel('Email', { exact: true }).fill(agent.email);
    await page.getByLabel('Password', { exact: true }).fill(agent.password);
    await page.getByLabel('Role', { exact: true }).selectOption('agent');
    await page.getByRole('button', { name: 'Add user' }).click();
    await page.getByText(`${agent.email} added as agent.`).waitFor();
    await page.getByRole('cell', { name: agent.email, exact: true }).waitFor();
    await t.screenshot(page, 'console-users');
    await t.serious(page);
    // Change the role, then back; disable (sign-in refused), then enable.
    const row = () => page.getByRole('row').filter({ hasText: agent.email });
    for (const role of ['manager', 'agent']) {
      await row().getByLabel(`Role of ${agent.email}`, { exact: true }).selectOption(role);
      await row().getByRole('button', { name: `Change role of ${agent.email}` }).click();
      await row().getByRole('cell', { name: role, exact: true }).waitFor();
    }
    const signIn = () => fetch(`${t.EDGE}/v1/auth/sign-in`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ tenant_id: agent.tenant, email: agent.email, password: agent.password }),
    });
    await row().getByRole('button', { name: `Disable ${agent.email}` }).click();
    await row().getByText('disabled', { exact: true }).waitFor();
    const refused = await signIn();
    assert(refused.status === 401, `a disabled user signed in: ${refused.status}`);
    await row().getByRole('button', { name: `Enable ${agent.email}` }).click();
    await row().getByText('active', { exact: true }).waitFor();
    // A weak password is refused with the server's reason.
    await page.getByLabel('Email', { exact: true }).fill(`weak-${stamp}@pages.example`);
    await page.getByLabel('Password', { exact: true }).fill('password1234567');
    await page.getByRole('button', { name: 'Add user' }).click();
    await page.getByRole('alert').waitFor();
    // The agent can sign in with what the owner set.
    const session = await t.anonymous('POST', '/v1/auth/sign-in', {
      tenant_id: agent.tenant, email: agent.email, password: agent.password,
    });
    assert(session.session_token, 'the new agent cannot sign in');
    await t.bearer(session.session_token, 'POST', '/v1/auth/sign-out');
  });

  await check('the owner creates an API key on the keys page: shown once, and it works (axe: nothing serious)', async () => {
    await page.goto(`${t.EDGE}/console/#/keys`);
    await page.getByRole('button', { name: 'Create key' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill(keyName);
    await page.getByLabel('Kind').selectOption('live');
    await page.getByRole('button', { name: 'Create key' }).click();
    const secret = page.locator('.once', { hasText: 'Your new API key' }).locator('.secret');
    await secret.waitFor();
    firstKey = (await secret.textContent()).trim();
    assert(firstKey.startsWith('rk_live_'), `the key shown: ${firstKey.slice(0, 8)}…`);
    await page.getByRole('cell', { name: keyName, exact: true }).waitFor();
    await t.screenshot(page, 'console-keys');
    await t.serious(page);
    assert(await withKey(t, firstKey) === 200, 'the new key does not work');
    // Shown once: after a reload the page does not have it.
    await page.reload();
    await page.getByRole('cell', { name: keyName, exact: true }).waitFor();
    assert(!(await page.content()).includes(firstKey), 'the key is shown again');
  });

  await check('a widget key needs its origins, and lists them', async () => {
    await page.getByLabel('Kind').selectOption('widget');
    await page.getByLabel('Allowed origins').fill('https://shop.pages.example/path');
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.getByText('Not an origin: https://shop.pages.example/path').waitFor();
    await page.getByLabel('Allowed origins').fill('https://shop.pages.example');
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.locator('.once .secret').waitFor();
    await page.getByRole('cell', { name: 'https://shop.pages.example', exact: true }).waitFor();
  });

  await check('rotating a key shows the successor once; the old key then gets 401', async () => {
    const row = page.getByRole('row').filter({ hasText: keyName });
    await row.getByRole('button', { name: /^Rotate/ }).click();
    await page.getByRole('button', { name: 'Confirm rotation' }).click();
    const secret = page.locator('.once', { hasText: 'The new key' }).locator('.secret');
    await secret.waitFor();
    secondKey = (await secret.textContent()).trim();
    assert(secondKey.startsWith('rk_live_') && secondKey !== firstKey, 'no new key shown');
    assert(await withKey(t, secondKey) === 200, 'the successor does not work');
    await eventually(async () => await withKey(t, firstKey) === 401, 'the rotated key still works');
  });

  await check('revoking asks for confirmation first, then the key gets 401', async () => {
    const row = page.getByRole('row').filter({ hasText: keyName }).filter({ has: page.getByRole('button', { name: /^Revoke/ }) });
    await row.getByRole('button', { name: /^Revoke/ }).first().click();
    await page.getByRole('button', { name: 'Cancel' }).click();
    await row.getByRole('button', { name: /^Revoke/ }).first().click();
    assert(await withKey(t, secondKey) === 200, 'the key stopped before the revocation was confirmed');
    await page.getByRole('button', { name: 'Confirm revocation' }).click();
    await page.getByText(/is revoked\.$/).first().waitFor();
    await eventually(async () => await withKey(t, secondKey) === 401, 'the revoked key still works');
  });

  await check('the owner edits the escalation policy; the page and the server refuse bad input with the reason', async () => {
    await page.goto(`${t.EDGE}/console/#/policy`);
    await page.getByRole('button', { name: 'Save policy' }).waitFor();
    await page.getByRole('button', { name: 'Save settings' }).waitFor();
    await page.getByRole('table', { name: 'Connected channels' }).or(page.getByText('No channel connected.')).waitFor();
    await t.serious(page);
    await page.getByLabel('Critical severity').fill('10');
    await page.getByRole('button', { name: 'Add a contact' }).click();
    await page.getByLabel('Contact name').last().fill('oncall');
    await page.getByLabel('Contact phone (E.164)').last().fill('12345');
    await page.getByRole('button', { name: 'Save policy' }).click();
    await page.getByText('oncall: a phone is + and 8 to 15 digits.').waitFor();
    await page.getByLabel('Contact phone (E.164)').last().fill('+14155550123');
    await page.getByLabel('Contact email').last().fill(`oncall-${stamp}@pages.example`);
    await page.getByRole('button', { name: 'Save policy' }).click();
    await page.getByText('Saved as version 1.', { exact: true }).waitFor();
    const saved = JSON.parse((await fromPage(page, 'GET', '/v1/escalation/policy')).body);
    assert(saved.version === 1 && saved.policy.response_targets.critical_secs === 600
      && saved.policy.contacts.some((c) => c.name === 'oncall' && c.phone === '+14155550123'),
    `the stored policy: ${JSON.stringify(saved)}`);
    // A chain naming an unknown contact: the server's problem names the field.
    const rest = page.getByLabel(/The rest of the policy/);
    const document = JSON.parse(await rest.inputValue());
    document.chain = { levels: [{ contacts: ['nobody'], delay_secs: 60 }], repeats: 0 };
    await rest.fill(JSON.stringify(document));
    await page.getByRole('button', { name: 'Save policy' }).click();
    await page.getByRole('alert').filter({ hasText: 'chain' }).waitFor();
    await t.screenshot(page, 'console-policy');
  });

  await check('the owner saves the business settings; hours the page cannot read are refused', async () => {
    await page.getByLabel('Monday').fill('nine to five');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByText('monday: write hours as 09:00-17:00').waitFor();
    await page.getByLabel('Monday').fill('09:00-12:00, 13:00-17:30');
    await page.getByLabel('Emergency keywords').fill('gas leak\nflooding');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByText('Saved as version 1.', { exact: true }).nth(1).waitFor();
    const saved = JSON.parse((await fromPage(page, 'GET', '/v1/owner/settings')).body);
    const monday = saved.settings.opening_hours.monday;
    assert(saved.version === 1 && monday.length === 2 && monday[1].close === '17:30'
      && saved.settings.emergency.keywords.includes('flooding'), `the stored settings: ${JSON.stringify(saved)}`);
  });

  await check('the owner connects a channel and disconnects it after confirming', async () => {
    await page.getByLabel('Display name').fill(`Front desk ${stamp}`);
    await page.getByLabel('Kind', { exact: true }).selectOption('email');
    await page.getByRole('button', { name: 'Connect channel' }).click();
    const cell = page.getByRole('cell', { name: `Front desk ${stamp}`, exact: true });
    await cell.waitFor();
    await page.getByRole('button', { name: `Disconnect Front desk ${stamp}` }).click();
    assert(await cell.count() === 1, 'disconnected without confirmation');
    await page.getByRole('button', { name: /^Confirm disconnect/ }).click();
    await cell.waitFor({ state: 'detached' });
  });

  await check('the owner connects a Twilio number: its number shown, its token never', async () => {
    const digits = String(Date.now()).slice(-9);
    const number = `+1${digits.startsWith('0') ? `5${digits.slice(1)}` : digits}`;
    const token = `tok${stamp}`.padEnd(32, 'x');
    await page.getByLabel('Display name').fill(`Phones ${stamp}`);
    await page.getByLabel('Kind', { exact: true }).selectOption('twilio');
    await page.getByLabel('Phone number').fill(number);
    await page.getByLabel('Credentials').fill(`account_sid=AC${'0123456789abcdef'.repeat(2)}\nauth_token=${token}`);
    await page.getByRole('button', { name: 'Connect channel' }).click();
    await page.getByRole('cell', { name: `twilio ${number}`, exact: true }).waitFor();
    const listed = (await fromPage(page, 'GET', '/v1/owner/channels')).body;
    assert(listed.includes(number) && !listed.includes(token), `the channel list: ${listed}`);
    await page.getByRole('button', { name: `Disconnect Phones ${stamp}` }).click();
    await page.getByRole('button', { name: /^Confirm disconnect/ }).click();
    await page.getByRole('cell', { name: `Phones ${stamp}`, exact: true }).waitFor({ state: 'detached' });
  });

  await check('an agent does not see the owner pages: no link, and "not available" at their address', async () => {
    await signOut(page);
    await t.signIn(page, agent);
    await page.getByRole('navigation').getByRole('link', { name: 'Account', exact: true }).waitFor();
    for (const link of ['Users', 'API keys', 'Policy', 'Tenants', 'Admin keys']) {
      assert(await page.getByRole('navigation').getByRole('link', { name: link, exact: true }).count() === 0,
        `an agent sees the ${link} link`);
    }
    for (const path of ['users', 'keys', 'policy', 'tenants', 'admin-keys']) {
      await page.goto(`${t.EDGE}/console/#/${path}`);
      await page.getByText('Not available to your role.').waitFor();
      assert(await page.getByRole('button', { name: /Create key|Add user|Save policy|Create tenant/ }).count() === 0,
        `the ${path} page shows its forms to an agent`);
    }
  });

  await check('an agent gets 403 from the owners\' and admins\' routes, called from its page with its CSRF token', async () => {
    const refused = [
      ['POST', '/v1/users', { email: `sneaky-${stamp}@pages.example`, password: password(), role: 'owner' }],
      ['GET', '/v1/users'],
      ['PUT', '/v1/tenant/security', { require_second_factor_for_managers: false }],
      ['GET', '/v1/api-keys'],
      ['POST', '/v1/api-keys', { name: 'sneaky' }],
      ['GET', '/v1/escalation/policy'],
      ['GET', '/v1/owner/channels'],
      ['GET', '/v1/admin/tenants'],
      ['POST', '/v1/admin/api-keys', { name: 'sneaky' }],
    ];
    for (const [method, path, body] of refused) {
      const answer = await fromPage(page, method, path, body);
      assert(answer.status === 403, `${method} ${path} answered ${answer.status}: ${answer.body}`);
    }
    // The same token does work where an agent may go.
    const mine = await fromPage(page, 'GET', '/v1/auth/sessions');
    assert(mine.status === 200, `GET /v1/auth/sessions answered ${mine.status}`);
  });

  await check('the agent ends another of its sessions on the account page (axe: nothing serious)', async () => {
    const other = await t.anonymous('POST', '/v1/auth/sign-in', {
      tenant_id: agent.tenant, email: agent.email, password: agent.password,
    });
    await t.bearer(other.session_token, 'GET', '/v1/auth/me');
    await page.goto(`${t.EDGE}/console/#/account`);
    const sessions = page.getByRole('table', { name: 'Your live sessions' });
    await sessions.waitFor();
    await sessions.getByText('This session').waitFor();
    await t.screenshot(page, 'console-account');
    await t.serious(page);
    await sessions.getByRole('button', { name: /^End the session/ }).first().click();
    await eventually(async () => await sessions.getByRole('button', { name: /^End the session/ }).count() === 0,
      'the other session is still listed');
    const response = await fetch(`${t.EDGE}/v1/auth/me`, { headers: { Authorization: `Bearer ${other.session_token}` } });
    assert(response.status === 401, `the ended session answered ${response.status}`);
    // Presenting an ended session is suspicious: auth then ends every
    // session of the user, this page's too, and the console asks to sign in.
    await eventually(async () => (await fromPage(page, 'GET', '/v1/auth/me')).status === 401,
      'the page\'s session survived the use of an ended one');
    await page.reload();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await t.signIn(page, agent);
  });

  await check('the agent sets up an authenticator on the account page; the recovery codes are shown once', async () => {
    await page.goto(`${t.EDGE}/console/#/account`);
    await page.getByRole('button', { name: 'Set up an authenticator' }).click();
    const secret = (await page.locator('#totp-secret').textContent()).trim();
    await page.getByLabel('Authentication code').fill(t.totp(secret));
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.locator('.once', { hasText: 'Your recovery codes' }).waitFor();
    const me = JSON.parse((await fromPage(page, 'GET', '/v1/auth/me')).body);
    assert(me.second_factor === true, 'the server does not know the authenticator');
    await page.reload();
    await page.getByText('Your authenticator is set up').waitFor();
  });

  await check('a tenant user\'s session is refused by the admin pages\' routes, and the admin API makes no admin outside the office domains', async () => {
    const tenants = await fromPage(page, 'GET', '/v1/admin/tenants');
    assert(tenants.status === 403, `a tenant user's session listed the tenants: ${tenants.status}`);
    const keys = await fromPage(page, 'GET', '/v1/admin/api-keys');
    assert(keys.status === 403, `a tenant user's session listed the admin keys: ${keys.status}`);
    // The harness starts `rampart dev` with no office domain: an admin
    // made through the API would be outside it, and is refused.
    const made = await fetch(`${t.EDGE}/v1/admin/users`, {
      method: 'POST',
      headers: { 'X-Admin-API-Key': t.ADMIN_KEY, 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: `ops-${stamp}@pages.example`, password: password(), role: 'admin' }),
    });
    assert(made.status === 400, `the admin API made a platform admin outside the office domains: ${made.status}`);
  });

  // The platform admin is made by the harness with `rampart admin
  // create-user` before the stack starts (an admin made through the admin
  // API has no second factor and cannot sign in).
  {
    await check('a platform admin signs in through the secret path and uses the tenants and admin keys pages (axe: nothing serious)', async () => {
      await signOut(page);
      await t.signInAdmin(page);
      await page.getByRole('table', { name: 'Tenants' }).waitFor();
      await page.getByRole('link', { name: tenant.name }).waitFor();
      await t.screenshot(page, 'console-tenants');
      await t.serious(page);
      await page.getByRole('link', { name: tenant.name }).click();
      await page.getByRole('table', { name: 'The tenant\'s users' }).getByText(owner.email).waitFor();
      await t.serious(page);
      await page.goto(`${t.EDGE}/console/#/admin-keys`);
      await page.getByRole('button', { name: 'Create key' }).click();
      const adminKey = (await page.locator('.once .secret').textContent()).trim();
      assert(adminKey.startsWith('rk_admin_'), 'no admin key shown');
      const response = await fetch(`${t.EDGE}/v1/admin/tenants`, { headers: { 'X-Admin-API-Key': adminKey } });
      assert(response.status === 200, `the new admin key answered ${response.status}`);
      await t.serious(page);
    });
  }

  await page.close();
}
