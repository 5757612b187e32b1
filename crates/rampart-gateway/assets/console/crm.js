// The CRM pages: customers (`#/customers`, `#/customers/:id`),
// appointments (`#/appointments`, `#/appointments/:id`) and job notes (on a
// customer's and an appointment's page).
//
// Who may do what follows the CRM's checks: every tenant user reads;
// agents and up book and change appointments and write job notes; only
// managers and owners create and change customers, so an agent is not
// offered those forms. The server refuses anyway: a 403 shows as a message.

import {
  announce, api, errorBox, field, form, h, loading, navigate, page, replace, session, table,
  timeEl,
} from './lib.js';

const USERS = ['owner', 'manager', 'agent'];
const NEXT_STATUS = {
  scheduled: ['confirmed', 'cancelled'],
  confirmed: ['completed', 'cancelled'],
  completed: [],
  cancelled: [],
};

function mayEditCustomers() {
  return session.user?.role === 'owner' || session.user?.role === 'manager';
}

/** An RFC 3339 time as a `datetime-local` input's value, in local time. */
function toLocalInput(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** A `datetime-local` value (local time) as RFC 3339 in UTC. */
function fromLocalInput(value) {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new Error('Give a date and a time.');
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function customerLink(id, text = id) {
  return h('a', { href: `#/customers/${encodeURIComponent(id)}`, text });
}

function appointmentLink(appointment) {
  return h('a', {
    href: `#/appointments/${encodeURIComponent(appointment.id)}`,
    text: appointment.service_type,
  });
}

function facts(rows) {
  return h('dl', { class: 'facts' }, rows.map(([name, value]) => [h('dt', { text: name }), h('dd', {}, value ?? '—')]));
}

/** A list with "Show more" through `next_cursor`. */
function pagedTable({ caption, headings, empty, fetchPage, row }) {
  const box = h('div', {});
  const rows = [];
  let cursor = null;
  const more = h('button', { type: 'button', class: 'secondary', text: 'Show more', hidden: true });
  const load = async () => {
    const answer = await fetchPage(cursor);
    rows.push(...answer.items.map(row));
    cursor = answer.next_cursor;
    more.hidden = !cursor;
    replace(box, table(caption, headings, rows, empty), more);
    return box;
  };
  more.addEventListener('click', () => load().catch((error) => box.append(errorBox(error))));
  return { box, load };
}

// Customers

function customerFields(customer = {}) {
  const inputs = {
    name: h('input', { name: 'name', required: true, maxlength: '200', autocomplete: 'off', value: customer.name ?? '' }),
    phone: h('input', { name: 'phone', type: 'tel', autocomplete: 'off', value: customer.phone ?? '' }),
    email: h('input', { name: 'email', type: 'email', autocomplete: 'off', value: customer.email ?? '' }),
    address: h('textarea', { name: 'address', rows: '2', autocomplete: 'off' }),
  };
  inputs.address.value = customer.address ?? '';
  const fields = [
    field('Name', inputs.name),
    field('Phone', inputs.phone, 'Optional; with the country code, e.g. +44 20 7946 0000.'),
    field('Email', inputs.email, 'Optional.'),
    field('Address', inputs.address, 'Optional.'),
  ];
  return { inputs, fields };
}

page({
  path: 'customers',
  title: 'Customers',
  nav: 'Customers',
  roles: USERS,
  render(container) {
    const list = pagedTable({
      caption: 'Customers',
      headings: ['Name', 'Phone', 'Email', 'Added'],
      empty: 'No customers yet.',
      fetchPage: async (cursor) => {
        const params = new URLSearchParams({ limit: '50' });
        if (cursor) params.set('cursor', cursor);
        const answer = await api('GET', `/v1/crm/customers?${params}`);
        return { items: answer.customers, next_cursor: answer.next_cursor };
      },
      row: (customer) => [customerLink(customer.id, customer.name), customer.phone ?? '—',
        customer.email ?? '—', timeEl(customer.created_at)],
    });
    const parts = [];
    if (mayEditCustomers()) {
      const { inputs, fields } = customerFields();
      parts.push(h('h2', { text: 'Add a customer' }), form({ class: 'stack', 'aria-label': 'Add a customer' }, [
        ...fields, h('button', { type: 'submit', text: 'Add the customer' }),
      ], async () => {
        const body = { name: inputs.name.value.trim() };
        for (const name of ['phone', 'email', 'address']) {
          if (inputs[name].value.trim()) body[name] = inputs[name].value.trim();
        }
        const created = await api('POST', '/v1/crm/customers', body);
        announce(`${created.name} was added.`);
        navigate(`customers/${encodeURIComponent(created.id)}`);
      }));
    } else {
      parts.push(h('p', { class: 'muted', text: 'Your role reads customers; a manager or owner adds and changes them.' }));
    }
    const listBox = h('div', {});
    replace(container, h('h2', { text: 'All customers' }), listBox, parts);
    loading(listBox, list.load);
    return undefined;
  },
});

function jobNotes(filter, { customerId, appointmentId }) {
  const box = h('section', { class: 'job-notes', 'aria-labelledby': 'notes-heading' });
  const config = {
    caption: 'Job notes, newest first',
    headings: ['Written', 'Note', 'Equipment', 'By'],
    empty: 'No job notes yet.',
    fetchPage: async (cursor) => {
      const params = new URLSearchParams({ limit: '50', ...filter });
      if (cursor) params.set('cursor', cursor);
      const answer = await api('GET', `/v1/crm/job-notes?${params}`);
      return { items: answer.job_notes, next_cursor: answer.next_cursor };
    },
    row: (note) => [timeEl(note.created_at), h('span', { class: 'note-text', text: note.text }),
      note.equipment ?? '—', note.author],
  };
  const text = h('textarea', { name: 'text', required: true, maxlength: '4000', rows: '3' });
  const equipment = h('input', { name: 'equipment', maxlength: '1000', autocomplete: 'off' });
  const listBox = h('div', {});
  const write = form({ class: 'stack', 'aria-label': 'Write a job note' }, [
    field('Note', text),
    field('Equipment', equipment, 'Optional: make, model, serial number.'),
    h('button', { type: 'submit', text: 'Save the note' }),
  ], async () => {
    const body = { text: text.value };
    if (appointmentId) body.appointment_id = appointmentId;
    else body.customer_id = customerId;
    if (equipment.value.trim()) body.equipment = equipment.value.trim();
    await api('POST', '/v1/crm/job-notes', body);
    text.value = '';
    equipment.value = '';
    announce('The note was saved.');
    await loading(listBox, pagedTable(config).load);
    return h('p', { class: 'ok', text: 'Saved.' });
  });
  replace(box, h('h2', { id: 'notes-heading', text: 'Job notes' }), listBox,
    h('h3', { text: 'Write a note' }), write);
  loading(listBox, pagedTable(config).load);
  return box;
}

function appointmentsOf(customerId) {
  const list = pagedTable({
    caption: 'This customer\'s appointments, newest booking first',
    headings: ['Service', 'Starts', 'Ends', 'Status'],
    empty: 'No appointments.',
    fetchPage: async (cursor) => {
      const params = new URLSearchParams({ limit: '50', customer_id: customerId });
      if (cursor) params.set('cursor', cursor);
      const answer = await api('GET', `/v1/crm/appointments?${params}`);
      return { items: answer.appointments, next_cursor: answer.next_cursor };
    },
    row: (appointment) => [appointmentLink(appointment), timeEl(appointment.starts_at),
      timeEl(appointment.ends_at), appointment.status],
  });
  const box = h('div', {});
  loading(box, list.load);
  return box;
}

page({
  path: 'customers/:id',
  title: 'Customer',
  roles: USERS,
  render(container, { id }) {
    const path = `/v1/crm/customers/${encodeURIComponent(id)}`;
    const details = h('div', {});
    const show = (customer) => replace(details, facts([
      ['Name', customer.name], ['Phone', customer.phone], ['Email', customer.email],
      ['Address', customer.address], ['Added', timeEl(customer.created_at)], ['Id', h('code', { text: customer.id })],
    ]));
    loading(container, async () => {
      const customer = await api('GET', path);
      show(customer);
      const parts = [h('p', {}, h('a', { href: '#/customers', text: '← All customers' })), details];
      if (mayEditCustomers()) {
        const { inputs, fields } = customerFields(customer);
        parts.push(h('h2', { text: 'Change the details' }), form({ class: 'stack', 'aria-label': 'Change the customer' }, [
          ...fields, h('button', { type: 'submit', text: 'Save the changes' }),
        ], async () => {
          // A merge patch: an emptied optional field is cleared (null).
          const body = { name: inputs.name.value.trim() };
          for (const name of ['phone', 'email', 'address']) body[name] = inputs[name].value.trim() || null;
          const saved = await api('PATCH', path, body);
          show(saved);
          announce('The customer was saved.');
          return h('p', { class: 'ok', text: 'Saved.' });
        }));
      }
      parts.push(
        h('h2', { text: 'Appointments' }),
        h('p', {}, h('a', { href: `#/appointments?customer=${encodeURIComponent(id)}`, text: 'Book an appointment for this customer' })),
        appointmentsOf(id),
        jobNotes({ customer_id: id }, { customerId: id }),
      );
      return parts;
    });
    return undefined;
  },
});

// Appointments

function appointmentFields(appointment = {}, customers = null, chosenCustomer = '') {
  const inputs = {
    starts: h('input', { name: 'starts_at', type: 'datetime-local', required: true,
      value: appointment.starts_at ? toLocalInput(appointment.starts_at) : '' }),
    ends: h('input', { name: 'ends_at', type: 'datetime-local', required: true,
      value: appointment.ends_at ? toLocalInput(appointment.ends_at) : '' }),
    service: h('input', { name: 'service_type', required: true, maxlength: '100', autocomplete: 'off',
      value: appointment.service_type ?? '' }),
    assignee: h('input', { name: 'assignee', maxlength: '64', autocomplete: 'off', spellcheck: 'false',
      value: appointment.assignee ?? '' }),
  };
  const fields = [];
  if (customers) {
    inputs.customer = h('select', { name: 'customer_id', required: true },
      h('option', { value: '', text: 'Choose a customer' }),
      customers.map((customer) => h('option', {
        value: customer.id, text: customer.name, selected: customer.id === chosenCustomer,
      })));
    fields.push(field('Customer', inputs.customer));
  }
  fields.push(
    field('Service', inputs.service, 'What the work is, e.g. Boiler service.'),
    field('Starts', inputs.starts),
    field('Ends', inputs.ends, 'After the start, at most 24 hours later.'),
    field('Assigned to', inputs.assignee, 'Optional: the user id (usr_…) of who does the work.'),
  );
  return { inputs, fields };
}

page({
  path: 'appointments',
  title: 'Appointments',
  nav: 'Appointments',
  roles: USERS,
  render(container, _params, query) {
    const statusFilter = h('select', { name: 'status' },
      h('option', { value: '', text: 'All' }),
      Object.keys(NEXT_STATUS).map((value) => h('option', { value, text: value })));
    const listBox = h('div', {});
    let names = new Map();
    const makeList = () => pagedTable({
      caption: 'Appointments, newest booking first',
      headings: ['Service', 'Customer', 'Starts', 'Ends', 'Status'],
      empty: 'No appointments match.',
      fetchPage: async (cursor) => {
        const params = new URLSearchParams({ limit: '50' });
        if (statusFilter.value) params.set('status', statusFilter.value);
        if (cursor) params.set('cursor', cursor);
        const answer = await api('GET', `/v1/crm/appointments?${params}`);
        return { items: answer.appointments, next_cursor: answer.next_cursor };
      },
      row: (appointment) => [appointmentLink(appointment),
        customerLink(appointment.customer_id, names.get(appointment.customer_id) ?? appointment.customer_id),
        timeEl(appointment.starts_at), timeEl(appointment.ends_at), appointment.status],
    });
    const filter = form({ class: 'filters', 'aria-label': 'Filter appointments' }, [
      field('Status', statusFilter),
      h('button', { type: 'submit', class: 'secondary', text: 'Filter' }),
    ], async () => {
      await loading(listBox, makeList().load);
    });
    const book = h('div', {});
    replace(container, filter, listBox, h('h2', { text: 'Book an appointment' }), book);
    loading(book, async () => {
      const customers = (await api('GET', '/v1/crm/customers?limit=100')).customers;
      names = new Map(customers.map((customer) => [customer.id, customer.name]));
      loading(listBox, makeList().load);
      if (customers.length === 0) {
        return h('p', { class: 'muted' }, 'Add a customer first: ', h('a', { href: '#/customers', text: 'Customers' }));
      }
      const { inputs, fields } = appointmentFields({}, customers, query.get('customer') ?? '');
      return form({ class: 'stack', 'aria-label': 'Book an appointment' }, [
        ...fields, h('button', { type: 'submit', text: 'Book it' }),
      ], async () => {
        const body = {
          customer_id: inputs.customer.value,
          service_type: inputs.service.value.trim(),
          starts_at: fromLocalInput(inputs.starts.value),
          ends_at: fromLocalInput(inputs.ends.value),
        };
        if (inputs.assignee.value.trim()) body.assignee = inputs.assignee.value.trim();
        const created = await api('POST', '/v1/crm/appointments', body);
        announce(`${created.service_type} was booked.`);
        navigate(`appointments/${encodeURIComponent(created.id)}`);
      });
    });
    return undefined;
  },
});

page({
  path: 'appointments/:id',
  title: 'Appointment',
  roles: USERS,
  render(container, { id }) {
    const path = `/v1/crm/appointments/${encodeURIComponent(id)}`;
    const details = h('div', {});
    const show = (appointment) => replace(details, facts([
      ['Service', appointment.service_type],
      ['Customer', customerLink(appointment.customer_id)],
      ['Starts', timeEl(appointment.starts_at)],
      ['Ends', timeEl(appointment.ends_at)],
      ['Status', h('span', { class: 'badge', text: appointment.status })],
      ['Assigned to', appointment.assignee],
    ]));
    loading(container, async () => {
      const appointment = await api('GET', path);
      show(appointment);
      const { inputs, fields } = appointmentFields(appointment);
      const status = h('select', { name: 'status' },
        h('option', { value: '', text: `Keep: ${appointment.status}` }),
        (NEXT_STATUS[appointment.status] ?? []).map((value) => h('option', { value, text: value })));
      const edit = form({ class: 'stack', 'aria-label': 'Change the appointment' }, [
        ...fields,
        field('Status', status, 'Scheduled, then confirmed, then completed; or cancelled.'),
        h('button', { type: 'submit', text: 'Save the changes' }),
      ], async () => {
        const body = {
          service_type: inputs.service.value.trim(),
          starts_at: fromLocalInput(inputs.starts.value),
          ends_at: fromLocalInput(inputs.ends.value),
          assignee: inputs.assignee.value.trim() || null,
        };
        if (status.value) body.status = status.value;
        const saved = await api('PATCH', path, body);
        show(saved);
        replace(status, h('option', { value: '', text: `Keep: ${saved.status}` }),
          (NEXT_STATUS[saved.status] ?? []).map((value) => h('option', { value, text: value })));
        announce('The appointment was saved.');
        return h('p', { class: 'ok', text: 'Saved.' });
      });
      return [
        h('p', {}, h('a', { href: '#/appointments', text: '← All appointments' })),
        details,
        h('h2', { text: 'Change it' }), edit,
        jobNotes({ appointment_id: id }, { appointmentId: id }),
      ];
    });
    return undefined;
  },
});
