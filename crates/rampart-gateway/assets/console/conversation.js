// Conversations: the list (`#/conversations`) and one conversation
// (`#/conversations/:id`) with its messages (customer, AI, agent), each
// customer message's decision receipt and each AI reply's guardrail
// findings, and the handoff a person has: claim, reply, resolve, hand
// back to the AI.
//
// Everything a customer, the AI or an agent wrote is set as text. The view
// reads the conversation again every few seconds so a customer's new
// message shows; the reply form is never redrawn, so typing is not lost.

import {
  announce, api, errorBox, field, form, h, loading, page, replace, session, table, timeEl,
} from './lib.js';
import { dueCell, holder, severityBadge } from './queue.js';

const REFRESH_MS = 4_000;
const STATUSES = ['ai_active', 'handed_off', 'assigned', 'resolved', 'closed'];
const AUTHORS = { customer: 'Customer', ai: 'AI', agent: 'Agent', system: 'System' };

function conversationLink(conversation) {
  return h('a', {
    href: `#/conversations/${encodeURIComponent(conversation.id)}`,
    text: conversation.id,
  });
}

page({
  path: 'conversations',
  title: 'Conversations',
  nav: 'Conversations',
  roles: ['owner', 'manager', 'agent'],
  render(container, _params, query) {
    const status = h('select', { name: 'status' },
      h('option', { value: '', text: 'All' }),
      STATUSES.map((value) => h('option', { value, text: value, selected: query.get('status') === value })));
    const results = h('div', {});
    const rows = [];
    let cursor = null;
    const more = h('button', { type: 'button', class: 'secondary', text: 'Show more', hidden: true });

    const draw = () => replace(results, table('Conversations, newest first',
      ['Conversation', 'Channel', 'Status', 'Started', 'Summary'], rows,
      'No conversation matches.'), more);

    const fetchPage = async (reset) => {
      if (reset) {
        rows.length = 0;
        cursor = null;
      }
      const params = new URLSearchParams({ limit: '25' });
      if (status.value) params.set('status', status.value);
      if (cursor) params.set('cursor', cursor);
      const answer = await api('GET', `/v1/crm/conversations?${params}`);
      for (const conversation of answer.conversations) {
        rows.push([conversationLink(conversation), conversation.channel, conversation.status,
          timeEl(conversation.started_at), conversation.summary || '—']);
      }
      cursor = answer.next_cursor;
      more.hidden = !cursor;
      draw();
      return results;
    };

    more.addEventListener('click', () => fetchPage(false).catch((error) => results.append(errorBox(error))));
    const filter = form({ class: 'filters', 'aria-label': 'Filter conversations' }, [
      field('Status', status),
      h('button', { type: 'submit', class: 'secondary', text: 'Filter' }),
    ], () => fetchPage(true).then(() => null));
    replace(container, filter, results);
    loading(results, () => fetchPage(true).then(() => [...results.childNodes]));
    return undefined;
  },
});

/** A customer message's decision receipt, folded. */
function receiptView(receipt) {
  const rows = [
    ['Decision', receipt.action === 'handoff' ? 'Hand to a person' : 'The AI may answer'],
    ['Severity', receipt.severity],
    ['Intents', receipt.intents.join(', ') || '—'],
    ['Reasons', receipt.reasons.join(', ') || '—'],
    ['Signals', receipt.signals.join(', ') || '—'],
    ['Language', receipt.language || '—'],
    ['Policy version', String(receipt.policy_version)],
    ['Decided', timeEl(receipt.decided_at)],
  ];
  return h('details', { class: 'receipt' },
    h('summary', {}, 'Decision receipt: ',
      h('strong', { text: receipt.action === 'handoff' ? 'handoff' : 'AI answer' }),
      ` (${receipt.severity})`),
    h('dl', { class: 'facts' }, rows.map(([name, value]) => [h('dt', { text: name }), h('dd', {}, value)])));
}

function findingsView(findings) {
  return h('div', { class: 'findings' },
    h('p', {}, h('strong', { text: 'Guardrail findings' })),
    h('ul', {}, findings.map((finding) => h('li', {},
      h('code', { text: finding.kind }), `: ${finding.reason}`))));
}

function messageView(message) {
  const author = AUTHORS[message.author] ?? message.author;
  const flags = [];
  if (message.delivery === 'redacted') flags.push(h('span', { class: 'badge warn', text: 'sent masked' }));
  if (message.delivery === 'blocked') flags.push(h('span', { class: 'badge danger', text: 'blocked, not sent' }));
  if (message.gate === 'pending') flags.push(h('span', { class: 'badge warn', text: 'decision pending' }));
  return h('li', { class: `message ${message.author}`, dataset: { messageId: message.id } },
    h('p', { class: 'meta' },
      h('strong', { text: author }), ' · ', timeEl(message.created_at),
      flags.length ? ' ' : null, flags),
    h('p', { class: 'text', text: message.text || (message.delivery === 'blocked' ? '(not sent)' : '(no text kept)') }),
    message.receipt ? receiptView(message.receipt) : null,
    message.findings?.length ? findingsView(message.findings) : null);
}

