// Words and times for people: labels instead of field names, times in the reader's zone to the
// minute with the zone's abbreviation ("23 Nov 2026 09:55 AEDT"), plain words for enum values.

let zone;
try {
  zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
} catch {
  zone = 'UTC';
}

/** The reader's time zone (Forge's context.timezone when the page knows it). */
export function setTimeZone(timeZone) {
  if (!timeZone) return;
  try {
    new Intl.DateTimeFormat('en', { timeZone });
    zone = timeZone;
  } catch {
    // an unknown zone name keeps the browser's
  }
}

function zoneAbbreviation(date) {
  // en-US names the US zones (EST), en-AU the Australian ones (AEDT), en-GB the European (BST).
  for (const locale of ['en-US', 'en-AU', 'en-GB', 'en-IN']) {
    const part = new Intl.DateTimeFormat(locale, { timeZone: zone, timeZoneName: 'short' })
      .formatToParts(date)
      .find((p) => p.type === 'timeZoneName');
    if (part && !/^(GMT|UTC)[+-]/.test(part.value)) return part.value;
  }
  const part = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'short' })
    .formatToParts(date)
    .find((p) => p.type === 'timeZoneName');
  return part ? part.value : zone;
}

function toDate(value) {
  if (value === null || value === undefined || value === '') return null;
  const date = typeof value === 'number' ? new Date(value) : new Date(String(value));
  return Number.isNaN(date.getTime()) ? null : date;
}

/** "23 Nov 2026 09:55 AEDT"; "—" for nothing. */
export function formatTime(value) {
  const date = toDate(value);
  if (!date) return '—';
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', {
      timeZone: zone,
      day: 'numeric',
      month: 'short',
      year: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    })
      .formatToParts(date)
      .map((p) => [p.type, p.value]),
  );
  return `${parts.day} ${parts.month} ${parts.year} ${parts.hour}:${parts.minute} ${zoneAbbreviation(date)}`;
}

/** "23 Nov 2026" (for dates where the time of day says nothing). */
export function formatDate(value) {
  const date = toDate(value);
  if (!date) return '—';
  return new Intl.DateTimeFormat('en-GB', { timeZone: zone, day: 'numeric', month: 'short', year: 'numeric' }).format(
    date,
  );
}

export const FRESHNESS = {
  fresh: 'up to date',
  stale: 'older than the sync interval',
  expired: 'out of date (more than twice the sync interval)',
  never: 'never fetched',
  not_applicable: 'not cached',
};

export const COVERAGE = { full: 'complete', partial: 'partial', none: 'missing' };

export const VERDICT = { healthy: 'Healthy', degraded: 'Degraded', broken: 'Broken' };

export const OWNER = {
  customer_admin: 'The customer’s Anypoint or Confluence admin',
  mulesight_support: 'MuleSight support',
  mulesight_engineering: 'MuleSight engineering',
  mulesoft: 'MuleSoft (upstream)',
};

const OUTCOME = {
  forbidden: ['Anypoint refused access', 'the connected app lacks a scope there'],
  timeout: ['Anypoint did not answer in time', null],
  rate_limited: ['Anypoint was rate limiting MuleSight', null],
  error: ['Anypoint answered with an error', null],
  unreachable: ['Anypoint could not be reached', null],
};

/**
 * A refresh failure in words: "Anypoint refused access (HTTP 403; the connected app lacks a scope
 * there)". `detail` is the stored error text, for the HTTP status and the credentials case.
 */
export function outcomeWords(outcome, detail = '') {
  const text = String(detail || '');
  if (/oauth2\/token answered 40[13]/.test(text)) return 'Anypoint rejected the connected app’s client ID or secret';
  const [words, hint] = OUTCOME[outcome] || ['the last refresh failed', null];
  const status = /not run:/.test(text) ? null : /answered (\d{3})/.exec(text);
  const notes = [status && `HTTP ${status[1]}`, hint].filter(Boolean);
  return notes.length ? `${words} (${notes.join('; ')})` : words;
}

/** "Started", "Not running" …: an Anypoint status word as a person writes it. */
export function statusWords(value) {
  if (value === null || value === undefined || value === '') return 'unknown';
  const text = String(value).replace(/_/g, ' ').toLowerCase();
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** "1 application", "2 applications". */
export function count(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}
