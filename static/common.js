// Shared helpers: API calls, safe DOM building, i18n wiring, small formatting helpers.
import { LANGUAGES, getLang, resolveLang, setLang, t } from './i18n.js';

export { getLang, t };

export class ApiError extends Error {
  constructor(status, code, message, field = null, body = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field; // the offending request field, when the server names one
    this.body = body; // the whole error answer (e.g. the broken `rows` of a CSV import)
  }
}

/**
 * fetch() wrapper. `json` is sent as JSON, `body` as is. Resolves to {status, data, headers}
 * (data: parsed JSON or text); rejects with ApiError carrying the server's {error, message}.
 */
export async function api(path, { method = 'GET', token, json, body, headers } = {}) {
  const h = new Headers(headers);
  if (token) h.set('Authorization', `Bearer ${token}`);
  // A logged-in organiser's session cookie rides along; state changes must prove they
  // come from our own page with the session's CSRF token.
  else if (csrfToken && !['GET', 'HEAD'].includes(method)) h.set('X-CSRF-Token', csrfToken);
  if (json !== undefined) {
    h.set('Content-Type', 'application/json');
    body = JSON.stringify(json);
  }
  let res;
  try {
    res = await fetch(path, { method, headers: h, body, credentials: 'same-origin' });
  } catch {
    throw new ApiError(0, 'network', t('error.network'));
  }
  const isJson = (res.headers.get('Content-Type') || '').includes('json');
  const data = isJson ? await res.json().catch(() => null) : await res.text().catch(() => '');
  if (!res.ok) {
    const message = (isJson && data?.message) || t('error.generic', { status: res.status });
    const body = isJson && data && typeof data === 'object' ? data : {};
    throw new ApiError(res.status, body.error || 'http', message, body.field || null, body);
  }
  return { status: res.status, data, headers: res.headers };
}

/** Escape text for HTML. Prefer textContent (h() below); this exists for the rare string case. */
export function escapeHtml(value) {
  return String(value ?? '').replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
  );
}

/**
 * Build an element safely: h('p', {class: 'x', dataset: {id}, text: name}, child, 'text').
 * Strings become text nodes, never HTML.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Inline SVG icons (constant markup, never user data). */
const ICONS = {
  web: '<path d="M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18Zm0 0c2.5 2.4 3.8 5.4 3.8 9s-1.3 6.6-3.8 9m0-18C9.5 5.4 8.2 8.4 8.2 12s1.3 6.6 3.8 9M3.5 9h17M3.5 15h17"/>',
  'dial-in':
    '<path d="M5 4h3l1.5 4-2 1.3a11 11 0 0 0 5.2 5.2l1.3-2 4 1.5v3a2 2 0 0 1-2 2A15 15 0 0 1 3 6a2 2 0 0 1 2-2Z"/><path d="M20 4l-5 5m0-4v4h4"/>',
  'dial-out':
    '<path d="M5 4h3l1.5 4-2 1.3a11 11 0 0 0 5.2 5.2l1.3-2 4 1.5v3a2 2 0 0 1-2 2A15 15 0 0 1 3 6a2 2 0 0 1 2-2Z"/><path d="M15 9l5-5m-4 0h4v4"/>',
  mic: '<rect x="9" y="3" width="6" height="11" rx="3"/><path d="M5 11a7 7 0 0 0 14 0M12 18v3"/>',
  'mic-off':
    '<rect x="9" y="3" width="6" height="11" rx="3"/><path d="M5 11a7 7 0 0 0 14 0M12 18v3M4 4l16 16"/>',
  copy: '<rect x="9" y="9" width="11" height="11" rx="2"/><path d="M5 15V5a2 2 0 0 1 2-2h8"/>',
  leave: '<path d="M15 4h3a2 2 0 0 1 2 2v12a2 2 0 0 1-2 2h-3M10 17l-5-5 5-5M5 12h11"/>',
  lock: '<rect x="5" y="11" width="14" height="10" rx="2"/><path d="M8 11V7a4 4 0 0 1 8 0v4"/>',
  unlock: '<rect x="5" y="11" width="14" height="10" rx="2"/><path d="M8 11V7a4 4 0 0 1 7.5-2"/>',
};

