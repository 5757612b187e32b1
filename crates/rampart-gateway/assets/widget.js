// Rampart's website widget: a chat launcher and panel a business embeds
// with one tag:
//
//   <script src="https://<edge>/widget.js" data-key="rk_pub_..." async></script>
//
// What it does: mounts a <rampart-chat> element whose shadow root holds the
// launcher, the panel and their styles; starts a conversation on the
// visitor's first message (POST /v1/widget/conversations), posts the next
// ones, and polls for replies (GET .../messages?after=), so an agent's reply
// that comes minutes later shows too. When the conversation goes to a
// person it says so, and when one will have answered at the latest (the
// business's response target, `expected_response_by` in the answer that
// handed the conversation over).
//
// Why it is built this way:
// - A classic script, not a module: `document.currentScript` (where the key
//   and the edge's address come from) exists only for classic scripts.
// - Styles go in a constructed stylesheet adopted by the shadow root. A
//   host page's CSP without 'unsafe-inline' blocks <style> elements and
//   style attributes, but not stylesheets built through the CSSOM; and the
//   shadow root keeps the page's styles out and ours in.
// - The shadow root is open: it isolates styles, not secrets (a script of
//   the host page runs in the same window and could read our fetches
//   anyway), and an open root lets assistive tools and tests reach it.
// - Text is only ever set with textContent: nothing the visitor, the AI
//   or an agent writes is parsed as HTML.
// - The visitor token lives in this script's memory only: never in
//   localStorage or a cookie, so nothing of the conversation outlives the
//   page or reaches another script through storage.
'use strict';

