// Organiser page: live participant cards and conference controls.
// Two ways in: an ad-hoc organiser's token in the URL fragment (#token=...), never in the
// query string; or, without a token, a logged-in registered organiser's session cookie
// (the API calls then carry the session's CSRF token, added by api()).
import './i18n-planning.js';
import {
  api,
  connectLive,
  copyRow,
  displayName,
  formatTime,
  h,
  icon,
  initPage,
  loadSession,
  t,
  talkBars,
} from './common.js';
import { adoptConferenceLang } from './i18n.js';
import { createAddons } from './organizer-addons.js';
import { createPhonebook } from './organizer-phonebook.js';
import { createPlanning } from './organizer-planning.js';
import { createReport } from './organizer-report.js';
import { checkPhone, countryOf, formatPhone } from './phone.js';

initPage();

const $ = (id) => document.getElementById(id);
const STATES = ['invited', 'ringing', 'waiting', 'connected', 'talking', 'muted', 'left', 'failed'];
const PRESENT = new Set(['waiting', 'connected', 'talking', 'muted']);
const GONE = new Set(['left', 'failed']);
const MODES = new Set(['web', 'dial-in', 'dial-out']);
const FAILURES = new Set(['busy', 'no-answer', 'rejected', 'failed', 'unreachable']);
const ACCESS_MODES = new Set(['premium', 'geographic', 'tollfree']);

const conferenceId = decodeURIComponent(window.location.pathname.split('/').filter(Boolean).pop());
const token = new URLSearchParams(window.location.hash.slice(1)).get('token');
const base = `/api/v1/conferences/${encodeURIComponent(conferenceId)}`;

let conference = null;
const participants = new Map();
const cards = new Map();
const pending = new Set();
const busyActions = new Set(); // conference-wide requests under way: 'start', 'lock'
let dialOutStarted = false; // the start request was accepted: do not call everyone twice
let dialSubmitting = false;
let dialCalling = null; // the participant id the "… is being called" note is about
let socket = null;
let phonebook = null; // logged-in organisers only

// ---- Rendering ------------------------------------------------------------------------

function isEnded() {
  return conference?.state === 'ended';
}

function failureLabel(failure) {
  return t(`failure.${FAILURES.has(failure) ? failure : 'failed'}`);
}

/** Someone else with this number is being called or is in the call (a newer leg). */
function numberInUse(p) {
  for (const other of participants.values()) {
    if (other.id !== p.id && other.phone === p.phone && !GONE.has(other.state)) return true;
  }
  return false;
}

/** A phone number may be called (again): invited, or gone after a failed or dial-out call. */
function canCall(p) {
  if (!p.phone || isEnded() || numberInUse(p)) return false;
  return (
    p.state === 'invited' || p.state === 'failed' || (p.state === 'left' && p.mode === 'dial-out')
  );
}

function renderLegend() {
  $('legend').replaceChildren(
    ...STATES.map((state) => {
      const swatch = h('span', { class: 'swatch', 'aria-hidden': 'true' });
      swatch.style.setProperty('--swatch-bg', `var(--st-${state}-bg)`);
      swatch.style.setProperty('--swatch-accent', `var(--st-${state}-accent)`);
      return h('li', { dataset: { state } }, swatch, t(`state.${state}`));
    }),
  );
}

