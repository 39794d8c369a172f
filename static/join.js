// Join page: PIN login, WebRTC audio (non-trickle WHIP), live roster over Socket.IO.
import { api, connectLive, displayName, h, icon, initPage, t, talkBars } from './common.js';
import { adoptConferenceLang } from './i18n.js';
import './i18n-planning.js'; // the recording notice

initPage();

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(window.location.search);
const RAW_AUDIO = params.get('raw') === '1';
const PRESENT = new Set(['waiting', 'connected', 'talking', 'muted']);
const STATES = new Set(['invited', 'ringing', 'left', 'failed', ...PRESENT]);
const MODES = new Set(['web', 'dial-in', 'dial-out']);

// Exposed for tests and debugging.
const session = { pc: null, state: 'idle', participantId: null, location: null };
window.telekonf = session;

let token = null;
let role = null;
let stream = null;
let socket = null;
let conference = null;
let participants = new Map();
let selfMuted = false;
let leaving = false;
let endReason = null; // 'left' | 'removed' | 'ended'
let stopMeter = () => {};
let lastJoin = null;

const form = $('join-form');
const audio = $('remote-audio');

$('mute-icon').replaceWith(icon('mic', 'icon'));
$('leave-icon').replaceWith(icon('leave', 'icon'));

function setState(state) {
  session.state = state;
  document.body.dataset.state = state;
  render();
}

function showError(message) {
  const target = session.state === 'joined' ? $('call-error') : $('join-error');
  $('join-error').textContent = '';
  $('call-error').textContent = '';
  target.textContent = message || '';
}

// ---- Rendering ------------------------------------------------------------------------

function statusText() {
  const pcState = session.pc?.connectionState;
  if (pcState === 'new' || pcState === 'connecting') return t('join.connecting');
  if (pcState === 'disconnected') return t('join.reconnecting');
  return conference ? t(`status.${conference.state}`) : t('join.connecting');
}

function renderRoster() {
  const people = [...participants.values()].filter((p) => PRESENT.has(p.state));
  $('roster').replaceChildren(
    ...people.map((p) => {
      const talking = p.state === 'talking' || (p.state === 'connected' && Boolean(p.talking));
      const item = h(
        'li',
        {
          class: 'roster__item',
          dataset: { id: p.id, state: p.state, talking: String(Boolean(talking)) },
        },
        icon(MODES.has(p.mode) ? p.mode : 'web', 'icon icon--muted'),
        h(
          'span',
          { class: 'roster__name' },
          displayName(p),
          p.id === session.participantId ? h('span', { class: 'muted-text', text: ` (${t('join.you')})` }) : null,
        ),
        p.role === 'organizer' ? h('span', { class: 'badge', text: t('org.organizer') }) : null,
        h(
          'span',
          { class: 'roster__meta' },
          p.muted ? icon('mic-off') : null,
          h('span', {
            class: p.state === 'waiting' || p.state === 'muted' ? 'roster__state' : 'visually-hidden',
            text: t(`state.${p.state}`),
          }),
          talkBars(),
        ),
      );
      if (STATES.has(p.state)) item.style.setProperty('--accent', `var(--st-${p.state}-accent)`);
      return item;
    }),
  );
  $('roster-empty').hidden = people.some((p) => p.id !== session.participantId);
}

function renderCall() {
  const title = conference?.title || '';
  $('conf-title').textContent = title;
  if (title) document.title = `${title} – Telekonf`;
  $('role-badge').hidden = role !== 'organizer';
  const badge = $('conf-state-badge');
  badge.hidden = !conference;
  if (conference) {
    badge.dataset.confState = conference.state;
    badge.textContent = t(`conf.${conference.state}`);
  }
  $('call-status').textContent = statusText();
  // Everyone is told while the conference is being recorded (snapshot, then live events).
  const recording = conference?.recording === true && conference.state !== 'ended';
  $('rec-indicator').hidden = !recording;
  document.body.dataset.recording = String(recording);

  const muteButton = $('mute-button');
  muteButton.setAttribute('aria-pressed', String(selfMuted));
  $('mute-label').textContent = selfMuted ? t('action.unmute') : t('action.mute');
  muteButton.querySelector('.icon').replaceWith(icon(selfMuted ? 'mic-off' : 'mic'));
  $('mic-status').dataset.muted = String(selfMuted);
  $('mic-text').textContent = selfMuted ? t('join.micMuted') : t('join.micOn');
  $('mic-icon').replaceChildren(icon(selfMuted ? 'mic-off' : 'mic').firstChild);
  renderRoster();
}

