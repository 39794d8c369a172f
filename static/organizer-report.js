// After the conference: the organiser page's "Report" panel (who took part, each session, how
// they joined and for how long, and once priced the costs and who pays them), and the money
// and duration formatting shared with the account page's monthly statements.
//
// The costs are frozen a moment after the end, once everyone has left: until then the report
// says `costs: null`, so the panel asks again every RETRY_MS, at most RETRY_TRIES times, and
// once more whenever a participant's state still changes after the end (the last leave is what
// lets the server price the conference).
import { api, displayName, formatTime, getLang, h, t } from './common.js';
import './i18n-planning.js';
import { formatPhone } from './phone.js';

const RETRY_MS = 1000;
const RETRY_TRIES = 10;
const MODES = new Set(['web', 'dial-in', 'dial-out']);
const ACCESS_MODES = new Set(['premium', 'geographic', 'tollfree']);
const FEE_KINDS = new Set(['web', 'geographic', 'tollfree', 'dial-out']);
const PAYERS = new Set(['organizer', 'caller']);
const SERVER_STOPPED = new Set(['server-died', 'server-restart']);

// ---- Formatting (also used by the account page's statements) --------------------------------

/** Significant decimals of a decimal string: "0.025" → 3, "0.010" → 2, "5" → 0. */
function decimals(value) {
  const match = /\.(\d*?)0*$/.exec(String(value ?? ''));
  return match ? match[1].length : 0;
}

/**
 * A decimal string ("12.30") as money in the page's language, e.g. "€12.30" or "12,30 €".
 * The string is handed to Intl as it is (exact, no float), with the currency's usual decimals
 * and more only where the value needs them (per-minute prices such as 0.025).
 */
export function formatMoney(amount, currency) {
  if (amount === null || amount === undefined || amount === '') return '';
  const text = String(amount);
  if (!currency) return text;
  try {
    const options = { style: 'currency', currency };
    const usual = new Intl.NumberFormat(getLang(), options).resolvedOptions();
    const digits = Math.min(20, Math.max(usual.maximumFractionDigits, decimals(text)));
    return new Intl.NumberFormat(getLang(), {
      ...options,
      minimumFractionDigits: usual.minimumFractionDigits,
      maximumFractionDigits: digits,
    }).format(text);
  } catch {
    return `${text} ${currency}`; // an unknown currency code: the plain number and code
  }
}

/** A line's unit price: per minute for time ("€0.01/min"), per item otherwise. */
export function formatUnitPrice(line, currency) {
  const price = formatMoney(line.unit_price, currency);
  return line.unit === 'second' ? t('bill.perMinute', { price }) : price;
}