page({
  path: 'conversations/:id',
  title: 'Conversation',
  roles: ['owner', 'manager', 'agent'],
  render(container, { id }) {
    const path = `/v1/crm/conversations/${encodeURIComponent(id)}`;
    const facts = h('div', {});
    const handoffBox = h('section', { class: 'handoff', 'aria-labelledby': 'handoff-heading' });
    const messages = h('ol', { class: 'messages', 'aria-label': 'Messages, oldest first' });
    const problems = h('div', {});
    let conversation = null;
    let handoff = null;
    let shown = '';
    let shownHandoff = '';
    let timer = null;

    const drawFacts = () => {
      const rows = [
        ['Status', h('span', { class: 'badge', text: conversation.status })],
        ['Channel', conversation.channel],
        ['Customer', conversation.customer_id
          ? h('a', { href: `#/customers/${encodeURIComponent(conversation.customer_id)}`, text: conversation.customer_id })
          : 'Not linked'],
        ['Assigned to', conversation.assignee
          ? (conversation.assignee === session.user?.user_id ? 'You' : conversation.assignee) : 'Nobody'],
        ['Started', timeEl(conversation.started_at)],
        ['Summary', conversation.summary || '—'],
      ];
      replace(facts, h('dl', { class: 'facts' },
        rows.map(([name, value]) => [h('dt', { text: name }), h('dd', {}, value)])));
    };

    const step = async (action, done) => {
      replace(problems);
      try {
        handoff = await api('POST', `/v1/handoffs/${encodeURIComponent(handoff.id)}/${action}`);
        announce(done);
        await refresh(true);
        handoffBox.querySelector('button')?.focus();
      } catch (error) {
        replace(problems, errorBox(error));
      }
    };

    const drawHandoff = () => {
      const heading = h('h2', { id: 'handoff-heading', text: 'Handoff' });
      if (!handoff) {
        replace(handoffBox, heading,
          h('p', { class: 'muted', text: 'No person has this conversation now: the AI answers it.' }));
        return;
      }
      const closed = handoff.status === 'resolved' || handoff.status === 'handed_back';
      const mine = handoff.assignee === session.user?.user_id;
      const lead = session.user?.role === 'owner' || session.user?.role === 'manager';
      const buttons = closed ? [] : [
        handoff.status === 'open' || (handoff.status === 'claimed' && !mine && lead)
          ? h('button', { type: 'button', text: handoff.status === 'open' ? 'Claim' : 'Take over',
            onclick: () => step('claim', 'You claimed this conversation.') }) : null,
        h('button', { type: 'button', class: 'secondary', text: 'Resolve',
          onclick: () => step('resolve', 'The handoff is resolved.') }),
        handoff.status === 'claimed' && (mine || lead)
          ? h('button', { type: 'button', class: 'secondary', text: 'Hand back to the AI',
            onclick: () => step('hand-back', 'The conversation is back with the AI.') }) : null,
      ];
      const rows = [
        ['State', h('span', { class: 'badge', dataset: { handoffStatus: handoff.status }, text: handoff.status })],
        ['Severity', severityBadge(handoff.severity)],
        ['Due', closed ? timeEl(handoff.due_at) : dueCell(handoff)],
        ['Held by', holder(handoff)],
        ['Why', handoff.reasons.join(', ') || handoff.intents.join(', ') || '—'],
        ['Escalation level', String(handoff.level)],
      ];
      replace(handoffBox, heading,
        h('dl', { class: 'facts' }, rows.map(([name, value]) => [h('dt', { text: name }), h('dd', {}, value)])),
        h('div', { class: 'actions' }, buttons));
    };

    // The open or claimed handoff; else the one last shown here, closed
    // since (so its final state shows after a resolve or a hand-back).
    const findHandoff = async () => {
      if (conversation.handoff_id) {
        return api('GET', `/v1/handoffs/${encodeURIComponent(conversation.handoff_id)}`);
      }
      const answer = await api('GET', `/v1/handoffs?conversation_id=${encodeURIComponent(id)}&limit=1`);
      if (answer.handoffs[0]) return answer.handoffs[0];
      if (handoff) return api('GET', `/v1/handoffs/${encodeURIComponent(handoff.id)}`);
      return null;
    };

    // Redraws only what changed, so the keyboard's place is kept.
    const refresh = async (force = false) => {
      conversation = await api('GET', path);
      handoff = await findHandoff();
      const signature = JSON.stringify(conversation.messages?.map((m) => [m.id, m.delivery, m.gate]));
      const handoffSignature = JSON.stringify([conversation.status, conversation.assignee, handoff]);
      if (force || handoffSignature !== shownHandoff) {
        shownHandoff = handoffSignature;
        drawFacts();
        drawHandoff();
      }
      if (force || signature !== shown) {
        const before = shown;
        shown = signature;
        replace(messages, (conversation.messages ?? []).map(messageView));
        if (before) announce('The conversation has new messages.');
      }
    };

    const reply = h('textarea', { name: 'text', required: true, maxlength: '4000', rows: '4' });
    const replyForm = form({ class: 'stack reply', 'aria-label': 'Reply to the customer' }, [
      field('Your reply', reply, 'Sent to the customer as you write it.'),
      h('button', { type: 'submit', text: 'Send reply' }),
    ], async () => {
      await api('POST', `${path}/agent-replies`, { text: reply.value });
      reply.value = '';
      announce('Your reply was sent.');
      await refresh();
      return h('p', { class: 'ok', text: 'Sent.' });
    });

    const start = async () => {
      await refresh(true);
      return [
        facts, problems, handoffBox,
        h('h2', { text: 'Messages' }), messages,
        h('h2', { text: 'Reply' }), replyForm,
      ];
    };
    replace(container, h('p', {}, h('a', { href: '#/queue', text: '← Back to the queue' })));
    const body = h('div', {});
    container.append(body);
    let left = false;
    loading(body, start).then(() => {
      if (left || !conversation) return;
      timer = setInterval(() => {
        refresh().catch((error) => replace(problems, errorBox(error)));
      }, REFRESH_MS);
    });
    return () => {
      left = true;
      clearInterval(timer);
    };
  },
});
