// The console's views: each renders into <main> from one or two API reads, and wires its actions
// through the confirmation dialog.
import { api } from './console-api.js';
import { ago, badge, count, duration, h, link, row, table } from './console-dom.js';

const enc = encodeURIComponent;
const userHref = (userId, tab) => `#/users/${enc(userId)}${tab ? `?tab=${tab}` : ''}`;

/** "Next page" link of a keyset page: the same route with the page's next_cursor. */
function pager(page, route, query = {}) {
  if (!page.next_cursor) return h('p', { class: 'pager' }, `${page.items.length} shown · end of list`);
  const next = new URLSearchParams({ ...query, cursor: page.next_cursor });
  return h('p', { class: 'pager' }, `${page.items.length} shown · `, link(`${route}?${next}`, 'Next page →'));
}

export async function usersView(ctx, query) {
  const prefix = query.get('prefix') ?? '';
  const page = await api.users(prefix, query.get('cursor'));
  const search = h('input', { type: 'search', name: 'prefix', value: prefix, placeholder: 'user id prefix', 'aria-label': 'User id prefix' });
  const form = h('form', { class: 'search', onsubmit: (event) => {
    event.preventDefault();
    location.hash = `#/users?${new URLSearchParams({ prefix: search.value })}`;
  } }, search, h('button', { type: 'submit' }, 'Search'));
  ctx.render(
    h('h1', {}, 'Users'),
    form,
    table(['User', 'bundle_seq', 'Retained floor', 'Retained bundles', 'Live rows', 'Sources', 'Last activity'],
      page.items.map((u) => row([link(userHref(u.user_id), u.user_id), u.bundle_seq, u.retained_floor, u.retained_bundles, count(u.live_rows), count(u.sources), ago(u.last_activity)])),
      { class: 'users' }),
    pager(page, '#/users', prefix ? { prefix } : {}),
  );
}

const TABS = [
  ['sources', 'Sources'],
  ['push-sessions', 'Push sessions'],
  ['snapshot-sessions', 'Snapshot sessions'],
  ['bundles', 'Bundles'],
  ['rejected-writes', 'Rejected writes'],
];

export async function userView(ctx, userId, query) {
  const tab = TABS.some(([id]) => id === query.get('tab')) ? query.get('tab') : 'sources';
  const cursor = query.get('cursor');
  const user = await api.user(userId);
  const floorInput = h('input', { type: 'number', min: '1', required: true, name: 'floor', 'aria-label': 'New retained floor', placeholder: 'new floor' });
  const raise = h('form', { class: 'inline', onsubmit: (event) => {
    event.preventDefault();
    ctx.act({
      title: `Raise the retained floor of ${userId}?`,
      text: `History up to bundle ${floorInput.value} is deleted; devices that have not pulled that far rebuild from a snapshot.`,
      run: () => api.raiseFloor(userId, floorInput.value),
      done: (r) => `Retained floor is now ${r.retained_floor} (${r.pruned_bundles} bundles pruned).`,
    });
  } }, floorInput, h('button', { type: 'submit', class: 'danger' }, 'Raise floor'));
  const facts = [
    ['bundle_seq', user.bundle_seq], ['Retained floor', user.retained_floor], ['Retained bundles', user.retained_bundles],
    ['Live rows', count(user.live_rows)], ['Sources', count(user.sources)], ['Scope', user.scope_state],
    ['Push sessions', user.push_sessions], ['Snapshot sessions', user.snapshot_sessions], ['Rejected writes', user.rejected_writes],
    ['Watch streams', String(user.watch_subscribers)], ['Last activity', ago(user.last_activity)],
  ];
  const body = await TAB_VIEWS[tab](ctx, userId, cursor);
  ctx.render(
    h('p', { class: 'crumbs' }, link('#/', 'Users'), ' / '),
    h('h1', {}, 'User ', h('code', {}, userId)),
    h('dl', { class: 'facts' }, facts.map(([name, value]) => h('div', {}, h('dt', {}, name), h('dd', {}, value)))),
    h('div', { class: 'actions' }, h('span', {}, 'Repair: '), raise),
    h('nav', { class: 'tabs', 'aria-label': 'User sections' }, TABS.map(([id, title]) =>
      h('a', { href: userHref(userId, id), class: id === tab ? 'active' : '', 'aria-current': id === tab ? 'page' : false }, title))),
    body,
  );
}

