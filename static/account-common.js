// Shared pieces of the account pages (sign-up, log-in, reset, account) and the home page:
// the header's account links, safe redirects, JSON posts that keep the error body, field
// errors, password rules, dates.
import './i18n-account.js';
import { ApiError, api, getLang, h, t } from './common.js';

/**
 * A same-site path to go to after log-in, or `fallback`. Only relative paths that start with
 * a single "/" are accepted ("//evil.example" and "/\evil.example" leave the site).
 */
export function safeNext(value, fallback = '/account') {
  if (typeof value !== 'string' || !value.startsWith('/')) return fallback;
  if (value.startsWith('//') || value.startsWith('/\\')) return fallback;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(value)) return fallback;
  try {
    const url = new URL(value, window.location.origin);
    if (url.origin !== window.location.origin) return fallback;
    return url.pathname + url.search + url.hash;
  } catch {
    return fallback;
  }
}

/** The page's ?lang=, carried along to the next page (or ''). */
export function langQuery(prefix = '?') {
  const lang = new URLSearchParams(window.location.search).get('lang');
  return lang ? `${prefix}lang=${encodeURIComponent(lang)}` : '';
}

/** `path` with the page's ?lang= added (for links between our own pages). */
export function withLang(path) {
  const lang = new URLSearchParams(window.location.search).get('lang');
  if (!lang) return path;
  const url = new URL(path, window.location.origin);
  if (!url.searchParams.has('lang')) url.searchParams.set('lang', lang);
  return url.pathname + url.search + url.hash;
}

/**
 * POST JSON without a session (log-in, sign-up, reset): like api(), but the error keeps
 * the whole answer (`err.data`, e.g. retry_after of a 429).
 */
export async function postJson(path, json) {
  let res;
  try {
    res = await fetch(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(json),
      credentials: 'same-origin',
    });
  } catch {
    throw new ApiError(0, 'network', t('error.network'));
  }
  const isJson = (res.headers.get('Content-Type') || '').includes('json');
  const data = isJson ? await res.json().catch(() => null) : null;
  if (!res.ok) {
    const body = data && typeof data === 'object' ? data : {};
    const err = new ApiError(
      res.status,
      body.error || 'http',
      body.message || t('error.generic', { status: res.status }),
      body.field || null,
    );
    err.data = body;
    const header = Number(res.headers.get('Retry-After'));
    err.retryAfter = Number.isFinite(body.retry_after)
      ? body.retry_after
      : Number.isFinite(header) && header > 0
        ? header
        : null;
    throw err;
  }
  return { status: res.status, data };
}

/** A translated message for the server's error codes that people meet on these pages. */
export function errorText(err) {
  const key = {
    bad_credentials: 'acct.err.badCredentials',
    email_taken: 'acct.err.emailTaken',
    invalid_token: 'acct.err.invalidToken',
    csrf: 'acct.err.csrf',
    network: 'error.network',
    unauthorized: 'acct.err.loggedOut',
  }[err?.code];
  if (key) return t(key);
  if (err?.code === 'too_many_attempts' || err?.code === 'too_many_requests') {
    return retryText(err.retryAfter ?? err.data?.retry_after);
  }
  return err?.message || t('error.generic', { status: err?.status ?? 0 });
}

/**
 * The locale for dates and times: the browser's own variant of the page language (en-GB
 * writes 14:30, en-US 2:30 PM), else the page language.
 */
export function uiLocale() {
  const lang = getLang();
  const own = (navigator.languages || [navigator.language]).find(
    (l) => typeof l === 'string' && l.toLowerCase().split('-')[0] === lang,
  );
  try {
    return own ? Intl.DateTimeFormat.supportedLocalesOf([own])[0] || lang : lang;
  } catch {
    return lang;
  }
}

/** "Too many attempts. Try again in 5 minutes (at 14:32)." */
export function retryText(seconds) {
  const s = Number(seconds);
  if (!Number.isFinite(s) || s <= 0) return t('acct.err.tooManyLater');
  const at = new Intl.DateTimeFormat(uiLocale(), { hour: '2-digit', minute: '2-digit' }).format(
    new Date(Date.now() + s * 1000),
  );
  if (s < 90) return t('acct.err.tooManySeconds', { n: Math.ceil(s), time: at });
  return t('acct.err.tooManyMinutes', { n: Math.ceil(s / 60), time: at });
}

