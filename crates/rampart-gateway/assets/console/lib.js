// The console's shared pieces: the REST client, element building, the
// page registry and router, and small formatting helpers. Every page
// module imports from here and registers itself with `page(...)`.
//
// Rules every page follows (the CSP enforces the first two):
// - No inline script or style, no `innerHTML` with data: elements are built
//   with `h(...)` and text is set as text, so nothing a customer, an agent
//   or the AI wrote is ever parsed as HTML.
// - No token anywhere a script can read it: the session is an HttpOnly
//   cookie; the CSRF token (useless without the cookie) lives in memory.
// - What a role may not do is not shown (`roles` on each page), and the
//   server refuses it anyway: a 403 shows as a message, never as a crash.

/** The signed-in user (`GET /v1/auth/me`), or null. */
export const session = { user: null, csrf: null };

/** Fires `session` when the signed-in user changes. */
export const events = new EventTarget();

/** Asks the edge who holds the session cookie; null when nobody does. */
export async function refreshSession() {
  try {
    const user = await api('GET', '/v1/auth/me');
    session.user = user;
    session.csrf = user.csrf_token ?? null;
  } catch {
    session.user = null;
    session.csrf = null;
  }
  events.dispatchEvent(new Event('session'));
  return session.user;
}

/** The first page a role lands on after signing in. */
export function home(user = session.user) {
  if (!user) return 'sign-in';
  return user.role === 'admin' ? 'tenants' : 'queue';
}

/** An error answer from the edge: its problem document (RFC 9457). */
export class Problem extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `the server answered ${status}`);
    this.status = status;
    this.type = problem?.type ?? 'about:blank';
    this.title = problem?.title ?? `HTTP ${status}`;
    this.detail = problem?.detail ?? '';
    this.problem = problem ?? {};
  }
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * One REST call with the session cookie. Sends `body` as JSON, adds the
 * CSRF token to unsafe methods, and answers the parsed JSON (or null for
 * an empty body). Throws a `Problem` for any status of 400 and above, and
 * sends the browser to the sign-in page when the session has ended.
 */
export async function api(method, path, body, { signal, headers = {} } = {}) {
  const init = {
    method,
    credentials: 'same-origin',
    headers: { Accept: 'application/json', ...headers },
    signal,
  };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (UNSAFE.has(method) && session.csrf) init.headers['X-CSRF-Token'] = session.csrf;
  const response = await fetch(path, init);
  const text = await response.text();
  let parsed = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = { detail: text };
    }
  }
  if (!response.ok) {
    const problem = new Problem(response.status, parsed);
    if (response.status === 401 && session.user && !path.startsWith('/v1/auth/')) {
      session.user = null;
      session.csrf = null;
      navigate('sign-in');
    }
    throw problem;
  }
  return parsed;
}

/**
 * Builds an element. `attrs` keys: `class`, `text`, `on<event>` (a
 * function), `dataset` (an object), booleans (`disabled: true`), and any
 * other attribute as a string. Children are nodes, strings (as text), or
 * arrays of them; null and false are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'text') node.textContent = String(value);
    else if (name === 'dataset') Object.assign(node.dataset, value);
    else if (name.startsWith('on') && typeof value === 'function') {
      node.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (value === true) node.setAttribute(name, '');
    else node.setAttribute(name, String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces everything in `node` with `children`. */
