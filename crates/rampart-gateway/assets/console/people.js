// Users and roles (`#/users`, the tenant's owner): the tenant's users,
// adding one, changing a role, disabling and enabling, ending a user's
// sessions; and the tenant's security setting (a second factor required
// of owners and managers). The server refuses all of it to anyone but
// the owner; this page is not even shown to them.

import {
  actionButton, announce, api, field, form, h, loading, page, replace, session, table, timeEl,
} from './lib.js';

const ROLES = ['agent', 'manager', 'owner'];

function roleSelect(value, attrs = {}) {
  return h('select', attrs,
    ROLES.map((role) => h('option', { value: role, selected: role === value, text: role })));
}

function userRow(user, status, reload) {
  const self = user.user_id === session.user?.user_id;
  const state = user.disabled
    ? h('span', { class: 'badge danger', text: 'disabled' })
    : h('span', { class: 'badge ok', text: 'active' });
  const factor = user.second_factor ? 'set up' : 'none';
  if (self) {
    return [h('span', {}, user.email, ' (you)'), user.role, factor, state, timeEl(user.created_at),
      h('span', { class: 'muted', text: 'Change yourself on Account' })];
  }
  const role = roleSelect(user.role, { 'aria-label': `Role of ${user.email}` });
  const actions = h('div', { class: 'actions' },
    role,
    actionButton('Change role', { class: 'secondary', 'aria-label': `Change role of ${user.email}` }, status, async () => {
      if (role.value === user.role) return;
      await api('PATCH', `/v1/users/${encodeURIComponent(user.user_id)}`, { role: role.value });
      announce(`${user.email} is now ${role.value}.`);
      await reload();
    }),
    actionButton(user.disabled ? 'Enable' : 'Disable',
      { class: user.disabled ? 'secondary' : 'danger', 'aria-label': `${user.disabled ? 'Enable' : 'Disable'} ${user.email}` },
      status, async () => {
        await api('PATCH', `/v1/users/${encodeURIComponent(user.user_id)}`, { disabled: !user.disabled });
        announce(`${user.email} is ${user.disabled ? 'enabled' : 'disabled'}.`);
        await reload();
      }),
    actionButton('End sessions', { class: 'secondary', 'aria-label': `End sessions of ${user.email}` }, status, async () => {
      const answer = await api('POST', `/v1/users/${encodeURIComponent(user.user_id)}/revoke-sessions`);
      replace(status, h('p', { class: 'ok', role: 'status',
        text: `${answer.revoked_sessions} session(s) of ${user.email} ended.` }));
    }));
  return [user.email, user.role, factor, state, timeEl(user.created_at), actions];
}

async function usersSection(container) {
  const { users } = await api('GET', '/v1/users');
  const status = h('div', { 'aria-live': 'polite' });
  const reload = () => loading(container, () => usersSection(container));
  return [
    status,
    table('The business\'s users',
      ['Email', 'Role', 'Authenticator', 'State', 'Added', 'Actions'],
      users.map((user) => userRow(user, status, reload)), 'No user yet.'),
  ];
}

function addUserForm(onAdded) {
  const email = h('input', { name: 'email', type: 'email', required: true, autocomplete: 'off' });
  const password = h('input', {
    name: 'password', type: 'password', required: true, autocomplete: 'new-password',
    minlength: '15', maxlength: '256',
  });
  const role = roleSelect('agent', { name: 'role' });
  return form({ class: 'stack', 'aria-labelledby': 'add-user-heading' }, [
    field('Email', email),
    field('Password', password,
      'At least 15 characters, not easy to guess, not built on the email or the business\'s name. Give it to the person privately.'),
    field('Role', role, 'Agents answer conversations; managers also run the queue and the policy; owners run everything.'),
    h('button', { type: 'submit', text: 'Add user' }),
  ], async (node) => {
    const user = await api('POST', '/v1/users', {
      email: email.value.trim(), password: password.value, role: role.value,
    });
    node.reset();
    await onAdded();
    return h('p', { class: 'ok', role: 'status', text: `${user.email} added as ${user.role}.` });
  });
}

async function securitySection() {
  const security = await api('GET', '/v1/tenant/security');
  const require = h('input', {
    type: 'checkbox', name: 'require_second_factor_for_managers', id: 'require-second-factor',
    checked: security.require_second_factor_for_managers,
  });
  return form({ class: 'stack', 'aria-labelledby': 'security-heading' }, [
    h('div', { class: 'check' }, require,
      h('label', { for: 'require-second-factor', text: 'Require an authenticator of owners and managers' })),
    h('p', { class: 'hint', text: 'Those without one set it up at their next sign-in.' }),
    h('button', { type: 'submit', text: 'Save security setting' }),
  ], async () => {
    const saved = await api('PUT', '/v1/tenant/security', {
      require_second_factor_for_managers: require.checked,
    });
    return h('p', { class: 'ok', role: 'status',
      text: saved.require_second_factor_for_managers
        ? 'Saved: owners and managers need an authenticator.'
        : 'Saved: an authenticator is optional.' });
  });
}

page({
  path: 'users',
  title: 'Users and roles',
  roles: ['owner'],
  nav: 'Users',
  render(container) {
    const users = h('div', {});
    const security = h('div', {});
    replace(container,
      users,
      h('h2', { id: 'add-user-heading', text: 'Add a user' }),
      addUserForm(() => loading(users, () => usersSection(users))),
      h('h2', { id: 'security-heading', text: 'Security' }),
      security);
    loading(users, () => usersSection(users));
    loading(security, securitySection);
    return undefined;
  },
});
