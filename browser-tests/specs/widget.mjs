// The website widget on a business's page: a visitor writes something
// risky and is told when a person will answer; an agent watching the
// console's queue sees the handoff appear without a reload, opens it,
// claims it and replies; the visitor sees the reply. The widget is refused
// on an origin its key does not allow.

const AGENT_REPLY = 'I am sorry to hear that. I am looking at your case now.';

export default async function widget(t) {
  const { assert, check } = t;
  const visitor = await t.context.newPage();
  // The agent works in the console, in a context of their own (their
  // session cookie must not reach the visitor's page, and vice versa).
  const agentContext = await t.context.browser().newContext({ ignoreHTTPSErrors: true });
  agentContext.setDefaultTimeout(t.TIMEOUT);
  const agent = await agentContext.newPage();
  let handoff = null;
  let queuedBefore = [];

  await check('the agent signs in to the console and watches the live queue', async () => {
    await t.signIn(agent, t.AGENT);
    await agent.waitForURL(/#\/queue$/);
    await agent.locator('section.queue[data-state="live"]').waitFor();
    queuedBefore = await agent.locator('tr[data-handoff-id]')
      .evaluateAll((rows) => rows.map((row) => row.dataset.handoffId));
    // Survives only as long as the page is not reloaded.
    await agent.evaluate(() => { globalThis.sameQueuePage = true; });
  });

  await check('the visitor writes "I will sue you" and is told when a person will answer', async () => {
    await visitor.goto(t.HOST_URL);
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
    const said = await visitor.getByText('A person will answer').textContent();
    const match = /A person will answer (within about (\d+) minutes?|by \d{1,2}:\d{2}.*?)\./.exec(said);
    assert(match, `the widget does not say when: "${said}"`);
    const open = await t.bearer(t.AGENT_TOKEN, 'GET', '/v1/handoffs?status=open');
    handoff = open.handoffs.find((item) => !queuedBefore.includes(item.id)) ?? null;
    assert(handoff, `no new open handoff: ${JSON.stringify(open)}`);
    if (match[2]) {
      const minutes = Math.ceil((new Date(handoff.due_at).getTime() - Date.now()) / 60_000);
      assert(Math.abs(minutes - Number(match[2])) <= 1,
        `the widget says ${match[2]} minutes, the handoff is due in ${minutes} (${handoff.due_at})`);
    }
    await t.screenshot(visitor, 'widget-handed-off');
  });

  await check('axe: no serious or critical violation on the widget host page', async () => {
    await t.serious(visitor);
  });

  await check('the handoff appears in the agent\'s queue without a reload, and is announced', async () => {
    assert(handoff, 'no handoff to look for');
    const row = agent.locator(`tr[data-handoff-id="${handoff.id}"]`);
    await row.waitFor();
    assert(await agent.evaluate(() => globalThis.sameQueuePage === true), 'the queue page was reloaded');
    assert(agent.url().endsWith('#/queue'), `the agent left the queue: ${agent.url()}`);
    await agent.waitForFunction(
      () => /New handoff/.test(document.getElementById('console-status')?.textContent ?? ''));
    await row.getByRole('button', { name: /^Claim/ }).waitFor();
  });

  await check('the agent opens the conversation, claims it and replies', async () => {
    await agent.locator(`tr[data-handoff-id="${handoff.id}"]`).getByRole('link', { name: /^Open/ }).click();
    await agent.waitForURL(new RegExp(`#/conversations/${handoff.conversation_id}$`));
    await agent.getByText('I will sue you').waitFor();
    await agent.getByText(/Decision receipt: handoff/).waitFor();
    await agent.getByRole('button', { name: 'Claim' }).click();
    await agent.locator('[data-handoff-status="claimed"]').waitFor();
    const claimed = await t.bearer(t.AGENT_TOKEN, 'GET', `/v1/handoffs/${handoff.id}`);
    assert(claimed.status === 'claimed', `the handoff is ${claimed.status}`);
    await agent.getByLabel('Your reply').fill(AGENT_REPLY);
    await agent.getByRole('button', { name: 'Send reply' }).click();
    await agent.locator('li.message.agent', { hasText: AGENT_REPLY }).waitFor();
  });

  await check('the visitor sees the agent\'s reply in the widget', async () => {
    await visitor.getByText(AGENT_REPLY).waitFor();
    await visitor.getByText('A person from the support team has joined').waitFor();
    await t.screenshot(visitor, 'widget-agent-reply');
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
    const page = await t.context.newPage();
    await page.goto(t.DENIED_URL);
    await page.getByRole('button', { name: 'Chat with us' }).click();
    await page.getByText('Chat is unavailable on this page.').waitFor();
    assert(await page.getByLabel('Your message').count() === 0 || !(await page.getByLabel('Your message').isVisible()),
      'the message field is still offered');
    await t.screenshot(page, 'widget-unavailable');
    await page.close();
  });

  await agentContext.close();
}
