// Phone numbers in the browser: libphonenumber-js (npm, served from our own origin as the
// classic script /static/vendor/libphonenumber-max.js, which defines window.libphonenumber).
// "max" metadata: the same strict validity check as the server's phonenumbers library.
// Without the library the page still works: numbers are shown as they are and only
// loosely checked here; the server has the final word either way.

function lib() {
  const L = window.libphonenumber;
  return L && typeof L.parsePhoneNumberFromString === 'function' ? L : null;
}

/** True when the real validator is loaded (otherwise checkPhone() is a loose fallback). */
export function phoneLibraryLoaded() {
  return lib() !== null;
}

/** A country to read national numbers in ('GB'), from a phone number or a locale; else null. */
export function countryOf({ phone, locales = [] } = {}) {
  const L = lib();
  if (!L) return null;
  if (phone) {
    const parsed = L.parsePhoneNumberFromString(String(phone), { extract: false });
    if (parsed?.country) return parsed.country;
  }
  for (const locale of locales) {
    let region = null;
    try {
      region = new Intl.Locale(locale).region || null; // only an explicit region ('en-GB')
    } catch {
      region = null;
    }
    if (region && L.isSupportedCountry(region)) return region;
  }
  return null;
}

/** An E.164 number formatted for people ('+44 20 7946 0123'); the input when it cannot be. */
export function formatPhone(number) {
  if (!number) return '';
  const L = lib();
  const parsed = L?.parsePhoneNumberFromString(String(number), { extract: false });
  return parsed ? parsed.formatInternational() : String(number);
}

const LOOSE = /^\+?[0-9][0-9 ().\/-]{5,24}$/;

/**
 * Check a number as typed. Returns {state, e164, formatted, reason}:
 * state 'empty' | 'invalid' | 'valid'; e164 ('+442079460123') and formatted
 * ('+44 20 7946 0123') once it parses; reason ('TOO_SHORT', 'TOO_LONG', 'INVALID_COUNTRY',
 * 'NOT_A_NUMBER', 'INVALID_LENGTH', 'EXTENSION', 'INVALID') when invalid.
 */
export function checkPhone(text, defaultCountry = null) {
  const value = String(text ?? '').trim();
  if (!value) return { state: 'empty', e164: null, formatted: '', reason: null };
  const L = lib();
  if (!L) {
    // Fallback without the library: plausible characters only; the server validates.
    const ok = LOOSE.test(value) && value.replace(/\D/g, '').length >= 6;
    const state = ok ? 'valid' : 'invalid';
    return { state, e164: null, formatted: value, reason: ok ? null : 'INVALID', loose: true };
  }
  const options = { extract: false };
  if (defaultCountry) options.defaultCountry = defaultCountry;
  const parsed = L.parsePhoneNumberFromString(value, options);
  if (parsed && parsed.isValid()) {
    if (parsed.ext) {
      const formatted = parsed.formatInternational();
      return { state: 'invalid', e164: parsed.number, formatted, reason: 'EXTENSION' };
    }
    const formatted = parsed.formatInternational();
    return { state: 'valid', e164: parsed.number, formatted, reason: null };
  }
  let reason;
  try {
    reason = L.validatePhoneNumberLength(value, options) || 'INVALID';
  } catch {
    reason = 'NOT_A_NUMBER';
  }
  if (reason === 'INVALID_COUNTRY' && !value.startsWith('+') && !defaultCountry) {
    reason = 'NO_COUNTRY'; // a national number, and we do not know which country
  }
  // Show what was typed so far grouped the way the country writes it ('+44 20 7946').
  let formatted = '';
  try {
    formatted = L.formatIncompletePhoneNumber(value, defaultCountry || undefined) || '';
  } catch {
    formatted = '';
  }
  return { state: 'invalid', e164: null, formatted, reason };
}
