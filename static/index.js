// Home page: plan a conference (when, how long, who is invited) and show its PINs and links.
// A logged-in organiser's conference belongs to their account; anyone else's is ad hoc.
import { api, copyRow, getLang, h, initPage, loadSession, t } from './common.js';
import { checkPhone, countryOf } from './phone.js';
import {
  clearFieldErrors,
  errorText,
  markInvalid,
  renderAccountNav,
  uiLocale,
} from './account-common.js';
import { browserZone, todayIn, zonedInstant, zoneList } from './account-zones.js';

initPage();

const $ = (id) => document.getElementById(id);
const form = $('create-form');
const errorBox = $('form-error');
const submit = $('create-submit');
const createSection = $('create-section');
const resultSection = $('result-section');
const languageSelect = $('language');
const organizerName = $('organizer-name');
const organizerEmail = $('organizer-email');
const organizerPhone = $('organizer-phone');
const dateInput = $('date');
const timeInput = $('time');
const zoneSelect = $('time-zone');
const durationSelect = $('duration');
const preview = $('when-preview');
const rowsList = $('participant-rows');

const DURATIONS = [15, 30, 45, 60, 90, 120, 180, 240];
const DEFAULT_DURATION = 60;
const MAX_ROWS = 500;

let user = null;
// A logged-in organiser's requests carry the session's CSRF token: wait for it.
const sessionReady = loadSession()
  .then((found) => {
    user = found;
    renderAccountNav(user, { afterLogout: '/' });
    applyUser();
  })
  .catch(() => {
    renderAccountNav(null);
  });

// ---- Language -----------------------------------------------------------------------------

// The conference language follows the page language until the user picks one.
let languageTouched = false;
languageSelect.value = getLang();
languageSelect.addEventListener('change', () => {
  languageTouched = true;
});

// ---- The logged-in organiser ----------------------------------------------------------------

function applyUser() {
  const notice = $('account-notice');
  if (!user) {
    notice.hidden = true;
    return;
  }
  // Prefilled, still editable; never overwrite what was typed meanwhile.
  if (!organizerName.value) organizerName.value = user.name || '';
  if (!organizerEmail.value) organizerEmail.value = user.email || '';
  notice.textContent = t('home.accountNotice', {
    name: user.name || user.email,
    company: user.account?.company || '',
  });
  notice.hidden = false;
}

// ---- Phone numbers as they are typed --------------------------------------------------------

/** National numbers are read in the organiser's country: their phone's, else the browser's. */
function phoneCountry() {
  const own = checkPhone(organizerPhone.value);
  return countryOf({
    phone: own.state === 'valid' ? own.e164 : null,
    locales: navigator.languages || [],
  });
}

/** Update a .phone-check box for `input`; returns checkPhone()'s verdict. */
function renderPhoneCheck(input, box) {
  const result = checkPhone(input.value, phoneCountry());
  box.dataset.check = result.state;
  box.querySelector('.phone-check__icon').textContent =
    result.state === 'valid' ? '✓' : result.state === 'invalid' ? '✗' : '';
  const showNumber = result.state !== 'empty' && !result.loose;
  box.querySelector('.phone-check__number').textContent = showNumber ? result.formatted : '';
  let text = '';
  if (result.state === 'empty') text = '';
  else if (result.loose) text = t('dial.unchecked');
  else if (result.state === 'valid') text = t('dial.valid');
  else {
    const key = `dial.${result.reason}`;
    text = t(key) === key ? t('dial.invalid') : t(key);
  }
  box.querySelector('.phone-check__text').textContent = text;
  if (result.state === 'invalid') input.setAttribute('aria-invalid', 'true');
  else if (input.dataset.serverError !== 'true') input.removeAttribute('aria-invalid');
  return result;
}

const organizerPhoneCheck = $('organizer-phone-check');
organizerPhone.addEventListener('input', () => {
  delete organizerPhone.dataset.serverError;
  renderPhoneCheck(organizerPhone, organizerPhoneCheck);
  for (const row of rows) if (row.phone.value) renderPhoneCheck(row.phone, row.check);
});

// ---- When: date, time, zone, duration ---------------------------------------------------------

function zoneLabel(zone) {
  return zone.replaceAll('_', ' ');
}

