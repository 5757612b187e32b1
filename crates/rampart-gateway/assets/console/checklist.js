// The security checklist (`#/checklist`, platform admins): the latest
// report `rampart checklist` stored (`GET /v1/admin/checklist/reports/latest`),
// each item pass, warn or fail in words as well as colour, with every
// fact it was judged on, and a link to its `checklist.completed` event in
// the platform's audit log (where it can be verified).

import { api, h, loading, page, Problem, timeEl } from './lib.js';

const LABELS = { pass: 'PASS', warn: 'WARN', fail: 'FAIL' };

/** A status badge: the word, with a colour that only repeats it. */
function badge(status) {
  const known = Object.hasOwn(LABELS, status) ? status : 'fail';
  return h('span', { class: `badge badge-${known}`, text: LABELS[known] });
}

function item(entry) {
  const headingId = `item-${String(entry.id).replace(/[^a-z0-9_-]/gi, '')}`;
  return h('section', { class: 'checklist-item', 'aria-labelledby': headingId },
    h('h2', { id: headingId }, badge(entry.status), h('span', { text: entry.title })),
    h('ul', { class: 'evidence', 'aria-label': `Evidence for ${entry.title}` },
      (entry.evidence ?? []).map((fact) => h('li', {}, badge(fact.status), h('span', { text: fact.text })))),
    h('p', { class: 'hint' }, 'Source: ', h('span', { text: entry.source })));
}

async function renderChecklist(container) {
  await loading(container, async () => {
    let stored;
    try {
      stored = await api('GET', '/v1/admin/checklist/reports/latest');
    } catch (error) {
      if (error instanceof Problem && error.status === 404) {
        return h('p', {}, 'No checklist report is stored yet. Run ',
          h('code', { text: 'rampart checklist' }), ' against this stack; it stores each run here.');
      }
      throw error;
    }
    const report = stored.report ?? {};
    const target = `checklist_report:${stored.report_id}`;
    const overall = stored.fail > 0 ? 'fail' : stored.warn > 0 ? 'warn' : 'pass';
    return [
      h('p', { class: 'summary' }, badge(overall),
        ` ${stored.pass} passed, ${stored.warn} warned, ${stored.fail} failed.`),
      h('dl', { class: 'checklist-meta' },
        h('dt', { text: 'Ran' }), h('dd', {}, timeEl(stored.generated_at)),
        h('dt', { text: 'Stored' }), h('dd', {}, timeEl(stored.stored_at), ` by ${stored.stored_by}`),
        h('dt', { text: 'Against' }), h('dd', { text: report.url ?? '' }),
        h('dt', { text: 'Rampart version' }), h('dd', { text: report.rampart_version ?? '' }),
        h('dt', { text: 'SHA-256' }), h('dd', {}, h('code', { text: stored.sha256 })),
        h('dt', { text: 'Audit event' }), h('dd', {},
          h('a', {
            href: `#/audit?action=checklist.completed&target=${encodeURIComponent(target)}`,
            text: `checklist.completed ${stored.audit_event_id}`,
          }))),
      (report.items ?? []).map(item),
    ];
  });
}

page({
  path: 'checklist',
  title: 'Security checklist',
  nav: 'Checklist',
  roles: ['admin'],
  render: renderChecklist,
});
