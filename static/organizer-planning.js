// Organiser page, before and around the call: choosing participants (checkboxes on the cards),
// "Invite" (invitation e-mails), "Notify" (a free-text message by e-mail and/or SMS, with a live
// SMS counter) and the "Messages" list: each recipient and channel with its delivery status,
// loaded from the server and kept current by the live `notification` events.
import { api, formatTime, h, t } from './common.js';
import './i18n-planning.js';
import { countSms, smsText } from './organizer-sms.js';
import { formatPhone } from './phone.js';

const $ = (id) => document.getElementById(id);
const MESSAGE_STATES = new Set(['queued', 'sending', 'sent', 'failed', 'skipped']);
const KINDS = new Set([
  'invitation',
  'invitation-organizer',
  'notice',
  'cancellation',
  'cancellation-organizer',
  'organizer-link',
  'report',
]);
const CHANNELS = new Set(['email', 'sms']);

/**
 * How far a message has got: a later state never gives way to an earlier one (a REST answer
 * may arrive after the live event that already moved the message on). Each attempt goes
 * queued → sending → sent | failed | queued again (with attempts + 1 on "sending").
 */
function freshness(m) {
  const attempts = Number.isFinite(m.attempts) ? m.attempts : 0;
  return attempts * 2 + (m.state === 'sending' ? 0 : 1);
}

/**
 * @param {object} ctx
 * @param {string} ctx.base         the conference's API path
 * @param {string|null} ctx.token   the organiser token, or null for the session cookie
 * @param {Map} ctx.participants    id → participant, kept by the page
 * @param {() => object|null} ctx.conference
 * @param {(message: string, kind?: string) => void} ctx.toast
 * @param {() => void} ctx.refreshCards  re-render every card (checkbox states)
 */
