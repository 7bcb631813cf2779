// How numbers, times and X-Ray values are written on the page.

export function ms(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(Number(seconds))) return '–';
  const value = Number(seconds) * 1000;
  if (value >= 1000) return `${(value / 1000).toFixed(2)} s`;
  return `${value < 10 ? value.toFixed(2) : value.toFixed(1)} ms`;
}

/** Local wall-clock time with milliseconds; the date too when it is not today. */
export function clock(epochSeconds) {
  if (!Number.isFinite(Number(epochSeconds))) return '?';
  const date = new Date(Number(epochSeconds) * 1000);
  const time = date.toLocaleTimeString(undefined, {hour12: false}) +
    '.' + String(date.getMilliseconds()).padStart(3, '0');
  const today = new Date();
  return date.toDateString() === today.toDateString() ? time : `${date.toLocaleDateString()} ${time}`;
}

export function iso(epochSeconds) {
  if (!Number.isFinite(Number(epochSeconds))) return '?';
  return new Date(Number(epochSeconds) * 1000).toISOString();
}

/** An AnnotationValue ({NumberValue} | {BooleanValue} | {StringValue}) as text. */
export function annotationValue(value) {
  if (!value || typeof value !== 'object') return String(value);
  if ('BooleanValue' in value) return String(value.BooleanValue);
  if ('NumberValue' in value) return String(value.NumberValue);
  if ('StringValue' in value) return value.StringValue;
  return JSON.stringify(value);
}

/** The same value as a filter-expression literal: strings quoted, numbers and booleans bare. */
export function annotationLiteral(value) {
  if (value && typeof value === 'object') {
    if ('BooleanValue' in value) return String(value.BooleanValue);
    if ('NumberValue' in value) return String(value.NumberValue);
    if ('StringValue' in value) return quote(value.StringValue);
  }
  return quote(String(value));
}

export function quote(text) {
  return `"${String(text).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** The path of a URL ("/Prod/ddb"), or the text as it is when it is not a URL. */
export function urlPath(url) {
  try {
    const parsed = new URL(url);
    return parsed.pathname + parsed.search;
  } catch {
    return String(url ?? '');
  }
}
