// The platform admins' pages (admin only): the tenants (list, create,
// with the first key shown once), one tenant (its users: add, disable or
// enable, end sessions; its keys), and the platform admin keys (create
// shown once, rotate, revoke). Every route here takes an admin session
// or key; a tenant's user is refused by the server as well as not shown
// these pages.

import {
  actionButton, announce, api, errorBox, field, form, h, loading, onceBox, page, replace, table,
  timeEl,
} from './lib.js';
import { keyManager } from './keys.js';

const PAGE_SIZE = 50;

function tenantLink(tenant) {
  return h('a', { href: `#/tenants/${encodeURIComponent(tenant.tenant_id)}`, text: tenant.name });
}

function tenantsTable(container) {
  const body = h('tbody', {});
  const more = h('button', { type: 'button', class: 'secondary', text: 'Load more tenants', hidden: true });
  const status = h('div', { 'aria-live': 'polite' });
  let cursor = null;
  async function load() {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (cursor) query.set('cursor', cursor);
    const list = await api('GET', `/v1/admin/tenants?${query}`);
    for (const tenant of list.tenants) {
      body.append(h('tr', {},
        h('td', {}, tenantLink(tenant)),
        h('td', {}, h('code', { text: tenant.tenant_id })),
        h('td', { text: tenant.office_domains.join(', ') || '—' }),
        h('td', {}, timeEl(tenant.created_at))));
    }
    cursor = list.next_cursor;
    more.hidden = !cursor;
    return list.tenants.length;
  }
  more.addEventListener('click', async () => {
    more.disabled = true;
    try {
      const count = await load();
      announce(`${count} more tenant(s) loaded.`);
    } catch (error) {
      replace(status, errorBox(error));
    } finally {
      more.disabled = false;
    }
  });
  return loading(container, async () => {
    await load();
    return [
      h('table', {},
        h('caption', { text: 'Tenants' }),
        h('thead', {}, h('tr', {}, ['Name', 'Tenant ID', 'Office domains', 'Created']
          .map((heading) => h('th', { scope: 'col', text: heading })))),
        body),
      more, status,
    ];
  });
}

function newTenantForm(onCreated) {
  const name = h('input', { name: 'name', required: true, maxlength: '200', autocomplete: 'off' });
  const domains = h('input', { name: 'office_domains', autocomplete: 'off', spellcheck: 'false' });
  return form({ class: 'stack', 'aria-labelledby': 'new-tenant-heading' }, [
    field('Business name', name),
    field('Office domains', domains, 'Optional, separated by commas: example.com, example.org.'),
    h('button', { type: 'submit', text: 'Create tenant' }),
  ], async (node) => {
    const created = await api('POST', '/v1/admin/tenants', {
      name: name.value.trim(),
      office_domains: domains.value.split(',').map((d) => d.trim()).filter(Boolean),
    });
    node.reset();
    await onCreated();
    const shown = h('div', {},
      h('p', { class: 'ok' }, 'Created ', tenantLink(created), ' (', h('code', { text: created.tenant_id }), ').'),
      onceBox('Its first API key', created.api_key));
    queueMicrotask(() => shown.querySelector('.secret')?.focus());
    return shown;
  });
}

page({
  path: 'tenants',
  title: 'Tenants',
  roles: ['admin'],
  nav: 'Tenants',
  render(container) {
    const list = h('div', {});
    replace(container,
      list,
      h('h2', { id: 'new-tenant-heading', text: 'Create a tenant' }),
      newTenantForm(() => tenantsTable(list)));
    tenantsTable(list);
    return undefined;
  },
});

// One tenant.

function userActions(user, status, reload) {
  const path = `/v1/admin/users/${encodeURIComponent(user.user_id)}`;
  const run = (label, attrs, action) => actionButton(label, attrs, status, action);
  return h('div', { class: 'actions' },
    run(user.disabled ? 'Enable' : 'Disable',
      { class: user.disabled ? 'secondary' : 'danger', 'aria-label': `${user.disabled ? 'Enable' : 'Disable'} ${user.email}` },
      async () => {
        await api('PATCH', path, { disabled: !user.disabled });
        announce(`${user.email} is ${user.disabled ? 'enabled' : 'disabled'}.`);
        await reload();
      }),
    run('End sessions', { class: 'secondary', 'aria-label': `End sessions of ${user.email}` }, async () => {
      const answer = await api('POST', `${path}/revoke-sessions`);
      replace(status, h('p', { class: 'ok', role: 'status',
        text: `${answer.revoked_sessions} session(s) of ${user.email} ended.` }));
    }));
}

async function tenantUsers(container, tenantId) {
  const { users } = await api('GET', `/v1/admin/tenants/${encodeURIComponent(tenantId)}/users`);
  const status = h('div', { 'aria-live': 'polite' });
  const reload = () => loading(container, () => tenantUsers(container, tenantId));
  return [
    status,
    table('The tenant\'s users', ['Email', 'Role', 'Authenticator', 'State', 'Added', 'Actions'],
      users.map((user) => [
        user.email, user.role, user.second_factor ? 'set up' : 'none',
        user.disabled ? h('span', { class: 'badge danger', text: 'disabled' }) : h('span', { class: 'badge ok', text: 'active' }),
        timeEl(user.created_at), userActions(user, status, reload),
      ]), 'No user yet.'),
  ];
}

function addTenantUserForm(tenantId, onAdded) {
  const email = h('input', { name: 'email', type: 'email', required: true, autocomplete: 'off' });
  const password = h('input', { name: 'password', type: 'password', required: true, autocomplete: 'new-password', minlength: '15' });
  const role = h('select', { name: 'role' },
    ['owner', 'manager', 'agent'].map((r) => h('option', { value: r, text: r })));
  return form({ class: 'stack', 'aria-labelledby': 'tenant-user-heading' }, [
    field('Email', email),
    field('Password', password, 'At least 15 characters, not built on the email or the business\'s name.'),
    field('Role', role),
    h('button', { type: 'submit', text: 'Add user' }),
  ], async (node) => {
    const user = await api('POST', `/v1/admin/tenants/${encodeURIComponent(tenantId)}/users`, {
      email: email.value.trim(), password: password.value, role: role.value,
    });
    node.reset();
    await onAdded();
    return h('p', { class: 'ok', role: 'status', text: `${user.email} added as ${user.role}.` });
  });
}

page({
  path: 'tenants/:id',
  title: 'Tenant',
  roles: ['admin'],
  render(container, { id }) {
    const users = h('div', {});
    const keys = h('div', {});
    replace(container,
      h('p', {}, h('a', { href: '#/tenants', text: 'All tenants' }), ' · Tenant ', h('code', { text: id })),
      h('h2', { text: 'Users' }), users,
      h('h2', { id: 'tenant-user-heading', text: 'Add a user' }),
      addTenantUserForm(id, () => loading(users, () => tenantUsers(users, id))),
      h('h2', { text: 'API keys' }), keys);
    loading(users, () => tenantUsers(users, id));
    keyManager(keys, {
      base: `/v1/admin/tenants/${encodeURIComponent(id)}/api-keys`, tenant: true, caption: 'The tenant\'s API keys',
    });
    return undefined;
  },
});

page({
  path: 'admin-keys',
  title: 'Platform admin keys',
  roles: ['admin'],
  nav: 'Admin keys',
  render(container) {
    keyManager(container, { base: '/v1/admin/api-keys', tenant: false, caption: 'Platform admin keys' });
    return undefined;
  },
});