const defaultZone = browserZone();
zoneSelect.replaceChildren(
  ...zoneList().map((zone) =>
    h('option', { value: zone, selected: zone === defaultZone }, zoneLabel(zone)),
  ),
);
zoneSelect.value = defaultZone;

function durationLabel(minutes) {
  const lang = getLang();
  if (minutes < 60 || minutes % 30 !== 0) {
    return new Intl.NumberFormat(lang, { style: 'unit', unit: 'minute', unitDisplay: 'long' })
      .format(minutes);
  }
  return new Intl.NumberFormat(lang, {
    style: 'unit',
    unit: 'hour',
    unitDisplay: 'long',
    maximumFractionDigits: 1,
  }).format(minutes / 60);
}

function renderDurations() {
  const chosen = durationSelect.value || String(DEFAULT_DURATION);
  durationSelect.replaceChildren(
    ...DURATIONS.map((m) =>
      h('option', { value: String(m), selected: m === DEFAULT_DURATION }, durationLabel(m)),
    ),
  );
  durationSelect.value = chosen;
}
renderDurations();

dateInput.min = todayIn(defaultZone);

/** The start as chosen: {instant, zone} (instant null = no date, start any time) or {error}. */
function chosenStart() {
  const zone = zoneSelect.value || defaultZone;
  const date = dateInput.value;
  const time = timeInput.value;
  if (!date && !time) return { instant: null, zone };
  if (!date) return { error: t('home.needDate'), input: dateInput };
  if (!time) return { error: t('home.needTime'), input: timeInput };
  const instant = zonedInstant(date, time, zone);
  if (!instant) return { error: t('home.badTime'), input: timeInput };
  return { instant, zone };
}

function renderPreview() {
  const start = chosenStart();
  preview.dataset.state = 'empty';
  if (start.error || !start.instant) {
    preview.textContent = '';
    return;
  }
  const { instant, zone } = start;
  const when = new Intl.DateTimeFormat(uiLocale(), {
    dateStyle: 'full',
    timeStyle: 'short',
    timeZone: zone,
  }).format(new Date(instant.ms));
  const parts = [t('home.preview', { when, zone: zoneLabel(zone), offset: instant.offset })];
  if (instant.shifted) parts.unshift(t('home.previewShifted', { time: instant.wall.time }));
  if (zone !== defaultZone) {
    const local = new Intl.DateTimeFormat(uiLocale(), {
      dateStyle: 'medium',
      timeStyle: 'short',
    }).format(new Date(instant.ms));
    parts.push(t('home.previewLocal', { local }));
  }
  if (instant.ms < Date.now() - 5 * 60_000) parts.push(t('home.inPast'));
  preview.dataset.state = instant.ms < Date.now() - 5 * 60_000 ? 'past' : 'ok';
  preview.textContent = parts.join(' ');
}

for (const input of [dateInput, timeInput, zoneSelect]) {
  input.addEventListener('input', renderPreview);
  input.addEventListener('change', renderPreview);
}
zoneSelect.addEventListener('change', () => {
  dateInput.min = todayIn(zoneSelect.value || defaultZone);
});

// ---- Participants -------------------------------------------------------------------------------

let rows = [];
let nextRowId = 1;

function renumberRows() {
  rows.forEach((row, index) => {
    const n = index + 1;
    row.el.dataset.index = String(index);
    row.legend.textContent = t('home.participantN', { n });
    row.remove.setAttribute('aria-label', t('home.removeParticipantN', { n }));
    row.remove.title = t('home.removeParticipantN', { n });
  });
  $('add-participant').disabled = rows.length >= MAX_ROWS;
}

function field(id, labelKey, input, extra = null) {
  return h(
    'div',
    { class: 'field' },
    h('label', { for: id, 'data-i18n': labelKey, text: t(labelKey) }),
    input,
    extra,
  );
}

