// Home page: create a conference and show its PINs and links.
import { api, copyRow, getLang, initPage, t } from './common.js';

initPage();

const form = document.getElementById('create-form');
const errorBox = document.getElementById('form-error');
const submit = document.getElementById('create-submit');
const createSection = document.getElementById('create-section');
const resultSection = document.getElementById('result-section');
const languageSelect = document.getElementById('language');

// The conference language follows the page language until the user picks one.
let languageTouched = false;
languageSelect.value = getLang();
languageSelect.addEventListener('change', () => {
  languageTouched = true;
});
window.addEventListener('langchange', () => {
  if (!languageTouched) languageSelect.value = getLang();
});

function organizerLink(conf) {
  const url = conf.organizer_url || `/organizer/${encodeURIComponent(conf.id)}`;
  if (url.includes('#token=')) return url;
  return `${url.split('#')[0]}#token=${encodeURIComponent(conf.organizer_token)}`;
}

function showResult(conf) {
  document.getElementById('result-title').textContent = conf.title;
  document.getElementById('result-pins').replaceChildren(
    copyRow('index.pin', conf.pin, { mono: true, testId: 'pin' }),
    copyRow('index.moderatorPin', conf.moderator_pin, {
      mono: true,
      testId: 'moderator-pin',
      hintKey: 'index.moderatorPinHint',
    }),
  );
  const orgUrl = new URL(organizerLink(conf), window.location.href).href;
  const joinUrl = new URL(conf.join_url, window.location.href).href;
  document.getElementById('result-links').replaceChildren(
    copyRow('index.joinLink', joinUrl, { href: joinUrl, testId: 'join-link' }),
    copyRow('index.organizerLink', orgUrl, {
      href: orgUrl,
      testId: 'organizer-link',
      hintKey: 'index.organizerLinkHint',
    }),
  );
  document.getElementById('open-organizer').href = orgUrl;
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
  language: 'language',
};

function clearFieldErrors() {
  for (const input of form.querySelectorAll('[aria-invalid]')) {
    input.removeAttribute('aria-invalid');
    if (input.getAttribute('aria-describedby') === 'form-error') {
      input.removeAttribute('aria-describedby');
    }
  }
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  errorBox.textContent = '';
  clearFieldErrors();
  const data = new FormData(form);
  const payload = {
    title: data.get('title').trim(),
    organizer: { name: data.get('name').trim(), email: data.get('email').trim() },
    participants: [],
    language: data.get('language'),
  };
  submit.disabled = true;
  submit.textContent = t('index.submitting');
  document.body.dataset.state = 'creating';
  try {
    const { data: conf } = await api('/api/v1/conferences', { method: 'POST', json: payload });
    showResult(conf);
  } catch (err) {
    errorBox.textContent = err.message;
    document.body.dataset.state = 'error';
    const input = FIELD_INPUTS[err.field] && document.getElementById(FIELD_INPUTS[err.field]);
    if (input) {
      input.setAttribute('aria-invalid', 'true');
      input.setAttribute('aria-describedby', 'form-error');
      input.focus();
    }
  } finally {
    submit.disabled = false;
    submit.textContent = t('index.submit');
  }
});

document.getElementById('create-another').addEventListener('click', () => {
  form.reset();
  languageTouched = false;
  languageSelect.value = getLang();
  resultSection.hidden = true;
  createSection.hidden = false;
  document.body.dataset.state = 'idle';
  document.getElementById('title').focus();
});
