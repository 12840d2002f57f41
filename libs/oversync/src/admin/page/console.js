// Entry of the admin console: sign-in, hash routing, the confirmation dialog, errors and the live
// counters. Plain ES modules from this server; no framework, no build step.
import { api, ApiError, token } from './console-api.js';
import { h } from './console-dom.js';
import { auditView, bundleView, userView, usersView } from './console-views.js';

const $ = (id) => document.getElementById(id);
const main = $('main');

function showError(error) {
  const box = $('error');
  if (!error) {
    box.hidden = true;
    box.textContent = '';
    return;
  }
  box.hidden = false;
  box.textContent = error instanceof ApiError ? `${error.status || 'no answer'} ${error.code}: ${error.message}` : String(error.message ?? error);
}

function showNotice(text) {
  const box = $('notice');
  box.hidden = !text;
  box.textContent = text ?? '';
}

/** Asks in the page's dialog; on Confirm runs the action, shows its result and reloads the view. */
function act({ title, text, extra, run, done }) {
  const dialog = $('confirm');
  $('confirm-title').textContent = title;
  $('confirm-text').textContent = text;
  $('confirm-extra').replaceChildren(...(extra ? [extra] : []));
  dialog.returnValue = '';
  dialog.onclose = async () => {
    if (dialog.returnValue !== 'ok') return;
    try {
      const result = await run();
      showError(null);
      showNotice(done(result));
      await route();
    } catch (error) {
      showError(error);
    }
  };
  dialog.showModal();
}

const ctx = {
  render: (...nodes) => main.replaceChildren(...nodes),
  act,
};

function signInView(message) {
  $('nav').hidden = true;
  $('counters').hidden = true;
  const field = h('textarea', { name: 'token', rows: 4, required: true, placeholder: 'eyJhbGciOi…', 'aria-label': 'Bearer token' });
  ctx.render(h('form', { class: 'signin', onsubmit: async (event) => {
    event.preventDefault();
    token.set(field.value.trim().replace(/^Bearer\s+/i, ''));
    await start();
  } },
  h('h1', {}, 'Sign in'),
  h('p', {}, 'Paste a bearer token of an admin (the host decides who is one). It is kept in this tab only, never in a cookie.'),
  message ? h('p', { class: 'error', role: 'alert' }, message) : '',
  field,
  h('button', { type: 'submit' }, 'Sign in')));
}

async function route() {
  const [path, search = ''] = location.hash.replace(/^#/, '').split('?');
  const query = new URLSearchParams(search);
  const parts = (path || '/').split('/').filter(Boolean).map(decodeURIComponent);
  main.setAttribute('aria-busy', 'true');
  try {
    if (parts[0] === 'audit') await auditView(ctx, query);
    else if (parts[0] === 'users' && parts[1] !== undefined && parts[2] === 'bundles' && parts[3]) await bundleView(ctx, parts[1], parts[3], query);
    else if (parts[0] === 'users' && parts[1] !== undefined) await userView(ctx, parts[1], query);
    else await usersView(ctx, query);
    showError(null);
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) return signOut(`${error.status}: ${error.message}`);
    showError(error);
  } finally {
    main.removeAttribute('aria-busy');
  }
}

// Live counters: the status service's counters, polled; rates from the difference of two polls.
let poll;
let previous;
async function refreshCounters() {
  try {
    const now = await api.status();
    const s = now.status;
    const rate = (key) => {
      if (!previous || s[key] === undefined) return '—';
      const seconds = (Date.parse(now.at) - Date.parse(previous.at)) / 1000;
      return seconds > 0 ? ((Number(s[key]) - Number(previous.status[key])) / seconds).toFixed(1) : '—';
    };
    const rejectedRate = previous ? ((Number(now.rejected_commit_count) - Number(previous.rejected_commit_count)) / Math.max(0.001, (Date.parse(now.at) - Date.parse(previous.at)) / 1000)).toFixed(1) : '—';
    const items = [
      ['Commits/s', rate('committed_bundle_count'), 'commits'],
      ['Bundles', s.committed_bundle_count ?? '—', 'bundles'],
      ['Rejected commits', `${now.rejected_commit_count} (${rejectedRate}/s)`, 'rejected'],
      ['Watch streams', String(now.watch_subscribers), 'watch'],
      ['Owner-guard rejections', s.rejected_registered_write_count ?? '—', 'guard'],
      ['State', `${s.status} · ${s.lifecycle}`, 'state'],
    ];
    $('counters').replaceChildren(...items.map(([name, value, key]) => h('div', { class: 'counter', dataset: { counter: key } }, h('span', {}, name), h('strong', {}, String(value)))));
    $('counters').hidden = false;
    previous = now;
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) return signOut(`${error.status}: ${error.message}`);
    $('counters').replaceChildren(h('div', { class: 'counter stale' }, `counters unavailable: ${error.message}`));
  }
}

function signOut(message) {
  clearInterval(poll);
  poll = undefined;
  previous = undefined;
  token.clear();
  signInView(message);
}

async function start() {
  if (!token.get()) return signInView();
  $('nav').hidden = false;
  await route();
  if (!token.get()) return;
  await refreshCounters();
  poll ??= setInterval(refreshCounters, 2000);
}

$('sign-out').addEventListener('click', () => signOut());
$('run-sweeper').addEventListener('click', () => act({
  title: 'Run the session sweeper now?',
  text: 'Deletes expired push and snapshot sessions and resets lapsed initialization leases, for every user.',
  run: () => api.sweep(),
  done: (r) => (r.skipped ? 'Another server instance was sweeping; nothing done.' : `Swept ${r.push_sessions} push sessions, ${r.snapshot_sessions} snapshot sessions, ${r.initialization_leases} leases.`),
}));
window.addEventListener('hashchange', () => {
  showNotice(null);
  if (token.get()) route();
});
start();
