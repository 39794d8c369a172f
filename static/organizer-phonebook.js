// Organiser page, logged-in organisers only: the phonebook beside the participant cards.
// Search (as you type), tick contacts, "Add to conference": they join the list as invited;
// nobody is called or mailed until the organiser invites or starts.
import { api, h, t } from './common.js';
import './i18n-planning.js';
import { formatPhone } from './phone.js';

const $ = (id) => document.getElementById(id);
const SEARCH_DELAY_MS = 250;

/**
 * @param {object} ctx
 * @param {string} ctx.base           the conference's API path
 * @param {Map} ctx.participants      id → participant, kept by the page
 * @param {(p: object) => void} ctx.upsert  show a participant card
 * @param {() => boolean} ctx.isEnded
 * @param {(message: string, kind?: string) => void} ctx.toast
 */
export function createPhonebook(ctx) {
  const chosen = new Set(); // contact ids
  let contacts = [];
  let query = '';
  let timer = null;
  let seq = 0; // answers to older searches are ignored
  let adding = false;
  let loaded = false;
  let listKey = ''; // the conference's e-mail addresses and numbers when last rendered

  const panel = $('phonebook-panel');
  const list = $('pb-list');
  const search = $('pb-search');
  const addButton = $('pb-add');

  /** A contact already on the conference's list (same e-mail or phone), as the server sees it. */
  function inConference(c) {
    const email = c.email ? c.email.toLowerCase() : null;
    for (const p of ctx.participants.values()) {
      if (email && p.email && p.email.toLowerCase() === email) return true;
      if (c.phone && p.phone === c.phone) return true;
    }
    return false;
  }

  function participantsKey() {
    const keys = [];
    for (const p of ctx.participants.values()) keys.push(`${p.email || ''}|${p.phone || ''}`);
    return keys.sort().join('\n');
  }

  function render() {
    listKey = participantsKey();
    const items = contacts.map((c) => {
      const already = inConference(c);
      if (already) chosen.delete(c.id);
      const id = `pb-contact-${c.id}`;
      const details = [c.email, c.phone ? formatPhone(c.phone) : null, c.organisation].filter(
        Boolean,
      );
      return h(
        'li',
        {
          class: 'pb-item',
          dataset: { testid: 'phonebook-contact', id: c.id, inConference: String(already) },
        },
        h('input', {
          type: 'checkbox',
          id,
          class: 'pb-item__box',
          checked: chosen.has(c.id),
          disabled: already || ctx.isEnded(),
          onchange: (event) => {
            if (event.target.checked) chosen.add(c.id);
            else chosen.delete(c.id);
            renderButton();
          },
        }),
        h(
          'label',
          { for: id, class: 'pb-item__text' },
          h('span', { class: 'pb-item__name', text: c.name }),
          h('span', { class: 'pb-item__details', text: details.join(' · ') }),
          already ? h('span', { class: 'pb-item__in', text: t('plan.inConference') }) : null,
        ),
      );
    });
    list.replaceChildren(...items);
    const empty = $('pb-empty');
    empty.hidden = !loaded || contacts.length > 0;
    empty.textContent = query ? t('plan.noMatch') : t('plan.noContacts');
    renderButton();
  }

  function renderButton() {
    addButton.disabled = adding || chosen.size === 0 || ctx.isEnded();
    addButton.textContent = adding
      ? t('plan.adding')
      : chosen.size
        ? t('plan.addChosen', { n: chosen.size })
        : t('plan.addToConference');
  }

  async function load() {
    const mine = ++seq;
    const path = query ? `/api/v1/contacts?q=${encodeURIComponent(query)}` : '/api/v1/contacts';
    try {
      const { data } = await api(path);
      if (mine !== seq) return;
      contacts = Array.isArray(data) ? data : [];
      loaded = true;
      $('pb-error').textContent = '';
      // Ticked contacts that the search hides stay ticked; ones that are gone are forgotten.
      render();
    } catch (err) {
      if (mine !== seq) return;
      $('pb-error').textContent = err.message;
    }
  }

  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const next = search.value.trim();
      if (next === query && loaded) return;
      query = next;
      load();
    }, SEARCH_DELAY_MS);
  });
  search.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') {
      event.preventDefault();
      clearTimeout(timer);
      query = search.value.trim();
      load();
    }
  });

  addButton.addEventListener('click', async () => {
    if (adding || chosen.size === 0) return;
    adding = true;
    renderButton();
    try {
      const { data } = await api(`${ctx.base}/invitees`, {
        method: 'POST',
        json: { contact_ids: [...chosen] },
      });
      const added = Array.isArray(data?.participants) ? data.participants : [];
      // Live updates may have brought them already (and moved them on): keep the newer card.
      for (const p of added) if (!ctx.participants.has(p.id)) ctx.upsert(p);
      const skipped = chosen.size - added.length;
      chosen.clear();
      ctx.toast(
        skipped > 0
          ? t('plan.addedSomeSkipped', { n: added.length, skipped })
          : t('plan.added', { n: added.length }),
        'success',
      );
    } catch (err) {
      ctx.toast(t('org.actionFailed', { message: err.message }));
    } finally {
      adding = false;
      render();
    }
  });

  window.addEventListener('langchange', () => {
    if (!panel.hidden) render();
  });

  return {
    start() {
      panel.hidden = false;
      document.getElementById('org-layout').dataset.phonebook = 'true';
      render();
      load();
    },
    /** The conference changed (it may have ended): redraw. */
    refresh() {
      if (!panel.hidden && loaded) render();
    },
    /** The conference's list changed: contacts already on it cannot be added again. */
    participantsChanged() {
      // Talking and muting come often: only a change of who is on the list matters here.
      if (!panel.hidden && loaded && participantsKey() !== listKey) render();
    },
  };
}