function render() {
  const state = session.state;
  const inForm = state === 'idle' || state === 'joining' || state === 'error';
  $('join-section').hidden = !inForm;
  $('call-section').hidden = state !== 'joined';
  $('end-section').hidden = state !== 'left' && state !== 'ended';

  const submit = $('join-submit');
  submit.disabled = state === 'joining';
  submit.textContent = state === 'joining' ? t('join.joining') : t('join.submit');

  if (state === 'joined') renderCall();
  if (state === 'left' || state === 'ended') {
    $('end-title').textContent = conference?.title || '';
    $('end-text').textContent =
      endReason === 'ended'
        ? t('status.ended')
        : endReason === 'removed'
          ? t('join.removed')
          : t('join.left');
    $('rejoin-button').hidden = endReason !== 'left' || !lastJoin;
  }
}

// ---- Media ----------------------------------------------------------------------------

async function getMicrophone() {
  const audioConstraints = RAW_AUDIO
    ? { echoCancellation: false, noiseSuppression: false, autoGainControl: false }
    : true;
  try {
    return await navigator.mediaDevices.getUserMedia({ audio: audioConstraints });
  } catch (err) {
    if (err.name === 'NotAllowedError' || err.name === 'SecurityError') {
      throw new Error(t('join.micDenied'));
    }
    if (err.name === 'NotFoundError' || err.name === 'OverconstrainedError') {
      throw new Error(t('join.micMissing'));
    }
    throw new Error(t('join.micFailed', { message: err.message || err.name }));
  }
}

/** Non-trickle: wait until all ICE candidates are in the local description (or a timeout). */
function iceGatheringComplete(pc, timeoutMs = 5000) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const finish = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    };
    const check = () => pc.iceGatheringState === 'complete' && finish();
    const timer = setTimeout(finish, timeoutMs);
    pc.addEventListener('icegatheringstatechange', check);
  });
}

function playRemoteAudio() {
  audio
    .play()
    .then(() => {
      $('enable-audio').hidden = true;
    })
    .catch(() => {
      $('enable-audio').hidden = false; // autoplay blocked until a user gesture
    });
}

function startMeter(mediaStream) {
  try {
    const ctx = new AudioContext();
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 1024;
    ctx.createMediaStreamSource(mediaStream).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    const fill = $('mic-meter');
    let frame = 0;
    const tick = () => {
      analyser.getFloatTimeDomainData(samples);
      let peak = 0;
      for (const v of samples) peak = Math.max(peak, Math.abs(v));
      fill.style.setProperty('--level', selfMuted ? '0' : Math.min(1, Math.sqrt(peak)).toFixed(3));
      frame = requestAnimationFrame(tick);
    };
    tick();
    if (ctx.state === 'suspended') document.addEventListener('click', () => ctx.resume(), { once: true });
    stopMeter = () => {
      cancelAnimationFrame(frame);
      ctx.close().catch(() => {});
      fill.style.setProperty('--level', '0');
    };
  } catch {
    stopMeter = () => {}; // the level meter is a nicety only
  }
}

function applySelfMute(muted) {
  selfMuted = Boolean(muted);
  // Keep the local track in line with the bridge, so a muted microphone sends nothing.
  for (const track of stream?.getAudioTracks() || []) track.enabled = !selfMuted;
}

function teardown() {
  stopMeter();
  stopMeter = () => {};
  socket?.disconnect();
  socket = null;
  if (session.pc && session.pc.signalingState !== 'closed') session.pc.close();
  for (const track of stream?.getTracks() || []) track.stop();
  stream = null;
  audio.srcObject = null;
  $('enable-audio').hidden = true;
}

function end(reason) {
  teardown();
  endReason = reason;
  setState(reason === 'ended' ? 'ended' : 'left');
}

// ---- Live updates ---------------------------------------------------------------------

function onSelf(p) {
  applySelfMute(p.muted);
  if ((p.state === 'left' || p.state === 'failed') && !leaving && session.state === 'joined') {
    end('removed');
  }
}