function addRow({ focus = false } = {}) {
  const id = `p${nextRowId++}`;
  const name = h('input', {
    id: `${id}-name`,
    type: 'text',
    maxlength: '100',
    autocomplete: 'off',
    'data-field': 'name',
  });
  const email = h('input', {
    id: `${id}-email`,
    type: 'email',
    maxlength: '254',
    autocomplete: 'off',
    spellcheck: 'false',
    'data-field': 'email',
  });
  const checkId = `${id}-phone-check`;
  const check = h(
    'p',
    { class: 'phone-check', id: checkId, 'data-check': 'empty', 'aria-live': 'polite' },
    h('span', { class: 'phone-check__icon', 'aria-hidden': 'true' }),
    h('span', { class: 'phone-check__number mono' }),
    h('span', { class: 'phone-check__text' }),
  );
  const phone = h('input', {
    id: `${id}-phone`,
    type: 'tel',
    inputmode: 'tel',
    maxlength: '40',
    autocomplete: 'off',
    spellcheck: 'false',
    'data-field': 'phone',
    'aria-describedby': checkId,
    'data-i18n-attr': 'placeholder:dial.phonePlaceholder',
    placeholder: t('dial.phonePlaceholder'),
  });
  const error = h('p', {
    class: 'alert alert--error participant-row__error',
    id: `${id}-error`,
    role: 'alert',
    'data-testid': 'row-error',
  });
  const legend = h('legend', { class: 'participant-row__legend' });
  const remove = h(
    'button',
    { type: 'button', class: 'btn btn--ghost btn--small participant-row__remove' },
    h('span', { 'aria-hidden': 'true', text: '×' }),
    h('span', { class: 'participant-row__remove-text', 'data-i18n': 'action.remove', text: t('action.remove') }),
  );
  const el = h(
    'li',
    { class: 'participant-row', dataset: { row: id } },
    h(
      'fieldset',
      {},
      legend,
      h(
        'div',
        { class: 'participant-row__fields' },
        field(name.id, 'home.pName', name),
        field(email.id, 'home.pEmail', email),
        field(phone.id, 'home.pPhone', phone, check),
        h('div', { class: 'participant-row__actions' }, remove),
      ),
      error,
    ),
  );
  const row = { id, el, name, email, phone, check, error, legend, remove };
  phone.addEventListener('input', () => {
    delete phone.dataset.serverError;
    renderPhoneCheck(phone, check);
  });
  for (const input of [name, email, phone]) {
    input.addEventListener('input', () => {
      // The row's old complaint no longer applies once it is being corrected.
      if (error.textContent) {
        error.textContent = '';
        for (const other of [name, email, phone]) {
          delete other.dataset.serverError;
          if (other !== phone || checkPhone(phone.value, phoneCountry()).state !== 'invalid') {
            other.removeAttribute('aria-invalid');
          }
        }
      }
    });
  }
  remove.addEventListener('click', () => removeRow(row));
  rows.push(row);
  rowsList.append(el);
  renumberRows();
  if (focus) name.focus();
  return row;
}

function removeRow(row) {
  const index = rows.indexOf(row);
  if (index < 0) return;
  rows.splice(index, 1);
  row.el.remove();
  if (rows.length === 0) addRow();
  renumberRows();
  // Keyboard users stay in the list: the row that moved up, else the one above, else Add.
  const next = rows[index] || rows[index - 1];
  (next ? next.name : $('add-participant')).focus();
}

$('add-participant').addEventListener('click', () => addRow({ focus: true }));

function resetRows() {
  for (const row of rows) row.el.remove();
  rows = [];
  addRow();
}
resetRows();

function rowValues(row) {
  return {
    name: row.name.value.trim(),
    email: row.email.value.trim(),
    phone: row.phone.value.trim(),
  };
}

function isBlank(row) {
  const v = rowValues(row);
  return !v.name && !v.email && !v.phone;
}

function rowError(row, message, inputs) {
  row.error.textContent = message;
  for (const input of inputs) {
    input.dataset.serverError = 'true';
    markInvalid(input, row.error);
  }
}

function clearRowErrors() {
  for (const row of rows) {
    row.error.textContent = '';
    for (const input of [row.name, row.email, row.phone]) delete input.dataset.serverError;
  }
}

