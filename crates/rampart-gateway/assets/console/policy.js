// The escalation policy and the business's settings (`#/policy`, owners
// and managers, as the API allows both): response targets and contacts as
// a form, the rest of the policy (chain, guardrails, detection, webhook)
// as JSON; the business settings (time zone, opening hours, emergency
// line, notes); and, for the owner only, the connected channels. Each
// write names the version it started from (`If-Match`), so two people
// editing at once cannot overwrite each other; the server's problem
// detail (which names the field) is shown on refusal.

import {
  announce, api, errorBox, field, form, h, loading, newId, page, replace, session, table, timeEl,
} from './lib.js';

const TARGETS = [
  ['critical_secs', 'Critical', 300],
  ['high_secs', 'High', 900],
  ['medium_secs', 'Medium', 3600],
  ['low_secs', 'Low', 14400],
];
const CONTACT_KINDS = ['general', 'security', 'billing', 'technical_incident'];
const WEEKDAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];
const CHANNEL_KINDS = ['twilio', 'sms', 'phone', 'email', 'web', 'widget'];
const CONSENT_RULES = [['all_party', 'Every party must agree (the caller presses 1)'], ['one_party', 'One party suffices (the business)']];

/** A refusal the page found itself, shown like the server's. */
class Invalid extends Error {}

function invalid(message, input) {
  input?.focus();
  throw new Invalid(message);
}

function problemBox(error) {
  if (error instanceof Invalid) {
    return h('div', { class: 'error', role: 'alert' }, h('strong', { text: 'Check the form.' }), ` ${error.message}`);
  }
  return errorBox(error);
}

/** GET with the version from the ETag header (the body carries it too). */
async function versioned(path) {
  return api('GET', path);
}

/** PUT with If-Match: the version this edit started from. */
function putVersioned(path, body, version) {
  return api('PUT', path, body, { headers: { 'If-Match': `"${version}"` } });
}

function versionLine(view, noun) {
  if (!view.version) return h('p', { class: 'muted', text: `The built-in ${noun} (version 0): nothing written yet.` });
  return h('p', { class: 'muted' }, `Version ${view.version}, written `, timeEl(view.updated_at ?? view.created_at),
    ` by ${view.updated_by ?? view.created_by ?? 'someone'}.`);
}

function lines(text) {
  return text.split('\n').map((line) => line.trim()).filter(Boolean);
}

// The escalation policy.

function contactRow(contact, remove) {
  const id = newId('contact');
  const name = h('input', { value: contact.name ?? '', 'aria-label': 'Contact name', required: true, maxlength: '100' });
  const kind = h('select', { 'aria-label': 'Contact kind' },
    [...new Set([...CONTACT_KINDS, contact.kind ?? 'general'])]
      .map((k) => h('option', { value: k, selected: k === (contact.kind ?? 'general'), text: k })));
  const email = h('input', { type: 'email', value: contact.email ?? '', 'aria-label': 'Contact email' });
  const phone = h('input', { type: 'tel', value: contact.phone ?? '', 'aria-label': 'Contact phone (E.164)', placeholder: '+14155550123' });
  const row = h('tr', { id },
    h('td', {}, name), h('td', {}, kind), h('td', {}, email), h('td', {}, phone),
    h('td', {}, h('button', { type: 'button', class: 'secondary', text: 'Remove',
      onclick: () => remove(row) })));
  row.read = () => {
    const value = { name: name.value.trim(), kind: kind.value };
    if (!value.name) invalid('Every contact needs a name.', name);
    if (email.value.trim()) value.email = email.value.trim();
    if (phone.value.trim()) {
      if (!/^\+[0-9]{8,15}$/.test(phone.value.trim())) {
        invalid(`${value.name}: a phone is + and 8 to 15 digits.`, phone);
      }
      value.phone = phone.value.trim();
    }
    if (!value.email && !value.phone) invalid(`${value.name}: give an email or a phone.`, email);
    return value;
  };
  return row;
}

