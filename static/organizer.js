// Organiser page: live participant cards and conference controls.
// The organiser token comes from the URL fragment (#token=...), never from the query string.
import {
  api,
  connectLive,
  copyRow,
  displayName,
  formatTime,
  h,
  icon,
  initPage,
  t,
  talkBars,
} from './common.js';
import { adoptConferenceLang } from './i18n.js';

initPage();

const $ = (id) => document.getElementById(id);
const STATES = ['invited', 'ringing', 'waiting', 'connected', 'talking', 'muted', 'left', 'failed'];
const PRESENT = new Set(['waiting', 'connected', 'talking', 'muted']);
const GONE = new Set(['left', 'failed']);
const MODES = new Set(['web', 'dial-in', 'dial-out']);

const conferenceId = decodeURIComponent(window.location.pathname.split('/').filter(Boolean).pop());
const token = new URLSearchParams(window.location.hash.slice(1)).get('token');
const base = `/api/v1/conferences/${encodeURIComponent(conferenceId)}`;

let conference = null;
const participants = new Map();
const cards = new Map();
const pending = new Set();
let socket = null;

// ---- Rendering ------------------------------------------------------------------------

function isEnded() {
  return conference?.state === 'ended';
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
  $('ended-banner').hidden = !isEnded();
}

function createCard(id) {
  return h(
    'li',
    { class: 'participant', dataset: { id } },
    h(
      'div',
      { class: 'participant__head' },
      h('h3', { class: 'participant__name' }),
      h('span', { class: 'participant__role', hidden: true }),
    ),
    h(
      'p',
      { class: 'participant__state' },
      h('span', { class: 'state-icon' }),
      h('span', { class: 'state-label' }),
      talkBars(),
    ),
    h('p', { class: 'participant__meta' }, h('span', { class: 'mode' }), h('span', { class: 'phone' })),
    h('p', { class: 'participant__meta participant__times' }),
    h(
      'div',
      { class: 'participant__actions' },
      h('button', { type: 'button', class: 'btn btn--small', dataset: { action: 'mute' } }),
      h('button', { type: 'button', class: 'btn btn--small', dataset: { action: 'remove' } }),
    ),
  );
}

function updateCard(card, p) {
  const state = STATES.includes(p.state) ? p.state : 'connected';
  // Only someone in the mix can be talking (a waiting participant is heard by nobody).
  const talking = p.state === 'talking' || (p.state === 'connected' && Boolean(p.talking));
  const mode = MODES.has(p.mode) ? p.mode : ''; // null until the participant joins or is called
  const name = displayName(p);
  card.dataset.state = p.state;
  card.dataset.talking = String(talking);
  card.dataset.mode = mode;
  card.dataset.role = p.role;
  card.dataset.muted = String(Boolean(p.muted));
  card.setAttribute('aria-label', t('org.participantLabel', { name, state: t(`state.${state}`) }));

  card.querySelector('.participant__name').textContent = name;
  const roleEl = card.querySelector('.participant__role');
  roleEl.hidden = p.role !== 'organizer';
  roleEl.textContent = t('org.organizer');

  const muted = Boolean(p.muted) && !GONE.has(p.state);
  card.querySelector('.state-icon').replaceChildren(
    muted ? icon('mic-off') : talking ? icon('mic') : '',
  );
  card.querySelector('.state-label').textContent = t(`state.${state}`);
  card.querySelector('.mode').replaceChildren(...(mode ? [icon(mode), t(`mode.${mode}`)] : []));
  card.querySelector('.phone').textContent = p.name && p.phone ? p.phone : '';

  const times = [];
  if (p.joined_at) times.push(t('org.joined', { time: formatTime(p.joined_at) }));
  if (p.left_at) times.push(t('org.leftAt', { time: formatTime(p.left_at) }));
  card.querySelector('.participant__times').textContent = times.join(' · ');

  const busy = pending.has(p.id) || isEnded();
  const mute = card.querySelector('[data-action="mute"]');
  mute.textContent = p.muted ? t('action.unmute') : t('action.mute');
  mute.setAttribute('aria-pressed', String(Boolean(p.muted)));
  mute.disabled = busy || !PRESENT.has(p.state);
  const remove = card.querySelector('[data-action="remove"]');
  remove.textContent = t('action.remove');
  remove.hidden = p.role === 'organizer';
  remove.disabled = busy || GONE.has(p.state);

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
  participants.set(p.id, p);
  let card = cards.get(p.id);
  if (!card) {
    card = createCard(p.id);
    cards.set(p.id, card);
  }
  updateCard(card, p);
  renderCounts();
}

function renderAll() {
  renderConference();
  for (const p of participants.values()) upsert(p);
  renderCounts();
}

function toast(message) {
  const el = h('div', { class: 'alert alert--error', role: 'alert', text: message });
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

function onSnapshot(conf) {
  conference = conf;
  adoptConferenceLang(conf.language);
  participants.clear();
  for (const card of cards.values()) card.remove();
  cards.clear();
  for (const p of conf.participants || []) participants.set(p.id, p);
  $('page-error').textContent = '';
  renderAll();
}

function startLive() {
  socket = connectLive(token);
  socket.on('connect', () => setLive('online'));
  socket.on('disconnect', () => setLive('offline'));
  socket.on('snapshot', onSnapshot);
  socket.on('participant', (p) => {
    upsert(p);
    if (p.role === 'organizer') renderConference(); // the join link may use the name
  });
  socket.on('conference', (c) => {
    conference = { ...conference, ...c };
    renderAll();
  });
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
  }
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
    conference = { ...conference, state: data.state };
    renderAll();
  }
});

window.addEventListener('langchange', () => {
  renderLegend();
  renderAll();
});

// ---- Start ----------------------------------------------------------------------------

renderLegend();
function showFatal(message, key) {
  const box = $('page-error');
  if (key) box.dataset.i18n = key;
  box.textContent = message;
  $('conf-panel').hidden = !conference;
  $('participants-section').hidden = !conference;
  document.body.dataset.state = 'error';
}

if (!token) {
  showFatal(t('org.missingToken'), 'org.missingToken');
} else {
  startLive();
}

// A different #token= in the address bar means a different key: start over.
window.addEventListener('hashchange', () => window.location.reload());
