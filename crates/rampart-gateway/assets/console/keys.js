// API keys (`#/keys`, the tenant's owner): the tenant's keys, a new one
// (live, test, or a website widget's with its allowed origins) shown once,
// rotation (the successor shown once), and revocation after a
// confirmation step. `keyManager` is also what the platform admin pages
// (tenants.js) use for a tenant's keys and the platform's own.

import {
  announce, api, errorBox, field, form, h, loading, newId, onceBox, page, replace, table, timeEl,
} from './lib.js';

/** Scopes a tenant key may hold, and what each allows. */
const TENANT_SCOPES = [
  ['read', 'Read the business\'s data', true],
  ['write', 'Change the business\'s data', true],
  ['keys', 'Manage API keys', false],
  ['audit', 'Read the audit log', false],
  ['settings', 'Change the business settings', false],
  ['owner', 'The owner\'s work: channels, retention, erasure', false],
];

const GRACE = [
  ['0', 'Stops at once'],
  ['3600', 'Works for 1 more hour'],
  ['86400', 'Works for 1 more day'],
  ['604800', 'Works for 7 more days'],
];

function keyState(key) {
  if (key.revoked_at) return h('span', { class: 'badge danger', text: 'revoked' });
  if (key.replaced_by) return h('span', { class: 'badge warn', text: 'rotated' });
  if (key.expires_at && new Date(key.expires_at) <= new Date()) {
    return h('span', { class: 'badge danger', text: 'expired' });
  }
  return h('span', { class: 'badge ok', text: 'active' });
}

/** Origins typed one per line (or separated by commas or spaces). */
export function parseOrigins(text) {
  return text.split(/[\s,]+/).map((origin) => origin.trim()).filter(Boolean);
}

/**
 * The key list and its forms for the keys under `base` (`/v1/api-keys`,
 * `/v1/admin/api-keys`, `/v1/admin/tenants/{id}/api-keys`). `tenant`:
 * whether they are a tenant's keys (environments, scopes, widget origins)
 * or the platform's (an admin key has none of those).
 */
