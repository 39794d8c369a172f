// Time zones for planning a conference: the list of IANA zones, the browser's own, and the
// conversion of a wall-clock time *in a chosen zone* (not the browser's) to an instant.

const FALLBACK_ZONES = [
  'UTC',
  'Europe/London',
  'Europe/Berlin',
  'Europe/Vienna',
  'Europe/Ljubljana',
  'America/New_York',
  'America/Los_Angeles',
  'Asia/Tokyo',
];

/** The browser's zone ('Europe/Ljubljana'), or 'UTC'. */
export function browserZone() {
  try {
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (!zone) return 'UTC';
    new Intl.DateTimeFormat('en', { timeZone: zone }); // throws for a name it cannot use
    return zone;
  } catch {
    return 'UTC';
  }
}

/** Every IANA zone the browser knows, sorted, always with UTC and the browser's own zone. */
export function zoneList() {
  let zones = [];
  try {
    zones = Intl.supportedValuesOf('timeZone');
  } catch {
    zones = FALLBACK_ZONES;
  }
  const all = new Set(zones);
  all.add('UTC');
  all.add(browserZone());
  return [...all].sort((a, b) => a.localeCompare(b));
}

const formatters = new Map();

function wallFormatter(zone) {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      era: 'short',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zone, f);
  }
  return f;
}

/** The wall-clock time in `zone` at instant `ms`, as {year, month, day, hour, minute, second}. */
export function wallClock(ms, zone) {
  const parts = {};
  for (const { type, value } of wallFormatter(zone).formatToParts(new Date(ms))) {
    parts[type] = value;
  }
  let year = Number(parts.year);
  if (parts.era === 'BC' || parts.era === 'B') year = 1 - year;
  return {
    year,
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour) % 24,
    minute: Number(parts.minute),
    second: Number(parts.second),
  };
}

/** The wall clock as if it were UTC, in ms (to compare and subtract). */
function wallMs(ms, zone) {
  const w = wallClock(ms, zone);
  const date = new Date(0);
  date.setUTCFullYear(w.year, w.month - 1, w.day);
  date.setUTCHours(w.hour, w.minute, w.second, 0);
  return date.getTime();
}

/** The zone's offset from UTC at instant `ms`, in ms (+01:00 is 3 600 000). */
export function zoneOffset(ms, zone) {
  const whole = Math.floor(ms / 1000) * 1000;
  return wallMs(whole, zone) - whole;
}

/** '+01:00', '-04:00', '+05:45', '+00:00'. */
export function offsetString(offsetMs) {
  const minutes = Math.round(offsetMs / 60000);
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  const pad = (n) => String(n).padStart(2, '0');
  return `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIME_RE = /^(\d{2}):(\d{2})(?::\d{2})?$/;
const DAY = 86_400_000;

/**
 * The instant at which the clocks of `zone` show `date` ('2026-12-07') `time` ('14:00').
 * Returns null for malformed input, else {ms, iso, offset, shifted, wall}:
 * iso '2026-12-07T14:00:00+01:00' (the zone's own offset then), shifted true when that
 * wall time does not exist (the clocks jump over it in spring): it moves on by the gap.
 * A time that happens twice (autumn) is the first of the two.
 */
export function zonedInstant(date, time, zone) {
  const d = DATE_RE.exec(date || '');
  const tm = TIME_RE.exec(time || '');
  if (!d || !tm) return null;
  const local = new Date(0);
  local.setUTCFullYear(Number(d[1]), Number(d[2]) - 1, Number(d[3]));
  local.setUTCHours(Number(tm[1]), Number(tm[2]), 0, 0);
  const wanted = local.getTime();
  if (Number.isNaN(wanted)) return null;
  let offsets;
  try {
    // The wall time is within ±14 h of the instant: the offsets a day either side (and at
    // the wall time read as UTC) cover both sides of any clock change near it.
    offsets = [
      zoneOffset(wanted - DAY, zone),
      zoneOffset(wanted, zone),
      zoneOffset(wanted + DAY, zone),
    ];
  } catch {
    return null; // an unknown zone
  }
  const exact = [...new Set(offsets)]
    .map((o) => wanted - o)
    .filter((ms) => wallMs(ms, zone) === wanted)
    .sort((a, b) => a - b);
  const shifted = exact.length === 0;
  // In a gap, the offset before the change carries the time forward past it (02:30 -> 03:30).
  const ms = shifted ? wanted - offsets[0] : exact[0];
  const offset = zoneOffset(ms, zone);
  const w = wallClock(ms, zone);
  const pad = (n, size = 2) => String(n).padStart(size, '0');
  const wallDate = `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)}`;
  const wallTime = `${pad(w.hour)}:${pad(w.minute)}`;
  return {
    ms,
    iso: `${wallDate}T${wallTime}:00${offsetString(offset)}`,
    offset: offsetString(offset),
    shifted,
    wall: { date: wallDate, time: wallTime },
  };
}

/** Today's date ('2026-12-07') in `zone`. */
export function todayIn(zone, now = Date.now()) {
  const w = wallClock(now, zone);
  const pad = (n, size = 2) => String(n).padStart(size, '0');
  return `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)}`;
}