function renderConference() {
  if (!conference) return;
  document.body.dataset.state = conference.state;
  $('conf-title').removeAttribute('data-i18n');
  $('conf-title').textContent = conference.title || '';
  document.title = `${conference.title} – ${t('org.pageTitle')}`;
  const badge = $('conf-state-badge');
  badge.hidden = false;
  badge.dataset.confState = conference.state;
  badge.textContent = t(`conf.${conference.state}`);

  const facts = [];
  if (conference.pin) facts.push(copyRow('org.pin', conference.pin, { mono: true, testId: 'pin' }));
  if (conference.moderator_pin) {
    facts.push(
      copyRow('org.moderatorPin', conference.moderator_pin, { mono: true, testId: 'moderator-pin' }),
    );
  }
  if (conference.join_url) {
    const joinUrl = new URL(conference.join_url, window.location.href).href;
    facts.push(copyRow('org.joinLink', joinUrl, { href: joinUrl, testId: 'join-link' }));
  }
  $('conf-facts').replaceChildren(...facts);
  $('conf-facts').hidden = facts.length === 0;

  const joinAudio = $('join-audio');
  const organizer = [...participants.values()].find((p) => p.role === 'organizer');
  const organizerName = organizer?.name || conference.organizer?.name;
  const query = new URLSearchParams({ pin: conference.moderator_pin || '' });
  if (organizerName) query.set('name', organizerName);
  joinAudio.href = `/join?${query}`;
  joinAudio.hidden = isEnded() || !conference.moderator_pin;

  for (const action of ['mute-all', 'unmute-all', 'end']) {
    document.querySelector(`.org-actions [data-action="${action}"]`).disabled = isEnded();
  }

  // Calling everyone starts the conference: only before it has started.
  const start = document.querySelector('.org-actions [data-action="start-dial-out"]');
  start.disabled = conference.state !== 'scheduled' || dialOutStarted || busyActions.has('start');

  const locked = Boolean(conference.locked);
  document.body.dataset.locked = String(locked);
  const lockBadge = $('lock-badge');
  lockBadge.hidden = !locked;
  lockBadge.title = t('org.lockedHint');
  lockBadge.replaceChildren(icon('lock'), t('org.locked'));
  const lock = document.querySelector('.org-actions [data-action="lock"]');
  lock.dataset.locked = String(locked);
  lock.title = t(locked ? 'org.unlockTitle' : 'org.lockTitle');
  lock.replaceChildren(icon(locked ? 'unlock' : 'lock'), t(locked ? 'org.unlock' : 'org.lock'));
  lock.disabled = isEnded() || busyActions.has('lock');

  $('dial-panel').hidden = isEnded();
  renderPhoneCheck();
  $('ended-banner').hidden = !isEnded();
  report.conferenceChanged(conference); // once ended: the report (and, a moment later, costs)
  addons.conferenceChanged(conference); // own greeting, recording (REC badge in the header)
}

function createCard(id) {
  return h(
    'li',
    { class: 'participant', dataset: { id } },
    h(
      'div',
      { class: 'participant__head' },
      h(
        'label',
        { class: 'participant__select' },
        h('input', { type: 'checkbox', class: 'select-box', dataset: { testid: 'select-participant' } }),
        h('span', { class: 'visually-hidden' }),
      ),
      h('h3', { class: 'participant__name' }),
      h('span', { class: 'participant__role', hidden: true }),
    ),
    h(
      'p',
      { class: 'participant__state' },
      h('span', { class: 'state-icon' }),
      h('span', { class: 'state-label' }),
      h('span', { class: 'failure', dataset: { testid: 'failure' } }),
      talkBars(),
    ),
    h(
      'p',
      { class: 'participant__meta' },
      h('span', { class: 'mode' }),
      h('span', { class: 'phone' }),
      h('span', { class: 'access', dataset: { testid: 'access' } }),
    ),
    h('p', { class: 'participant__meta participant__times' }),
    h(
      'div',
      { class: 'participant__actions' },
      h('button', { type: 'button', class: 'btn btn--small', dataset: { action: 'mute' } }),
      h('button', { type: 'button', class: 'btn btn--small', dataset: { action: 'remove' } }),
      h('button', { type: 'button', class: 'btn btn--small', dataset: { action: 'call-again' } }),
    ),
  );
}