const TAB_VIEWS = {
  async sources(ctx, userId, cursor) {
    const page = await api.sources(userId, cursor);
    return h('section', { 'aria-label': 'Sources' },
      table(['Source', 'State', 'Replaced by', 'Next source_bundle_id', 'Last push', 'Last pulled bundle_seq', 'Lag (bundles)', 'Last pull', ''],
        page.items.map((s) => row([
          h('code', {}, s.source_id),
          badge(s.state),
          s.replaced_by_source_id ? h('code', {}, s.replaced_by_source_id) : '—',
          s.next_source_bundle_id,
          ago(s.last_push_at),
          s.last_pulled_at ? s.last_pulled_bundle_seq : 'never',
          h('td', { class: `lag ${Number(s.lag) > 0 ? 'behind' : ''}`, dataset: { lag: s.lag } }, s.lag),
          ago(s.last_pulled_at),
          s.state === 'retired' ? '' : h('button', { type: 'button', class: 'danger', onclick: () => retire(ctx, userId, s.source_id) }, 'Retire'),
        ], { dataset: { source: s.source_id } }))),
      pager(page, `#/users/${enc(userId)}`, { tab: 'sources' }));
  },

  async 'push-sessions'(ctx, userId, cursor) {
    const page = await api.pushSessions(userId, cursor);
    return h('section', { 'aria-label': 'Push sessions' },
      table(['Push', 'Source', 'source_bundle_id', 'Staged rows', 'Age', 'Expires', ''],
        page.items.map((p) => row([
          h('code', {}, p.push_id), h('code', {}, p.source_id), p.source_bundle_id, `${p.staged_rows} / ${p.planned_row_count}`,
          duration(p.age_seconds), p.expired ? badge('expired') : h('time', { datetime: p.expires_at }, p.expires_at),
          p.expired ? '' : h('button', { type: 'button', class: 'danger', onclick: () => ctx.act({
            title: `Expire push session ${p.push_id}?`,
            text: 'Its next chunk or commit is answered 410 and the device starts a new push session.',
            run: () => api.expirePushSession(userId, p.push_id),
            done: () => 'Push session expired.',
          }) }, 'Expire'),
        ]))),
      pager(page, `#/users/${enc(userId)}`, { tab: 'push-sessions' }));
  },

  async 'snapshot-sessions'(ctx, userId, cursor) {
    const page = await api.snapshotSessions(userId, cursor);
    return h('section', { 'aria-label': 'Snapshot sessions' },
      table(['Snapshot', 'At bundle_seq', 'Rows', 'Bytes', 'Age', 'Expires', ''],
        page.items.map((s) => row([
          h('code', {}, s.snapshot_id), s.snapshot_bundle_seq, s.row_count, s.byte_count, duration(s.age_seconds),
          s.expired ? badge('expired') : h('time', { datetime: s.expires_at }, s.expires_at),
          s.expired ? '' : h('button', { type: 'button', class: 'danger', onclick: () => ctx.act({
            title: `Expire snapshot session ${s.snapshot_id}?`,
            text: 'Its next chunk is answered 410 and the device starts a new snapshot.',
            run: () => api.expireSnapshotSession(userId, s.snapshot_id),
            done: () => 'Snapshot session expired.',
          }) }, 'Expire'),
        ]))),
      pager(page, `#/users/${enc(userId)}`, { tab: 'snapshot-sessions' }));
  },

  async bundles(ctx, userId, cursor) {
    const page = await api.bundles(userId, cursor);
    return h('section', { 'aria-label': 'Bundles' },
      table(['bundle_seq', 'Source', 'source_bundle_id', 'Rows', 'Bytes', 'Hash', 'Committed'],
        page.items.map((b) => row([
          link(`#/users/${enc(userId)}/bundles/${b.bundle_seq}`, b.bundle_seq), h('code', {}, b.source_id), b.source_bundle_id,
          b.row_count, b.byte_count, h('code', { class: 'hash' }, b.bundle_hash.slice(0, 16) + '…'), ago(b.committed_at),
        ]))),
      pager(page, `#/users/${enc(userId)}`, { tab: 'bundles' }));
  },

  async 'rejected-writes'(ctx, userId, cursor) {
    const page = await api.rejectedWrites(userId, cursor);
    return h('section', { 'aria-label': 'Rejected writes', class: 'rejected' },
      page.items.length ? page.items.map((r) => h('article', { class: 'rejection', dataset: { code: r.error_code } },
        h('header', {}, badge(String(r.http_status), 'status'), ' ', h('strong', {}, r.error_code), ' · source ', h('code', {}, r.source_id),
          ` · source_bundle_id ${r.source_bundle_id} · `, ago(r.recorded_at)),
        h('p', { class: 'message' }, r.answer.message ?? ''),
        h('details', {}, h('summary', {}, `Answer sent to the device`), h('pre', {}, JSON.stringify(r.answer, null, 2))),
        h('details', { open: true }, h('summary', {}, `Rows the device sent (${r.rows_sent.length} of ${r.planned_row_count}${r.rows_truncated ? ', truncated' : ''})`),
          table(['#', 'Table', 'Key', 'Op', 'Base version', 'Payload'], r.rows_sent.map((s) => row([
            String(s.row_ordinal), s.table, h('code', {}, s.key), s.op, String(s.base_row_version), h('code', { class: 'payload' }, s.payload ?? '—'),
          ])))))) : h('p', { class: 'empty' }, 'No rejected commits recorded for this user.'),
      pager(page, `#/users/${enc(userId)}`, { tab: 'rejected-writes' }));
  },
};