function onConference() {
  if (conference?.language) adoptConferenceLang(conference.language);
  if (conference?.state === 'ended' && (session.state === 'joined' || session.state === 'joining')) {
    end('ended');
  } else {
    render();
  }
}

function openLive() {
  socket = connectLive(token);
  socket.on('snapshot', (conf) => {
    conference = conf;
    participants = new Map((conf.participants || []).map((p) => [p.id, p]));
    const me = participants.get(session.participantId);
    if (me) onSelf(me);
    onConference();
  });
  socket.on('participant', (p) => {
    participants.set(p.id, p);
    if (p.id === session.participantId) onSelf(p);
    render();
  });
  socket.on('conference', (c) => {
    conference = { ...conference, ...c };
    onConference();
  });
}

// ---- Actions --------------------------------------------------------------------------

async function join(pin, name) {
  if (session.state === 'joining') return;
  lastJoin = { pin, name };
  leaving = false;
  endReason = null;
  conference = null;
  participants = new Map();
  selfMuted = false;
  showError('');
  setState('joining');
  try {
    if (!window.RTCPeerConnection || !navigator.mediaDevices?.getUserMedia) {
      throw new Error(t('join.noWebRTC'));
    }
    const { data } = await api('/api/v1/join', { method: 'POST', json: { pin, name } });
    token = data.participant_token;
    role = data.role;
    session.participantId = data.participant_id;
    session.location = null;
    adoptConferenceLang(data.language);

    stream = await getMicrophone();
    startMeter(stream);

    const pc = new RTCPeerConnection({ iceServers: data.ice_servers || [] });
    session.pc = pc;
    pc.addEventListener('track', (event) => {
      audio.srcObject = event.streams[0] || new MediaStream([event.track]);
      playRemoteAudio();
    });
    pc.addEventListener('connectionstatechange', () => {
      if (pc !== session.pc) return;
      if (pc.connectionState === 'failed' && session.state === 'joined') {
        teardown();
        setState('error');
        showError(t('join.connectFailed'));
      } else {
        render();
      }
    });
    for (const track of stream.getAudioTracks()) pc.addTrack(track, stream);
    await pc.setLocalDescription(await pc.createOffer());
    await iceGatheringComplete(pc);

    const res = await api('/api/v1/webrtc', {
      method: 'POST',
      token,
      body: pc.localDescription.sdp,
      headers: { 'Content-Type': 'application/sdp' },
    });
    const where = res.headers.get('Location');
    session.location = where ? new URL(where, window.location.href).href : null;
    await pc.setRemoteDescription({ type: 'answer', sdp: res.data });
    openLive();
    setState('joined');
  } catch (err) {
    teardown();
    setState('error');
    showError(err.message);
  }
}

async function leave() {
  leaving = true;
  if (session.location) {
    await api(session.location, { method: 'DELETE', token }).catch(() => {});
  }
  end('left');
}

async function toggleMute() {
  const button = $('mute-button');
  button.disabled = true;
  showError('');
  try {
    const { data } = await api('/api/v1/me', { method: 'PATCH', token, json: { muted: !selfMuted } });
    if (data && data.id) {
      participants.set(data.id, data);
      applySelfMute(data.muted);
    }
  } catch (err) {
    showError(err.message);
  } finally {
    button.disabled = false;
    render();
  }
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const data = new FormData(form);
  join(String(data.get('pin')).replace(/\s+/g, ''), String(data.get('name')).trim());
});
$('mute-button').addEventListener('click', toggleMute);
$('leave-button').addEventListener('click', leave);
$('enable-audio').addEventListener('click', playRemoteAudio);
$('rejoin-button').addEventListener('click', () => lastJoin && join(lastJoin.pin, lastJoin.name));
window.addEventListener('langchange', render);

// Closing the tab leaves the conference too.
window.addEventListener('pagehide', () => {
  if (session.state === 'joined' && session.location) {
    fetch(session.location, {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${token}` },
      keepalive: true,
    }).catch(() => {});
  }
});

// Prefill from ?pin= and ?name=; ?autojoin=1 joins straight away.
$('pin').value = params.get('pin') || '';
$('name').value = params.get('name') || '';
setState('idle');
if (params.get('autojoin') === '1' && $('pin').value && $('name').value.trim()) {
  join($('pin').value.replace(/\s+/g, ''), $('name').value.trim());
} else {
  ($('name').value ? $('pin') : $('name')).focus();
}