function updateCard(card, p) {
  const state = STATES.includes(p.state) ? p.state : 'connected';
  // Only someone in the mix can be talking (a waiting participant is heard by nobody).
  const talking = p.state === 'talking' || (p.state === 'connected' && Boolean(p.talking));
  const mode = MODES.has(p.mode) ? p.mode : ''; // null until the participant joins or is called
  const phone = formatPhone(p.phone);
  const name = displayName({ ...p, phone });
  const failure = p.state === 'failed' && p.failure ? String(p.failure) : '';
  const stateText = failure
    ? `${t(`state.${state}`)} (${failureLabel(failure)})`
    : t(`state.${state}`);
  card.dataset.state = p.state;
  card.dataset.talking = String(talking);
  card.dataset.mode = mode;
  card.dataset.role = p.role;
  card.dataset.muted = String(Boolean(p.muted));
  card.dataset.failure = failure;
  card.setAttribute('aria-label', t('org.participantLabel', { name, state: stateText }));

  card.querySelector('.participant__name').textContent = name;
  const select = card.querySelector('.participant__select');
  select.hidden = !planning.selectable(p);
  select.querySelector('input').checked = planning.selected.has(p.id);
  select.querySelector('span').textContent = t('plan.selectName', { name });
  const roleEl = card.querySelector('.participant__role');
  roleEl.hidden = p.role !== 'organizer';
  roleEl.textContent = t('org.organizer');

  const muted = Boolean(p.muted) && !GONE.has(p.state);
  card.querySelector('.state-icon').replaceChildren(
    muted ? icon('mic-off') : talking ? icon('mic') : '',
  );
  card.querySelector('.state-label').textContent = t(`state.${state}`);
  card.querySelector('.failure').textContent = failure ? failureLabel(failure) : '';
  card.querySelector('.mode').replaceChildren(...(mode ? [icon(mode), t(`mode.${mode}`)] : []));
  card.querySelector('.phone').textContent = p.name && p.phone ? phone : '';

  // Dial-in: the access number they dialled and who pays for it.
  const access = card.querySelector('.access');
  const accessMode = ACCESS_MODES.has(p.access_mode) ? p.access_mode : '';
  access.dataset.accessMode = accessMode;
  if (p.access_number) {
    access.title = t('org.accessTitle');
    access.replaceChildren(
      h('span', { class: 'access__number', text: formatPhone(p.access_number) }),
      accessMode ? h('span', { class: 'access__mode', text: t(`access.${accessMode}`) }) : '',
    );
  } else {
    access.removeAttribute('title');
    access.replaceChildren();
  }

  const times = [];
  if (p.joined_at) times.push(t('org.joined', { time: formatTime(p.joined_at) }));
  if (p.left_at) times.push(t('org.leftAt', { time: formatTime(p.left_at) }));
  card.querySelector('.participant__times').textContent = times.join(' · ');

  const busy = pending.has(p.id) || isEnded();
  const mute = card.querySelector('[data-action="mute"]');
  mute.textContent = p.muted ? t('action.unmute') : t('action.mute');
  mute.setAttribute('aria-pressed', String(Boolean(p.muted)));
  mute.disabled = busy || !PRESENT.has(p.state);
  mute.hidden = GONE.has(p.state);
  const remove = card.querySelector('[data-action="remove"]');
  remove.textContent = t('action.remove');
  remove.hidden = p.role === 'organizer' || GONE.has(p.state);
  remove.disabled = busy || GONE.has(p.state);
  const call = card.querySelector('[data-action="call-again"]');
  call.replaceChildren(
    icon('dial-out'),
    t(p.state === 'invited' ? 'action.call' : 'action.callAgain'),
  );
  call.hidden = !canCall(p);
  call.disabled = busy;

  const target = GONE.has(p.state) ? $('cards-gone') : $('cards-active');
  if (card.parentElement !== target) target.append(card);
}

function renderCounts() {
  const all = [...participants.values()];
  $('count-in').textContent = t('org.inCall', { n: all.filter((p) => PRESENT.has(p.state)).length });
  $('count-total').textContent = t('org.total', { n: all.length });
  $('cards-empty').hidden = !conference || all.length > 0;
  $('gone-heading').hidden = $('cards-gone').children.length === 0;
}

function upsert(p) {
  if (!p || !p.id) return;
  const before = participants.get(p.id);
  participants.set(p.id, p);
  let card = cards.get(p.id);
  if (!card) {
    card = createCard(p.id);
    cards.set(p.id, card);
  }
  updateCard(card, p);
  if (p.id === dialCalling && p.state !== 'invited' && p.state !== 'ringing') {
    dialCalling = null; // answered or failed: the card says which
    $('dial-status').textContent = '';
  }
  // Earlier legs with the same number offer "Call again" only while this one is not live.
  for (const phone of new Set([p.phone, before?.phone])) {
    if (phone) refreshSameNumber(p.id, phone);
  }
  renderCounts();
  listChanged();
  if (isEnded()) report.participantChanged(); // the last to leave lets the costs be made
}

/** Who is on the list changed: the selection and the phonebook follow. */
function listChanged() {
  planning.participantsChanged();
  phonebook?.participantsChanged();
}

function refreshSameNumber(id, phone) {
  for (const other of participants.values()) {
    const card = cards.get(other.id);
    if (card && other.id !== id && other.phone === phone) updateCard(card, other);
  }
}

