// The audit log (`#/audit`): an owner reads the tenant's log
// (`/v1/owner/audit`), a platform admin the platform's (`/v1/admin/audit`).
// Managers and agents may not read it (the audit service answers 403), so
// the page is not shown to them.
//
// Each entry can be verified here, in the browser, without trusting the
// page's own server for anything but the public key:
//
// 1. the event's leaf hash is recomputed from its fields, exactly as
//    `rampart-audit/src/leaf.rs` encodes them (every stored field is
//    covered, so an edited actor, action, detail... changes it);
// 2. the inclusion proof is folded into a root (RFC 9162 2.1.3.2, as
//    `merkle.rs` does: SHA-256 with 0x00 leaf and 0x01 node prefixes);
// 3. that root must be the root of the latest signed checkpoint, whose
//    Ed25519 signature over its text (`checkpoint.rs`) is checked with
//    WebCrypto against `GET /v1/audit/public-key`.
//
// What this does not check: that the public key is the right one (it
// comes from the same server; the page shows its key id so a reader can
// compare it with the one pinned by `rampart audit verify`), and that
// this checkpoint is consistent with older ones (the offline verifier
// does that across runs).

import {
  api, announce, field, form, h, loading, navigate, page, replace, session, table,
  timeEl,
} from './lib.js';

const encoder = new TextEncoder();

