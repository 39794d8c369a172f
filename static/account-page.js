// The account page: who is logged in, their conferences, the account's monthly statements
// (owners only), API keys and the account's organisers. Not logged in: off to
// /login?next=/account.
import { ApiError, api, copyRow, displayName, getLang, h, initPage, loadSession, t } from './common.js';
import {
  busy,
  clearFieldErrors,
  errorText,
  formatDateTime,
  logOut,
  renderAccountNav,
  showError,
  withLang,
} from './account-common.js';
import {
  formatMoney,
  formatQuantity,
  formatUnitPrice,
  itemLabel,
  itemNote,
  payerBadge,
} from './organizer-report.js';

initPage();

const $ = (id) => document.getElementById(id);
let me = null;
let conferences = [];
let keys = [];
let organizers = [];

function toLogin() {
  const here = window.location.pathname + window.location.search;
  const next = encodeURIComponent(here).replaceAll('%2F', '/');
  window.location.replace(withLang(`/login?next=${next}`));
}

/** api(), but a lost session sends the page to the log-in. */
async function call(path, options) {
  try {
    return await api(path, options);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      toLogin();
      return new Promise(() => {}); // the page is leaving
    }
    throw err;
  }
}

function pageError(err) {
  $('page-error').textContent = errorText(err);
}

// ---- Profile ---------------------------------------------------------------------------------

function fact(labelKey, value, { mono = false, testId } = {}) {
  return h(
    'div',
    { class: 'copy-row' },
    h('dt', { 'data-i18n': labelKey, text: t(labelKey) }),
    h('dd', {}, h('span', { class: mono ? 'mono' : null, 'data-testid': testId, text: value })),
  );
}

function renderProfile() {
  $('me-name').textContent = me.name || me.email;
  $('me-company').textContent = me.account?.company || '';
  const role = t(`account.role.${me.role}`);
  $('me-facts').replaceChildren(
    copyRow('account.userNumber', me.user_number, { mono: true, testId: 'me-number' }),
    fact('account.email', me.email, { testId: 'me-email' }),
    fact('account.role', role.startsWith('account.role.') ? me.role : role, { testId: 'me-role' }),
  );
}

$('logout').addEventListener('click', async (event) => {
  const done = busy(event.currentTarget);
  try {
    await logOut('/login');
  } catch (err) {
    done();
    pageError(err);
  }
});

// ---- Conferences --------------------------------------------------------------------------------

function stateLabel(state) {
  const key = `conf.${state}`;
  return t(key) === key ? state : t(key);
}

function renderConferences() {
  $('conferences-empty').hidden = conferences.length > 0;
  $('conference-list').replaceChildren(
    ...conferences.map((c) => {
      const when = c.ended_at
        ? t('account.endedAt', { time: formatDateTime(c.ended_at) })
        : c.starts_at
          ? t('account.startsAt', { time: formatDateTime(c.starts_at) })
          : t('account.createdAt', { time: formatDateTime(c.created_at) });
      const href = new URL(c.organizer_url, window.location.href);
      const url = href.origin === window.location.origin
        ? href.pathname + href.search
        : href.href;
      return h(
        'li',
        { class: 'item', dataset: { id: c.id, state: c.state }, 'data-testid': 'conference' },
        h(
          'div',
          { class: 'item__main' },
          h('a', { class: 'item__title', href: url, text: c.title }),
          h('span', { class: 'item__meta', text: when }),
        ),
        h('span', {
          class: 'badge',
          'data-conf-state': c.state,
          text: stateLabel(c.state),
        }),
      );
    }),
  );
}

async function loadConferences() {
  const { data } = await call('/api/v1/conferences');
  conferences = Array.isArray(data) ? data : [];
  renderConferences();
}

// ---- Statements (owners) ---------------------------------------------------------------------

let statement = null; // the shown month's answer
let statementSeq = 0; // a later month's answer wins over an earlier, slower one

/** This month as YYYY-MM, by the browser's calendar. */
function currentMonth() {
  const now = new Date();
  return `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, '0')}`;
}