async function policySection(container) {
  const view = await versioned('/v1/escalation/policy');
  const policy = view.policy ?? {};
  const targets = policy.response_targets ?? {};
  const targetInputs = TARGETS.map(([key, label, fallback]) => {
    const input = h('input', {
      type: 'number', min: '0.1', max: '10080', step: 'any', required: true, name: key,
      value: String((targets[key] ?? fallback) / 60),
    });
    return { key, label, input };
  });
  const body = h('tbody', {});
  const remove = (row) => {
    row.remove();
    announce('Contact removed; save to keep the change.');
  };
  for (const contact of policy.contacts ?? []) body.append(contactRow(contact, remove));
  const addContact = h('button', { type: 'button', class: 'secondary', text: 'Add a contact',
    onclick: () => {
      const row = contactRow({}, remove);
      body.append(row);
      row.querySelector('input').focus();
    } });
  const rest = { ...policy };
  delete rest.response_targets;
  delete rest.contacts;
  const advanced = h('textarea', { name: 'policy_rest', rows: '16', spellcheck: 'false', class: 'json',
    text: JSON.stringify(rest, null, 2) });

  const result = h('div', { 'aria-live': 'polite' });
  const node = form({ class: 'wide', 'aria-label': 'Escalation policy' }, [
    versionLine(view, 'policy'),
    h('fieldset', {}, h('legend', { text: 'Response targets: how soon a person answers a handoff, in minutes' }),
      h('div', { class: 'grid' }, targetInputs.map(({ label, input }) => field(`${label} severity`, input)))),
    h('h3', { text: 'Contacts' }),
    h('p', { class: 'hint', text: 'The people the escalation chain can notify, by name. Each needs an email or an E.164 phone.' }),
    h('table', {}, h('caption', { text: 'Escalation contacts' }),
      h('thead', {}, h('tr', {}, ['Name', 'Kind', 'Email', 'Phone', 'Action']
        .map((heading) => h('th', { scope: 'col', text: heading })))),
      body),
    h('div', { class: 'actions' }, addContact),
    field('The rest of the policy (JSON): chain, guardrails, severities, detection, webhook', advanced,
      'The webhook secret is never shown; leave it out to keep the current one.'),
    h('div', { class: 'actions' }, h('button', { type: 'submit', text: 'Save policy' })),
    result,
  ], async () => {
    replace(result);
    try {
      let other;
      try {
        other = JSON.parse(advanced.value);
      } catch (error) {
        invalid(`The JSON does not parse: ${error.message}`, advanced);
      }
      if (!other || typeof other !== 'object' || Array.isArray(other)) invalid('The JSON must be an object.', advanced);
      const response_targets = {};
      for (const { key, label, input } of targetInputs) {
        const minutes = Number(input.value);
        if (!Number.isFinite(minutes) || minutes <= 0 || minutes > 10080) {
          invalid(`${label}: between a second and 7 days (10080 minutes).`, input);
        }
        response_targets[key] = Math.max(1, Math.round(minutes * 60));
      }
      const contacts = [...body.children].map((row) => row.read());
      const saved = await putVersioned('/v1/escalation/policy',
        { policy: { ...other, response_targets, contacts } }, view.version);
      announce(`Policy saved as version ${saved.version}.`);
      await loading(container, () => policySection(container));
      container.prepend(h('p', { class: 'ok', role: 'status', text: `Saved as version ${saved.version}.` }));
    } catch (error) {
      replace(result, problemBox(error));
    }
  });
  return node;
}

// The business settings.

function hoursText(spans) {
  return (spans ?? []).map((span) => `${span.open}-${span.close}`).join(', ');
}

function parseHours(text, day, input) {
  if (!text.trim()) return [];
  return text.split(',').map((part) => {
    const match = part.trim().match(/^([0-2][0-9]:[0-5][0-9])\s*-\s*([0-2][0-9]:[0-5][0-9])$/);
    if (!match) invalid(`${day}: write hours as 09:00-17:00, separated by commas.`, input);
    return { open: match[1], close: match[2] };
  });
}

