// The handoff queue (`#/queue`): the open and claimed handoffs, most
// severe first, then soonest due, kept current by the server's event
// stream (`GET /v1/handoffs/stream`), so a new handoff appears without a
// reload and is announced to screen readers. What is overdue carries a
// badge with words, not a colour alone.
//
// The stream sends a `queue` event with the whole list at once and on
// every change, and an `end` event when it stops: `reconnect` after five
// minutes (we open a new one), or `refused` (the session ended, the role
// changed): we show why and try again a little later, which sends a
// signed-out reader to the sign-in page through the REST call's 401.

import {
  announce, api, errorBox, h, page, relative, replace, session, timeEl,
} from './lib.js';

const SEVERITY_RANK = { critical: 0, high: 1, medium: 2, low: 3 };
const RETRY_MS = 5_000;
const REDRAW_MS = 30_000;

/** Whether `handoff` is past its due time now, as the server said or since. */
export function isOverdue(handoff, now = Date.now()) {
  if (handoff.overdue) return true;
  return handoff.status === 'open' && new Date(handoff.due_at).getTime() < now;
}

/** Most severe first, then soonest due. */
export function sortQueue(handoffs) {
  return [...handoffs].sort((a, b) => {
    const rank = (SEVERITY_RANK[a.severity] ?? 9) - (SEVERITY_RANK[b.severity] ?? 9);
    if (rank !== 0) return rank;
    return new Date(a.due_at).getTime() - new Date(b.due_at).getTime();
  });
}

/** A severity as a badge: the word is the information, the colour a help. */
export function severityBadge(severity) {
  const tone = { critical: 'danger', high: 'danger', medium: 'warn', low: 'ok' }[severity] ?? '';
  return h('span', { class: `badge severity ${tone}`, text: severity });
}

/** The due time with an "Overdue" badge when it has passed. */
export function dueCell(handoff) {
  const overdue = isOverdue(handoff);
  return h('span', { class: overdue ? 'due overdue' : 'due' },
    overdue ? h('span', { class: 'badge danger', text: 'Overdue' }) : null,
    overdue ? ' ' : null,
    timeEl(handoff.due_at),
    h('span', { class: 'muted', text: ` (${relative(handoff.due_at)})` }));
}

/** Who has the handoff, in words. */
export function holder(handoff) {
  if (!handoff.assignee) return 'Nobody yet';
  return handoff.assignee === session.user?.user_id ? 'You' : handoff.assignee;
}

function describe(handoff) {
  const why = handoff.reasons.length ? handoff.reasons.join(', ') : handoff.intents.join(', ');
  return `${handoff.severity} handoff${why ? `: ${why}` : ''}`;
}

