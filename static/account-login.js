// Log-in (user number or e-mail + password), "Forgot your password?" and "Lost your
// organiser link?". After log-in the page goes back to ?next= (same-site paths only).
import { initPage, loadSession, setCsrfToken, t } from './common.js';
import {
  busy,
  clearFieldErrors,
  errorText,
  markInvalid,
  postJson,
  renderAccountNav,
  retryText,
  safeNext,
  showError,
  withLang,
} from './account-common.js';

initPage();

const $ = (id) => document.getElementById(id);
const next = safeNext(new URLSearchParams(window.location.search).get('next'), '/account');
const EMAIL = /^[^@\s<>"]+@[^@\s<>"]+\.[^@\s<>"]+$/;

$('signup-link').href = withLang(
  next === '/account' ? '/signup' : `/signup?next=${encodeURIComponent(next)}`,
);

loadSession()
  .then((user) => {
    renderAccountNav(user, { current: 'login', afterLogout: '/login' });
    if (!user) return;
    const notice = $('signed-in-notice');
    const link = document.createElement('a');
    link.href = withLang(next);
    link.dataset.i18n = 'login.continue';
    link.textContent = t('login.continue');
    notice.replaceChildren(t('acct.alreadyLoggedIn', { name: user.name || user.email }), ' ', link);
    notice.hidden = false;
  })
  .catch(() => renderAccountNav(null, { current: 'login' }));

// ---- Log-in ---------------------------------------------------------------------------------

const form = $('login-form');
const loginId = $('login-id');
const password = $('login-password');
const errorBox = $('login-error');
const submit = $('login-submit');
let blockedUntil = 0;
let unblockTimer = null;

/** After "too many attempts" the button waits until the server will listen again. */
function blockFor(seconds) {
  blockedUntil = Date.now() + seconds * 1000;
  submit.disabled = true;
  clearTimeout(unblockTimer);
  unblockTimer = setTimeout(() => {
    blockedUntil = 0;
    submit.disabled = false;
  }, seconds * 1000);
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  if (Date.now() < blockedUntil) return;
  errorBox.textContent = '';
  clearFieldErrors(form);
  if (!loginId.value.trim()) {
    showError(errorBox, t('login.needId'), loginId);
    return;
  }
  if (!password.value) {
    showError(errorBox, t('login.needPassword'), password);
    return;
  }
  const done = busy(submit, 'login.submitting');
  document.body.dataset.state = 'submitting';
  try {
    const { data } = await postJson('/api/v1/session', {
      login: loginId.value.trim(),
      password: password.value,
    });
    setCsrfToken(data.csrf_token);
    document.body.dataset.state = 'done';
    window.location.assign(withLang(next));
  } catch (err) {
    done();
    document.body.dataset.state = 'error';
    errorBox.dataset.code = err.code;
    if (err.code === 'too_many_attempts') {
      showError(errorBox, retryText(err.retryAfter));
      if (err.retryAfter) blockFor(err.retryAfter);
      return;
    }
    if (err.code === 'bad_credentials') {
      password.value = '';
      showError(errorBox, errorText(err), password);
      markInvalid(loginId, errorBox);
      return;
    }
    showError(errorBox, errorText(err), err.field === 'login' ? loginId : null);
  }
});

// ---- Forgot password / lost organiser link ------------------------------------------------------

/** A form that asks for an e-mail and gets the same neutral answer whatever the address. */
function neutralForm({ formId, inputId, submitId, errorId, statusId, path, sentKey }) {
  const mailForm = $(formId);
  const input = $(inputId);
  const button = $(submitId);
  const errBox = $(errorId);
  const status = $(statusId);
  mailForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    errBox.textContent = '';
    status.textContent = '';
    clearFieldErrors(mailForm);
    const email = input.value.trim();
    if (!EMAIL.test(email)) {
      showError(errBox, t('acct.needEmail'), input);
      return;
    }
    const done = busy(button, 'acct.sending');
    try {
      await postJson(path, { email });
      status.textContent = t(sentKey, { email });
    } catch (err) {
      showError(errBox, errorText(err), err.field === 'email' ? input : null);
    } finally {
      done();
    }
  });
}

neutralForm({
  formId: 'forgot-form',
  inputId: 'forgot-email',
  submitId: 'forgot-submit',
  errorId: 'forgot-error',
  statusId: 'forgot-status',
  path: '/api/v1/password-reset',
  sentKey: 'login.forgotSent',
});
neutralForm({
  formId: 'link-form',
  inputId: 'link-email',
  submitId: 'link-submit',
  errorId: 'link-error',
  statusId: 'link-status',
  path: '/api/v1/organizer-link',
  sentKey: 'login.linkSent',
});

function jumpTo(hash) {
  const target = { '#forgot': 'forgot-email', '#lost-link': 'link-email' }[hash];
  if (!target) return;
  const input = $(target);
  // An e-mail typed as the log-in name is most likely the address in question.
  if (!input.value && loginId.value.includes('@')) input.value = loginId.value.trim();
  input.focus();
}

$('forgot-jump').addEventListener('click', (event) => {
  event.preventDefault();
  history.replaceState(history.state, '', '#forgot');
  $('forgot').scrollIntoView({ block: 'start' });
  jumpTo('#forgot');
});
window.addEventListener('hashchange', () => jumpTo(window.location.hash));
if (window.location.hash) {
  // After the browser's own jump to the fragment, which moves the focus to it (or away).
  const focusFromHash = () => setTimeout(() => jumpTo(window.location.hash), 0);
  if (document.readyState === 'complete') focusFromHash();
  else window.addEventListener('load', focusFromHash, { once: true });
} else loginId.focus();