async function settingsSection(container) {
  const view = await versioned('/v1/owner/settings');
  const settings = view.settings ?? {};
  const zone = h('input', { name: 'time_zone', value: settings.time_zone ?? '', required: true, spellcheck: 'false' });
  const hours = WEEKDAYS.map((day) => ({
    day,
    input: h('input', { name: `hours_${day}`, value: hoursText(settings.opening_hours?.[day]), placeholder: 'closed' }),
  }));
  const phone = h('input', { type: 'tel', name: 'after_hours_phone', value: settings.emergency?.after_hours_phone ?? '' });
  const keywords = h('textarea', { name: 'emergency_keywords', rows: '3',
    text: (settings.emergency?.keywords ?? []).join('\n') });
  const notes = h('textarea', { name: 'pricing_notes', rows: '4', maxlength: '4000', text: settings.pricing_notes ?? '' });
  const templates = h('textarea', { name: 'sms_templates', rows: '6', spellcheck: 'false', class: 'json',
    text: JSON.stringify(settings.sms_templates ?? {}, null, 2) });
  const transcripts = h('input', { type: 'checkbox', id: newId('transcripts'), checked: Boolean(settings.transcripts_enabled) });
  const telephony = settings.telephony ?? {};
  const recording = h('input', { type: 'checkbox', id: newId('recording'), checked: Boolean(telephony.recording_enabled) });
  const consent = h('select', { name: 'consent_rule' }, CONSENT_RULES.map(([value, text]) =>
    h('option', { value, text, selected: (telephony.consent_rule ?? 'all_party') === value })));
  const helpText = h('input', { name: 'help_text', value: telephony.help_text ?? '', maxlength: '320' });
  const result = h('div', { 'aria-live': 'polite' });
  return form({ class: 'wide', 'aria-label': 'Business settings' }, [
    versionLine(view, 'settings'),
    field('Time zone', zone, 'An IANA name, such as Europe/Rome.'),
    h('fieldset', {}, h('legend', { text: 'Opening hours (empty: closed)' }),
      h('div', { class: 'grid' }, hours.map(({ day, input }) =>
        field(day[0].toUpperCase() + day.slice(1), input)))),
    field('After-hours emergency phone', phone, 'E.164, such as +14155550123; empty for none.'),
    field('Emergency keywords', keywords, 'One per line (at most 30).'),
    field('Pricing notes', notes),
    field('SMS templates (JSON: name to text)', templates),
    h('div', { class: 'check' }, transcripts, h('label', { for: transcripts.id, text: 'Keep conversation transcripts' })),
    h('fieldset', {}, h('legend', { text: 'Calls and texts' }),
      h('div', { class: 'check' }, recording, h('label', { for: recording.id, text: 'Record calls (announced; stored only with consent)' })),
      field('Recording consent rule', consent, 'The rule of the business\'s jurisdiction.'),
      field('Reply to HELP', helpText, 'Empty: the default, which says how to stop and restart messages.')),
    h('div', { class: 'actions' }, h('button', { type: 'submit', text: 'Save settings' })),
    result,
  ], async () => {
    replace(result);
    try {
      const opening_hours = {};
      for (const { day, input } of hours) opening_hours[day] = parseHours(input.value, day, input);
      let sms_templates;
      try {
        sms_templates = JSON.parse(templates.value || '{}');
      } catch (error) {
        invalid(`SMS templates: the JSON does not parse: ${error.message}`, templates);
      }
      const keywordList = lines(keywords.value);
      if (keywordList.length > 30) invalid('At most 30 emergency keywords.', keywords);
      const next = {
        ...settings,
        time_zone: zone.value.trim(),
        opening_hours,
        emergency: { ...(settings.emergency ?? {}), keywords: keywordList, after_hours_phone: phone.value.trim() || null },
        pricing_notes: notes.value,
        sms_templates,
        transcripts_enabled: transcripts.checked,
        telephony: {
          ...telephony,
          recording_enabled: recording.checked,
          consent_rule: consent.value,
        },
      };
      if (helpText.value.trim()) next.telephony.help_text = helpText.value.trim();
      else delete next.telephony.help_text;
      const saved = await putVersioned('/v1/owner/settings', { settings: next }, view.version);
      announce(`Settings saved as version ${saved.version}.`);
      await loading(container, () => settingsSection(container));
      container.prepend(h('p', { class: 'ok', role: 'status', text: `Saved as version ${saved.version}.` }));
    } catch (error) {
      replace(result, problemBox(error));
    }
  });
}