/** "2026-05" → "May 2026" in the page's language. */
function monthName(month) {
  const match = /^(\d{4})-(\d{2})$/.exec(month || '');
  if (!match) return month || '';
  const date = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, 1));
  return new Intl.DateTimeFormat(getLang(), { month: 'long', year: 'numeric', timeZone: 'UTC' })
    .format(date);
}

function statementPath(month) {
  return `/api/v1/account/statements/${encodeURIComponent(month)}`;
}

function statementTable(conf, currency) {
  const lines = Array.isArray(conf.lines) ? conf.lines : [];
  const th = (key, cls) => h('th', { scope: 'col', class: cls, 'data-i18n': key, text: t(key) });
  const total = (key, amount, payer) =>
    h(
      'tr',
      { 'data-testid': `statement-total-${payer}` },
      h('th', { scope: 'row', colspan: '4', 'data-i18n': key, text: t(key) }),
      h('td', { class: 'num amount', 'data-testid': 'amount', text: formatMoney(amount, currency) }),
      h('td', {}),
    );
  return h(
    'table',
    { class: 'data-table bill-table' },
    h('caption', { class: 'visually-hidden', text: conf.title || t('statement.untitled') }),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        th('statement.colParticipant'),
        th('bill.colItem'),
        th('bill.colQuantity', 'num'),
        th('bill.colUnitPrice', 'num'),
        th('bill.colAmount', 'num'),
        th('bill.colPayer'),
      ),
    ),
    h(
      'tbody',
      {},
      lines.map((line) => {
        const who = line.participant_id
          ? displayName({ name: line.participant })
          : t('bill.conference');
        const note = itemNote(line);
        return h(
          'tr',
          {
            'data-testid': 'statement-line',
            dataset: { item: line.item, payer: line.payer, unit: line.unit },
          },
          h('th', { scope: 'row', class: 'cell-name', 'data-testid': 'line-who', text: who }),
          h(
            'td',
            { 'data-testid': 'line-item' },
            itemLabel(line),
            note ? h('span', { class: 'line-note', text: note }) : null,
          ),
          h('td', { class: 'num', 'data-testid': 'line-quantity', text: formatQuantity(line) }),
          h('td', {
            class: 'num',
            'data-testid': 'line-unit-price',
            text: formatUnitPrice(line, currency),
          }),
          h('td', {
            class: 'num amount',
            'data-testid': 'line-amount',
            text: formatMoney(line.amount, currency),
          }),
          h('td', {}, payerBadge(line.payer, 'statement.payer.organizer')),
        );
      }),
    ),
    h(
      'tfoot',
      {},
      total('statement.totalOrganizer', conf.total_organizer, 'organizer'),
      total('statement.totalCaller', conf.total_caller, 'caller'),
    ),
  );
}

function renderStatement() {
  const section = $('statements-section');
  const view = statement;
  const conferencesOf = Array.isArray(view?.conferences) ? view.conferences : [];
  const empty = Boolean(view) && conferencesOf.length === 0;
  const csv = $('statement-csv');
  csv.hidden = !view || empty;
  if (view) {
    csv.href = `${statementPath(view.month)}?format=csv`;
    csv.setAttribute('download', `statement-${view.month}.csv`);
  }
  $('statement-empty').hidden = !empty;
  $('statement-empty').textContent = empty
    ? t('statement.empty', { month: monthName(view.month) })
    : '';
  const totals = $('statement-totals');
  totals.hidden = !view || empty;
  if (view && !empty) {
    const currency = view.currency;
    const fact = (key, amount, testId) =>
      h(
        'div',
        { class: 'statement-total' },
        h('dt', { text: t(key, { month: monthName(view.month) }) }),
        h('dd', { 'data-testid': testId, text: formatMoney(amount, currency) }),
      );
    totals.replaceChildren(
      fact('statement.monthOrganizer', view.total_organizer, 'month-total-organizer'),
      fact('statement.monthCaller', view.total_caller, 'month-total-caller'),
      h(
        'div',
        { class: 'statement-total' },
        h('dt', { 'data-i18n': 'statement.conferences', text: t('statement.conferences') }),
        h('dd', { 'data-testid': 'month-conferences', text: String(conferencesOf.length) }),
      ),
    );
  } else {
    totals.replaceChildren();
  }
  $('statement-list').replaceChildren(
    ...conferencesOf.map((conf) =>
      h(
        'article',
        { class: 'statement-conf', dataset: { id: conf.id }, 'data-testid': 'statement-conference' },
        h(
          'div',
          { class: 'statement-conf__head' },
          h('h3', {
            class: 'statement-conf__title',
            'data-testid': 'statement-title',
            text: conf.title || t('statement.untitled'),
          }),
          conf.ended_at
            ? h('span', {
                class: 'item__meta',
                text: t('statement.endedAt', { time: formatDateTime(conf.ended_at) }),
              })
            : null,
        ),
        h('div', { class: 'table-wrap' }, statementTable(conf, view.currency)),
      ),
    ),
  );
  section.dataset.month = view?.month || '';
}

