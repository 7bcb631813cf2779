// What one segment or subsegment recorded, in tabs as the console shows it: overview,
// resources (the `aws` block), HTTP, annotations, metadata, exceptions, and the raw JSON.

import {el} from './dom.js';
import {iso, ms} from './format.js';
import {spanStatus} from './spans.js';

const TABS = [
  ['overview', 'Overview'],
  ['resources', 'Resources'],
  ['http', 'HTTP'],
  ['annotations', 'Annotations'],
  ['metadata', 'Metadata'],
  ['exceptions', 'Exceptions'],
  ['raw', 'Raw data'],
];

/** Shows `span`'s details in `container`; `exceptions` is spans.exceptionsById's map. */
export function renderSpanDetails(container, span, exceptions, {tab = 'overview'} = {}) {
  const panel = el('div', {class: 'tab-panel', role: 'tabpanel'});
  const buttons = TABS.map(([key, label]) => {
    const count = tabCount(key, span.doc, exceptions);
    const button = el('button', {
      type: 'button', role: 'tab', class: 'tab', dataset: {tab: key},
    }, label, count ? el('span', {class: 'tab-count'}, String(count)) : null);
    button.addEventListener('click', () => show(key));
    return button;
  });
  container.replaceChildren(
    el('div', {class: 'details'},
      el('h3', {}, span.doc.name ?? '?', el('span', {class: 'muted'}, span.segment ? ' segment' : ' subsegment')),
      el('div', {class: 'tabs', role: 'tablist'}, buttons),
      panel));

  function show(key) {
    for (const button of buttons) button.setAttribute('aria-selected', String(button.dataset.tab === key));
    panel.dataset.tab = key;
    panel.replaceChildren(renderTab(key, span, exceptions));
  }
  show(tab);
}

function tabCount(key, doc, exceptions) {
  if (key === 'annotations') return Object.keys(doc.annotations ?? {}).length;
  if (key === 'exceptions') return causeExceptions(doc, exceptions).length;
  return 0;
}

function renderTab(key, span, exceptions) {
  const doc = span.doc;
  switch (key) {
    case 'overview':
      return fields([
        ['Name', doc.name],
        ['Id', doc.id],
        ['Parent id', doc.parent_id ?? span.parent?.id],
        ['Trace id', doc.trace_id],
        [span.segment ? 'Origin' : 'Namespace', span.segment ? doc.origin : doc.namespace],
        ['Start', iso(doc.start_time)],
        ['End', doc.end_time === undefined ? 'in progress' : iso(doc.end_time)],
        ['Duration', doc.end_time === undefined ? '…' : ms(doc.end_time - doc.start_time)],
        ['Status', spanStatus(doc)],
        ['Error / fault / throttle', ['error', 'fault', 'throttle'].map((f) => `${f}: ${Boolean(doc[f])}`).join(', ')],
        ['Resource ARN', doc.resource_arn],
        ['User', doc.user],
        ['Inferred', doc.inferred ? 'yes (X-Ray made this segment from a subsegment)' : null],
      ]);
    case 'resources':
      return doc.aws ? value(doc.aws) : empty('No `aws` block recorded.');
    case 'http':
      return doc.http ? value(doc.http) : empty('No HTTP data recorded.');
    case 'annotations':
      return doc.annotations && Object.keys(doc.annotations).length
        ? value(doc.annotations) : empty('No annotations.');
    case 'metadata':
      return doc.metadata ? value(doc.metadata) : empty('No metadata.');
    case 'exceptions':
      return renderExceptions(doc, exceptions);
    case 'raw':
      return el('pre', {class: 'raw-json'}, JSON.stringify(doc, null, 2));
    default:
      return empty('');
  }
}

function fields(pairs) {
  return el('dl', {class: 'fields'},
    pairs.filter(([, v]) => v !== undefined && v !== null && v !== '')
      .map(([name, v]) => [el('dt', {}, name), el('dd', {}, String(v))]));
}

/** Any JSON value as nested lists: objects as name/value pairs, arrays as numbered lists. */
function value(item) {
  if (Array.isArray(item)) {
    if (!item.length) return el('span', {class: 'muted'}, '[]');
    return el('ol', {class: 'json-list'}, item.map((entry) => el('li', {}, value(entry))));
  }
  if (item && typeof item === 'object') {
    const keys = Object.keys(item);
    if (!keys.length) return el('span', {class: 'muted'}, '{}');
    return el('dl', {class: 'fields'}, keys.map((k) => [el('dt', {}, k), el('dd', {}, value(item[k]))]));
  }
  return el('code', {class: `json-${item === null ? 'null' : typeof item}`}, JSON.stringify(item));
}

function empty(text) {
  return el('p', {class: 'muted'}, text);
}

function causeExceptions(doc, exceptions) {
  const cause = doc.cause;
  if (typeof cause === 'string') return exceptions.has(cause) ? [exceptions.get(cause)] : [];
  if (cause && typeof cause === 'object') return (cause.exceptions ?? []).filter((e) => e && typeof e === 'object');
  return [];
}

function renderExceptions(doc, exceptions) {
  const list = causeExceptions(doc, exceptions);
  if (!list.length) {
    return typeof doc.cause === 'string'
      ? empty(`Cause: exception ${doc.cause}, recorded elsewhere in the trace and not returned.`)
      : empty('No exceptions.');
  }
  const directory = doc.cause?.working_directory;
  return el('div', {class: 'exceptions'},
    directory ? el('p', {class: 'muted'}, `Working directory: ${directory}`) : null,
    list.map((exception) => el('section', {class: 'exception'},
      el('h4', {}, exception.type ?? 'Exception', exception.remote ? ' (remote)' : ''),
      el('p', {class: 'exception-message'}, exception.message ?? ''),
      exception.stack?.length
        ? el('ol', {class: 'stack'}, exception.stack.map((frame) => el('li', {},
          el('code', {}, frame.label ?? '?'), ' ',
          el('span', {class: 'muted'}, `${frame.path ?? '?'}:${frame.line ?? '?'}`))))
        : null,
      exception.truncated ? el('p', {class: 'muted'}, `${exception.truncated} more frames left out`) : null,
      exception.cause ? el('p', {class: 'muted'}, `Caused by exception ${exception.cause}`) : null)));
}