export function replace(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

let uid = 0;
/** A unique id for a label's `for`. */
export function newId(prefix = 'f') {
  uid += 1;
  return `${prefix}-${uid}`;
}

/**
 * A labelled form field: `<div class="field"><label>…</label><input>…`.
 * `input` is an element built with `h`; it gets an id when it has none.
 * `hint` is shown under it and linked with `aria-describedby`.
 */
export function field(label, input, hint) {
  if (!input.id) input.id = newId();
  const children = [h('label', { for: input.id, text: label }), input];
  if (hint) {
    const hintId = newId('hint');
    input.setAttribute('aria-describedby', hintId);
    children.push(h('p', { class: 'hint', id: hintId, text: hint }));
  }
  return h('div', { class: 'field' }, children);
}

/** An alert box for an error, with the problem's title and detail. */
export function errorBox(error) {
  const title = error instanceof Problem ? error.title : 'Something went wrong';
  const detail = error instanceof Problem ? error.detail : String(error?.message ?? error);
  return h('div', { class: 'error', role: 'alert' },
    h('strong', { text: title }), detail ? ` ${detail}` : null);
}

/** A box for a secret shown once (a new key, recovery codes). */
export function onceBox(title, secret, note = 'Copy it now: it is shown only once.') {
  return h('div', { class: 'once', role: 'status' },
    h('strong', { text: title }),
    h('p', { text: note }),
    h('code', { class: 'secret', text: secret, tabindex: '0' }));
}

/** Says `message` to screen readers (and shows it in the status line). */
export function announce(message) {
  const status = document.getElementById('console-status');
  if (status) status.textContent = message;
}

/** An RFC 3339 time as the reader's local date and time. */
export function when(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** A `<time>` element for an RFC 3339 time. */
export function timeEl(iso) {
  return h('time', { datetime: iso, text: when(iso) });
}

/** "in 5 min" / "12 min ago", relative to now. */
export function relative(iso, now = Date.now()) {
  const ms = new Date(iso).getTime() - now;
  if (Number.isNaN(ms)) return '';
  const minutes = Math.round(Math.abs(ms) / 60_000);
  const span = minutes < 60 ? `${minutes} min`
    : minutes < 48 * 60 ? `${Math.round(minutes / 60)} h` : `${Math.round(minutes / 1440)} d`;
  return ms >= 0 ? `in ${span}` : `${span} ago`;
}

// The page registry and the router. Pages live at `#/<path>`; a path
// segment starting with `:` in a pattern is a parameter.

const pages = [];

/**
 * Registers a page.
 * - `path`: the pattern, e.g. `queue` or `conversations/:id`.
 * - `title`: the heading and the document title.
 * - `roles`: who may see it (`owner`, `manager`, `agent`, `admin`), or
 *   `null` for a page shown signed out (sign-in).
 * - `nav`: the label in the navigation, or omitted for a page reached by a
 *   link only.
 * - `render(main, params, query)`: fills `main`; may answer a function
 *   that the router calls when the reader leaves the page (to close a
 *   stream, stop a timer).
 */
export function page(definition) {
  pages.push({ nav: null, ...definition, parts: definition.path.split('/') });
}

/** Whether the signed-in user may see `definition`. */
export function allowed(definition, user = session.user) {
  if (definition.roles === null) return true;
  return Boolean(user) && definition.roles.includes(user.role);
}

/** The pages in the order they registered. */
export function registeredPages() {
  return pages;
}

/** Goes to `#/<path>`. */
export function navigate(path) {
  const target = `#/${path}`;
  if (location.hash === target) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = target;
}

/** The page matching the current hash, with its parameters and query. */
export function resolve(hash = location.hash) {
  const raw = hash.replace(/^#\/?/, '');
  const [path, queryString = ''] = raw.split('?');
  const parts = path.split('/').filter(Boolean);
  for (const definition of pages) {
    if (definition.parts.length !== parts.length) continue;
    const params = {};
    const matches = definition.parts.every((part, index) => {
      if (part.startsWith(':')) {
        params[part.slice(1)] = decodeURIComponent(parts[index]);
        return true;
      }
      return part === parts[index];
    });
    if (matches) return { definition, params, query: new URLSearchParams(queryString) };
  }
  return null;
}

/** Runs `load` and shows a loading line, then what it built or its error. */
export async function loading(container, load) {
  replace(container, h('p', { class: 'muted', role: 'status', text: 'Loading…' }));
  try {
    const built = await load();
    replace(container, built);
  } catch (error) {
    replace(container, errorBox(error));
  }
}

/**
 * A form whose submit runs `action(form)`; the submit button is disabled
 * while it runs, and an error shows above the button. `action` may answer
 * a node to show in the result area.
 */
export function form(attrs, children, action) {
  const result = h('div', { class: 'result', 'aria-live': 'polite' });
  const node = h('form', { ...attrs, novalidate: false }, children, result);
  node.addEventListener('submit', async (event) => {
    event.preventDefault();
    const buttons = node.querySelectorAll('button');
    buttons.forEach((button) => { button.disabled = true; });
    replace(result);
    try {
      const shown = await action(node);
      if (shown) replace(result, shown);
    } catch (error) {
      replace(result, errorBox(error));
    } finally {
      buttons.forEach((button) => { button.disabled = false; });
    }
  });
  return node;
}

/** A button that runs `action`, disabled while it runs; errors go to `status`. */
export function actionButton(label, attrs, status, action) {
  const button = h('button', { type: 'button', ...attrs, text: label });
  button.addEventListener('click', async () => {
    button.disabled = true;
    replace(status);
    try {
      await action();
    } catch (error) {
      replace(status, errorBox(error));
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

/** A table from column headings and rows of cells (nodes or strings). */
export function table(caption, headings, rows, empty = 'Nothing yet.') {
  if (rows.length === 0) return h('p', { class: 'muted', text: empty });
  return h('table', {},
    h('caption', { text: caption }),
    h('thead', {}, h('tr', {}, headings.map((heading) => h('th', { scope: 'col', text: heading })))),
    h('tbody', {}, rows.map((cells) => h('tr', {}, cells.map((cell) => h('td', {}, cell))))));
}
