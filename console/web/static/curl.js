// "Copy as curl": the trace's request as a command that sends it again.

function shellQuote(text) {
  return `'${String(text).replace(/'/g, `'\\''`)}'`;
}

/** {method, url} (spans.entryRequest) → a curl command line. */
export function curlCommand({method, url}) {
  const verb = String(method || 'GET').toUpperCase();
  const parts = ['curl'];
  if (verb !== 'GET') parts.push('-X', shellQuote(verb));
  parts.push(shellQuote(url));
  return parts.join(' ');
}
