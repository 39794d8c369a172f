// Development: the SMS the server's sink kept instead of sending (GET /api/v1/dev/sms,
// served to loopback clients only; 404 when a real SMS provider is configured).
import './i18n-planning.js';
import { api, getLang, h, initPage, t } from './common.js';
import { formatPhone } from './phone.js';

initPage();

const $ = (id) => document.getElementById(id);
let messages = [];
let loading = false;

/** Date and time to the second: several SMS often leave within a minute. */
function stamp(iso) {
  const date = new Date(iso);
  if (!iso || Number.isNaN(date.getTime())) return '';
  return new Intl.DateTimeFormat(getLang(), { dateStyle: 'short', timeStyle: 'medium' }).format(date);
}

function render() {
  $('sms-rows').replaceChildren(
    ...messages.map((m) =>
      h(
        'tr',
        { dataset: { testid: 'sms-row', encoding: String(m.encoding || ''), segments: String(m.segments ?? '') } },
        h('td', { class: 'sms-row__to mono', text: formatPhone(m.to) }),
        h('td', { class: 'sms-row__time', text: stamp(m.at), title: m.at || '' }),
        h('td', { class: 'sms-row__encoding' }, h('span', { class: 'badge', text: String(m.encoding || '') })),
        h('td', { class: 'sms-row__segments', text: String(m.segments ?? '') }),
        h('td', { class: 'sms-row__text', text: String(m.text ?? '') }),
      ),
    ),
  );
  $('sms-table').hidden = messages.length === 0;
  $('sms-empty').hidden = messages.length > 0 || document.body.dataset.state === 'error';
}

async function load() {
  if (loading) return;
  loading = true;
  $('refresh').disabled = true;
  try {
    const { data } = await api('/api/v1/dev/sms');
    messages = Array.isArray(data) ? data : [];
    $('sms-error').textContent = '';
    document.body.dataset.state = 'ready';
    $('sms-updated').textContent = t('devsms.updated', { time: stamp(new Date().toISOString()) });
  } catch (err) {
    messages = [];
    document.body.dataset.state = 'error';
    if (err.status === 404) $('sms-error').textContent = t('devsms.realProvider');
    else if (err.status === 403) $('sms-error').textContent = t('devsms.localOnly');
    else $('sms-error').textContent = err.message;
  } finally {
    loading = false;
    $('refresh').disabled = false;
    render();
  }
}

$('refresh').addEventListener('click', load);
window.addEventListener('langchange', render);
load();