/** Local checks of the rows; returns the first input to fix, or null. */
function checkRows() {
  let first = null;
  const country = phoneCountry();
  for (const row of rows) {
    if (isBlank(row)) continue;
    const v = rowValues(row);
    const phone = v.phone ? checkPhone(v.phone, country) : null;
    if (!v.name) {
      rowError(row, t('home.rowNeedsName'), [row.name]);
      first ||= row.name;
    } else if (!v.email && !v.phone) {
      rowError(row, t('home.rowNeedsContact'), [row.email, row.phone]);
      first ||= row.email;
    } else if (phone && phone.state === 'invalid') {
      const key = `dial.${phone.reason}`;
      const reason = t(key) === key ? t('dial.invalid') : t(key);
      rowError(row, `${t('home.pPhone')}: ${reason}`, [row.phone]);
      first ||= row.phone;
    } else if (v.email && !row.email.checkValidity()) {
      rowError(row, t('home.rowBadEmail'), [row.email]);
      first ||= row.email;
    }
  }
  return first;
}

// ---- Submitting ---------------------------------------------------------------------------------

function organizerLink(conf) {
  const url = conf.organizer_url || `/organizer/${encodeURIComponent(conf.id)}`;
  if (url.includes('#token=') || !conf.organizer_token) return url;
  return `${url.split('#')[0]}#token=${encodeURIComponent(conf.organizer_token)}`;
}

let lastResult = null;

function renderInvited() {
  if (!lastResult) return;
  const { emailed, phoneOnly, organizerEmail: to } = lastResult;
  const parts = [];
  if (emailed > 0) parts.push(t('home.invitedSent', { n: emailed }));
  parts.push(t('home.invitedOrganizer', { email: to }));
  if (phoneOnly > 0) parts.push(t('home.invitedPhoneOnly', { n: phoneOnly }));
  $('result-invited').textContent = parts.join(' ');
  const whenBox = $('result-when');
  if (lastResult.startMs !== null) {
    const when = new Intl.DateTimeFormat(uiLocale(), {
      dateStyle: 'full',
      timeStyle: 'short',
      timeZone: lastResult.zone,
    }).format(new Date(lastResult.startMs));
    whenBox.textContent = t('home.resultWhen', { when, zone: zoneLabel(lastResult.zone) });
    whenBox.hidden = false;
  } else {
    whenBox.textContent = '';
    whenBox.hidden = true;
  }
}

function showResult(conf, summary) {
  $('result-title').textContent = conf.title;
  $('result-pins').replaceChildren(
    copyRow('index.pin', conf.pin, { mono: true, testId: 'pin' }),
    copyRow('index.moderatorPin', conf.moderator_pin, {
      mono: true,
      testId: 'moderator-pin',
      hintKey: 'index.moderatorPinHint',
    }),
  );
  const orgUrl = new URL(organizerLink(conf), window.location.href).href;
  const joinUrl = new URL(conf.join_url, window.location.href).href;
  $('result-links').replaceChildren(
    copyRow('index.joinLink', joinUrl, { href: joinUrl, testId: 'join-link' }),
    copyRow('index.organizerLink', orgUrl, {
      href: orgUrl,
      testId: 'organizer-link',
      hintKey: 'index.organizerLinkHint',
    }),
  );
  $('open-organizer').href = orgUrl;
  lastResult = summary;
  renderInvited();
  $('result-account').hidden = !user;
  createSection.hidden = true;
  resultSection.hidden = false;
  resultSection.focus();
  document.body.dataset.state = 'created';
}

// Server validation errors name a field: point at the matching input.
const FIELD_INPUTS = {
  title: 'title',
  'organizer.name': 'organizer-name',
  'organizer.email': 'organizer-email',
  'organizer.phone': 'organizer-phone',
  organizer: 'organizer-name',
  language: 'language',
  starts_at: 'date',
  time_zone: 'time-zone',
  duration_minutes: 'duration',
  participants: 'add-participant',
};
const ROW_FIELD = /^participants\[(\d+)\](?:\.(name|email|phone|language))?$/;

function fail(message, input) {
  errorBox.textContent = message;
  document.body.dataset.state = 'error';
  if (input) {
    if (input.tagName !== 'BUTTON') markInvalid(input, errorBox);
    input.focus();
  }
}