(() => {
  const script = document.currentScript;
  if (!script || !script.dataset.key) {
    console.warn('rampart widget: the script tag needs data-key="rk_pub_..."');
    return;
  }
  const key = script.dataset.key;
  const edge = new URL(script.src).origin;
  const POLL_MS = 2000;

  const CSS = `
    :host { all: initial; position: fixed; right: 20px; bottom: 20px; z-index: 2147483000;
      font: 16px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1a1a1a; }
    * { box-sizing: border-box; font: inherit; }
    button { cursor: pointer; border: 0; border-radius: 8px; padding: 10px 16px;
      background: #1d4ed8; color: #ffffff; font-weight: 600; }
    button:hover { background: #1e40af; }
    button:disabled { background: #4b5563; cursor: not-allowed; }
    :focus-visible { outline: 3px solid #b45309; outline-offset: 2px; }
    .launcher { border-radius: 24px; box-shadow: 0 2px 8px rgb(0 0 0 / 30%); }
    .panel { position: absolute; right: 0; bottom: 56px; width: min(360px, calc(100vw - 40px));
      background: #ffffff; border: 1px solid #6b7280; border-radius: 12px;
      box-shadow: 0 4px 24px rgb(0 0 0 / 25%); display: flex; flex-direction: column; }
    [hidden] { display: none !important; }
    header { display: flex; justify-content: space-between; align-items: center;
      padding: 10px 12px; border-bottom: 1px solid #d1d5db; }
    h2 { margin: 0; font-size: 1.05rem; font-weight: 700; }
    .close { background: transparent; color: #1a1a1a; padding: 4px 10px; }
    .close:hover { background: #e5e7eb; }
    .log { height: 260px; overflow-y: auto; padding: 12px; display: flex;
      flex-direction: column; gap: 8px; }
    .message { max-width: 85%; padding: 8px 10px; border-radius: 10px; white-space: pre-wrap;
      overflow-wrap: anywhere; }
    .customer { align-self: flex-end; background: #1d4ed8; color: #ffffff; }
    .ai, .agent { align-self: flex-start; background: #f3f4f6; color: #1a1a1a; }
    .who { display: block; font-size: 0.8rem; font-weight: 700; }
    .status { margin: 0; padding: 8px 12px; font-size: 0.9rem; background: #fef3c7; color: #1a1a1a; }
    .status:empty { display: none; }
    form { display: flex; gap: 8px; padding: 12px; border-top: 1px solid #d1d5db; }
    label { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); }
    textarea { flex: 1; resize: none; min-height: 44px; padding: 8px; border: 1px solid #6b7280;
      border-radius: 8px; color: #1a1a1a; background: #ffffff; }
    .unavailable { padding: 16px 12px; margin: 0; }
  `;

  // Builds an element: el('p', {class: 'x'}, 'text', child, ...).
  const el = (tag, attributes = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    for (const child of children) {
      node.append(typeof child === 'string' ? document.createTextNode(child) : child);
    }
    return node;
  };

  const host = document.createElement('rampart-chat');
  const root = host.attachShadow({ mode: 'open' });
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(CSS);
  root.adoptedStyleSheets = [sheet];

  const launcher = el('button', {
    class: 'launcher', type: 'button', 'aria-expanded': 'false', 'aria-controls': 'rampart-panel',
  }, 'Chat with us');
  const close = el('button', { class: 'close', type: 'button', 'aria-label': 'Close the chat' }, '×');
  const log = el('div', { class: 'log', role: 'log', 'aria-live': 'polite', 'aria-label': 'Conversation' });
  const status = el('p', { class: 'status', role: 'status' });
  const input = el('textarea', { id: 'rampart-text', rows: '2', maxlength: '2000', required: '' });
  const send = el('button', { type: 'submit' }, 'Send');
  const form = el('form', { 'aria-label': 'Write to us' },
    el('label', { for: 'rampart-text' }, 'Your message'), input, send);
  const panel = el('section', {
    class: 'panel', id: 'rampart-panel', role: 'dialog', 'aria-labelledby': 'rampart-title', hidden: '',
  }, el('header', {}, el('h2', { id: 'rampart-title' }, 'Chat with us'), close), log, status, form);
  root.append(launcher, panel);

  let conversation = null; // { id, token }
  let lastMessageId = '';
  let shownIds = new Set();
  let polling = null;
  let checked = false;
  // How soon a person will answer, in words, fixed when an answer gave the
  // handoff's due time (so the status line is not re-announced each minute).
  let expectedWhen = '';

  const headers = (extra = {}) => ({ 'X-Widget-Key': key, ...extra });

  const show = (message) => {
    if (shownIds.has(message.message_id)) return;
    shownIds.add(message.message_id);
    const who = { customer: 'You', ai: 'Assistant', agent: 'Support team' }[message.author] || '';
    log.append(el('p', { class: `message ${message.author}` }, el('span', { class: 'who' }, who), message.text));
    log.scrollTop = log.scrollHeight;
  };

  // "within about 15 minutes" for a near time, "by 14:30" for a later one.
  const expectedText = (iso) => {
    const due = new Date(iso);
    const minutes = Math.ceil((due.getTime() - Date.now()) / 60_000);
    if (Number.isNaN(minutes) || minutes < 1) return ' as soon as possible';
    if (minutes <= 90) return ` within about ${minutes} minute${minutes === 1 ? '' : 's'}`;
    return ` by ${due.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}`;
  };

  const showStatus = (value, expected) => {
    if (expected) expectedWhen = expectedText(expected);
    if (value === 'handed_off') {
      const text = `A person will answer${expectedWhen}. You can leave this page open.`;
      // Said again only when it changes, so a screen reader is not repeated to.
      if (status.textContent !== text) status.textContent = text;
    } else if (value === 'assigned') {
      status.textContent = 'A person from the support team has joined.';
    } else if (value === 'resolved' || value === 'closed') {
      status.textContent = 'This conversation has ended.';
    } else {
      status.textContent = '';
    }
  };

  const unavailable = () => {
    clearInterval(polling);
    log.replaceChildren();
    status.textContent = '';
    form.hidden = true;
    panel.insertBefore(el('p', { class: 'unavailable', role: 'status' },
      'Chat is unavailable on this page.'), form);
    host.dataset.state = 'unavailable';
  };

  // The edge refuses this origin (CORS) or the key: fetch throws a
  // TypeError, or answers 401/403.
  const refused = (error, response) =>
    error instanceof TypeError || (response && (response.status === 401 || response.status === 403));

  // Asks the edge whether this page's origin may use the key; the browser
  // refuses the preflight of an origin the key does not list.
  const checkAvailable = async () => {
    if (checked) return;
    checked = true;
    try {
      const response = await fetch(`${edge}/v1/widget/availability`, {
        headers: headers(), credentials: 'omit', referrerPolicy: 'no-referrer',
      });
      if (refused(null, response)) unavailable();
      else host.dataset.state = 'ready';
    } catch (error) {
      if (refused(error)) unavailable();
    }
  };

  const poll = async () => {
    if (!conversation) return;
    const after = lastMessageId ? `?after=${encodeURIComponent(lastMessageId)}` : '';
    try {
      const response = await fetch(`${edge}/v1/widget/conversations/${conversation.id}/messages${after}`, {
        headers: headers({ 'X-Visitor-Token': conversation.token }), credentials: 'omit', referrerPolicy: 'no-referrer',
      });
      if (!response.ok) return;
      const body = await response.json();
      for (const message of body.messages) {
        show(message);
        lastMessageId = message.message_id;
      }
      showStatus(body.status);
    } catch {
      // A network blip: the next poll tries again.
    }
  };

  const post = async (text) => {
    const json = { 'Content-Type': 'application/json' };
    if (!conversation) {
      const response = await fetch(`${edge}/v1/widget/conversations`, {
        method: 'POST', headers: headers(json), credentials: 'omit', referrerPolicy: 'no-referrer',
        body: JSON.stringify({ text }),
      });
      if (!response.ok) return { response };
      const body = await response.json();
      conversation = { id: body.conversation_id, token: body.visitor_token };
      polling = setInterval(poll, POLL_MS);
      return { response, status: body.status, expected: body.expected_response_by };
    }
    const response = await fetch(`${edge}/v1/widget/conversations/${conversation.id}/messages`, {
      method: 'POST', headers: headers({ ...json, 'X-Visitor-Token': conversation.token }),
      credentials: 'omit', referrerPolicy: 'no-referrer', body: JSON.stringify({ text }),
    });
    if (!response.ok) return { response };
    const body = await response.json();
    return { response, status: body.status, expected: body.expected_response_by };
  };

  const open = () => {
    panel.hidden = false;
    launcher.setAttribute('aria-expanded', 'true');
    checkAvailable();
    (form.hidden ? close : input).focus();
  };
  const shut = () => {
    panel.hidden = true;
    launcher.setAttribute('aria-expanded', 'false');
    launcher.focus();
  };

  launcher.addEventListener('click', () => (panel.hidden ? open() : shut()));
  close.addEventListener('click', shut);
  panel.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') shut();
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    send.disabled = true;
    try {
      const answer = await post(text);
      if (!answer.response.ok) {
        if (refused(null, answer.response)) unavailable();
        else status.textContent = 'The message could not be sent. Please try again.';
        return;
      }
      input.value = '';
      showStatus(answer.status, answer.expected);
      await poll();
    } catch (error) {
      if (refused(error)) unavailable();
    } finally {
      send.disabled = false;
    }
  });

  const mount = () => document.body.append(host);
  if (document.body) mount();
  else document.addEventListener('DOMContentLoaded', mount);
})();