async function loadStatement() {
  const input = $('statement-month');
  const month = input.value;
  const section = $('statements-section');
  const errBox = $('statement-error');
  errBox.textContent = '';
  if (!/^\d{4}-\d{2}$/.test(month)) return; // cleared or half typed: keep what is shown
  const seq = ++statementSeq;
  section.dataset.state = 'loading';
  $('statement-loading').hidden = false;
  try {
    const { data } = await call(statementPath(month));
    if (seq !== statementSeq) return;
    statement = data && typeof data === 'object' ? data : null;
    section.dataset.state = 'ready';
  } catch (err) {
    if (seq !== statementSeq) return;
    statement = null;
    section.dataset.state = 'error';
    errBox.textContent = errorText(err);
  } finally {
    if (seq === statementSeq) $('statement-loading').hidden = true;
  }
  renderStatement();
}

$('statement-month').addEventListener('change', () => loadStatement());
$('statement-form').addEventListener('submit', (event) => {
  event.preventDefault();
  loadStatement();
});

// ---- API keys -----------------------------------------------------------------------------------

const revokeDialog = $('revoke-dialog');

function renderKeys() {
  $('keys-empty').hidden = keys.length > 0;
  $('key-table').hidden = keys.length === 0;
  $('key-list').replaceChildren(
    ...keys.map((k) =>
      h(
        'tr',
        { dataset: { id: k.id }, 'data-testid': 'key-row' },
        h('th', { scope: 'row', class: 'cell-name', text: k.name }),
        h('td', {}, h('code', { class: 'mono', 'data-testid': 'key-prefix', text: `${k.prefix}…` })),
        h('td', { text: formatDateTime(k.created_at) }),
        h('td', { text: k.last_used_at ? formatDateTime(k.last_used_at) : t('account.never') }),
        h(
          'td',
          { class: 'cell-actions' },
          h('button', {
            type: 'button',
            class: 'btn btn--ghost btn--small btn--danger-text',
            'data-action': 'revoke',
            'aria-label': t('account.revokeNamed', { name: k.name }),
            text: t('account.revoke'),
            onclick: () => askRevoke(k),
          }),
        ),
      ),
    ),
  );
}

async function loadKeys() {
  const { data } = await call('/api/v1/api-keys');
  keys = Array.isArray(data) ? data : [];
  renderKeys();
}

let revoking = null;

function askRevoke(key) {
  revoking = key;
  $('revoke-body').textContent = t('account.revokeBody', { name: key.name, prefix: key.prefix });
  revokeDialog.returnValue = '';
  revokeDialog.showModal();
}

revokeDialog.addEventListener('close', async () => {
  const key = revoking;
  revoking = null;
  if (revokeDialog.returnValue !== 'confirm' || !key) return;
  try {
    await call(`/api/v1/api-keys/${encodeURIComponent(key.id)}`, { method: 'DELETE' });
    await loadKeys();
  } catch (err) {
    pageError(err);
  }
});

const keyForm = $('key-form');
const keyName = $('key-name');

keyForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const errBox = $('key-error');
  errBox.textContent = '';
  clearFieldErrors(keyForm);
  const name = keyName.value.trim();
  if (!name) {
    showError(errBox, t('account.keyNeedsName'), keyName);
    return;
  }
  const done = busy($('key-create'), 'account.keyCreating');
  try {
    const { data } = await call('/api/v1/api-keys', { method: 'POST', json: { name } });
    keyForm.reset();
    showNewKey(data);
    await loadKeys();
  } catch (err) {
    showError(errBox, errorText(err), err.field === 'name' ? keyName : null);
  } finally {
    done();
  }
});