/** Whole seconds as "m:ss" (minutes are not wrapped into hours: "75:00"). */
export function formatClock(seconds) {
  const total = Math.max(0, Math.round(Number(seconds) || 0));
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, '0')}`;
}

/** A duration for people: "m:ss" below an hour, "h:mm:ss" from an hour on. */
export function formatDuration(seconds) {
  const total = Math.max(0, Math.round(Number(seconds) || 0));
  if (total < 3600) return formatClock(total);
  const hours = Math.floor(total / 3600);
  const rest = total % 3600;
  return `${hours}:${String(Math.floor(rest / 60)).padStart(2, '0')}:${String(rest % 60).padStart(2, '0')}`;
}

/** A line's quantity: billed time as m:ss, or a count. */
export function formatQuantity(line) {
  return line.unit === 'second' ? formatClock(line.quantity) : String(line.quantity ?? '');
}

/**
 * The item of a charge line in the page's language: "fee" (with the way the participant
 * joined, which the server writes at the start of the detail, e.g. "web fee, registered"),
 * "call", "premium" or "addon:<name>".
 */
export function itemLabel(line) {
  const item = String(line.item ?? '');
  if (item === 'fee') {
    const kind = /^(\S+) fee\b/.exec(String(line.detail ?? ''))?.[1];
    return FEE_KINDS.has(kind)
      ? t('bill.item.feeKind', { kind: t(`bill.kind.${kind}`) })
      : t('bill.item.fee');
  }
  if (item === 'call' || item === 'premium') return t(`bill.item.${item}`);
  if (item.startsWith('addon:')) {
    const key = `bill.item.${item}`;
    return t(key) === key ? t('bill.item.addon', { name: item.slice(6) }) : t(key);
  }
  return item;
}

/** Extra words for a line, shown under the item: where a call went ("SI mobile"). */
export function itemNote(line) {
  return line.item === 'call' && line.detail ? String(line.detail) : '';
}

/** Who pays: `organizerKey` names the organiser's side ("the account", "you"). */
export function payerLabel(payer, organizerKey) {
  if (payer === 'caller') return t('bill.payer.caller');
  if (payer === 'organizer') return t(organizerKey);
  return String(payer ?? '');
}

/** The payer badge of a charge line. */
export function payerBadge(payer, organizerKey) {
  return h('span', {
    class: 'payer-badge',
    'data-payer': PAYERS.has(payer) ? payer : '',
    'data-testid': 'payer',
    text: payerLabel(payer, organizerKey),
  });
}

// ---- The report panel ---------------------------------------------------------------------

function howText(session) {
  const mode = MODES.has(session.mode) ? session.mode : '';
  if (mode === 'dial-in' && session.access_number) {
    const number = formatPhone(session.access_number);
    return ACCESS_MODES.has(session.access_mode)
      ? t('report.how.dialInOn', { number, mode: t(`access.${session.access_mode}`) })
      : t('report.how.dialInOnNumber', { number });
  }
  return mode ? t(`report.how.${mode}`) : '';
}

function leftReasonText(reason) {
  if (SERVER_STOPPED.has(reason)) return t('report.left.serverStopped');
  if (reason === 'removed') return t('report.left.removed');
  if (reason === 'ended') return t('report.left.ended');
  return '';
}

function th(key, props = {}) {
  return h('th', { scope: 'col', 'data-i18n': key, text: t(key), ...props });
}

/**
 * @param {object} ctx
 * @param {string} ctx.base        the conference's API path
 * @param {string|null} ctx.token  the organiser token, or null for the session cookie
 */
export function createReport(ctx) {
  const { base, token } = ctx;
  const $ = (id) => document.getElementById(id);
  const panel = $('report-panel');
  let report = null; // the last answer
  let error = '';
  let started = false;
  let inFlight = false;
  let timer = null;
  let tries = 0;

  const costsPending = () => !report || report.costs === null || report.costs === undefined;

  async function load() {
    timer = null;
    if (inFlight) return;
    inFlight = true;
    try {
      const { data } = await api(`${base}/report`, { token });
      report = data && typeof data === 'object' ? data : null;
      error = '';
    } catch (err) {
      error = err.message;
    } finally {
      inFlight = false;
    }
    tries += 1;
    if (costsPending() && tries < RETRY_TRIES) timer = setTimeout(load, RETRY_MS);
    render();
  }

  /** The conference changed (snapshot, live event, our own "end"): the report once ended. */
  function conferenceChanged(conf) {
    if (conf?.state !== 'ended') return;
    if (!started) {
      started = true;
      panel.hidden = false;
      render();
      load();
    }
  }

  /** A participant changed after the end (e.g. left when the farewell was over): ask again. */
  function participantChanged() {
    if (!started || !costsPending() || timer || inFlight) return;
    tries = 0;
    timer = setTimeout(load, RETRY_MS);
    render();
  }

  function participantName(p) {
    return displayName({ name: p.name, phone: p.phone ? formatPhone(p.phone) : '' });
  }

  function renderFacts() {
    const conf = report?.conference || {};
    const totals = report?.totals || {};
    const facts = [];
    const fact = (key, value, testId) =>
      facts.push(
        h(
          'div',
          { class: 'report-fact' },
          h('dt', { 'data-i18n': key, text: t(key) }),
          h('dd', { 'data-testid': testId, text: value }),
        ),
      );
    if (conf.started_at) fact('report.started', formatTime(conf.started_at), 'report-started');
    if (conf.ended_at) fact('report.endedAt', formatTime(conf.ended_at), 'report-ended');
    if (conf.started_at && conf.ended_at) {
      const seconds = (Date.parse(conf.ended_at) - Date.parse(conf.started_at)) / 1000;
      if (Number.isFinite(seconds)) fact('report.duration', formatDuration(seconds), 'report-duration');
    }
    fact('report.totalParticipants', String(totals.participants ?? 0), 'report-total-participants');
    fact('report.totalSessions', String(totals.sessions ?? 0), 'report-total-sessions');
    fact('report.totalTime', formatDuration(totals.seconds), 'report-total-time');
    $('report-facts').replaceChildren(...facts);
  }

  function sessionCells(s) {
    const left = s.left_at ? formatTime(s.left_at) : t('report.stillIn');
    const reason = leftReasonText(s.left_reason);
    return [
      h('td', { class: 'report-how', 'data-testid': 'session-how', text: howText(s) }),
      h('td', { class: 'report-time', text: formatTime(s.joined_at) }),
      h(
        'td',
        { class: 'report-time', 'data-testid': 'session-left' },
        left,
        reason
          ? h('span', {
              class: 'report-reason',
              'data-reason': s.left_reason,
              'data-testid': 'left-reason',
              text: reason,
            })
          : null,
      ),
      h('td', {
        class: 'num',
        'data-testid': 'session-duration',
        text: s.seconds === null || s.seconds === undefined ? '' : formatDuration(s.seconds),
      }),
    ];
  }

  function renderParticipants() {
    const people = Array.isArray(report?.participants) ? report.participants : [];
    const groups = people.map((p) => {
      const sessions = Array.isArray(p.sessions) ? p.sessions : [];
      const span = Math.max(1, sessions.length);
      const nameCell = h(
        'th',
        { scope: 'rowgroup', rowspan: String(span), class: 'report-person' },
        h('span', { class: 'report-person__name', 'data-testid': 'report-name', text: participantName(p) }),
        p.role === 'organizer'
          ? h('span', { class: 'report-person__role', text: t('report.organizer') })
          : null,
      );
      const phoneCell = h('td', {
        rowspan: String(span),
        class: 'report-phone mono',
        'data-testid': 'report-phone',
        text: p.phone ? formatPhone(p.phone) : '',
      });
      const totalCell = h('td', {
        rowspan: String(span),
        class: 'num report-person__total',
        'data-testid': 'report-person-total',
        text: sessions.length ? formatDuration(p.seconds) : '',
      });
      const rows = sessions.length
        ? sessions.map((s, i) =>
            h(
              'tr',
              { 'data-testid': 'report-session', dataset: { mode: MODES.has(s.mode) ? s.mode : '' } },
              i === 0 ? [nameCell, phoneCell] : [],
              sessionCells(s),
              i === 0 ? totalCell : null,
            ),
          )
        : [
            h(
              'tr',
              { class: 'report-absent' },
              nameCell,
              phoneCell,
              h('td', { colspan: '4', class: 'muted-text', text: t('report.didNotJoin') }),
              totalCell,
            ),
          ];
      return h(
        'tbody',
        { 'data-testid': 'report-participant', dataset: { id: p.id, role: p.role } },
        rows,
      );
    });
    $('report-table').replaceChildren(
      h('caption', { class: 'visually-hidden', text: t('report.sessions') }),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          th('report.colParticipant'),
          th('report.colPhone'),
          th('report.colHow'),
          th('report.colJoined'),
          th('report.colLeft'),
          th('report.colDuration', { class: 'num' }),
          th('report.colTotal', { class: 'num' }),
        ),
      ),
      ...groups,
    );
  }

  function renderCosts() {
    const box = $('report-costs');
    const status = $('report-costs-status');
    const costs = report?.costs;
    if (!costs) {
      box.hidden = true;
      box.replaceChildren();
      const pending = timer !== null || inFlight || !report;
      status.hidden = false;
      status.dataset.state = pending ? 'pending' : 'none';
      status.textContent = t(pending ? 'report.costsPending' : 'report.costsNone');
      return;
    }
    status.hidden = true;
    status.dataset.state = 'ready';
    status.textContent = '';
    const names = new Map(
      (report.participants || []).map((p) => [p.id, participantName(p)]),
    );
    const currency = costs.currency;
    const lines = Array.isArray(costs.lines) ? costs.lines : [];
    const body = h(
      'tbody',
      {},
      lines.map((line) => {
        const who = line.participant_id
          ? names.get(line.participant_id) || t('org.unknownCaller')
          : t('bill.conference');
        const note = itemNote(line);
        return h(
          'tr',
          {
            'data-testid': 'cost-line',
            dataset: { item: line.item, payer: line.payer, participant: line.participant_id || '' },
          },
          h('th', { scope: 'row', class: 'cell-name', 'data-testid': 'cost-who', text: who }),
          h(
            'td',
            { 'data-testid': 'cost-item' },
            itemLabel(line),
            note ? h('span', { class: 'line-note', text: note }) : null,
          ),
          h('td', { class: 'num', 'data-testid': 'cost-quantity', text: formatQuantity(line) }),
          h('td', { class: 'num', text: formatUnitPrice(line, currency) }),
          h('td', { class: 'num amount', 'data-testid': 'cost-amount', text: formatMoney(line.amount, currency) }),
          h('td', {}, payerBadge(line.payer, 'report.payer.organizer')),
        );
      }),
    );
    const total = (key, amount, payer) =>
      h(
        'tr',
        { 'data-testid': `cost-total-${payer}` },
        h('th', { scope: 'row', colspan: '4', 'data-i18n': key, text: t(key) }),
        h('td', { class: 'num amount', 'data-testid': 'cost-total', text: formatMoney(amount, currency) }),
        h('td', {}),
      );
    box.hidden = false;
    box.replaceChildren(
      h(
        'div',
        { class: 'table-scroll' },
        h(
          'table',
          { class: 'data-table bill-table', 'data-testid': 'costs-table' },
          h('caption', { class: 'visually-hidden', text: t('report.costs') }),
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              th('report.colParticipant'),
              th('bill.colItem'),
              th('bill.colQuantity', { class: 'num' }),
              th('bill.colUnitPrice', { class: 'num' }),
              th('bill.colAmount', { class: 'num' }),
              th('bill.colPayer'),
            ),
          ),
          body,
          h(
            'tfoot',
            {},
            total('report.totalOrganizer', costs.total_organizer, 'organizer'),
            total('report.totalCaller', costs.total_caller, 'caller'),
          ),
        ),
      ),
    );
  }

  function render() {
    if (!started) return;
    panel.dataset.state = report ? (costsPending() ? 'priced-later' : 'ready') : error ? 'error' : 'loading';
    $('report-error').textContent = error && !report ? t('report.failed', { message: error }) : '';
    $('report-loading').hidden = Boolean(report) || Boolean(error);
    // The server mails the report to the organiser's address once the costs are known.
    const email = report?.conference?.organizer?.email;
    $('report-mail').hidden = !email;
    $('report-mail').textContent = email ? t('report.mailed', { email }) : '';
    $('report-body').hidden = !report;
    if (!report) return;
    renderFacts();
    renderParticipants();
    renderCosts();
  }

  return { conferenceChanged, participantChanged, render };
}