function renderAll() {
  renderConference();
  for (const p of participants.values()) upsert(p);
  renderCounts();
}

const report = createReport({ base, token });

const addons = createAddons({
  base,
  token,
  conference: () => conference,
  // The add-ons' own answers (greeting set, recording started or stopped) update the view.
  update: (fields) => {
    if (!conference) return;
    conference = { ...conference, ...fields };
    renderConference();
  },
});

const planning = createPlanning({
  base,
  token,
  participants,
  conference: () => conference,
  toast: (message, kind) => toast(message, kind),
});

function toast(message, kind = 'error') {
  const el =
    kind === 'error'
      ? h('div', { class: 'alert alert--error', role: 'alert', text: message })
      : h('div', { class: `alert alert--${kind}`, role: 'status', text: message });
  $('toasts').append(el);
  setTimeout(() => el.remove(), 6000);
}

function setLive(status) {
  const el = $('live-status');
  el.dataset.live = status;
  el.dataset.i18n = `live.${status}`;
  el.textContent = t(`live.${status}`);
}

// ---- Live updates ---------------------------------------------------------------------

/** An ended conference's PINs are free for new conferences: stop showing them (as a
 * snapshot of an ended conference does). */
function withoutFreedPins(conf) {
  return conf.state === 'ended' ? { ...conf, pin: null, moderator_pin: null, join_url: null } : conf;
}

function onSnapshot(conf) {
  conference = conf;
  adoptConferenceLang(conf.language);
  participants.clear();
  for (const card of cards.values()) card.remove();
  cards.clear();
  for (const p of conf.participants || []) participants.set(p.id, p);
  $('page-error').textContent = '';
  renderAll();
  planning.onSnapshot();
  phonebook?.refresh();
}

function startLive() {
  socket = connectLive(token, conferenceId);
  socket.on('connect', () => setLive('online'));
  socket.on('disconnect', () => setLive('offline'));
  socket.on('snapshot', onSnapshot);
  socket.on('participant_removed', ({ id }) => dropCard(id));
  socket.on('participant', (p) => {
    upsert(p);
    if (p.role === 'organizer') renderConference(); // the join link may use the name
  });
  socket.on('conference', (c) => {
    conference = withoutFreedPins({ ...conference, ...c });
    renderAll();
    planning.participantsChanged();
    phonebook?.refresh();
  });
  socket.on('notification', (n) => planning.onNotification(n));
  socket.on('connect_error', async (err) => {
    setLive('offline');
    if (socket.active) return; // temporary failure: the client retries by itself
    // Rejected by the server: ask the REST API for a readable reason.
    try {
      const { data } = await api(base, { token });
      onSnapshot(data);
      $('page-error').textContent = t('live.failed', { message: err.message });
    } catch (apiErr) {
      showFatal(apiErr.message);
    }
  });
}

// ---- Actions --------------------------------------------------------------------------

async function run(request, { participantId } = {}) {
  if (participantId) {
    pending.add(participantId);
    upsert(participants.get(participantId));
  }
  try {
    const { data } = await request();
    return data;
  } catch (err) {
    toast(t('org.actionFailed', { message: err.message }));
    return null;
  } finally {
    if (participantId) {
      pending.delete(participantId);
      upsert(participants.get(participantId));
    }
  }
}

$('cards-active').parentElement.addEventListener('click', async (event) => {
  const button = event.target.closest('.participant [data-action]');
  if (!button) return;
  const id = button.closest('.participant').dataset.id;
  const p = participants.get(id);
  if (!p) return;
  const path = `${base}/participants/${encodeURIComponent(id)}`;
  if (button.dataset.action === 'mute') {
    const data = await run(
      () => api(path, { method: 'PATCH', token, json: { muted: !p.muted } }),
      { participantId: id },
    );
    if (data && data.id === id) upsert(data);
  } else if (button.dataset.action === 'remove') {
    const data = await run(() => api(path, { method: 'DELETE', token }), { participantId: id });
    if (data && data.id === id) upsert(data);
  } else if (button.dataset.action === 'call-again') {
    // 202: the call is placed as a new leg (a new participant id); live updates bring it,
    // 'ringing', then 'connected' or 'failed'.
    const data = await run(() => api(`${path}/call`, { method: 'POST', token }), {
      participantId: id,
    });
    if (data !== null) {
      if (data.replaces && data.participant && data.participant.id !== data.replaces) {
        // The invitation that never connected is gone; the new leg takes its place.
        const old = participants.get(data.replaces);
        if (old && !old.joined_at) dropCard(data.replaces);
        if (!participants.has(data.participant.id)) upsert(data.participant);
      }
      await syncParticipants();
    }
  }
});