/** Lowercase hex of bytes. */
export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Bytes of a hex string; throws on anything else. */
export function fromHex(text) {
  if (typeof text !== 'string' || !/^([0-9a-f]{2})*$/i.test(text)) {
    throw new Error(`not hex: ${String(text).slice(0, 20)}`);
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i += 1) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function fromBase64(text) {
  const raw = atob(text);
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

function toBase64(bytes) {
  return btoa(String.fromCharCode(...bytes));
}

function concat(parts) {
  const total = parts.reduce((n, part) => n + part.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function u64(n) {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n));
  return out;
}

function u32(n) {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
}

function equal(a, b) {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

function compareBytes(a, b) {
  for (let i = 0; i < Math.min(a.length, b.length); i += 1) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

/** `leaf.rs`'s leaf data of `event` in the log `logId`. */
export function leafData(event, logId) {
  const field = (text) => {
    const bytes = encoder.encode(text ?? '');
    return [u64(bytes.length), bytes];
  };
  // Platform events carry no tenant; a tenant's log id is its tenant id.
  const tenantId = logId === 'platform' ? '' : logId;
  const texts = [
    logId, event.event_id, tenantId, event.actor, event.credential_id, event.action,
    event.target, event.occurred_at, event.service, event.request_id, event.outcome,
    event.client_addr,
  ];
  // Details in byte order of their keys, as a Rust BTreeMap keeps them.
  const details = Object.entries(event.details ?? {})
    .map(([key, value]) => [encoder.encode(key), encoder.encode(value)])
    .sort((a, b) => compareBytes(a[0], b[0]));
  return concat([
    encoder.encode('rampart.audit.leaf.v1\n'),
    ...texts.flatMap(field),
    u32(event.schema_version),
    u64(details.length),
    ...details.flatMap(([key, value]) => [u64(key.length), key, u64(value.length), value]),
  ]);
}

/** RFC 6962 leaf hash of `event` in `logId`. */
export async function leafHash(event, logId) {
  return sha256(concat([Uint8Array.of(0), leafData(event, logId)]));
}

async function nodeHash(left, right) {
  return sha256(concat([Uint8Array.of(1), left, right]));
}

/** The root an inclusion proof leads to (`merkle.rs` root_from_inclusion). */
export async function rootFromInclusion(index, size, leaf, proof) {
  const i = BigInt(index);
  const n = BigInt(size);
  if (i >= n) throw new Error(`index ${index} is beyond the tree's size ${size}`);
  const inner = (i ^ (n - 1n)).toString(2).replace(/^0+/, '').length;
  const border = (i >> BigInt(inner)).toString(2).split('').filter((bit) => bit === '1').length;
  if (proof.length !== inner + border) {
    throw new Error(`the proof has ${proof.length} hashes, the tree needs ${inner + border}`);
  }
  let hash = leaf;
  for (let k = 0; k < inner; k += 1) {
    hash = ((i >> BigInt(k)) & 1n) === 0n
      ? await nodeHash(hash, proof[k])
      : await nodeHash(proof[k], hash);
  }
  for (let k = inner; k < proof.length; k += 1) hash = await nodeHash(proof[k], hash);
  return hash;
}

/** The exact text a checkpoint's signature covers (`checkpoint.rs`). */
export function signedText(checkpoint) {
  const root = toBase64(fromHex(checkpoint.root_hash));
  return `rampart-audit:${checkpoint.log_id}\n${checkpoint.size}\n${root}\ntime ${checkpoint.timestamp}\n`;
}

/** Checks `checkpoint`'s signature with the published key; throws why not. */
export async function verifyCheckpoint(checkpoint, publicKey) {
  if (publicKey.algorithm !== 'Ed25519') throw new Error(`the key is ${publicKey.algorithm}, not Ed25519`);
  const raw = fromHex(publicKey.public_key);
  if (raw.length !== 32) throw new Error('the public key is not 32 bytes');
  const keyId = toHex((await sha256(raw)).slice(0, 8));
  if (keyId !== publicKey.key_id) throw new Error('the published key id is not the key\'s');
  if (checkpoint.key_id !== keyId) {
    throw new Error(`the checkpoint was signed by key ${checkpoint.key_id}, not by ${keyId}`);
  }
  if (fromHex(checkpoint.root_hash).length !== 32) throw new Error('the checkpoint root is not 32 bytes');
  const key = await crypto.subtle.importKey('raw', raw, { name: 'Ed25519' }, false, ['verify']);
  const ok = await crypto.subtle.verify(
    { name: 'Ed25519' }, key, fromBase64(checkpoint.signature), encoder.encode(signedText(checkpoint)),
  );
  if (!ok) throw new Error('the checkpoint signature is not valid');
  return keyId;
}

/**
 * Verifies one event against a signed checkpoint: its recomputed leaf
 * hash, its inclusion proof, the checkpoint's signature. Answers
 * `{ ok, reason, keyId, size }`.
 */
export async function verifyEvent(event, { checkpoint, publicKey, inclusion }) {
  try {
    const keyId = await verifyCheckpoint(checkpoint, publicKey);
    const leaf = await leafHash(event, checkpoint.log_id);
    if (toHex(leaf) !== event.leaf_hash) {
      throw new Error('the event\'s fields do not hash to its leaf hash: the entry shown was altered');
    }
    if (inclusion.leaf_hash !== event.leaf_hash || inclusion.index !== event.sequence) {
      throw new Error('the proof is for another entry');
    }
    if (inclusion.tree_size !== checkpoint.size || inclusion.log_id !== checkpoint.log_id) {
      throw new Error('the proof is not against the signed checkpoint');
    }
    const root = await rootFromInclusion(event.sequence, checkpoint.size, leaf, inclusion.proof.map(fromHex));
    if (toHex(root) !== checkpoint.root_hash) {
      throw new Error('the inclusion proof does not lead to the signed root');
    }
    return { ok: true, reason: '', keyId, size: checkpoint.size };
  } catch (error) {
    return { ok: false, reason: String(error?.message ?? error) };
  }
}

/** The routes of the reader's log. */
function routes() {
  return session.user?.role === 'admin' ? '/v1/admin/audit' : '/v1/owner/audit';
}

/** The latest checkpoint (signed now if the log grew) and the public key. */
async function anchors(base) {
  const [checkpoint, publicKey] = await Promise.all([
    api('GET', `${base}/checkpoint?fresh=true`),
    api('GET', '/v1/audit/public-key'),
  ]);
  return { checkpoint, publicKey };
}

async function checkEntry(base, event, shared) {
  try {
    const { checkpoint, publicKey } = shared ?? await anchors(base);
    const inclusion = await api('GET',
      `${base}/proofs/inclusion?event_id=${encodeURIComponent(event.event_id)}&tree_size=${checkpoint.size}`);
    return await verifyEvent(event, { checkpoint, publicKey, inclusion });
  } catch (error) {
    return { ok: false, reason: `could not fetch the proof: ${error?.message ?? error}` };
  }
}

function showResult(cell, result) {
  replace(cell, result.ok
    ? h('span', { class: 'proof proof-ok', title: `checkpoint of ${result.size} entries, key ${result.keyId}` },
      h('span', { class: 'badge badge-pass', text: 'verified' }),
      ` in a signed checkpoint of ${result.size} entries (key ${result.keyId})`)
    : h('span', { class: 'proof proof-failed' },
      h('span', { class: 'badge badge-fail', text: 'failed' }), ` ${result.reason}`));
}

const FILTERS = ['action', 'actor', 'target', 'since', 'until'];

/** An RFC 3339 time from a `datetime-local` value (the reader's zone). */
function isoFromLocal(value) {
  if (!value) return '';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? '' : date.toISOString();
}

function localFromIso(value) {
  const date = new Date(value ?? '');
  if (!value || Number.isNaN(date.getTime())) return '';
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function detailsList(details) {
  const entries = Object.entries(details ?? {});
  if (entries.length === 0) return '';
  return h('dl', { class: 'details' },
    entries.map(([key, value]) => [h('dt', { text: key }), h('dd', { text: value })]));
}

async function renderAudit(container, _params, query) {
  const base = routes();
  const filters = Object.fromEntries(FILTERS.map((name) => [name, query.get(name) ?? '']));
  const cursor = query.get('cursor') ?? '';

  const inputs = {
    action: h('input', { name: 'action', value: filters.action, placeholder: 'api_key.issued' }),
    actor: h('input', { name: 'actor', value: filters.actor, placeholder: 'user:usr_...' }),
    target: h('input', { name: 'target', value: filters.target }),
    since: h('input', { name: 'since', type: 'datetime-local', value: localFromIso(filters.since) }),
    until: h('input', { name: 'until', type: 'datetime-local', value: localFromIso(filters.until) }),
  };
  const filterForm = form({ class: 'filters', 'aria-label': 'Filter the audit log' }, [
    field('Action', inputs.action),
    field('Actor', inputs.actor),
    field('Target', inputs.target),
    field('Since', inputs.since),
    field('Until', inputs.until),
    h('div', { class: 'actions' }, h('button', { type: 'submit', text: 'Filter' })),
  ], async () => {
    const next = new URLSearchParams();
    for (const name of ['action', 'actor', 'target']) {
      if (inputs[name].value.trim()) next.set(name, inputs[name].value.trim());
    }
    for (const name of ['since', 'until']) {
      const iso = isoFromLocal(inputs[name].value);
      if (iso) next.set(name, iso);
    }
    navigate(`audit${next.toString() ? `?${next}` : ''}`);
  });

  const list = h('div', { class: 'audit-list' });
  replace(container,
    h('p', { class: 'muted', text: session.user?.role === 'admin'
      ? 'The platform\'s audit log. Verify checks each entry in your browser against the latest signed checkpoint.'
      : 'Your business\'s audit log. Verify checks each entry in your browser against the latest signed checkpoint.' }),
    filterForm,
    list);

  await loading(list, async () => {
    const params = new URLSearchParams({ limit: '50' });
    for (const name of FILTERS) if (filters[name]) params.set(name, filters[name]);
    if (cursor) params.set('cursor', cursor);
    const page = await api('GET', `${base}?${params}`);
    const events = page.events ?? [];
    const cells = new Map();
    const rows = events.map((event) => {
      const status = h('span', { class: 'proof', text: 'not checked' });
      cells.set(event.event_id, status);
      const button = h('button', {
        type: 'button',
        class: 'small',
        'aria-label': `Verify entry ${event.sequence}`,
        text: 'Verify',
        onclick: async () => {
          button.disabled = true;
          replace(status, 'checking…');
          const result = await checkEntry(base, event);
          showResult(status, result);
          announce(`Entry ${event.sequence}: ${result.ok ? 'verified' : `failed: ${result.reason}`}`);
          button.disabled = false;
        },
      });
      return [
        timeEl(event.occurred_at),
        h('code', { class: 'wrap', text: event.actor }),
        h('code', { text: event.action }),
        h('code', { class: 'wrap', text: event.target }),
        h('span', { class: `outcome outcome-${event.outcome === 'success' ? 'ok' : 'bad'}`, text: event.outcome }),
        detailsList(event.details),
        h('div', { class: 'proof-cell', dataset: { eventId: event.event_id } }, button, ' ', status),
      ];
    });
    const verifyAll = h('button', {
      type: 'button',
      text: 'Verify this page',
      disabled: events.length === 0,
      onclick: async () => {
        verifyAll.disabled = true;
        let failed = 0;
        try {
          const shared = await anchors(base);
          for (const event of events) {
            replace(cells.get(event.event_id), 'checking…');
            const result = await checkEntry(base, event, shared);
            if (!result.ok) failed += 1;
            showResult(cells.get(event.event_id), result);
          }
          announce(failed === 0 ? `All ${events.length} entries verified` : `${failed} of ${events.length} entries failed`);
        } catch (error) {
          announce(`Verification could not run: ${error?.message ?? error}`);
        } finally {
          verifyAll.disabled = false;
        }
      },
    });
    const pager = h('nav', { class: 'pager', 'aria-label': 'Audit log pages' },
      cursor ? h('a', { href: `#/audit${pageQuery(filters, '')}`, text: 'First page' }) : null,
      page.next_cursor
        ? h('a', { href: `#/audit${pageQuery(filters, page.next_cursor)}`, text: 'Next page' })
        : null);
    return [
      h('div', { class: 'toolbar' }, verifyAll),
      table('Audit events, oldest first', ['Time', 'Actor', 'Action', 'Target', 'Outcome', 'Details', 'Proof'],
        rows, 'No events match.'),
      pager,
    ];
  });
}

function pageQuery(filters, cursor) {
  const params = new URLSearchParams();
  for (const name of FILTERS) if (filters[name]) params.set(name, filters[name]);
  if (cursor) params.set('cursor', cursor);
  const text = params.toString();
  return text ? `?${text}` : '';
}

page({
  path: 'audit',
  title: 'Audit log',
  nav: 'Audit log',
  // The audit service lets an owner's session read the tenant's log and a
  // platform admin the platform's; managers and agents get 403.
  roles: ['owner', 'admin'],
  render: renderAudit,
});