export function createPlanning(ctx) {
  const { base, token, participants } = ctx;
  const selected = new Set();
  const messages = new Map(); // key → notification
  const rows = new Map(); // key → <tr>
  let started = false;
  let inviting = false;
  let sending = false;
  let skippedSeq = 0;

  const isEnded = () => ctx.conference()?.state === 'ended';
  const selectable = (p) => Boolean(p) && p.role !== 'organizer';

  // ---- Selection -------------------------------------------------------------------------

  function selectableIds() {
    return [...participants.values()].filter(selectable).map((p) => p.id);
  }

  function setSelected(id, on) {
    if (on && selectable(participants.get(id))) selected.add(id);
    else selected.delete(id);
    renderSelection();
  }

  /** Forget chosen people who are no longer in the list (removed, replaced by a new call leg). */
  function prune() {
    for (const id of [...selected]) {
      if (!selectable(participants.get(id))) selected.delete(id);
    }
  }

  function renderSelection() {
    if (!started) return;
    prune();
    const all = selectableIds();
    const box = $('select-all');
    box.checked = all.length > 0 && all.every((id) => selected.has(id));
    box.indeterminate = selected.size > 0 && !box.checked;
    box.disabled = all.length === 0;
    $('select-count').textContent = selected.size
      ? t('plan.selectedCount', { n: selected.size })
      : t('plan.noneSelected');
    const invite = $('invite-button');
    invite.textContent = selected.size
      ? t('plan.inviteSelected', { n: selected.size })
      : t('plan.inviteAll');
    invite.disabled = inviting || isEnded() || all.length === 0;
    const notify = $('notify-button');
    notify.textContent = selected.size
      ? t('plan.notifySelected', { n: selected.size })
      : t('plan.notify');
    notify.disabled = selected.size === 0;
    for (const card of document.querySelectorAll('.participant[data-id]')) {
      const input = card.querySelector('input.select-box');
      if (input) input.checked = selected.has(card.dataset.id);
    }
  }

  $('select-all').addEventListener('change', (event) => {
    const ids = selectableIds();
    if (event.target.checked) for (const id of ids) selected.add(id);
    else selected.clear();
    renderSelection();
  });

  document.getElementById('participants-section').addEventListener('change', (event) => {
    const input = event.target.closest?.('input.select-box');
    if (!input) return;
    const id = input.closest('.participant')?.dataset.id;
    if (id) setSelected(id, input.checked);
  });

  // ---- Invite ----------------------------------------------------------------------------

  $('invite-button').addEventListener('click', async () => {
    if (inviting) return;
    inviting = true;
    renderSelection();
    const body = selected.size ? { participant_ids: [...selected] } : {};
    try {
      const { data } = await api(`${base}/invitations`, { method: 'POST', token, json: body });
      const list = Array.isArray(data?.notifications) ? data.notifications : [];
      mergeMessages(list);
      if (list.length) ctx.toast(t('plan.invitesQueued', { n: list.length }), 'success');
      else ctx.toast(t('plan.nobodyToInvite'), 'info');
    } catch (err) {
      ctx.toast(t('org.actionFailed', { message: err.message }));
    } finally {
      inviting = false;
      renderSelection();
    }
  });

  // ---- Notify ----------------------------------------------------------------------------

  const dialog = $('notify-dialog');
  const form = $('notify-form');
  const text = $('notify-message');
  const byEmail = $('notify-email');
  const bySms = $('notify-sms');

  function chosenChannels() {
    return [byEmail, bySms].filter((box) => box.checked).map((box) => box.value);
  }

  function renderCounter() {
    const conf = ctx.conference();
    const full = smsText(text.value, { title: conf?.title, sender: conf?.organizer?.name });
    const count = countSms(full);
    const counter = $('sms-counter');
    counter.dataset.encoding = count.encoding;
    counter.dataset.segments = String(count.segments);
    counter.dataset.units = String(count.units);
    counter.dataset.active = String(bySms.checked);
    $('sms-encoding').textContent = count.encoding;
    $('sms-size').textContent = t('plan.smsSize', {
      units: count.units,
      segments: count.segments,
      per: count.perSegment,
      left: count.left,
    });
    $('sms-why').textContent = count.nonGsm.length
      ? t('plan.smsUcs2', { chars: count.nonGsm.join(' ') })
      : t('plan.smsGsm');
    $('notify-send').disabled = sending || !text.value.trim() || chosenChannels().length === 0;
  }

  function renderRecipients() {
    const names = [...selected]
      .map((id) => participants.get(id))
      .filter(Boolean)
      .map((p) => (p.name && p.name.trim()) || formatPhone(p.phone) || p.email || '?');
    $('notify-recipients').textContent = names.join(', ');
  }

  $('notify-button').addEventListener('click', () => {
    if (selected.size === 0) return;
    $('notify-error').textContent = '';
    renderRecipients();
    renderCounter();
    dialog.showModal();
    text.focus();
  });
  for (const el of [text, byEmail, bySms]) el.addEventListener('input', renderCounter);
  for (const el of [byEmail, bySms]) el.addEventListener('change', renderCounter);
  dialog.querySelector('[data-action="cancel-notify"]').addEventListener('click', () =>
    dialog.close('cancel'),
  );

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const message = text.value.trim();
    const channels = chosenChannels();
    if (!message || !channels.length || sending) return;
    sending = true;
    $('notify-error').textContent = '';
    renderCounter();
    try {
      const { data } = await api(`${base}/notify`, {
        method: 'POST',
        token,
        json: { message, channels, participant_ids: [...selected] },
      });
      const list = Array.isArray(data?.notifications) ? data.notifications : [];
      mergeMessages(list);
      dialog.close('sent');
      text.value = '';
      const queued = list.filter((m) => m.state !== 'skipped').length;
      ctx.toast(t('plan.notifyQueued', { n: queued }), 'success');
      $('messages-section').scrollIntoView({ block: 'nearest' });
    } catch (err) {
      $('notify-error').textContent = err.message;
      if (err.field === 'message') text.focus();
    } finally {
      sending = false;
      renderCounter();
    }
  });

  // ---- Messages --------------------------------------------------------------------------

  function keyOf(m) {
    if (m.id !== undefined && m.id !== null) return `id:${m.id}`;
    skippedSeq += 1; // a "skipped" line is not stored: it has no id
    return `skip:${skippedSeq}`;
  }

  function mergeMessages(list) {
    for (const m of list) upsertMessage(m);
    renderMessagesMeta();
  }

  function upsertMessage(m) {
    if (!m || typeof m !== 'object') return;
    const key = keyOf(m);
    const known = messages.get(key);
    if (known && freshness(m) < freshness(known)) return; // an older view: keep what we have
    messages.set(key, m);
    let row = rows.get(key);
    if (!row) {
      row = createRow(key);
      rows.set(key, row);
      placeRow(key, row, m);
    }
    updateRow(row, m);
  }

  /** Newest first: rows with higher ids on top; unsaved "skipped" lines above what they came with. */
  function placeRow(key, row, m) {
    const body = $('messages-rows');
    if (m.id === undefined || m.id === null) {
      body.prepend(row);
      return;
    }
    const before = [...body.children].find((other) => {
      const id = Number(other.dataset.id);
      return other.dataset.id !== '' && Number.isFinite(id) && id < m.id;
    });
    body.insertBefore(row, before || null);
  }

  function createRow(key) {
    return h(
      'tr',
      { class: 'message-row', dataset: { testid: 'message-row', key } },
      h('td', { class: 'message-row__name' }),
      h('td', { class: 'message-row__channel' }),
      h('td', { class: 'message-row__kind' }),
      h('td', { class: 'message-row__address' }),
      h('td', { class: 'message-row__status' }, h('span', { class: 'status-badge' }), h('span', { class: 'message-row__error' })),
      h('td', { class: 'message-row__time' }),
    );
  }

  function updateRow(row, m) {
    const state = MESSAGE_STATES.has(m.state) ? m.state : 'queued';
    const channel = CHANNELS.has(m.channel) ? m.channel : 'email';
    row.dataset.id = m.id ?? '';
    row.dataset.state = state;
    row.dataset.channel = channel;
    row.dataset.kind = String(m.kind || 'notice');
    row.dataset.participantId = m.participant_id || '';
    const person = m.participant_id ? participants.get(m.participant_id) : null;
    row.querySelector('.message-row__name').textContent = m.name || person?.name || '';
    row.querySelector('.message-row__channel').textContent = t(`plan.channel.${channel}`);
    const kind = KINDS.has(m.kind) ? t(`plan.kind.${m.kind}`) : m.kind || t('plan.kind.notice');
    row.querySelector('.message-row__kind').textContent = kind;
    const address = m.recipient || (channel === 'sms' ? person?.phone : person?.email) || '';
    row.querySelector('.message-row__address').textContent =
      channel === 'sms' ? formatPhone(address) : address;
    const badge = row.querySelector('.status-badge');
    badge.dataset.state = state;
    badge.textContent = t(`plan.status.${state}`);
    const error = row.querySelector('.message-row__error');
    error.textContent = state === 'failed' || state === 'skipped' ? reason(m.last_error) : '';
    if (state === 'queued' && m.attempts > 0 && m.last_error) {
      error.textContent = t('plan.retrying', { reason: m.last_error });
    }
    row.querySelector('.message-row__time').textContent = formatTime(m.sent_at || m.created_at);
  }

  function reason(lastError) {
    if (lastError === 'no e-mail address') return t('plan.noEmail');
    if (lastError === 'no phone number') return t('plan.noPhone');
    return lastError || '';
  }

  function renderMessagesMeta() {
    const n = messages.size;
    $('messages-empty').hidden = n > 0;
    $('messages-table').hidden = n === 0;
    const sent = [...messages.values()].filter((m) => m.state === 'sent').length;
    $('messages-count').textContent = n ? t('plan.messagesCount', { sent, n }) : '';
  }

  function renderAllRows() {
    for (const [key, row] of rows) updateRow(row, messages.get(key));
    renderMessagesMeta();
  }

  async function loadMessages() {
    try {
      const { data } = await api(`${base}/notifications`, { token });
      if (Array.isArray(data)) mergeMessages(data);
    } catch (err) {
      ctx.toast(t('plan.messagesFailed', { message: err.message }));
    }
  }

  // ---- Wiring ------------------------------------------------------------------------------

  window.addEventListener('langchange', () => {
    if (!started) return;
    renderSelection();
    renderAllRows();
    if (dialog.open) renderCounter();
  });

  return {
    selected,
    selectable,
    /** Show the selection bar and the messages; the page is authorised by now. */
    start() {
      started = true;
      $('select-bar').hidden = false;
      $('messages-section').hidden = false;
      renderSelection();
      renderMessagesMeta();
    },
    /** A fresh snapshot (first connect or a reconnect): catch up with the stored messages. */
    onSnapshot() {
      if (!started) return;
      renderSelection();
      loadMessages();
    },
    onNotification(m) {
      if (!started) return;
      upsertMessage(m);
      renderMessagesMeta();
    },
    participantsChanged() {
      renderSelection();
    },
    hide() {
      started = false;
      $('select-bar').hidden = true;
      $('messages-section').hidden = true;
    },
  };
}
