// The phonebook of a logged-in organiser: list and search (as you type), add, edit, delete,
// CSV import (all or nothing: every broken row is listed) and export.
import './i18n-planning.js';
import { ApiError, api, h, initPage, setCsrfToken, t } from './common.js';
import { LANGUAGES } from './i18n.js';
import { checkPhone, countryOf, formatPhone } from './phone.js';

initPage();

const $ = (id) => document.getElementById(id);
const FIELDS = ['name', 'email', 'phone', 'language', 'organisation'];
const SEARCH_DELAY_MS = 250;

let csrf = null; // the session's CSRF token (the CSV upload is sent with fetch() directly)
let contacts = [];
let query = '';
let searchTimer = null;
let searchSeq = 0;
let editing = null; // the contact being edited, or null when the form adds
let saving = false;
let importing = false;
let deleting = null;
let defaultLanguage = 'en'; // the organiser's own language, for new contacts

// ---- Session ------------------------------------------------------------------------------

/** The logged-in organiser, or null (then we go to the log-in page). */
async function openSession() {
  try {
    const { data } = await api('/api/v1/session');
    csrf = data?.csrf_token || null;
    setCsrfToken(csrf); // api() sends it with every change
    return data?.user || null;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return null;
    throw err;
  }
}

function toast(message, kind = 'success') {
  const el = h('div', {
    class: `alert alert--${kind}`,
    role: kind === 'error' ? 'alert' : 'status',
    text: message,
  });
  $('toasts').append(el);
  setTimeout(() => el.remove(), 6000);
}

// ---- The list -----------------------------------------------------------------------------

function languageName(code) {
  return LANGUAGES[code] || code || '';
}

function contactRow(c) {
  return h(
    'tr',
    { dataset: { testid: 'contact-row', id: c.id } },
    h('td', { class: 'contact-row__name', dataset: { testid: 'row-name' }, text: c.name }),
    h('td', { class: 'contact-row__email link-break', text: c.email || '' }),
    h('td', { class: 'contact-row__phone', dataset: { testid: 'row-phone' }, text: formatPhone(c.phone) }),
    h('td', { class: 'contact-row__language', lang: c.language, text: languageName(c.language) }),
    h('td', { class: 'contact-row__organisation', text: c.organisation || '' }),
    h(
      'td',
      { class: 'contact-row__actions' },
      h('button', {
        type: 'button',
        class: 'btn btn--small btn--secondary',
        dataset: { action: 'edit' },
        'aria-label': t('contacts.editName', { name: c.name }),
        text: t('contacts.edit'),
      }),
      h('button', {
        type: 'button',
        class: 'btn btn--small btn--secondary btn--danger-text',
        dataset: { action: 'delete' },
        'aria-label': t('contacts.deleteName', { name: c.name }),
        text: t('contacts.delete'),
      }),
    ),
  );
}

function renderList() {
  $('contact-rows').replaceChildren(...contacts.map(contactRow));
  $('contacts-table').hidden = contacts.length === 0;
  const empty = $('contacts-empty');
  empty.hidden = contacts.length > 0;
  empty.textContent = query ? t('contacts.noMatch', { query }) : t('contacts.empty');
  $('contact-count').textContent = query
    ? t('contacts.found', { n: contacts.length })
    : t('contacts.count', { n: contacts.length });
}

async function loadContacts() {
  const mine = ++searchSeq;
  const path = query ? `/api/v1/contacts?q=${encodeURIComponent(query)}` : '/api/v1/contacts';
  try {
    const { data } = await api(path);
    if (mine !== searchSeq) return; // a newer search is under way
    contacts = Array.isArray(data) ? data : [];
    $('page-error').textContent = '';
    renderList();
    document.body.dataset.state = 'ready';
  } catch (err) {
    if (mine !== searchSeq) return;
    if (err.status === 401) {
      goToLogin();
      return;
    }
    $('page-error').textContent = err.message;
  }
}

$('contact-search').addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => {
    query = $('contact-search').value.trim();
    loadContacts();
  }, SEARCH_DELAY_MS);
});
$('contact-search').addEventListener('keydown', (event) => {
  if (event.key !== 'Enter') return;
  event.preventDefault();
  clearTimeout(searchTimer);
  query = $('contact-search').value.trim();
  loadContacts();
});

$('contact-rows').addEventListener('click', (event) => {
  const button = event.target.closest('button[data-action]');
  if (!button) return;
  const id = button.closest('tr')?.dataset.id;
  const contact = contacts.find((c) => c.id === id);
  if (!contact) return;
  if (button.dataset.action === 'edit') startEdit(contact);
  else if (button.dataset.action === 'delete') askDelete(contact);
});

// ---- Add and edit -------------------------------------------------------------------------

const form = $('contact-form');
const inputs = Object.fromEntries(FIELDS.map((f) => [f, $(`contact-${f}`)]));

