// Sign-up: a new account (company) with its first organiser, who is logged in at once.
import { getLang, initPage, loadSession, setCsrfToken, t } from './common.js';
import {
  busy,
  clearFieldErrors,
  errorText,
  passwordProblem,
  postJson,
  renderAccountNav,
  safeNext,
  showError,
  withLang,
} from './account-common.js';

initPage();

const $ = (id) => document.getElementById(id);
const form = $('signup-form');
const errorBox = $('signup-error');
const submit = $('signup-submit');
const languageSelect = $('language');
const next = safeNext(new URLSearchParams(window.location.search).get('next'), '/account');

$('login-link').href = withLang(
  next === '/account' ? '/login' : `/login?next=${encodeURIComponent(next)}`,
);

let languageTouched = false;
languageSelect.value = getLang();
languageSelect.addEventListener('change', () => {
  languageTouched = true;
});
window.addEventListener('langchange', () => {
  if (!languageTouched) languageSelect.value = getLang();
});

loadSession()
  .then((user) => {
    renderAccountNav(user, { current: 'signup', afterLogout: '/signup' });
    if (user) {
      const notice = $('signed-in-notice');
      notice.textContent = t('acct.alreadyLoggedIn', { name: user.name || user.email });
      notice.hidden = false;
    }
  })
  .catch(() => renderAccountNav(null, { current: 'signup' }));

const EMAIL = /^[^@\s<>"]+@[^@\s<>"]+\.[^@\s<>"]+$/;

/** Local checks, in the order of the form; returns [message, input] or null. */
function problem() {
  const value = (id) => $(id).value.trim();
  if (!value('company')) return [t('signup.needCompany'), $('company')];
  if (!value('name')) return [t('signup.needName'), $('name')];
  if (!EMAIL.test(value('email'))) return [t('acct.needEmail'), $('email')];
  const pw = $('password').value;
  const why = passwordProblem(pw, value('email'));
  if (why) return [why, $('password')];
  if ($('password2').value !== pw) return [t('acct.pw.mismatch'), $('password2')];
  return null;
}

const FIELDS = { company: 'company', name: 'name', email: 'email', password: 'password' };

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  errorBox.textContent = '';
  clearFieldErrors(form);
  const found = problem();
  if (found) {
    showError(errorBox, found[0], found[1]);
    document.body.dataset.state = 'error';
    return;
  }
  const done = busy(submit, 'signup.submitting');
  document.body.dataset.state = 'submitting';
  try {
    const { data } = await postJson('/api/v1/accounts', {
      company: $('company').value.trim(),
      name: $('name').value.trim(),
      email: $('email').value.trim(),
      password: $('password').value,
      language: languageSelect.value,
    });
    setCsrfToken(data.csrf_token);
    document.body.dataset.state = 'done';
    window.location.assign(withLang(next));
  } catch (err) {
    done();
    document.body.dataset.state = 'error';
    showError(errorBox, errorText(err), FIELDS[err.field] ? $(FIELDS[err.field]) : null);
    if (err.code === 'email_taken') {
      errorBox.append(' ');
      const link = document.createElement('a');
      link.href = withLang('/login#forgot');
      link.dataset.i18n = 'login.forgotLink';
      link.textContent = t('login.forgotLink');
      errorBox.append(link);
    }
  }
});
