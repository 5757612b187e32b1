// The website widget on a business's page: a visitor writes something
// risky, is told a person will answer, and sees the agent's reply; the
// widget is refused on an origin its key does not allow.

const AGENT_REPLY = 'I am sorry to hear that. I am looking at your case now.';

export default async function widget(t) {
  const { assert, check } = t;
  const visitor = await t.context.newPage();
  let handoff = null;

  await check('the visitor writes "I will sue you" and is told a person will answer', async () => {
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
    await t.screenshot(visitor, 'widget-handed-off');
  });

  await check('axe: no serious or critical violation on the widget host page', async () => {
    await t.serious(visitor);
  });

  await check('the agent sees the handoff, claims it and replies', async () => {
    const deadline = Date.now() + t.TIMEOUT;
    while (!handoff && Date.now() < deadline) {
      const queue = await t.bearer(t.AGENT_TOKEN, 'GET', '/v1/handoffs?status=open');
      handoff = queue.handoffs[0] ?? null;
      if (!handoff) await new Promise((resolve) => setTimeout(resolve, 300));
    }
    assert(handoff, 'no open handoff in the queue');
    const claimed = await t.bearer(t.AGENT_TOKEN, 'POST', `/v1/handoffs/${handoff.id}/claim`);
    assert(claimed.status === 'claimed', `claim answered ${JSON.stringify(claimed)}`);
    await t.bearer(t.AGENT_TOKEN, 'POST',
      `/v1/crm/conversations/${handoff.conversation_id}/agent-replies`, { text: AGENT_REPLY });
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
}