function phoneCountry() {
  return countryOf({ locales: navigator.languages || [] });
}

function renderPhoneCheck() {
  const input = inputs.phone;
  const result = checkPhone(input.value, phoneCountry());
  const box = $('contact-phone-check');
  box.dataset.check = result.state;
  box.dataset.valid = String(result.state === 'valid');
  box.querySelector('.phone-check__icon').textContent =
    result.state === 'valid' ? '✓' : result.state === 'invalid' ? '✗' : '';
  box.querySelector('.phone-check__number').textContent =
    result.state !== 'empty' && !result.loose ? result.formatted : '';
  let text;
  if (result.state === 'empty') text = t('contacts.phoneOptional');
  else if (result.loose) text = t('dial.unchecked');
  else if (result.state === 'valid') text = t('dial.valid');
  else text = phoneReason(result.reason);
  box.querySelector('.phone-check__text').textContent = text;
  return result;
}

function phoneReason(reason) {
  const key = `dial.${reason}`;
  return t(key) === key ? t('dial.invalid') : t(key);
}

function clearErrors() {
  for (const field of FIELDS) {
    $(`contact-${field}-error`).textContent = '';
    inputs[field].removeAttribute('aria-invalid');
  }
  $('contact-form-error').textContent = '';
}

function fieldError(field, message) {
  const input = inputs[field];
  if (!input) {
    $('contact-form-error').textContent = message;
    return;
  }
  $(`contact-${field}-error`).textContent = message;
  input.setAttribute('aria-invalid', 'true');
  input.focus();
}

/** "phone: is not a valid phone number" → "is not a valid phone number" beside the phone. */
function serverDetail(err) {
  const prefix = `${err.field}: `;
  const text = err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
  return t('contacts.serverSays', { message: text });
}

function renderForm() {
  const mode = editing ? 'edit' : 'add';
  form.dataset.mode = mode;
  $('form-heading').textContent = editing
    ? t('contacts.editHeading', { name: editing.name })
    : t('contacts.addHeading');
  $('contact-submit').textContent = saving
    ? t('contacts.saving')
    : t(editing ? 'contacts.save' : 'contacts.add');
  $('contact-submit').disabled = saving;
  $('contact-cancel').hidden = !editing;
}

function resetForm() {
  editing = null;
  form.reset();
  inputs.language.value = defaultLanguage;
  clearErrors();
  renderPhoneCheck();
  renderForm();
}

function startEdit(contact) {
  editing = contact;
  clearErrors();
  $('contact-form-status').textContent = '';
  inputs.name.value = contact.name || '';
  inputs.email.value = contact.email || '';
  inputs.phone.value = contact.phone ? formatPhone(contact.phone) : '';
  inputs.language.value = contact.language || defaultLanguage;
  inputs.organisation.value = contact.organisation || '';
  renderPhoneCheck();
  renderForm();
  $('contact-form-panel').scrollIntoView({ block: 'start' });
  inputs.name.focus();
}

inputs.phone.addEventListener('input', () => {
  $('contact-phone-error').textContent = '';
  inputs.phone.removeAttribute('aria-invalid');
  renderPhoneCheck();
});
for (const field of ['name', 'email', 'language', 'organisation']) {
  inputs[field].addEventListener('input', () => {
    $(`contact-${field}-error`).textContent = '';
    inputs[field].removeAttribute('aria-invalid');
  });
}
$('contact-cancel').addEventListener('click', () => {
  resetForm();
  $('contact-form-status').textContent = '';
});

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  if (saving) return;
  clearErrors();
  $('contact-form-status').textContent = '';
  const name = inputs.name.value.trim();
  const email = inputs.email.value.trim();
  const organisation = inputs.organisation.value.trim();
  const phone = renderPhoneCheck();
  if (!name) {
    fieldError('name', t('contacts.nameRequired'));
    return;
  }
  if (phone.state === 'invalid') {
    fieldError('phone', t('contacts.phoneInvalid', { reason: phoneReason(phone.reason) }));
    return;
  }
  if (!email && phone.state === 'empty') {
    fieldError('email', t('contacts.emailOrPhone'));
    return;
  }
  // E.164 as checked here: the server does not have to guess the country of a national number.
  const body = {
    name,
    email: email || null,
    phone: phone.state === 'empty' ? null : phone.e164 || inputs.phone.value.trim(),
    language: inputs.language.value,
    organisation: organisation || null,
  };
  saving = true;
  renderForm();
  try {
    if (editing) {
      const { data } = await api(`/api/v1/contacts/${encodeURIComponent(editing.id)}`, {
        method: 'PATCH',
        json: body,
      });
      $('contact-form-status').textContent = t('contacts.saved', { name: data?.name ?? name });
    } else {
      // A new contact: unset fields are left out rather than sent as null.
      const fresh = Object.fromEntries(Object.entries(body).filter(([, v]) => v !== null));
      const { data } = await api('/api/v1/contacts', { method: 'POST', json: fresh });
      $('contact-form-status').textContent = t('contacts.added', { name: data?.name ?? name });
    }
    saving = false;
    resetForm();
    inputs.name.focus();
    await loadContacts();
  } catch (err) {
    saving = false;
    renderForm();
    if (err.status === 401) goToLogin();
    else if (err.field && FIELDS.includes(err.field)) fieldError(err.field, serverDetail(err));
    else $('contact-form-error').textContent = err.message;
  }
});