/**
 * Align the cards with the server's list. A call again replaces an invitation that never
 * connected, and no live event says the old one is gone: drop cards the server no longer
 * has, add ones we missed; cards we have stay as live updates left them (they may be newer).
 */
function dropCard(id) {
  const p = participants.get(id);
  if (!p) return;
  participants.delete(id);
  cards.get(id)?.remove();
  cards.delete(id);
  if (p.phone) refreshSameNumber(id, p.phone);
  renderCounts();
  listChanged();
}

async function syncParticipants() {
  let data;
  try {
    ({ data } = await api(base, { token }));
  } catch {
    return; // live updates carry on; the next snapshot aligns everything
  }
  const list = Array.isArray(data?.participants) ? data.participants : [];
  const ids = new Set(list.map((p) => p.id));
  for (const id of [...participants.keys()]) {
    if (!ids.has(id)) dropCard(id);
  }
  for (const p of list) if (!participants.has(p.id)) upsert(p);
  renderCounts();
}

document
  .querySelector('.org-actions [data-action="start-dial-out"]')
  .addEventListener('click', async () => {
    busyActions.add('start');
    renderConference();
    const data = await run(() =>
      api(`${base}/start`, { method: 'POST', token, json: { dial_out: true } }),
    );
    busyActions.delete('start');
    if (data !== null) {
      dialOutStarted = true;
      toast(t('org.startedDialOut'), 'info');
    }
    renderConference();
  });

document.querySelector('.org-actions [data-action="lock"]').addEventListener('click', async () => {
  const locked = !conference?.locked;
  busyActions.add('lock');
  renderConference();
  const data = await run(() => api(`${base}/lock`, { method: 'POST', token, json: { locked } }));
  busyActions.delete('lock');
  if (data !== null && conference) {
    conference.locked = typeof data?.locked === 'boolean' ? data.locked : locked;
  }
  renderConference();
});

document.querySelector('[data-action="mute-all"]').addEventListener('click', (e) =>
  muteAll(e.currentTarget, true),
);
document.querySelector('[data-action="unmute-all"]').addEventListener('click', (e) =>
  muteAll(e.currentTarget, false),
);

async function muteAll(button, muted) {
  button.disabled = true;
  await run(() => api(`${base}/mute`, { method: 'POST', token, json: { muted } }));
  button.disabled = isEnded();
}

const endDialog = $('end-dialog');
document.querySelector('.org-actions [data-action="end"]').addEventListener('click', () => {
  endDialog.returnValue = '';
  endDialog.showModal();
});
endDialog.addEventListener('close', async () => {
  if (endDialog.returnValue !== 'confirm') return;
  const data = await run(() => api(`${base}/end`, { method: 'POST', token }));
  if (data && data.state) {
    conference = withoutFreedPins({ ...conference, state: data.state });
    renderAll();
  }
});

// ---- Add participant (dial-out) ---------------------------------------------------------

const dialForm = $('dial-form');
const dialName = $('dial-name');
const dialPhone = $('dial-phone');
const dialSubmit = $('dial-submit');
const dialError = $('dial-error');
const dialStatus = $('dial-status');

/** National numbers are read in the organiser's country: their phone's, else the browser's. */
function dialCountry() {
  return countryOf({ phone: conference?.organizer?.phone, locales: navigator.languages || [] });
}

