// Choose a new password with the single-use link from the e-mail: /reset#token=...
// The token lives in the fragment (never sent to a server log); it is taken out of the
// address bar at once so it does not stay in the history.
import { initPage, loadSession, t } from './common.js';
import {
  busy,
  clearFieldErrors,
  errorText,
  passwordProblem,
  postJson,
  renderAccountNav,
  showError,
  withLang,
} from './account-common.js';

initPage();

const $ = (id) => document.getElementById(id);
const token = new URLSearchParams(window.location.hash.slice(1)).get('token');
if (window.location.hash) {
  history.replaceState(history.state, '', window.location.pathname + window.location.search);
}

for (const id of ['reset-login', 'reset-ask-again']) $(id).href = withLang($(id).getAttribute('href'));

loadSession()
  .then((user) => renderAccountNav(user, { afterLogout: '/login' }))
  .catch(() => renderAccountNav(null));

function show(sectionId) {
  for (const id of ['reset-section', 'reset-done', 'reset-invalid']) $(id).hidden = id !== sectionId;
  if (sectionId !== 'reset-section') $(sectionId).focus();
}

/** The link cannot be used (any more): say so, with a way to ask for a new one. */
function invalid(messageKey = 'reset.invalidLead') {
  const text = $('reset-invalid-text');
  text.dataset.i18n = messageKey;
  text.textContent = t(messageKey);
  document.body.dataset.state = 'invalid';
  show('reset-invalid');
}

const form = $('reset-form');
const password = $('reset-password');
const password2 = $('reset-password2');
const errorBox = $('reset-error');
const submit = $('reset-submit');

if (!token) invalid('reset.incomplete');
else password.focus();

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  errorBox.textContent = '';
  clearFieldErrors(form);
  // Checked here first: the server spends the link even when it refuses the password.
  const why = passwordProblem(password.value);
  if (why) {
    showError(errorBox, why, password);
    return;
  }
  if (password2.value !== password.value) {
    showError(errorBox, t('acct.pw.mismatch'), password2);
    return;
  }
  const done = busy(submit, 'acct.saving');
  document.body.dataset.state = 'submitting';
  try {
    await postJson('/api/v1/password-reset/confirm', { token, password: password.value });
    document.body.dataset.state = 'done';
    show('reset-done');
  } catch (err) {
    done();
    document.body.dataset.state = 'error';
    if (err.code === 'invalid_token') invalid();
    else if (err.field === 'password') {
      // The link is spent now: a new password needs a new link.
      invalid('reset.refusedPassword');
      const text = $('reset-invalid-text');
      text.textContent = `${t('reset.refusedPassword')} (${err.message})`;
    } else showError(errorBox, errorText(err));
  }
});