// ---- Delete -------------------------------------------------------------------------------

const deleteDialog = $('delete-dialog');

function askDelete(contact) {
  deleting = contact;
  $('delete-body').textContent = t('contacts.deleteBody', { name: contact.name });
  deleteDialog.returnValue = '';
  deleteDialog.showModal();
}

deleteDialog.addEventListener('close', async () => {
  const contact = deleting;
  deleting = null;
  if (deleteDialog.returnValue !== 'confirm' || !contact) return;
  try {
    await api(`/api/v1/contacts/${encodeURIComponent(contact.id)}`, { method: 'DELETE' });
    if (editing?.id === contact.id) resetForm();
    toast(t('contacts.deleted', { name: contact.name }));
    await loadContacts();
  } catch (err) {
    toast(err.message, 'error');
  }
});

// ---- CSV import ---------------------------------------------------------------------------

const fileInput = $('import-file');

function renderImport() {
  const button = $('import-submit');
  button.disabled = importing || !fileInput.files?.length;
  button.textContent = t(importing ? 'contacts.importing' : 'contacts.import');
}

function showImportErrors(rows) {
  const body = $('import-error-rows');
  body.replaceChildren(
    ...rows.map((r) =>
      h(
        'tr',
        { dataset: { testid: 'import-error-row', row: String(r.row ?? ''), field: r.field || '' } },
        h('td', { class: 'import-errors__row', text: r.row === null || r.row === undefined ? '' : String(r.row) }),
        h('td', { class: 'import-errors__field', text: r.field ? fieldName(r.field) : t('contacts.wholeRow') }),
        h('td', { class: 'import-errors__message', text: r.message || '' }),
      ),
    ),
  );
  $('import-errors').hidden = rows.length === 0;
}

function fieldName(field) {
  return FIELDS.includes(field) ? t(`contacts.${field}`) : field;
}

fileInput.addEventListener('change', () => {
  $('import-status').textContent = '';
  $('import-error').textContent = '';
  showImportErrors([]);
  renderImport();
});

$('import-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const file = fileInput.files?.[0];
  if (!file || importing) return;
  importing = true;
  renderImport();
  $('import-status').textContent = '';
  $('import-error').textContent = '';
  showImportErrors([]);
  try {
    // The raw bytes: the server detects the encoding (UTF-8, or a Windows code page).
    const bytes = await file.arrayBuffer();
    const headers = { 'Content-Type': 'text/csv' };
    if (csrf) headers['X-CSRF-Token'] = csrf;
    let res;
    try {
      res = await fetch('/api/v1/contacts/import', {
        method: 'POST',
        headers,
        body: bytes,
        credentials: 'same-origin',
      });
    } catch {
      throw new Error(t('error.network'));
    }
    const isJson = (res.headers.get('Content-Type') || '').includes('json');
    const data = isJson ? await res.json().catch(() => null) : null;
    if (res.status === 401) {
      goToLogin();
      return;
    }
    if (!res.ok) {
      const rows = Array.isArray(data?.rows) ? data.rows : [];
      $('import-error').textContent =
        res.status === 422 && rows.length
          ? t('contacts.importRejected', { n: rows.length })
          : data?.message || t('error.generic', { status: res.status });
      showImportErrors(rows);
      return;
    }
    $('import-status').textContent = t('contacts.imported', { n: data?.imported ?? 0 });
    $('import-form').reset();
    await loadContacts();
  } catch (err) {
    $('import-error').textContent = err.message;
  } finally {
    importing = false;
    renderImport();
  }
});

// ---- Start --------------------------------------------------------------------------------

function goToLogin() {
  window.location.assign(`/login?next=${encodeURIComponent('/contacts')}`);
}

window.addEventListener('langchange', () => {
  renderList();
  renderForm();
  renderPhoneCheck();
  renderImport();
});

async function boot() {
  let user;
  try {
    user = await openSession();
  } catch (err) {
    $('page-error').textContent = err.message;
    document.body.dataset.state = 'error';
    return;
  }
  if (!user) {
    goToLogin();
    return;
  }
  $('user-name').textContent = user.name || user.email || '';
  if (LANGUAGES[user.language]) defaultLanguage = user.language;
  $('contacts-panel').hidden = false;
  $('contacts-forms').hidden = false;
  resetForm();
  renderImport();
  await loadContacts();
}

boot();
