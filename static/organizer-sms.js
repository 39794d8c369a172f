// How many SMS a text costs: GSM 03.38 7-bit alphabet (160 per SMS, 153 per part of a longer
// one; an extension character such as € or [ costs two) or, as soon as one character is
// outside it (č, š, ž, emoji…), UCS-2 (70 per SMS, 67 per part; characters beyond the
// Basic Multilingual Plane cost two). A part never ends inside such a pair, so the parts
// are filled one character at a time rather than by division. The server counts the same
// way (server/notify/sms/segments.py); this is only the organiser's preview.

export const GSM7 = 'GSM-7';
export const UCS2 = 'UCS-2';

/** Single message, each part of a concatenated message (in units of the encoding). */
export const CAPACITY = { [GSM7]: [160, 153], [UCS2]: [70, 67] };

// The default alphabet in code order; position 0x1B (the escape) is left out.
const BASIC = new Set(
  [
    '@£$¥èéùìòÇ\nØø\rÅå',
    'Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ',
    ' !"#¤%&\'()*+,-./',
    '0123456789:;<=>?',
    '¡ABCDEFGHIJKLMNO',
    'PQRSTUVWXYZÄÖÑÜ§',
    '¿abcdefghijklmno',
    'pqrstuvwxyzäöñüà',
  ].join(''),
);
// The extension table: sent as escape + code, two septets each.
const EXTENSION = new Set(['\f', '^', '{', '}', '\\', '[', '~', ']', '|', '€']);

/** Septets of one character in GSM-7: 1, 2 (extension table), or 0 when it is not GSM-7. */
export function septets(ch) {
  if (BASIC.has(ch)) return 1;
  if (EXTENSION.has(ch)) return 2;
  return 0;
}

/**
 * {encoding, units, segments, perSegment, left, nonGsm}: units are septets (GSM-7) or UTF-16
 * code units (UCS-2); left is the room still free in the last SMS; nonGsm lists the first few
 * characters that forced UCS-2.
 */
export function countSms(text) {
  const chars = [...String(text ?? '')]; // code points: a surrogate pair stays whole
  const nonGsm = [];
  for (const ch of chars) {
    if (septets(ch) === 0 && !nonGsm.includes(ch) && nonGsm.length < 8) nonGsm.push(ch);
  }
  const encoding = nonGsm.length ? UCS2 : GSM7;
  const costs = chars.map((ch) => (encoding === GSM7 ? septets(ch) : ch.length));
  const units = costs.reduce((a, b) => a + b, 0);
  const [single, multi] = CAPACITY[encoding];
  if (units <= single) {
    return { encoding, units, segments: 1, perSegment: single, left: single - units, nonGsm };
  }
  let segments = 1;
  let used = 0;
  for (const cost of costs) {
    if (used + cost > multi) {
      segments += 1;
      used = 0;
    }
    used += cost;
  }
  return { encoding, units, segments, perSegment: multi, left: multi - used, nonGsm };
}

// ---- The SMS as the server sends it (server/notify/notices.py) --------------------------

/** Controls and odd spaces to one space, runs of spaces to one, trimmed (like one_line()). */
function oneLine(value) {
  return String(value ?? '')
    .replace(/[\p{C}\p{Z}\s]/gu, ' ')
    .split(' ')
    .filter(Boolean)
    .join(' ');
}

function shorten(value, limit) {
  const chars = [...value];
  return chars.length <= limit ? value : `${chars.slice(0, limit - 3).join('').trimEnd()}...`;
}

/** "Title: the message - Sender": the text every SMS recipient gets. */
export function smsText(message, { title = '', sender = '' } = {}) {
  // The API drops non-printable characters of the message (tabs too) before it is laid out.
  const lines = String(message ?? '')
    .split(/\r\n|\r|\n/)
    .map((line) => oneLine(line.replace(/[\p{C}\p{Z}]/gu, (ch) => (ch === ' ' ? ' ' : ''))));
  while (lines.length && !lines[lines.length - 1]) lines.pop();
  while (lines.length && !lines[0]) lines.shift();
  return `${shorten(oneLine(title), 40)}: ${lines.join('\n')} - ${oneLine(sender)}`;
}
