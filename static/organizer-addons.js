// Organiser page: the "Add-ons" panel, both charged as add-ons by the server.
//
// - Own welcome announcement: an audio file is uploaded as the raw body of
//   PUT …/greeting (the server decodes and checks it and says why it refuses one);
//   DELETE …/greeting goes back to the standard greeting.
// - Recording: POST …/recording {recording: true|false} starts or stops it (everyone hears a
//   notice when it starts); a red REC badge in the page header while it runs (from the answer
//   or the live `conference` event); once stopped, GET …/recording downloads the Ogg/Opus file.
//   The download is fetched as a blob (a token organiser's request needs the Authorization
//   header, which a plain link cannot send) and handed over through a temporary <a download>.
//
// The conference view tells `greeting` (bool), `recording` (bool) and `recorded_seconds`; live
// events only `recording`, so the view is asked again when a recording stops by other means
// (another tab, the end of the conference) for the time recorded.
import { ApiError, api, getLang, h, t } from './common.js';
import './i18n-planning.js';
import { formatDuration } from './organizer-report.js';

const MAX_BYTES = 10 * 1024 * 1024; // as the server: larger uploads are refused (413)
const KNOWN_ERRORS = new Set([
  'empty',
  'not_audio',
  'too_short',
  'too_long',
  'silent',
  'too_large',
  'conference_ended',
  'not_active',
  'already_recording',
  'already_recorded',
  'not_recording',
]);

/** A request's failure as {code, message}: translated at render time (the language may change). */
function failure(err) {
  if (err instanceof ApiError) {
    // A proxy in front may refuse a large body with its own (non-JSON) 413.
    return { code: err.status === 413 ? 'too_large' : err.code, message: err.message };
  }
  return { code: 'other', message: String(err?.message || err) };
}

function failureText(fail) {
  if (!fail) return '';
  return KNOWN_ERRORS.has(fail.code)
    ? t(`addon.error.${fail.code}`)
    : t('addon.error.other', { message: fail.message });
}

function formatSeconds(seconds) {
  return new Intl.NumberFormat(getLang(), { maximumFractionDigits: 1 }).format(seconds);
}

/** The file name the server suggests, reduced to harmless characters. */
function downloadName(disposition, conferenceId) {
  const suggested = /filename="?([^";]+)"?/i.exec(disposition || '')?.[1] || '';
  const safe = suggested.replace(/[^\w.-]+/g, '_').replace(/^[._]+/, '');
  return safe || `recording-${String(conferenceId || 'conference').replace(/[^\w-]+/g, '_')}.ogg`;
}

export function isRecording(conf) {
  return conf?.recording === true && conf.state !== 'ended';
}

/**
 * @param {object} ctx
 * @param {string} ctx.base             the conference's API path
 * @param {string|null} ctx.token       the organiser token, or null for the session cookie
 * @param {() => object|null} ctx.conference  the page's current conference view
 * @param {(fields: object) => void} ctx.update  merge fields into it and re-render the page
 */