// The channels (owner only).

async function channelsSection(container) {
  const { channels } = await api('GET', '/v1/owner/channels');
  const status = h('div', { 'aria-live': 'polite' });
  const reload = () => loading(container, () => channelsSection(container));
  const rows = channels.map((channel) => [
    channel.display_name, channel.phone_number ? `${channel.kind} ${channel.phone_number}` : channel.kind,
    channel.credentials_set ? channel.credential_names.join(', ') : 'none',
    timeEl(channel.created_at),
    h('button', { type: 'button', class: 'danger', text: 'Disconnect',
      'aria-label': `Disconnect ${channel.display_name}`,
      onclick: async (event) => {
        const button = event.currentTarget;
        if (button.dataset.armed !== 'yes') {
          button.dataset.armed = 'yes';
          button.textContent = 'Confirm disconnect';
          button.setAttribute('aria-label', `Confirm disconnect of ${channel.display_name}, destroying its credentials`);
          return;
        }
        button.disabled = true;
        try {
          await api('DELETE', `/v1/owner/channels/${encodeURIComponent(channel.id)}`);
          announce(`${channel.display_name} disconnected.`);
          await reload();
        } catch (error) {
          button.disabled = false;
          replace(status, errorBox(error));
        }
      } }),
  ]);
  const kind = h('select', { name: 'kind' }, CHANNEL_KINDS.map((k) => h('option', { value: k, text: k })));
  const name = h('input', { name: 'display_name', required: true, maxlength: '100' });
  const number = h('input', { type: 'tel', name: 'phone_number', spellcheck: 'false', placeholder: '+14155550123' });
  const secrets = h('textarea', { name: 'credentials', rows: '3', spellcheck: 'false', autocomplete: 'off' });
  return [
    status,
    table('Connected channels', ['Name', 'Kind', 'Stored credentials', 'Connected', 'Action'], rows,
      'No channel connected.'),
    h('h3', { text: 'Connect a channel' }),
    form({ class: 'stack', 'aria-label': 'Connect a channel' }, [
      field('Kind', kind),
      field('Display name', name),
      field('Phone number', number, 'Twilio numbers only, E.164. Point the number\'s webhooks at /v1/telephony/twilio/sms and /voice.'),
      field('Credentials', secrets, 'Optional, one name=value a line (account_sid=…). Stored encrypted and never shown again.'),
      h('button', { type: 'submit', text: 'Connect channel' }),
    ], async () => {
      const body = { kind: kind.value, display_name: name.value.trim() };
      if (number.value.trim()) body.phone_number = number.value.trim();
      const pairs = lines(secrets.value);
      if (pairs.length) {
        body.credentials = {};
        for (const pair of pairs) {
          const at = pair.indexOf('=');
          if (at < 1) invalid('Credentials: write name=value, one a line.', secrets);
          body.credentials[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
        }
      }
      await api('POST', '/v1/owner/channels', body);
      announce(`${body.display_name} connected.`);
      await reload();
      return null;
    }),
  ];
}

page({
  path: 'policy',
  title: 'Escalation policy and settings',
  roles: ['owner', 'manager'],
  nav: 'Policy',
  render(container) {
    const policy = h('div', {});
    const settings = h('div', {});
    const channels = h('div', {});
    const owner = session.user?.role === 'owner';
    replace(container,
      h('h2', { text: 'Escalation policy' }), policy,
      h('h2', { text: 'Business settings' }), settings,
      owner ? [h('h2', { text: 'Channels' }), channels] : null);
    loading(policy, () => policySection(policy));
    loading(settings, () => settingsSection(settings));
    if (owner) loading(channels, () => channelsSection(channels));
    return undefined;
  },
});
