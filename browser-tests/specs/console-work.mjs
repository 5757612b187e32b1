// The console's daily work: the handoff queue (live, claim from the
// queue), a conversation with its decision receipts, the customers and
// appointments pages, and who may do what there: an owner adds a
// customer; an agent is not offered that form and the server refuses it
// anyway, but books an appointment, moves it on and writes a job note.

const CUSTOMER = 'Ada <b>Lovelace</b>';
const SERVICE = 'Boiler service';

/** A REST call's status, for the answers that must be refusals. */
async function statusOf(t, token, method, path, body) {
  const response = await fetch(`${t.EDGE}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  await response.text();
  return response.status;
}

export default async function consoleWork(t) {
  const { assert, check } = t;
  const browser = t.context.browser();
  const ownerContext = await browser.newContext({ ignoreHTTPSErrors: true });
  ownerContext.setDefaultTimeout(t.TIMEOUT);
  const owner = await ownerContext.newPage();
  const agent = await t.context.newPage();
  let customerId = null;

  await check('an owner adds a customer, whose name shows as text', async () => {
    await t.signIn(owner, t.OWNER);
    await owner.goto(`${t.EDGE}/console/#/customers`);
    await owner.getByRole('heading', { name: 'Add a customer' }).waitFor();
    await owner.getByLabel('Name').fill(CUSTOMER);
    await owner.getByLabel('Email').fill('ada@example.com');
    await owner.getByRole('button', { name: 'Add the customer' }).click();
    await owner.waitForURL(/#\/customers\/cus_/);
    customerId = decodeURIComponent(owner.url().split('#/customers/')[1]);
    await owner.locator('dd', { hasText: CUSTOMER }).first().waitFor();
    assert(await owner.locator('main b').count() === 0, 'the customer name was parsed as HTML');
    await owner.getByRole('heading', { name: 'Change the details' }).waitFor();
  });

  await check('an agent reads customers but is offered no form to add or change one, and the server refuses it', async () => {
    await t.signIn(agent, t.AGENT);
    await agent.goto(`${t.EDGE}/console/#/customers`);
    await agent.getByRole('link', { name: CUSTOMER }).waitFor();
    assert(await agent.getByRole('heading', { name: 'Add a customer' }).count() === 0,
      'an agent is offered the add-customer form');
    await t.serious(agent);
    await t.screenshot(agent, 'console-customers');
    await agent.getByRole('link', { name: CUSTOMER }).click();
    await agent.waitForURL(/#\/customers\/cus_/);
    await agent.getByRole('heading', { name: 'Job notes' }).waitFor();
    assert(await agent.getByRole('heading', { name: 'Change the details' }).count() === 0,
      'an agent is offered the edit form');
    assert(await statusOf(t, t.AGENT_TOKEN, 'POST', '/v1/crm/customers', { name: 'Mallory' }) === 403,
      'the server let an agent add a customer');
    assert(await statusOf(t, t.AGENT_TOKEN, 'PATCH', `/v1/crm/customers/${customerId}`, { name: 'Mallory' }) === 403,
      'the server let an agent change a customer');
  });

  await check('an agent books an appointment, confirms it and writes a job note', async () => {
    await agent.goto(`${t.EDGE}/console/#/appointments`);
    await agent.getByRole('heading', { name: 'Book an appointment' }).waitFor();
    await agent.getByLabel('Customer').selectOption(customerId);
    await agent.getByLabel('Service').fill(SERVICE);
    await agent.getByLabel('Starts').fill('2030-03-02T09:00');
    await agent.getByLabel('Ends').fill('2030-03-02T11:00');
    await agent.getByRole('button', { name: 'Book it' }).click();
    await agent.waitForURL(/#\/appointments\/apt_/);
    const appointmentId = decodeURIComponent(agent.url().split('#/appointments/')[1]);
    await agent.locator('dd .badge', { hasText: 'scheduled' }).waitFor();
    await agent.getByLabel('Status').selectOption('confirmed');
    await agent.getByRole('button', { name: 'Save the changes' }).click();
    await agent.locator('dd .badge', { hasText: 'confirmed' }).waitFor();
    const saved = await t.bearer(t.AGENT_TOKEN, 'GET', `/v1/crm/appointments/${appointmentId}`);
    assert(saved.status === 'confirmed' && saved.customer_id === customerId && saved.service_type === SERVICE,
      `the appointment: ${JSON.stringify(saved)}`);
    assert(new Date(saved.ends_at) - new Date(saved.starts_at) === 2 * 3600_000, `times: ${saved.starts_at} ${saved.ends_at}`);
    await agent.getByLabel('Note', { exact: true }).fill('Replaced the <i>pressure</i> valve.');
    await agent.getByLabel('Equipment').fill('Worcester 30i, SN 12345');
    await agent.getByRole('button', { name: 'Save the note' }).click();
    await agent.getByRole('cell', { name: 'Replaced the <i>pressure</i> valve.' }).waitFor();
    const notes = await t.bearer(t.AGENT_TOKEN, 'GET', `/v1/crm/job-notes?appointment_id=${appointmentId}`);
    assert(notes.job_notes.length === 1 && notes.job_notes[0].equipment === 'Worcester 30i, SN 12345',
      `the notes: ${JSON.stringify(notes)}`);
    await agent.goto(`${t.EDGE}/console/#/appointments`);
    await agent.getByRole('link', { name: SERVICE }).first().waitFor();
    await t.serious(agent);
    await t.screenshot(agent, 'console-appointments');
  });

  let handoff = null;
  await check('a new handoff appears in the live queue, overdue ones are marked in words, and the agent claims it from there', async () => {
    await agent.goto(`${t.EDGE}/console/#/queue`);
    await agent.locator('section.queue[data-state="live"]').waitFor();
    const before = await agent.locator('tr[data-handoff-id]').evaluateAll((rows) => rows.map((row) => row.dataset.handoffId));
    await agent.evaluate(() => { globalThis.sameQueuePage = true; });
    const visitor = await ownerContext.newPage();
    await visitor.goto(t.HOST_URL);
    await visitor.getByRole('button', { name: 'Chat with us' }).click();
    await visitor.locator('rampart-chat[data-state="ready"]').waitFor({ state: 'attached' });
    await visitor.getByLabel('Your message').fill('I will sue you over this invoice');
    await visitor.getByRole('button', { name: 'Send' }).click();
    await visitor.getByText('A person will answer').waitFor();
    await visitor.close();
    const open = await t.bearer(t.AGENT_TOKEN, 'GET', '/v1/handoffs?status=open');
    handoff = open.handoffs.find((item) => !before.includes(item.id));
    assert(handoff, 'no new handoff');
    const row = agent.locator(`tr[data-handoff-id="${handoff.id}"]`);
    await row.waitFor();
    assert(await agent.evaluate(() => globalThis.sameQueuePage === true), 'the queue page was reloaded');
    // Every overdue row says so in words, and only those.
    const rows = await agent.locator('tr[data-handoff-id]').evaluateAll((nodes) => nodes.map((node) => ({
      overdue: node.classList.contains('overdue'), says: /Overdue/.test(node.textContent),
    })));
    assert(rows.every((r) => r.overdue === r.says), `overdue rows: ${JSON.stringify(rows)}`);
    // Most severe first, then soonest due.
    const shown = await agent.locator('tr[data-handoff-id]').evaluateAll((nodes) => nodes.map((node) => node.dataset.handoffId));
    const queue = await t.bearer(t.AGENT_TOKEN, 'GET', '/v1/handoffs');
    assert(JSON.stringify(shown) === JSON.stringify(queue.handoffs.map((item) => item.id)),
      `the console's order ${shown} is not the server's ${queue.handoffs.map((item) => item.id)}`);
    // The queue's own overdue marking and order, on handoffs made up here
    // (the live ones are not due for minutes): a badge with the word.
    const made = await agent.evaluate(async () => {
      const queue = await import('/console/queue.js');
      const past = new Date(Date.now() - 10 * 60_000).toISOString();
      const soon = new Date(Date.now() + 10 * 60_000).toISOString();
      const later = new Date(Date.now() + 60 * 60_000).toISOString();
      const late = queue.dueCell({ status: 'open', overdue: false, due_at: past });
      const onTime = queue.dueCell({ status: 'open', overdue: false, due_at: soon });
      const order = queue.sortQueue([
        { id: 'low-soon', severity: 'low', due_at: soon },
        { id: 'critical-later', severity: 'critical', due_at: later },
        { id: 'critical-soon', severity: 'critical', due_at: soon },
      ]).map((item) => item.id);
      return {
        late: late.textContent,
        lateBadge: late.querySelector('.badge')?.textContent ?? null,
        onTime: onTime.textContent,
        order,
      };
    });
    assert(made.lateBadge === 'Overdue' && made.late.includes('ago'), `a late handoff shows ${JSON.stringify(made)}`);
    assert(!made.onTime.includes('Overdue'), `an on-time handoff shows ${made.onTime}`);
    assert(made.order.join() === 'critical-soon,critical-later,low-soon', `the order: ${made.order}`);
    await t.serious(agent);
    await t.screenshot(agent, 'console-queue');
    await row.getByRole('button', { name: /^Claim/ }).click();
    await row.getByRole('cell', { name: 'You', exact: true }).waitFor();
    const claimed = await t.bearer(t.AGENT_TOKEN, 'GET', `/v1/handoffs/${handoff.id}`);
    assert(claimed.status === 'claimed', `the handoff is ${claimed.status}`);
  });

  await check('the conversation shows its messages and decision receipts; the agent resolves it', async () => {
    assert(handoff, 'no handoff to open');
    await agent.locator(`tr[data-handoff-id="${handoff.id}"]`).getByRole('link', { name: /^Open/ }).click();
    await agent.getByText('I will sue you over this invoice').waitFor();
    const receipt = agent.locator('details.receipt').first();
    await receipt.locator('summary').click();
    await receipt.getByText('Policy version').waitFor();
    await t.serious(agent);
    await t.screenshot(agent, 'console-conversation');
    await agent.getByRole('button', { name: 'Resolve' }).click();
    await agent.locator('[data-handoff-status="resolved"]').waitFor();
    const resolved = await t.bearer(t.AGENT_TOKEN, 'GET', `/v1/handoffs/${handoff.id}`);
    assert(resolved.status === 'resolved', `the handoff is ${resolved.status}`);
  });

  await check('axe: no serious or critical violation on the conversation list', async () => {
    await agent.goto(`${t.EDGE}/console/#/conversations`);
    await agent.getByRole('link', { name: handoff?.conversation_id ?? 'cnv_' }).first().waitFor();
    await t.serious(agent);
  });

  await ownerContext.close();
}