/** Why a new password is refused, as the server's rules say; null when it is fine. */
export function passwordProblem(password, email = '') {
  if (password.length < 10) return t('acct.pw.tooShort');
  if (password.length > 256) return t('acct.pw.tooLong');
  if (email && password.trim().toLowerCase() === email.trim().toLowerCase()) {
    return t('acct.pw.isEmail');
  }
  if (new Set(password).size < 4) return t('acct.pw.tooSimple');
  return null;
}

/** Marks inputs invalid and points them at the message box; clearFieldErrors undoes it. */
export function markInvalid(input, box) {
  if (!input) return;
  input.setAttribute('aria-invalid', 'true');
  const ids = (input.getAttribute('aria-describedby') || '').split(/\s+/).filter(Boolean);
  if (box?.id && !ids.includes(box.id)) {
    input.dataset.errorDescribed = box.id;
    input.setAttribute('aria-describedby', [...ids, box.id].join(' '));
  }
}

export function clearFieldErrors(root) {
  for (const input of root.querySelectorAll('[aria-invalid]')) {
    input.removeAttribute('aria-invalid');
    const extra = input.dataset.errorDescribed;
    if (extra) {
      const ids = (input.getAttribute('aria-describedby') || '')
        .split(/\s+/)
        .filter((id) => id && id !== extra);
      if (ids.length) input.setAttribute('aria-describedby', ids.join(' '));
      else input.removeAttribute('aria-describedby');
      delete input.dataset.errorDescribed;
    }
  }
}

/** Show `message` in `box` (an alert), mark `input` and focus it (or the box). */
export function showError(box, message, input = null) {
  box.textContent = message;
  if (input) {
    markInvalid(input, box);
    input.focus();
  }
}

/** A date and time for lists ('7 Dec 2026, 14:00'); '' for null. */
export function formatDateTime(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  return new Intl.DateTimeFormat(uiLocale(), { dateStyle: 'medium', timeStyle: 'short' }).format(
    date,
  );
}

/** A button's label while its request runs. */
export function busy(button, busyKey) {
  const label = button.querySelector('.btn__label') || button;
  const key = label.dataset.i18n;
  button.disabled = true;
  if (busyKey) {
    label.dataset.i18n = busyKey;
    label.textContent = t(busyKey);
  }
  return () => {
    button.disabled = false;
    if (busyKey && key) {
      label.dataset.i18n = key;
      label.textContent = t(key);
    }
  };
}

/** Log out (the session's CSRF token must be known: loadSession() first), then go on. */
export async function logOut(then = '/') {
  try {
    await api('/api/v1/session', { method: 'DELETE' });
  } catch (err) {
    // Already logged out elsewhere: nothing left to end.
    if (!(err instanceof ApiError) || err.status !== 401) throw err;
  }
  window.location.assign(withLang(then));
}

/**
 * The account links in the top bar (#account-nav): the user and Account / Contacts /
 * Log out, or Log in / Sign up. `current` marks the page's own link.
 */
export function renderAccountNav(user, { current = '', afterLogout = '/' } = {}) {
  const host = document.getElementById('account-nav');
  if (!host) return;
  const link = (href, key, page) =>
    h('a', {
      href: withLang(href),
      class: 'account-nav__link',
      'data-i18n': key,
      'aria-current': current === page ? 'page' : null,
      text: t(key),
    });
  if (user) {
    const out = h('button', {
      type: 'button',
      class: 'btn btn--ghost btn--small account-nav__logout',
      id: 'nav-logout',
      'data-i18n': 'acct.nav.logout',
      text: t('acct.nav.logout'),
      onclick: async () => {
        out.disabled = true;
        try {
          await logOut(afterLogout);
        } catch (err) {
          out.disabled = false;
          host.querySelector('.account-nav__error')?.remove();
          host.append(h('span', { class: 'account-nav__error', role: 'alert', text: errorText(err) }));
        }
      },
    });
    host.replaceChildren(
      h(
        'span',
        { class: 'account-nav__user', 'data-testid': 'nav-user' },
        h('span', { class: 'visually-hidden', 'data-i18n': 'acct.nav.loggedInAs', text: t('acct.nav.loggedInAs') }),
        ' ',
        h('span', { class: 'account-nav__name', text: user.name || user.email }),
      ),
      link('/account', 'acct.nav.account', 'account'),
      link('/contacts', 'acct.nav.contacts', 'contacts'),
      out,
    );
  } else {
    host.replaceChildren(
      link('/login', 'acct.nav.login', 'login'),
      link('/signup', 'acct.nav.signup', 'signup'),
    );
  }
  host.hidden = false;
}
