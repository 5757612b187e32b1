// Signing in: a tenant's users at `#/sign-in`, platform admins at
// `#/admin-sign-in` (through the secret sign-in path, which the admin
// types and the console never stores). Both ask for the session as the
// HttpOnly cookie (`X-Session-Transport: cookie`), then take the second
// factor: the authenticator's code or a recovery code, or, for an account
// that must have one and has none yet, enrolment (the secret is shown, the
// first code confirms it, and the recovery codes are shown once).

import {
  api, field, form, h, home, navigate, onceBox, page, refreshSession, replace, session,
} from './lib.js';

const COOKIE = { 'X-Session-Transport': 'cookie' };
const TENANT_MEMORY = 'rampart.console.tenant';

/** Where to go once signed in: the page the reader asked for, or home. */
function next(query) {
  const wanted = query?.get('next');
  return wanted && !wanted.startsWith('sign-in') && !wanted.startsWith('admin-sign-in')
    ? wanted : null;
}

/** Takes the session the last step delivered, then shows what follows. */
async function signedIn(container, answer, query) {
  session.csrf = answer.csrf_token ?? null;
  await refreshSession();
  if (answer.recovery_codes?.length) {
    replace(container,
      onceBox('Your recovery codes', answer.recovery_codes.join('\n'),
        'Keep them somewhere safe: each signs you in once if you lose your authenticator. They are shown only once.'),
      h('button', { type: 'button', onclick: () => navigate(next(query) ?? home()), text: 'Continue' }));
    container.querySelector('.secret')?.focus();
    return;
  }
  navigate(next(query) ?? home());
}

/** The second step: the code, a recovery code, or enrolment. */
async function secondFactor(container, first, query) {
  const { challenge } = first;
  const parts = [];
  if (first.enrolment_required) {
    const enrolment = await api('POST', '/v1/auth/second-factor/enrol', { challenge });
    parts.push(
      h('p', { text: 'Your account needs a second factor. Add this secret to your authenticator app, then type the code it shows.' }),
      h('p', {}, 'Secret: ', h('code', { class: 'secret', id: 'totp-secret', text: enrolment.secret })),
      h('p', { class: 'hint' }, 'Or open: ', h('code', { class: 'uri', text: enrolment.provisioning_uri })),
    );
  }
  const code = h('input', {
    name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6}',
    required: true,
  });
  const recovery = h('input', { name: 'recovery_code', autocomplete: 'off' });
  const useRecovery = h('button', {
    type: 'button',
    class: 'link',
    text: 'Use a recovery code instead',
  });
  const recoveryField = field('Recovery code', recovery);
  recoveryField.hidden = true;
  useRecovery.addEventListener('click', () => {
    recoveryField.hidden = false;
    code.required = false;
    recovery.required = true;
    useRecovery.hidden = true;
    recovery.focus();
  });
  const step = form({ class: 'stack', 'aria-label': 'Second factor' }, [
    field('Authentication code', code, 'The six digits your authenticator app shows now.'),
    first.enrolment_required ? null : useRecovery,
    recoveryField,
    h('button', { type: 'submit', text: 'Verify' }),
  ], async () => {
    const body = recovery.value.trim()
      ? { challenge, recovery_code: recovery.value.trim() }
      : { challenge, code: code.value.trim() };
    const answer = await api('POST', '/v1/auth/second-factor', body, { headers: COOKIE });
    await signedIn(container, answer, query);
  });
  replace(container, ...parts, step);
  code.focus();
}

page({
  path: 'sign-in',
  title: 'Sign in',
  roles: null,
  render(container, _params, query) {
    if (session.user) {
      navigate(next(query) ?? home());
      return undefined;
    }
    const tenant = h('input', {
      name: 'tenant_id', required: true, autocomplete: 'organization', spellcheck: 'false',
      value: query.get('tenant') ?? localStorage.getItem(TENANT_MEMORY) ?? '',
    });
    const email = h('input', { name: 'email', type: 'email', required: true, autocomplete: 'username' });
    const password = h('input', {
      name: 'password', type: 'password', required: true, autocomplete: 'current-password',
    });
    const first = form({ class: 'stack', 'aria-label': 'Sign in' }, [
      field('Business ID', tenant, 'Starts with ten_; your owner can tell you.'),
      field('Email', email),
      field('Password', password),
      h('button', { type: 'submit', text: 'Sign in' }),
    ], async () => {
      const answer = await api('POST', '/v1/auth/sign-in', {
        tenant_id: tenant.value.trim(), email: email.value.trim(), password: password.value,
      }, { headers: COOKIE });
      // The business id is not a secret; remembering it saves typing.
      localStorage.setItem(TENANT_MEMORY, tenant.value.trim());
      if (answer.second_factor_required) await secondFactor(container, answer, query);
      else await signedIn(container, answer, query);
    });
    replace(container, first,
      h('p', { class: 'muted' }, 'Platform admin? ', h('a', { href: '#/admin-sign-in', text: 'Sign in as an admin' })));
    (tenant.value ? email : tenant).focus();
    return undefined;
  },
});

page({
  path: 'admin-sign-in',
  title: 'Platform admin sign-in',
  roles: null,
  render(container, _params, query) {
    const secretPath = h('input', {
      name: 'admin_path', type: 'password', required: true, autocomplete: 'off', spellcheck: 'false',
    });
    const email = h('input', { name: 'email', type: 'email', required: true, autocomplete: 'username' });
    const password = h('input', {
      name: 'password', type: 'password', required: true, autocomplete: 'current-password',
    });
    const first = form({ class: 'stack', 'aria-label': 'Platform admin sign-in' }, [
      field('Admin sign-in path', secretPath, 'The secret path segment your operator gave you; it is not stored.'),
      field('Email', email),
      field('Password', password),
      h('button', { type: 'submit', text: 'Sign in' }),
    ], async () => {
      const segment = encodeURIComponent(secretPath.value.trim());
      const answer = await api('POST', `/v1/auth/${segment}/sign-in`, {
        email: email.value.trim(), password: password.value,
      }, { headers: COOKIE });
      if (answer.second_factor_required) await secondFactor(container, answer, query);
      else await signedIn(container, answer, query);
    });
    replace(container, first);
    secretPath.focus();
    return undefined;
  },
});