function retire(ctx, userId, sourceId) {
  const replacement = h('input', { type: 'text', name: 'replacement', placeholder: 'new source id (blank: a random UUID)', 'aria-label': 'Replacement source id' });
  ctx.act({
    title: `Retire source ${sourceId}?`,
    text: `Its next push is refused with source_retired and the device rebuilds from a snapshot under the replacement id. User: ${userId}.`,
    extra: h('label', {}, 'Replaced by ', replacement),
    run: () => api.retireSource(userId, sourceId, replacement.value.trim()),
    done: (r) => `Source ${r.source_id} retired, replaced by ${r.replaced_by_source_id}.`,
  });
}

export async function bundleView(ctx, userId, seq, query) {
  const result = await api.bundle(userId, seq, query.get('cursor'));
  const b = result.bundle;
  const v = result.verification;
  const verdict = v.verified === true ? badge('hash verified', 'verified') : v.verified === false ? badge('hash MISMATCH', 'mismatch') : badge('not verified', 'skipped');
  ctx.render(
    h('p', { class: 'crumbs' }, link('#/', 'Users'), ' / ', link(userHref(userId, 'bundles'), userId), ' / '),
    h('h1', {}, `Bundle ${b.bundle_seq} `, verdict),
    h('dl', { class: 'facts' }, [
      ['Source', h('code', {}, b.source_id)], ['source_bundle_id', b.source_bundle_id], ['Rows', b.row_count], ['Bytes', b.byte_count],
      ['Committed', ago(b.committed_at)], ['Stored hash', h('code', { class: 'hash' }, b.bundle_hash)],
      ['Recomputed hash', h('code', { class: 'hash' }, v.recomputed_hash ?? '—')],
    ].map(([name, value]) => h('div', {}, h('dt', {}, name), h('dd', {}, value)))),
    v.reason ? h('p', { class: v.verified === false ? 'error' : 'note' }, v.reason) : '',
    table(['#', 'Table', 'Key', 'Op', 'Payload'], result.rows.items.map((r) => row([
      r.row_ordinal, `${r.schema}.${r.table}`, h('code', {}, Object.values(r.key)[0]), r.op, h('code', { class: 'payload' }, r.payload ?? '—'),
    ]))),
    pager(result.rows, `#/users/${enc(userId)}/bundles/${enc(seq)}`),
  );
}

export async function auditView(ctx, query) {
  const page = await api.audit(query.get('cursor'));
  ctx.render(
    h('h1', {}, 'Audit log'),
    table(['When', 'Admin', 'Action', 'User', 'Target', 'Detail'], page.items.map((a) => row([
      ago(a.performed_at), h('code', {}, a.admin_id), a.action, a.user_id ? link(userHref(a.user_id), a.user_id) : '—',
      a.target ? h('code', {}, a.target) : '—', h('code', { class: 'payload' }, JSON.stringify(a.detail)),
    ]))),
    pager(page, '#/audit'),
  );
}
