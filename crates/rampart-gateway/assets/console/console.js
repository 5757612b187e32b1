// The console's entry point: loads every page module (each registers its
// pages with lib.js), finds out who is signed in, draws the navigation for
// that role, and renders the page the address names (`#/<path>`).
//
// No framework and no bundler: ES modules served from this origin, so the
// page's CSP can stay at `script-src 'self'` and what the browser runs is
// exactly the files in the repository.

import {
  allowed, api, events, h, home, navigate, refreshSession, registeredPages, replace, resolve,
  session,
} from './lib.js';
import './signin.js';
import './account.js';
import './queue.js';
import './conversation.js';
import './crm.js';
import './people.js';
import './keys.js';
import './policy.js';
import './tenants.js';
import './audit.js';
import './checklist.js';

const main = document.getElementById('main');
const nav = document.getElementById('console-nav');
const who = document.getElementById('console-who');
let leave = null;

function drawChrome() {
  const user = session.user;
  const current = resolve()?.definition;
  const links = registeredPages()
    .filter((definition) => definition.nav && user && definition.roles && allowed(definition, user))
    .map((definition) => h('li', {},
      h('a', {
        href: `#/${definition.path}`,
        'aria-current': definition === current ? 'page' : null,
        text: definition.nav,
      })));
  replace(nav, links.length ? h('ul', {}, links) : null);
  if (!user) {
    replace(who);
    return;
  }
  replace(who,
    h('span', { text: `${user.email} (${user.role})` }),
    h('button', {
      type: 'button',
      class: 'link',
      onclick: async () => {
        try {
          await api('POST', '/v1/auth/sign-out');
        } finally {
          session.user = null;
          session.csrf = null;
          events.dispatchEvent(new Event('session'));
          navigate('sign-in');
        }
      },
      text: 'Sign out',
    }));
}

async function render() {
  if (leave) {
    try { leave(); } catch { /* a page's clean-up must not stop the next page */ }
    leave = null;
  }
  const found = resolve();
  if (!found) {
    if (location.hash.replace(/^#\/?/, '') !== home()) {
      navigate(home());
      return;
    }
    drawChrome();
    replace(main, h('h1', { text: 'Page not found' }),
      h('p', { text: 'This console has no such page.' }));
    return;
  }
  const { definition, params, query } = found;
  if (definition.roles !== null && !session.user) {
    navigate(`sign-in?next=${encodeURIComponent(location.hash.slice(2))}`);
    return;
  }
  drawChrome();
  document.title = `${definition.title} · Rampart console`;
  const body = h('div', { class: 'page' });
  replace(main, h('h1', { text: definition.title }), body);
  if (!allowed(definition)) {
    replace(body, h('div', { class: 'error', role: 'alert' },
      h('strong', { text: 'Not available to your role.' }),
      ` This page is for: ${definition.roles.join(', ')}.`));
    return;
  }
  try {
    const cleanup = await definition.render(body, params, query);
    if (typeof cleanup === 'function') leave = cleanup;
  } catch (error) {
    replace(body, h('div', { class: 'error', role: 'alert' }, String(error?.message ?? error)));
  }
  main.focus({ preventScroll: true });
}

window.addEventListener('hashchange', render);
events.addEventListener('session', drawChrome);
await refreshSession();
await render();
