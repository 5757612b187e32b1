// The console's page itself: its CSP, an injected inline script refused,
// the sign-in page reached when signed out, and axe on it.

export default async function consoleShell(t) {
  const { assert, check } = t;

  await check('the console loads its own scripts and styles under its CSP and asks to sign in', async () => {
    const page = await t.context.newPage();
    const response = await page.goto(`${t.EDGE}/console/`);
    const csp = response.headers()['content-security-policy'] ?? '';
    assert(csp.includes("script-src 'self'") && !csp.includes('unsafe'), `CSP: ${csp}`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    assert(page.url().endsWith('#/sign-in'), `signed out, the console is at ${page.url()}`);
    await t.screenshot(page, 'console-sign-in');
    await page.close();
  });

  await check('an inline script injected into the console does not run, and is reported', async () => {
    const page = await t.context.newPage();
    await page.goto(`${t.EDGE}/console/`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
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

  await check('axe: no serious or critical violation on the sign-in pages', async () => {
    const page = await t.context.newPage();
    for (const path of ['sign-in', 'admin-sign-in']) {
      await page.goto(`${t.EDGE}/console/#/${path}`);
      await page.locator('form').first().waitFor();
      await t.serious(page);
    }
    await page.close();
  });

  await check('a wrong password is refused with a message, and no session is made', async () => {
    const page = await t.context.newPage();
    await page.goto(`${t.EDGE}/console/#/sign-in`);
    await page.getByLabel('Business ID').fill(t.TENANT_ID);
    await page.getByLabel('Email').fill(t.AGENT.email);
    await page.getByLabel('Password').fill('not the password at all');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    const cookies = await t.context.cookies(t.EDGE);
    assert(!cookies.some((cookie) => cookie.name === '__Host-rampart_session'), 'a session cookie was set');
    await page.close();
  });

  await check('an agent signs in with the session in an HttpOnly cookie that no script can read', async () => {
    const page = await t.context.newPage();
    await t.signIn(page, t.AGENT);
    const cookies = await t.context.cookies(t.EDGE);
    const cookie = cookies.find((c) => c.name === '__Host-rampart_session');
    assert(cookie && cookie.httpOnly && cookie.secure && cookie.sameSite === 'Strict',
      `the session cookie: ${JSON.stringify(cookie)}`);
    const visible = await page.evaluate(() => document.cookie + JSON.stringify(localStorage));
    assert(!visible.includes('rs_'), 'a session token is readable by the page');
    await page.close();
  });
}
