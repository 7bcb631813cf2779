// The Traces page: GetTraceSummaries for the time range and filter, newest first, as a
// sortable table paged with NextToken; refine by URL / status / method / annotation as the
// console does; new traces appear live while the page is visible.

import {xray} from './api.js';
import {clear, copyButton, el} from './dom.js';
import {annotationLiteral, annotationValue, clock, ms, quote, urlPath} from './format.js';
import {renderHistogram} from './histogram.js';
import {poll} from './live.js';

const COLUMNS = [
  // key, label, sort value (undefined: not sortable)
  ['id', 'ID', (s) => s.Id],
  ['time', 'Time', (s) => s.StartTime ?? 0],
  ['method', 'Method', (s) => s.Http?.HttpMethod ?? ''],
  ['url', 'URL', (s) => s.Http?.HttpURL ?? ''],
  ['status', 'Status', (s) => s.Http?.HttpStatus ?? -1],
  ['response', 'Response time', (s) => s.ResponseTime ?? -1],
  ['duration', 'Duration', (s) => s.Duration ?? -1],
  ['flags', 'Flags'],
  ['annotations', 'Annotations'],
];

const GROUPINGS = {
  url: {label: 'URL', key: (s) => s.Http?.HttpURL, filter: (v) => `http.url = ${quote(v)}`},
  status: {label: 'HTTP status', key: (s) => s.Http?.HttpStatus, filter: (v) => `http.status = ${Number(v)}`},
  method: {label: 'HTTP method', key: (s) => s.Http?.HttpMethod, filter: (v) => `http.method = ${quote(v)}`},
};

/**
 * ctx: {range() → {start, end, live}, filter() → string, setFilter(text), showError(error|null),
 *       openTrace(id), compare(idA, idB)}
 */