export function keyManager(container, { base, tenant, caption }) {
  const listArea = h('div', {});
  const shown = h('div', { 'aria-live': 'polite' });
  const showInactive = h('input', { type: 'checkbox', id: newId('inactive') });
  const reload = () => loading(listArea, () => keyList());

  /** A secret shown once, focused so a keyboard or screen reader finds it. */
  function showOnce(title, secret, extra) {
    replace(shown, onceBox(title, secret), extra ?? null);
    shown.querySelector('.secret')?.focus();
  }

  function confirmStep(row, question, controls, label, action) {
    const status = h('div', { 'aria-live': 'polite' });
    const cancel = h('button', { type: 'button', class: 'secondary', text: 'Cancel' });
    const go = h('button', { type: 'button', class: 'danger', text: label });
    const box = h('div', { class: 'confirm', role: 'group', 'aria-label': question },
      h('p', { text: question }), controls, h('div', { class: 'actions' }, go, cancel), status);
    cancel.addEventListener('click', () => {
      box.remove();
      row.querySelector('button')?.focus();
    });
    go.addEventListener('click', async () => {
      go.disabled = true;
      try {
        await action();
      } catch (error) {
        go.disabled = false;
        replace(status, errorBox(error));
      }
    });
    return box;
  }

  function actions(key) {
    const cell = h('div', { class: 'actions' });
    if (key.revoked_at) return cell;
    const open = (box) => {
      cell.querySelector('.confirm')?.remove();
      cell.append(box);
      box.querySelector('select, button')?.focus();
    };
    const name = `${key.name} (${key.display_prefix}…)`;
    if (!key.replaced_by) {
      cell.append(h('button', {
        type: 'button', class: 'secondary', text: 'Rotate', 'aria-label': `Rotate ${name}`,
        onclick: () => {
          const grace = h('select', { id: newId('grace') },
            GRACE.map(([value, label]) => h('option', { value, text: label })));
          open(confirmStep(cell, `Rotate ${name}? A new key replaces it.`,
            field('The old key', grace), 'Confirm rotation', async () => {
              const rotated = await api('POST', `${base}/${encodeURIComponent(key.key_id)}/rotate`,
                { grace_seconds: Number(grace.value) });
              showOnce('The new key', rotated.successor.api_key,
                h('p', { text: `It replaces ${name}.` }));
              announce('Key rotated. The new key is shown once.');
              await reload();
            }));
        },
      }));
    }
    cell.append(h('button', {
      type: 'button', class: 'danger', text: 'Revoke', 'aria-label': `Revoke ${name}`,
      onclick: () => open(confirmStep(cell, `Revoke ${name}? It stops working at once, everywhere.`,
        null, 'Confirm revocation', async () => {
          await api('DELETE', `${base}/${encodeURIComponent(key.key_id)}`);
          replace(shown, h('p', { class: 'ok', role: 'status', text: `${name} is revoked.` }));
          announce(`${name} is revoked.`);
          await reload();
        })),
    }));
    return cell;
  }

  async function keyList() {
    const query = showInactive.checked ? '?include_inactive=true' : '';
    const { keys } = await api('GET', `${base}${query}`);
    const headings = tenant
      ? ['Name', 'Key starts', 'Kind', 'Scopes', 'Origins', 'Created', 'Last used', 'Expires', 'State', 'Actions']
      : ['Name', 'Key starts', 'Created', 'Last used', 'Expires', 'State', 'Actions'];
    const rows = keys.map((key) => {
      const cells = [key.name, h('code', { text: key.display_prefix })];
      if (tenant) {
        cells.push(key.environment, key.scopes.join(', '),
          key.allowed_origins?.length ? key.allowed_origins.join(', ') : '—');
      }
      cells.push(timeEl(key.created_at),
        key.last_used_at ? timeEl(key.last_used_at) : 'never',
        key.expires_at ? timeEl(key.expires_at) : 'never',
        keyState(key), actions(key));
      return cells;
    });
    return table(caption, headings, rows, 'No key.');
  }

  function newKeyForm() {
    const name = h('input', { name: 'name', maxlength: '100', autocomplete: 'off' });
    const parts = [field('Name', name, 'What the key is for, so you can tell keys apart.')];
    let environment = null;
    let scopeBoxes = [];
    let origins = null;
    if (tenant) {
      environment = h('select', { name: 'environment' },
        h('option', { value: 'live', text: 'Live' }),
        h('option', { value: 'test', text: 'Test (test data only)' }),
        h('option', { value: 'widget', text: 'Website widget (public, for your site)' }));
      scopeBoxes = TENANT_SCOPES.map(([scope, label, checked]) => {
        const box = h('input', { type: 'checkbox', name: 'scopes', value: scope, id: newId('scope'), checked });
        return { scope, box, node: h('div', { class: 'check' }, box, h('label', { for: box.id, text: `${label} (${scope})` })) };
      });
      const scopes = h('fieldset', {}, h('legend', { text: 'What the key may do' }), scopeBoxes.map((s) => s.node));
      origins = h('textarea', { name: 'allowed_origins', rows: '3', spellcheck: 'false' });
      const originsField = field('Allowed origins', origins,
        'One per line, such as https://www.example.com: the widget works only on these sites.');
      const sync = () => {
        const widget = environment.value === 'widget';
        scopes.hidden = widget;
        originsField.hidden = !widget;
        origins.required = widget;
      };
      environment.addEventListener('change', sync);
      parts.push(field('Kind', environment), scopes, originsField);
      sync();
    }
    parts.push(h('button', { type: 'submit', text: 'Create key' }));
    return form({ class: 'stack', 'aria-label': 'Create a key' }, parts, async (node) => {
      const body = {};
      if (name.value.trim()) body.name = name.value.trim();
      if (tenant) {
        body.environment = environment.value;
        if (environment.value === 'widget') {
          body.allowed_origins = parseOrigins(origins.value);
          const bad = body.allowed_origins.find((origin) => !/^https?:\/\/[^/\s]+$/.test(origin));
          if (body.allowed_origins.length === 0 || bad) {
            origins.focus();
            return h('div', { class: 'error', role: 'alert',
              text: bad ? `Not an origin: ${bad} (scheme and host only, no path).` : 'Name at least one origin.' });
          }
        } else {
          body.scopes = scopeBoxes.filter((s) => s.box.checked).map((s) => s.scope);
          if (body.scopes.length === 0) {
            scopeBoxes[0].box.focus();
            return h('div', { class: 'error', role: 'alert', text: 'Choose at least one scope.' });
          }
        }
      }
      const issued = await api('POST', base, body);
      node.reset();
      node.querySelector('select')?.dispatchEvent(new Event('change'));
      showOnce('Your new API key', issued.api_key);
      announce('Key created. It is shown once.');
      await reload();
      return null;
    });
  }

  showInactive.addEventListener('change', reload);
  replace(container,
    shown,
    h('div', { class: 'check' }, showInactive,
      h('label', { for: showInactive.id, text: 'Also show revoked, expired and rotated keys' })),
    listArea,
    h('h2', { text: tenant ? 'Create a key' : 'Create an admin key' }),
    newKeyForm());
  return reload();
}

page({
  path: 'keys',
  title: 'API keys',
  roles: ['owner'],
  nav: 'API keys',
  render(container) {
    keyManager(container, { base: '/v1/api-keys', tenant: true, caption: 'The business\'s API keys' });
    return undefined;
  },
});