export function createAddons(ctx) {
  const { base, token, conference, update } = ctx;
  const $ = (id) => document.getElementById(id);
  const panel = $('addons-panel');
  const form = $('greeting-form');
  const fileInput = $('greeting-file');
  const uploadButton = $('greeting-upload');
  const standardButton = $('greeting-standard');
  const toggle = $('recording-toggle');
  const downloadButton = $('recording-download');

  // The greeting
  let greetingSeconds = null; // known after an upload from this page
  let uploading = null; // the File under way
  let removing = false;
  let greetingError = null;
  let greetingDone = null; // {key, vars}: the last success, said until the next action

  // The recording
  let recBusy = null; // 'start' | 'stop'
  let recError = null;
  let wasRecording = null; // as last seen: a change is a start or a stop
  let startedAt = null; // ms, when this page saw it start (unknown when it ran on arrival)
  let recorded = false; // a recording exists: stopped from here, or the server said so
  let downloading = false;
  let ticker = null;
  let refreshing = false;

  const ended = () => conference()?.state === 'ended';

  function hasRecording(conf) {
    if (isRecording(conf)) return false;
    return recorded || Number(conf?.recorded_seconds) > 0;
  }

  // ---- Rendering ------------------------------------------------------------------------

  function renderGreeting(conf) {
    const own = conf.greeting === true;
    const state = $('greeting-state');
    state.dataset.greeting = own ? 'own' : 'standard';
    if (!own) state.textContent = t('addon.greetingStandard');
    else if (greetingSeconds !== null) {
      state.textContent = t('addon.greetingOwnSeconds', { seconds: formatSeconds(greetingSeconds) });
    } else state.textContent = t('addon.greetingOwn');

    const busy = Boolean(uploading) || removing;
    form.setAttribute('aria-busy', String(busy));
    fileInput.disabled = busy;
    uploadButton.disabled = busy || !fileInput.files?.length;
    uploadButton.textContent = t(uploading ? 'addon.uploading' : 'addon.upload');
    standardButton.hidden = !own;
    standardButton.disabled = busy;
    standardButton.textContent = t(removing ? 'addon.removing' : 'addon.useStandard');

    $('greeting-progress').hidden = !uploading;
    $('greeting-progress-text').textContent = uploading
      ? t('addon.uploadingFile', { name: uploading.name })
      : '';
    $('greeting-error').textContent = failureText(greetingError);
    if (greetingError) fileInput.setAttribute('aria-invalid', 'true');
    else fileInput.removeAttribute('aria-invalid');
    $('greeting-status').textContent = greetingDone ? t(greetingDone.key, greetingDone.vars) : '';
  }

  function recordingText(conf) {
    if (isRecording(conf)) {
      return startedAt === null
        ? t('addon.recordingNowUnknown')
        : t('addon.recordingNow', { time: formatDuration((Date.now() - startedAt) / 1000) });
    }
    if (hasRecording(conf)) {
      const seconds = Number(conf.recorded_seconds);
      const time = Number.isFinite(seconds) && seconds > 0 ? t('addon.recorded', { time: formatDuration(seconds) }) : '';
      return [time, t('addon.recordingReady')].filter(Boolean).join(' · ');
    }
    return '';
  }

  function renderRecording(conf) {
    const on = isRecording(conf);
    const done = hasRecording(conf);
    const state = $('recording-state');
    state.dataset.recording = on ? 'on' : done ? 'done' : 'off';
    state.textContent = recordingText(conf);

    // One recording per conference: once there is one, it is downloaded, not made again.
    toggle.hidden = done || conf.state === 'ended';
    toggle.dataset.recording = String(on);
    toggle.classList.toggle('btn--danger', on);
    toggle.classList.toggle('btn--secondary', !on);
    toggle.disabled = Boolean(recBusy) || (!on && conf.state !== 'active');
    toggle.textContent = t(
      recBusy === 'start'
        ? 'addon.starting'
        : recBusy === 'stop'
          ? 'addon.stopping'
          : on
            ? 'addon.stopRecording'
            : 'addon.startRecording',
    );
    $('recording-when').hidden = on || done || conf.state === 'active' || conf.state === 'ended';
    downloadButton.hidden = !done;
    downloadButton.disabled = downloading;
    downloadButton.textContent = t(downloading ? 'addon.downloading' : 'addon.download');
    $('recording-error').textContent = failureText(recError);

    const badge = $('rec-badge');
    badge.hidden = !on;
    document.body.dataset.recording = String(on);

    // The time recorded so far counts up while this page knows when it started.
    if (on && startedAt !== null && ticker === null) {
      ticker = setInterval(() => {
        const now = conference();
        if (now) $('recording-state').textContent = recordingText(now);
      }, 1000);
    } else if ((!on || startedAt === null) && ticker !== null) {
      clearInterval(ticker);
      ticker = null;
    }
  }

  function render() {
    const conf = conference();
    if (!conf) {
      panel.hidden = true;
      return;
    }
    const isEnded = conf.state === 'ended';
    // After the end only a recording is left to fetch; the greeting can no longer change.
    panel.hidden = isEnded && !hasRecording(conf);
    $('addon-greeting').hidden = isEnded;
    renderGreeting(conf);
    renderRecording(conf);
  }

  /** The conference changed (snapshot, live event, our own answers): follow it. */
  function conferenceChanged(conf) {
    if (!conf) return;
    const on = isRecording(conf);
    if (wasRecording !== null && on !== wasRecording) {
      if (on) {
        startedAt = Date.now();
      } else {
        startedAt = null;
        refresh(); // stopped elsewhere or by the end: the time recorded is in the view only
      }
    }
    wasRecording = on;
    render();
  }

  /** Ask for the conference view again: the add-on fields only (live updates keep the rest). */
  async function refresh() {
    if (refreshing) return;
    refreshing = true;
    try {
      const { data } = await api(base, { token });
      if (data && typeof data === 'object') {
        const fields = {};
        for (const key of ['greeting', 'recorded_seconds']) if (key in data) fields[key] = data[key];
        update(fields);
      }
    } catch {
      // Not fatal: the panel shows what it knows; the next snapshot brings the rest.
    } finally {
      refreshing = false;
    }
  }

  // ---- The greeting ---------------------------------------------------------------------

  fileInput.addEventListener('change', () => {
    greetingError = null;
    greetingDone = null;
    render();
  });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const file = fileInput.files?.[0];
    if (!file || uploading || removing) return;
    greetingDone = null;
    greetingError = null;
    // What the server would refuse anyway is said at once, without sending megabytes first.
    if (file.size === 0) greetingError = { code: 'empty', message: '' };
    else if (file.size > MAX_BYTES) greetingError = { code: 'too_large', message: '' };
    if (greetingError) {
      render();
      fileInput.focus();
      return;
    }
    uploading = file;
    render();
    try {
      // The file itself is the body, as it is; fetch gives it the file's own type.
      const { data } = await api(`${base}/greeting`, { method: 'PUT', token, body: file });
      const seconds = Number(data?.greeting?.seconds);
      greetingSeconds = Number.isFinite(seconds) ? seconds : null;
      greetingDone =
        greetingSeconds === null
          ? null
          : { key: 'addon.greetingSaved', vars: { seconds: formatSeconds(greetingSeconds) } };
      form.reset();
      uploading = null;
      update({ greeting: true });
    } catch (err) {
      greetingError = failure(err);
    } finally {
      uploading = null;
      render();
      if (greetingError) fileInput.focus();
    }
  });

  standardButton.addEventListener('click', async () => {
    if (uploading || removing) return;
    removing = true;
    greetingError = null;
    greetingDone = null;
    render();
    let done = false;
    try {
      await api(`${base}/greeting`, { method: 'DELETE', token });
      done = true;
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) done = true; // gone already
      else greetingError = failure(err);
    } finally {
      removing = false;
    }
    if (done) {
      greetingSeconds = null;
      greetingDone = { key: 'addon.standardRestored', vars: {} };
      update({ greeting: false });
    } else {
      render();
    }
  });

  // ---- The recording --------------------------------------------------------------------

  toggle.addEventListener('click', async () => {
    const conf = conference();
    if (!conf || recBusy) return;
    const on = !isRecording(conf);
    recBusy = on ? 'start' : 'stop';
    recError = null;
    render();
    const fields = {};
    try {
      const { data } = await api(`${base}/recording`, {
        method: 'POST',
        token,
        json: { recording: on },
      });
      fields.recording = typeof data?.recording === 'boolean' ? data.recording : on;
      if (typeof data?.recorded_seconds === 'number') fields.recorded_seconds = data.recorded_seconds;
      if (!fields.recording) recorded = true;
    } catch (err) {
      recError = failure(err);
      // The server knows better: follow what its refusal says.
      if (err.code === 'already_recording') fields.recording = true;
      else if (err.code === 'not_recording') fields.recording = false;
      else if (err.code === 'already_recorded') recorded = true;
    } finally {
      recBusy = null;
    }
    if (Object.keys(fields).length) update(fields);
    else render();
  });

  downloadButton.addEventListener('click', async () => {
    if (downloading) return;
    downloading = true;
    recError = null;
    render();
    try {
      const headers = new Headers();
      if (token) headers.set('Authorization', `Bearer ${token}`);
      let res;
      try {
        res = await fetch(`${base}/recording`, {
          headers,
          credentials: 'same-origin',
          cache: 'no-store',
        });
      } catch {
        throw new ApiError(0, 'network', t('error.network'));
      }
      if (!res.ok) {
        const body = await res.json().catch(() => null);
        throw new ApiError(
          res.status,
          body?.error || 'http',
          body?.message || t('error.generic', { status: res.status }),
        );
      }
      const blob = await res.blob();
      const url = URL.createObjectURL(blob);
      const name = downloadName(res.headers.get('Content-Disposition'), conference()?.id);
      const link = h('a', { href: url, download: name, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (err) {
      recError = failure(err);
    } finally {
      downloading = false;
      render();
    }
  });

  return { conferenceChanged, render };
}