page({
  path: 'queue',
  title: 'Handoff queue',
  nav: 'Queue',
  roles: ['owner', 'manager', 'agent'],
  render(container) {
    let handoffs = [];
    let known = null; // ids seen so far; null until the first list
    let source = null;
    let retry = null;
    let left = false;
    const live = h('p', { class: 'live muted', text: 'Connecting to the live queue…' });
    const problems = h('div', {});
    const list = h('div', { class: 'queue-list' });
    const wrapper = h('section', { class: 'queue', 'aria-label': 'Handoffs', dataset: { state: 'loading' } },
      live, problems, list);

    // A redraw keeps the keyboard's place: the same control of the same row.
    const focused = () => {
      const active = document.activeElement;
      const row = active?.closest?.('tr[data-handoff-id]');
      if (!row || !list.contains(row)) return null;
      return { id: row.dataset.handoffId, label: active.getAttribute('aria-label') };
    };
    const refocus = (place) => {
      if (!place) return;
      const row = list.querySelector(`tr[data-handoff-id="${CSS.escape(place.id)}"]`);
      const again = [...(row?.querySelectorAll('a, button') ?? [])]
        .find((node) => node.getAttribute('aria-label') === place.label) ?? row?.querySelector('a');
      again?.focus();
    };

    const draw = () => {
      const place = focused();
      paint();
      refocus(place);
    };

    const paint = () => {
      const sorted = sortQueue(handoffs);
      if (sorted.length === 0) {
        replace(list, h('p', { class: 'muted', text: 'No open or claimed handoffs. New ones appear here by themselves.' }));
        return;
      }
      const overdue = sorted.filter((handoff) => isOverdue(handoff)).length;
      const rows = sorted.map((handoff) => h('tr', {
        class: isOverdue(handoff) ? 'overdue' : null,
        dataset: { handoffId: handoff.id, conversationId: handoff.conversation_id },
      },
      h('td', {}, severityBadge(handoff.severity)),
      h('td', {}, dueCell(handoff)),
      h('td', { text: handoff.status }),
      h('td', { text: handoff.reasons.join(', ') || handoff.intents.join(', ') || '—' }),
      h('td', { text: holder(handoff) }),
      h('td', {}, h('div', { class: 'actions' },
        h('a', {
          href: `#/conversations/${encodeURIComponent(handoff.conversation_id)}`,
          text: 'Open',
          'aria-label': `Open the conversation of the ${describe(handoff)}`,
        }),
        handoff.status === 'open' ? h('button', {
          type: 'button',
          class: 'secondary',
          'aria-label': `Claim the ${describe(handoff)}`,
          text: 'Claim',
          onclick: (event) => claim(handoff, event.currentTarget),
        }) : null))));
      replace(list,
        h('p', { class: overdue ? 'summary overdue' : 'summary' },
          `${sorted.length} handoff${sorted.length === 1 ? '' : 's'}`,
          overdue ? h('strong', { text: `, ${overdue} overdue` }) : null),
        h('table', { class: 'queue-table' },
          h('caption', { text: 'Open and claimed handoffs, most severe first, then soonest due' }),
          h('thead', {}, h('tr', {},
            ['Severity', 'Due', 'Status', 'Why', 'Held by', 'Actions']
              .map((heading) => h('th', { scope: 'col', text: heading })))),
          h('tbody', {}, rows)));
    };

    const take = (next) => {
      const fresh = known ? next.filter((handoff) => !known.has(handoff.id)) : [];
      known = new Set(next.map((handoff) => handoff.id));
      handoffs = next;
      draw();
      if (fresh.length === 1) announce(`New handoff: ${describe(fresh[0])}.`);
      else if (fresh.length > 1) announce(`${fresh.length} new handoffs in the queue.`);
    };

    const claim = async (handoff, button) => {
      button.disabled = true;
      replace(problems);
      try {
        const claimed = await api('POST', `/v1/handoffs/${encodeURIComponent(handoff.id)}/claim`);
        handoffs = handoffs.map((item) => (item.id === claimed.id ? claimed : item));
        draw();
        announce(`You claimed the ${describe(claimed)}. Open the conversation to reply.`);
        list.querySelector(`tr[data-handoff-id="${CSS.escape(claimed.id)}"] a`)?.focus();
      } catch (error) {
        button.disabled = false;
        replace(problems, errorBox(error));
      }
    };

    const later = () => {
      if (left || retry) return;
      retry = setTimeout(() => {
        retry = null;
        connect();
      }, RETRY_MS);
    };

    const connect = () => {
      if (left) return;
      source?.close();
      source = new EventSource('/v1/handoffs/stream');
      source.addEventListener('queue', (event) => {
        try {
          take(JSON.parse(event.data).handoffs ?? []);
        } catch {
          return;
        }
        replace(problems);
        live.textContent = 'Live: new handoffs appear here by themselves.';
        wrapper.dataset.state = 'live';
      });
      source.addEventListener('end', (event) => {
        source.close();
        source = null;
        let why = {};
        try { why = JSON.parse(event.data); } catch { /* keep the default */ }
        if (why.reason === 'reconnect') {
          connect();
          return;
        }
        wrapper.dataset.state = 'offline';
        live.textContent = 'The live queue stopped; trying again shortly.';
        replace(problems, h('div', { class: 'error', role: 'alert' },
          h('strong', { text: 'The live queue was refused.' }), ` ${why.detail ?? ''}`));
        // A REST call notices a session that ended and goes to sign-in.
        api('GET', '/v1/handoffs?limit=1').catch(() => {});
        later();
      });
      source.addEventListener('error', () => {
        if (source?.readyState === EventSource.CLOSED) {
          source = null;
          wrapper.dataset.state = 'offline';
          live.textContent = 'The live queue is disconnected; trying again shortly.';
          later();
        }
      });
    };

    replace(container, wrapper);
    replace(list, h('p', { class: 'muted', role: 'status', text: 'Loading…' }));
    api('GET', '/v1/handoffs?limit=100')
      .then((answer) => { if (!known) take(answer.handoffs); })
      .catch((error) => replace(problems, errorBox(error)));
    connect();
    const redraw = setInterval(() => { if (known) draw(); }, REDRAW_MS);

    return () => {
      left = true;
      source?.close();
      source = null;
      clearTimeout(retry);
      clearInterval(redraw);
    };
  },
});