function showServerError(err, sentRows) {
  const match = ROW_FIELD.exec(err.field || '');
  const row = match ? sentRows[Number(match[1])] : null;
  if (row) {
    const which = match[2];
    const inputs = which === 'name' ? [row.name]
      : which === 'email' ? [row.email]
        : which === 'phone' ? [row.phone]
          : [row.email, row.phone];
    // "participants[1].email: is not a valid e-mail address" -> "is not a valid …"
    const reason = err.message.replace(/^participants\[\d+\][.\w]*:\s*/, '');
    const label = which === 'name' ? t('home.pName')
      : which === 'email' ? t('home.pEmail')
        : which === 'phone' ? t('home.pPhone') : '';
    rowError(row, label ? `${label}: ${reason}` : reason, inputs);
    const n = rows.indexOf(row) + 1;
    errorBox.textContent = t('home.checkParticipant', { n });
    document.body.dataset.state = 'error';
    inputs[0].focus();
    return;
  }
  const input = FIELD_INPUTS[err.field] && $(FIELD_INPUTS[err.field]);
  fail(err.code === 'csrf' || err.code === 'network' ? errorText(err) : err.message, input);
}

function setSubmitting(on) {
  submit.disabled = on;
  submit.textContent = t(on ? 'index.submitting' : 'index.submit');
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  errorBox.textContent = '';
  clearFieldErrors(form);
  clearRowErrors();

  const firstBadRow = checkRows();
  const ownPhone = organizerPhone.value.trim()
    ? renderPhoneCheck(organizerPhone, organizerPhoneCheck)
    : null;
  if (ownPhone && ownPhone.state === 'invalid') {
    fail(t('home.badOwnPhone'), organizerPhone);
    return;
  }
  if (firstBadRow) {
    const n = rows.findIndex((r) => [r.name, r.email, r.phone].includes(firstBadRow)) + 1;
    errorBox.textContent = t('home.checkParticipant', { n });
    document.body.dataset.state = 'error';
    firstBadRow.focus();
    return;
  }
  const start = chosenStart();
  if (start.error) {
    fail(start.error, start.input);
    return;
  }
  if (start.instant && start.instant.ms < Date.now() - 5 * 60_000) {
    fail(t('home.inPast'), dateInput);
    return;
  }

  const country = phoneCountry();
  const sentRows = rows.filter((row) => !isBlank(row));
  const participants = sentRows.map((row) => {
    const v = rowValues(row);
    const person = { name: v.name };
    if (v.email) person.email = v.email;
    if (v.phone) person.phone = checkPhone(v.phone, country).e164 || v.phone;
    return person;
  });
  const organizer = { name: organizerName.value.trim(), email: organizerEmail.value.trim() };
  if (ownPhone?.state === 'valid') organizer.phone = ownPhone.e164 || organizerPhone.value.trim();
  const payload = {
    title: $('title').value.trim(),
    organizer,
    participants,
    language: languageSelect.value,
    duration_minutes: Number(durationSelect.value) || DEFAULT_DURATION,
  };
  if (start.instant) {
    payload.starts_at = start.instant.iso;
    payload.time_zone = start.zone;
  }

  setSubmitting(true);
  document.body.dataset.state = 'creating';
  try {
    await sessionReady;
    const { data: conf } = await api('/api/v1/conferences', { method: 'POST', json: payload });
    showResult(conf, {
      emailed: participants.filter((p) => p.email).length,
      phoneOnly: participants.filter((p) => !p.email && p.phone).length,
      organizerEmail: organizer.email,
      startMs: start.instant ? start.instant.ms : null,
      zone: start.zone,
    });
  } catch (err) {
    showServerError(err, sentRows);
  } finally {
    setSubmitting(false);
  }
});

$('create-another').addEventListener('click', () => {
  form.reset();
  errorBox.textContent = '';
  clearFieldErrors(form);
  languageTouched = false;
  languageSelect.value = getLang();
  zoneSelect.value = defaultZone;
  durationSelect.value = String(DEFAULT_DURATION);
  renderPhoneCheck(organizerPhone, organizerPhoneCheck);
  resetRows();
  renderPreview();
  applyUser();
  lastResult = null;
  resultSection.hidden = true;
  createSection.hidden = false;
  document.body.dataset.state = 'idle';
  $('title').focus();
});

window.addEventListener('langchange', () => {
  if (!languageTouched) languageSelect.value = getLang();
  renderDurations();
  renumberRows();
  renderPreview();
  renderPhoneCheck(organizerPhone, organizerPhoneCheck);
  for (const row of rows) renderPhoneCheck(row.phone, row.check);
  applyUser();
  renderInvited();
  if (!submit.disabled) submit.textContent = t('index.submit');
});

renderPreview();