export function mountTraces(element, ctx) {
  const byId = new Map();
  const fresh = new Set();
  let nextToken = null;
  let sort = {key: 'time', descending: true};
  let groupBy = '';
  let loading = null;
  let generation = 0;
  const selected = new Set();

  const status = el('span', {class: 'status-line', role: 'status'});
  const groupSelect = el('select', {'aria-label': 'Group by', class: 'group-by'});
  const compareButton = el('button', {type: 'button', class: 'compare-button', disabled: true}, 'Compare selected');
  const moreButton = el('button', {type: 'button', class: 'more', hidden: true}, 'Load more');
  // A trace id from a log line, a response's X-Amzn-Trace-Id or a colleague: straight to it.
  const idInput = el('input', {type: 'text', class: 'open-id', placeholder: '1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx', 'aria-label': 'trace id', spellcheck: 'false'});
  const openForm = el('form', {class: 'open-form'}, idInput, el('button', {type: 'submit'}, 'Open trace'));
  openForm.addEventListener('submit', (event) => {
    event.preventDefault();
    // "Root=1-...;Parent=...;Sampled=1" (the header) works too.
    const id = idInput.value.trim().replace(/^Root=/, '').split(';')[0];
    if (id) ctx.openTrace(id);
  });
  const groups = el('div', {class: 'groups', hidden: true});
  const histogram = el('div', {class: 'histogram', hidden: true});
  const head = el('thead');
  const body = el('tbody');
  const table = el('table', {class: 'traces'}, head, body);
  element.replaceChildren(el('section', {class: 'traces-view'},
    el('div', {class: 'list-tools'},
      el('label', {}, 'Group by ', groupSelect), compareButton, status, openForm),
    histogram,
    groups,
    el('div', {class: 'table-wrap'}, table),
    moreButton));

  groupSelect.addEventListener('change', () => {
    groupBy = groupSelect.value;
    renderGroups();
  });
  moreButton.addEventListener('click', () => loadMore());
  compareButton.addEventListener('click', () => {
    const [a, b] = [...selected];
    if (a && b) ctx.compare(a, b);
  });

  // The window of the first page: a NextToken continues that query, so later pages ask it again.
  let pagedWindow = null;

  function request(extra = {}, window = ctx.range()) {
    const {start, end} = window;
    const body = {StartTime: start, EndTime: end, Sampling: false, ...extra};
    const filter = ctx.filter().trim();
    if (filter) body.FilterExpression = filter;
    return body;
  }

  /** The first page again, from scratch (a new range or filter). */
  async function reload() {
    const mine = ++generation;
    status.textContent = 'Loading…';
    pagedWindow = ctx.range();
    try {
      const answer = await xray('/TraceSummaries', request({}, pagedWindow));
      if (mine !== generation) return;
      ctx.showError(null);
      byId.clear();
      fresh.clear();
      for (const summary of answer.TraceSummaries ?? []) byId.set(summary.Id, summary);
      nextToken = answer.NextToken ?? null;
      render();
      // For `make bench`, as map.js marks "map-drawn": when the first list was on the page.
      if (!performance.getEntriesByName('traces-listed').length) performance.mark('traces-listed');
    } catch (error) {
      if (mine !== generation) return;
      byId.clear();
      nextToken = null;
      render();
      ctx.showError(error);
      status.textContent = '';
    }
  }

  async function loadMore() {
    if (!nextToken) return;
    const mine = generation;
    moreButton.disabled = true;
    try {
      const answer = await xray('/TraceSummaries', request({NextToken: nextToken}, pagedWindow));
      if (mine !== generation) return;
      for (const summary of answer.TraceSummaries ?? []) if (!byId.has(summary.Id)) byId.set(summary.Id, summary);
      nextToken = answer.NextToken ?? null;
      render();
    } catch (error) {
      ctx.showError(error);
    } finally {
      moreButton.disabled = false;
    }
  }

  /** Live: the newest page merged in; new traces marked, changed ones (more segments) updated. */
  async function refreshNewest() {
    if (!ctx.range().live || loading) return;
    const mine = generation;
    loading = xray('/TraceSummaries', request());
    try {
      const answer = await loading;
      if (mine !== generation) return;
      const {start} = ctx.range();
      let changed = false;
      for (const summary of answer.TraceSummaries ?? []) {
        const known = byId.get(summary.Id);
        if (!known) fresh.add(summary.Id);
        if (!known || known.Revision !== summary.Revision || known.Duration !== summary.Duration) {
          byId.set(summary.Id, summary);
          changed = true;
        }
      }
      // Traces that slid out of the window leave it.
      for (const [id, summary] of byId) {
        if ((summary.StartTime ?? start) < start) {
          byId.delete(id);
          changed = true;
        }
      }
      if (changed) render();
    } catch {
      // A failed poll is retried by the next one; the list keeps what it shows.
    } finally {
      loading = null;
    }
  }

  function sorted() {
    const column = COLUMNS.find(([key]) => key === sort.key);
    const valueOf = column[2];
    return [...byId.values()].sort((a, b) => {
      const x = valueOf(a);
      const y = valueOf(b);
      const order = x < y ? -1 : x > y ? 1 : 0;
      return sort.descending ? -order : order;
    });
  }

  function render() {
    renderHead();
    const summaries = sorted();
    body.replaceChildren(...summaries.map(renderRow));
    // Marked once: the next render (a later poll) does not flash them again.
    fresh.clear();
    if (!summaries.length) {
      body.append(el('tr', {class: 'empty'}, el('td', {colspan: String(COLUMNS.length + 1)},
        'No traces in this time range', ctx.filter().trim() ? ' match this filter' : '', '.')));
    }
    moreButton.hidden = !nextToken;
    status.textContent = `${summaries.length} trace${summaries.length === 1 ? '' : 's'}` +
      (nextToken ? ' (more to load)' : '') + (ctx.range().live ? ' · live' : '');
    renderGroupOptions();
    renderGroups();
    renderHistogram(histogram, summaries, {onRange: narrowToResponseTimes});
  }

  /** A histogram bar: only traces whose response time is in its range (ms rounding aside). */
  function narrowToResponseTimes(from, to) {
    const clause = `responsetime >= ${Math.floor(from * 1000) / 1000} AND responsetime <= ${Math.ceil(to * 1000) / 1000}`;
    const current = ctx.filter().trim();
    ctx.setFilter(current ? `(${current}) AND ${clause}` : clause);
  }

  function renderHead() {
    head.replaceChildren(el('tr', {},
      el('th', {class: 'select-col'}, el('span', {class: 'visually-hidden'}, 'Select')),
      COLUMNS.map(([key, label, valueOf]) => {
        if (!valueOf) return el('th', {}, label);
        const active = sort.key === key;
        const button = el('button', {type: 'button', class: 'sort', dataset: {sort: key}},
          label, active ? (sort.descending ? ' ▼' : ' ▲') : '');
        button.addEventListener('click', () => {
          sort = {key, descending: active ? !sort.descending : key === 'time'};
          render();
        });
        return el('th', {'aria-sort': active ? (sort.descending ? 'descending' : 'ascending') : 'none'}, button);
      })));
  }

  function renderRow(summary) {
    const http = summary.Http ?? {};
    const link = el('a', {href: `#/traces/${encodeURIComponent(summary.Id)}`, class: 'trace-id'}, summary.Id);
    const checkbox = el('input', {type: 'checkbox', 'aria-label': `select ${summary.Id} to compare`, checked: selected.has(summary.Id)});
    checkbox.addEventListener('change', () => {
      if (checkbox.checked) selected.add(summary.Id);
      else selected.delete(summary.Id);
      compareButton.disabled = selected.size !== 2;
    });
    const flags = [['HasFault', 'fault'], ['HasError', 'error'], ['HasThrottle', 'throttle'], ['IsPartial', 'partial']]
      .filter(([field]) => summary[field]).map(([, name]) => el('span', {class: `badge ${name}`}, name));
    return el('tr', {
      class: `trace-row${fresh.has(summary.Id) ? ' new' : ''}`,
      dataset: {traceId: summary.Id, status: String(http.HttpStatus ?? '')},
    },
    el('td', {class: 'select-col'}, checkbox),
    el('td', {class: 'id-col'}, link, copyButton(summary.Id)),
    el('td', {title: new Date((summary.StartTime ?? 0) * 1000).toISOString()}, clock(summary.StartTime)),
    el('td', {}, http.HttpMethod ?? ''),
    el('td', {class: 'url-col', title: http.HttpURL ?? ''}, urlPath(http.HttpURL)),
    el('td', {class: `http-status s${String(http.HttpStatus ?? '').charAt(0)}xx`}, http.HttpStatus ?? ''),
    el('td', {class: 'num'}, ms(summary.ResponseTime)),
    el('td', {class: 'num'}, ms(summary.Duration)),
    el('td', {}, flags),
    el('td', {class: 'annotations'}, renderAnnotations(summary.Annotations ?? {})));
  }

  function renderAnnotations(annotations) {
    return Object.entries(annotations).flatMap(([key, values]) => (values ?? []).map((entry) => {
      const text = annotationValue(entry.AnnotationValue);
      const cold = key === 'ColdStart' && text === 'true';
      return el('span', {class: `chip${cold ? ' cold' : ''}`, title: `annotation.${key}`}, `${key}=${text}`);
    }));
  }

  function annotationKeys() {
    const keys = new Set();
    for (const summary of byId.values()) for (const key of Object.keys(summary.Annotations ?? {})) keys.add(key);
    return [...keys].sort();
  }

  let shownOptions = '';

  function renderGroupOptions() {
    const options = [['', 'nothing'], ...Object.entries(GROUPINGS).map(([k, g]) => [k, g.label]),
      ...annotationKeys().map((key) => [`annotation:${key}`, `annotation.${key}`])];
    if (groupBy && !options.some(([k]) => k === groupBy)) options.push([groupBy, groupBy.replace(':', '.')]);
    // Rebuilt only when the choices change, so a live update does not close an open menu.
    const key = JSON.stringify([groupBy, options]);
    if (key === shownOptions) return;
    shownOptions = key;
    groupSelect.replaceChildren(...options.map(([value, label]) => el('option', {value, selected: value === groupBy}, label)));
  }

  function grouping() {
    if (!groupBy) return null;
    if (groupBy.startsWith('annotation:')) {
      const name = groupBy.slice('annotation:'.length);
      return {
        label: `annotation.${name}`,
        // One trace may carry several values of an annotation: the first is its group.
        key: (s) => {
          const value = s.Annotations?.[name]?.[0]?.AnnotationValue;
          return value === undefined ? undefined : annotationLiteral(value);
        },
        display: (v) => v.replace(/^"(.*)"$/, '$1'),
        // A key like AWS's own `aws:api_stage` is not a bare word of the filter language.
        filter: (v) => `${/^\w+$/.test(name) ? `annotation.${name}` : `annotation[${quote(name)}]`} = ${v}`,
      };
    }
    return GROUPINGS[groupBy];
  }

  /** The refine-by table: one row per value, with counts; a click narrows the filter to it. */
  function renderGroups() {
    const group = grouping();
    groups.hidden = !group;
    if (!group) return clear(groups);
    const counts = new Map();
    for (const summary of byId.values()) {
      const key = group.key(summary);
      if (key === undefined || key === null) continue;
      const entry = counts.get(key) ?? {count: 0, time: 0, faults: 0, errors: 0};
      entry.count += 1;
      entry.time += summary.ResponseTime ?? 0;
      entry.faults += summary.HasFault ? 1 : 0;
      entry.errors += summary.HasError ? 1 : 0;
      counts.set(key, entry);
    }
    const total = byId.size || 1;
    const rows = [...counts.entries()].sort((a, b) => b[1].count - a[1].count).map(([key, entry]) => {
      const button = el('button', {type: 'button', class: 'refine', dataset: {value: String(key)}},
        group.display ? group.display(String(key)) : String(key));
      button.addEventListener('click', () => {
        const clause = group.filter(key);
        const current = ctx.filter().trim();
        ctx.setFilter(current ? `(${current}) AND ${clause}` : clause);
      });
      return el('tr', {class: 'group-row'},
        el('td', {}, button),
        el('td', {class: 'num'}, String(entry.count)),
        el('td', {class: 'num'}, `${((entry.count / total) * 100).toFixed(0)} %`),
        el('td', {class: 'num'}, ms(entry.time / entry.count)),
        el('td', {class: 'num'}, String(entry.faults)),
        el('td', {class: 'num'}, String(entry.errors)));
    });
    groups.replaceChildren(el('table', {class: 'group-table'},
      el('caption', {}, `Traces by ${group.label} (click one to add it to the filter)`),
      el('thead', {}, el('tr', {}, ['Value', 'Traces', 'Share', 'Avg response', 'Faults', 'Errors'].map((h) => el('th', {}, h)))),
      el('tbody', {}, rows)));
  }

  const stopPolling = poll(refreshNewest, 1000);
  reload();
  return {
    refresh: reload,
    dispose() {
      generation++;
      stopPolling();
    },
  };
}