export function icon(name, className = 'icon') {
  const span = document.createElement('span');
  span.className = className;
  span.setAttribute('aria-hidden', 'true');
  // Constant markup from ICONS only.
  span.innerHTML = `<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round">${ICONS[name] || ''}</svg>`;
  return span;
}

/** Animated "sound bars" talking indicator. */
export function talkBars() {
  return h('span', { class: 'talk-bars', 'aria-hidden': 'true' }, h('i'), h('i'), h('i'));
}

/** Short local time for an ISO timestamp, '' for null. */
export function formatTime(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  const sameDay = date.toDateString() === new Date().toDateString();
  const options = sameDay
    ? { hour: '2-digit', minute: '2-digit' }
    : { dateStyle: 'medium', timeStyle: 'short' };
  return new Intl.DateTimeFormat(getLang(), options).format(date);
}

/** Display name of a participant (names and numbers are user data: use as text only). */
export function displayName(p) {
  return (p.name && p.name.trim()) || p.phone || t('org.unknownCaller');
}

/** Set the initial language and mount the switcher into #lang-switcher. */
export function initPage(conferenceLang) {
  setLang(resolveLang(conferenceLang));
  const host = document.getElementById('lang-switcher');
  if (!host) return;
  const id = 'lang-select';
  const select = h(
    'select',
    { id, onchange: (e) => setLang(e.target.value, { updateUrl: true }) },
    Object.entries(LANGUAGES).map(([code, name]) => h('option', { value: code, lang: code }, name)),
  );
  select.value = getLang();
  window.addEventListener('langchange', () => {
    select.value = getLang();
  });
  host.replaceChildren(
    h('label', { for: id, class: 'visually-hidden', 'data-i18n': 'lang.label', text: t('lang.label') }),
    icon('web', 'icon icon--muted'),
    select,
  );
}

/** Copy text to the clipboard and flash the button label. */
export async function copyText(button, text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // Clipboard API unavailable (e.g. plain http): select a temporary field instead.
    const field = h('textarea', { class: 'visually-hidden' }, text);
    document.body.append(field);
    field.select();
    document.execCommand('copy');
    field.remove();
  }
  const label = button.querySelector('.btn__label') || button;
  label.textContent = t('action.copied');
  setTimeout(() => {
    label.textContent = t('action.copy');
  }, 1500);
}

/** A row "label: value [Copy]" used for PINs and links. `href` makes the value a link. */
export function copyRow(labelKey, value, { href, mono = false, hintKey, testId } = {}) {
  const valueEl = href
    ? h('a', { href, class: 'copy-row__value link-break', text: value })
    : h('span', { class: `copy-row__value${mono ? ' mono' : ''}`, text: value });
  if (testId) valueEl.dataset.testid = testId;
  const button = h(
    'button',
    { type: 'button', class: 'btn btn--ghost btn--small', onclick: (e) => copyText(e.currentTarget, value) },
    icon('copy'),
    h('span', { class: 'btn__label', 'data-i18n': 'action.copy', text: t('action.copy') }),
  );
  return h(
    'div',
    { class: 'copy-row' },
    h('dt', { 'data-i18n': labelKey, text: t(labelKey) }),
    h('dd', {}, valueEl, button),
    hintKey ? h('dd', { class: 'hint', 'data-i18n': hintKey, text: t(hintKey) }) : null,
  );
}

/**
 * The Socket.IO client is loaded as a classic script from /static/vendor/socket.io.min.js.
 * With a token it acts for that token; without, a logged-in organiser's session cookie is
 * used for the conference `conferenceId`.
 */
export function connectLive(token, conferenceId = null) {
  if (typeof window.io !== 'function') throw new Error('Socket.IO client not loaded');
  const auth = token ? { token } : { conference_id: conferenceId };
  return window.io('/live', { auth, transports: ['websocket'] });
}

let csrfToken = null;

/**
 * The logged-in organiser ({id, user_number, name, email, language, role, account}) or null.
 * Remembers the session's CSRF token for api().
 */
export async function loadSession() {
  try {
    const { data } = await api('/api/v1/session');
    csrfToken = data.csrf_token;
    return data.user;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      csrfToken = null;
      return null;
    }
    throw err;
  }
}

/** After log-in or sign-up: the answer carries the CSRF token of the new session. */
export function setCsrfToken(token) {
  csrfToken = token || null;
}
