// The signed-in person's own account (`#/account`, every role): their
// sessions (end one, end every other), their password, and the
// authenticator (enrol: the secret is shown, the first code confirms it,
// and the recovery codes are shown once).

import {
  announce, api, errorBox, field, form, h, loading, onceBox, page, refreshSession,
  replace, session, table, timeEl,
} from './lib.js';

/** The sessions table, with an "End" button on every session but this one. */
async function sessionsSection(container) {
  const { sessions } = await api('GET', '/v1/auth/sessions');
  const status = h('div', { 'aria-live': 'polite' });
  const reload = () => loading(container, () => sessionsSection(container));
  const others = sessions.filter((s) => !s.current);
  const rows = sessions.map((s) => [
    s.current ? h('strong', { text: 'This session' }) : h('code', { text: s.session_id }),
    timeEl(s.created_at),
    timeEl(s.last_seen_at),
    timeEl(s.expires_at),
    s.client_address || '—',
    s.current ? '' : h('button', {
      type: 'button',
      class: 'secondary',
      'aria-label': `End the session started ${new Date(s.created_at).toLocaleString()}`,
      text: 'End',
      onclick: async (event) => {
        event.target.disabled = true;
        try {
          await api('DELETE', `/v1/auth/sessions/${encodeURIComponent(s.session_id)}`);
          announce('The session has ended.');
          await reload();
        } catch (error) {
          event.target.disabled = false;
          replace(status, errorBox(error));
        }
      },
    }),
  ]);
  const endOthers = h('button', {
    type: 'button',
    class: 'danger',
    text: 'End every other session',
    disabled: others.length === 0,
    onclick: async () => {
      endOthers.disabled = true;
      try {
        // One by one, so this session stays: revoke-all would end it too.
        for (const other of others) {
          await api('DELETE', `/v1/auth/sessions/${encodeURIComponent(other.session_id)}`);
        }
        announce(`${others.length} other session(s) ended.`);
        await reload();
      } catch (error) {
        endOthers.disabled = false;
        replace(status, errorBox(error));
      }
    },
  });
  return [
    table('Your live sessions',
      ['Session', 'Started', 'Last seen', 'Ends', 'From', 'Action'], rows, 'No live session.'),
    h('div', { class: 'actions' }, endOthers),
    status,
  ];
}

function passwordSection() {
  const current = h('input', {
    name: 'current_password', type: 'password', required: true, autocomplete: 'current-password',
  });
  const next = h('input', {
    name: 'new_password', type: 'password', required: true, autocomplete: 'new-password',
    minlength: '8', maxlength: '256',
  });
  const again = h('input', {
    name: 'new_password_again', type: 'password', required: true, autocomplete: 'new-password',
  });
  return form({ class: 'stack', 'aria-labelledby': 'password-heading' }, [
    field('Current password', current),
    field('New password', next,
      'At least 15 characters (8 once you have an authenticator), not easy to guess, not built on your email.'),
    field('New password again', again),
    h('button', { type: 'submit', text: 'Change password' }),
  ], async (node) => {
    if (next.value !== again.value) {
      again.focus();
      return h('div', { class: 'error', role: 'alert', text: 'The two new passwords differ.' });
    }
    const answer = await api('POST', '/v1/auth/password', {
      current_password: current.value, new_password: next.value,
    });
    node.reset();
    return h('p', { class: 'ok', role: 'status',
      text: `Password changed. ${answer.revoked_sessions} other session(s) ended.` });
  });
}

/** The authenticator: set up, or a button that starts enrolment. */
function secondFactorSection(container) {
  if (session.user?.second_factor) {
    return h('p', { class: 'ok', text: 'Your authenticator is set up: signing in asks for its code.' });
  }
  const start = h('button', {
    type: 'button',
    text: 'Set up an authenticator',
    onclick: async () => {
      start.disabled = true;
      try {
        const enrolment = await api('POST', '/v1/auth/totp/enrol');
        replace(container, enrolForm(container, enrolment));
        container.querySelector('input')?.focus();
      } catch (error) {
        start.disabled = false;
        replace(container, errorBox(error), start);
      }
    },
  });
  return [
    h('p', { text: 'No authenticator yet. With one, signing in also asks for a six-digit code from an app on your phone.' }),
    start,
  ];
}

function enrolForm(container, enrolment) {
  const code = h('input', {
    name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6}',
    required: true, maxlength: '6',
  });
  return [
    h('p', { text: 'Add this secret to your authenticator app, then type the code it shows.' }),
    h('p', {}, 'Secret: ', h('code', { class: 'secret', id: 'totp-secret', text: enrolment.secret })),
    h('p', { class: 'hint' }, 'Or open: ', h('code', { class: 'uri', text: enrolment.provisioning_uri })),
    form({ class: 'stack', 'aria-label': 'Confirm the authenticator' }, [
      field('Authentication code', code, 'The six digits your authenticator app shows now.'),
      h('button', { type: 'submit', text: 'Confirm' }),
    ], async () => {
      if (!/^[0-9]{6}$/.test(code.value.trim())) {
        code.focus();
        return h('div', { class: 'error', role: 'alert', text: 'Type the six digits the app shows.' });
      }
      const answer = await api('POST', '/v1/auth/totp/confirm', { code: code.value.trim() });
      await refreshSession();
      replace(container,
        h('p', { class: 'ok', text: 'Your authenticator is set up.' }),
        onceBox('Your recovery codes', answer.recovery_codes.join('\n'),
          'Keep them somewhere safe: each signs you in once if you lose your authenticator. They are shown only once.'));
      container.querySelector('.secret')?.focus();
      return null;
    }),
  ];
}

page({
  path: 'account',
  title: 'Your account',
  roles: ['owner', 'manager', 'agent', 'admin'],
  nav: 'Account',
  render(container) {
    const user = session.user;
    const sessions = h('div', {});
    const factor = h('div', {});
    replace(container,
      h('p', {}, 'Signed in as ', h('strong', { text: user.email }), ` (${user.role}).`),
      h('h2', { id: 'sessions-heading', text: 'Sessions' }),
      sessions,
      h('h2', { id: 'factor-heading', text: 'Authenticator (second factor)' }),
      factor,
      h('h2', { id: 'password-heading', text: 'Password' }),
      passwordSection());
    replace(factor, secondFactorSection(factor));
    loading(sessions, () => sessionsSection(sessions));
    return undefined;
  },
});