function renderPhoneCheck() {
  const result = checkPhone(dialPhone.value, dialCountry());
  const box = $('dial-phone-check');
  box.dataset.check = result.state;
  box.dataset.valid = String(result.state === 'valid');
  box.querySelector('.phone-check__icon').textContent =
    result.state === 'valid' ? '✓' : result.state === 'invalid' ? '✗' : '';
  const showNumber = result.state !== 'empty' && !result.loose;
  box.querySelector('.phone-check__number').textContent = showNumber ? result.formatted : '';
  let text;
  if (result.state === 'empty') text = t('dial.empty');
  else if (result.loose) text = t('dial.unchecked');
  else if (result.state === 'valid') text = t('dial.valid');
  else {
    const key = `dial.${result.reason}`;
    text = t(key) === key ? t('dial.invalid') : t(key);
  }
  box.querySelector('.phone-check__text').textContent = text;
  if (result.state === 'invalid') dialPhone.setAttribute('aria-invalid', 'true');
  else if (dialPhone.dataset.serverError !== 'true') dialPhone.removeAttribute('aria-invalid');
  dialSubmit.disabled = result.state !== 'valid' || dialSubmitting || !conference || isEnded();
  dialSubmit.querySelector('.btn__label').textContent = t(
    dialSubmitting ? 'dial.adding' : 'dial.submit',
  );
  return result;
}

function clearDialErrors() {
  dialError.textContent = '';
  for (const input of [dialName, dialPhone]) {
    delete input.dataset.serverError;
    input.removeAttribute('aria-invalid');
  }
}

function markDialField(input) {
  input.dataset.serverError = 'true';
  input.setAttribute('aria-invalid', 'true');
  input.focus();
}

dialPhone.addEventListener('input', () => {
  // A new number: the server's verdict on the old one no longer applies.
  clearDialErrors();
  dialStatus.textContent = '';
  renderPhoneCheck();
});
dialName.addEventListener('input', () => {
  if (dialName.dataset.serverError === 'true') {
    delete dialName.dataset.serverError;
    dialName.removeAttribute('aria-invalid');
  }
  dialStatus.textContent = '';
});

dialForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const result = renderPhoneCheck();
  if (result.state !== 'valid' || dialSubmitting) return;
  clearDialErrors();
  dialStatus.textContent = '';
  const name = dialName.value.trim();
  if (!name) {
    dialError.textContent = t('dial.nameRequired');
    markDialField(dialName);
    return;
  }
  dialSubmitting = true;
  renderPhoneCheck();
  try {
    // E.164 as shown: the server does not have to guess the country of a national number.
    const phone = result.e164 || dialPhone.value.trim();
    const { data } = await api(`${base}/participants`, {
      method: 'POST',
      token,
      json: { name, phone },
    });
    dialForm.reset();
    dialStatus.textContent = t('dial.added', { name });
    dialCalling = data?.id ?? null;
    // Live updates may already have moved it on (ringing): do not step back to 'invited'.
    const known = participants.get(data?.id);
    if (data?.id && !known) upsert(data);
    else if (known) upsert(known); // already answered or failed: clears the note
    dialName.focus();
  } catch (err) {
    dialError.textContent = err.message;
    if (err.field === 'name') markDialField(dialName);
    else if (err.field === 'phone' || err.code === 'dial_out_refused') markDialField(dialPhone);
  } finally {
    dialSubmitting = false;
    renderPhoneCheck();
  }
});

window.addEventListener('langchange', () => {
  renderLegend();
  renderAll();
  renderPhoneCheck();
  report.render();
});

// ---- Start ----------------------------------------------------------------------------

renderLegend();
renderPhoneCheck();
function showFatal(message, key) {
  const box = $('page-error');
  if (key) box.dataset.i18n = key;
  box.textContent = message;
  $('conf-panel').hidden = !conference;
  $('participants-section').hidden = !conference;
  $('dial-panel').hidden = !conference || isEnded();
  if (!conference) {
    planning.hide();
    $('phonebook-panel').hidden = true;
  }
  document.body.dataset.state = 'error';
}

async function boot() {
  if (token) {
    startLive();
    planning.start();
    return;
  }
  // No key in the link: a registered organiser's own conference, by their log-in.
  let user = null;
  try {
    user = await loadSession();
  } catch (err) {
    showFatal(err.message);
    return;
  }
  if (!user) {
    showFatal(t('org.missingToken'), 'org.missingToken');
    const next = window.location.pathname + window.location.search;
    $('login-link').href = `/login?next=${encodeURIComponent(next)}`;
    $('login-hint').hidden = false;
    return;
  }
  document.body.dataset.auth = 'session';
  startLive();
  planning.start();
  phonebook = createPhonebook({
    base,
    participants,
    upsert,
    isEnded,
    toast: (message, kind) => toast(message, kind),
  });
  phonebook.start();
}

boot();

// A different #token= in the address bar means a different key: start over.
window.addEventListener('hashchange', () => window.location.reload());