/** The whole key, once: only its hash is kept on the server. */
function showNewKey(created) {
  $('new-key-facts').replaceChildren(
    copyRow('account.newKey', created.key, { mono: true, testId: 'new-key' }),
  );
  const box = $('new-key');
  box.hidden = false;
  box.focus();
}

$('new-key-done').addEventListener('click', () => {
  $('new-key-facts').replaceChildren();
  $('new-key').hidden = true;
  keyName.focus();
});

// ---- Organisers ---------------------------------------------------------------------------------

function renderOrganizers() {
  $('organizer-list').replaceChildren(
    ...organizers.map((u) => {
      const role = t(`account.role.${u.role}`);
      return h(
        'tr',
        { dataset: { id: u.id }, 'data-testid': 'organizer-row' },
        h('th', { scope: 'row', class: 'cell-name', text: u.name }),
        h('td', { class: 'link-break', text: u.email }),
        h('td', { class: 'mono', text: u.user_number }),
        h('td', { text: role.startsWith('account.role.') ? u.role : role }),
      );
    }),
  );
}

async function loadOrganizers() {
  const { data } = await call('/api/v1/account/organizers');
  organizers = Array.isArray(data) ? data : [];
  renderOrganizers();
}

const orgForm = $('organizer-form');
const EMAIL = /^[^@\s<>"]+@[^@\s<>"]+\.[^@\s<>"]+$/;

orgForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const errBox = $('org-error');
  const status = $('org-status');
  errBox.textContent = '';
  status.textContent = '';
  clearFieldErrors(orgForm);
  const name = $('org-name').value.trim();
  const email = $('org-email').value.trim();
  if (!name) {
    showError(errBox, t('account.orgNeedsName'), $('org-name'));
    return;
  }
  if (!EMAIL.test(email)) {
    showError(errBox, t('acct.needEmail'), $('org-email'));
    return;
  }
  const done = busy($('org-submit'), 'acct.saving');
  try {
    await call('/api/v1/account/organizers', {
      method: 'POST',
      json: { name, email, language: $('org-language').value },
    });
    orgForm.reset();
    $('org-language').value = me.language || 'en';
    status.textContent = t('account.orgAdded', { name, email });
    await loadOrganizers();
  } catch (err) {
    const input = { name: $('org-name'), email: $('org-email') }[err.field] || null;
    showError(errBox, err.code === 'email_taken' ? t('account.orgTaken') : errorText(err), input);
  } finally {
    done();
  }
});

// ---- Start --------------------------------------------------------------------------------------

async function start() {
  try {
    me = await loadSession();
  } catch (err) {
    $('loading').hidden = true;
    pageError(err);
    document.body.dataset.state = 'error';
    return;
  }
  if (!me) {
    toLogin();
    return;
  }
  renderAccountNav(me, { current: 'account', afterLogout: '/login' });
  renderProfile();
  $('organizer-form').hidden = me.role !== 'owner';
  $('org-language').value = me.language || 'en';
  $('loading').hidden = true;
  for (const id of ['profile', 'conferences-section', 'keys-section', 'organizers-section']) {
    $(id).hidden = false;
  }
  $('new-conference').href = withLang('/');
  // Statements are the owner's: other organisers of the account are refused them (403).
  const owner = me.role === 'owner';
  $('statements-section').hidden = !owner;
  const month = currentMonth();
  $('statement-month').value = month;
  $('statement-month').max = month;
  const results = await Promise.allSettled([
    loadConferences(),
    loadKeys(),
    loadOrganizers(),
    owner ? loadStatement() : null,
  ]);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) pageError(failed.reason);
  document.body.dataset.state = failed ? 'error' : 'ready';
}

window.addEventListener('langchange', () => {
  if (!me) return;
  renderProfile();
  renderConferences();
  renderKeys();
  renderOrganizers();
  renderStatement();
});

start();
