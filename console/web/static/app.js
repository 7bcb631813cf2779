// The console's shell: the routes (#/map, #/traces, #/traces/<id>, #/compare/<a>/<b>), the
// time range and the filter expression every list view shares, and where filter errors show.

import {el} from './dom.js';
import {mountCompare} from './compare_view.js';
import {mountTrace} from './trace_view.js';
import {mountTraces} from './traces_view.js';
import * as mapModule from './map.js';

const state = {minutes: 15, custom: null, filter: ''};

const form = document.getElementById('query');
const rangeSelect = document.getElementById('range');
const customBox = document.getElementById('custom-range');
const customStart = document.getElementById('custom-start');
const customEnd = document.getElementById('custom-end');
const filterInput = document.getElementById('filter');
const filterError = document.getElementById('filter-error');
const view = document.getElementById('view');
const navLinks = [...document.querySelectorAll('nav a[data-route]')];

let current = null; // {refresh?(), dispose?()} of the mounted view

/** {start, end} in epoch seconds; `live` when the range ends now (the views poll then). */
function range() {
  if (state.custom) return {...state.custom, live: false};
  const end = Date.now() / 1000;
  return {start: end - state.minutes * 60, end, live: true};
}

function showFilterError(error) {
  filterInput.removeAttribute('aria-invalid');
  if (!error) {
    filterError.hidden = true;
    filterError.replaceChildren();
    return;
  }
  const parts = [el('p', {class: 'error-message'}, error.message)];
  const expression = filterInput.value;
  if (Number.isInteger(error.position) && error.position <= expression.length && /FilterExpression/.test(error.message)) {
    // The expression again, with the character the API stopped at marked.
    const at = error.position;
    parts.push(el('pre', {class: 'filter-echo', 'aria-label': `the problem is at position ${at}`},
      expression.slice(0, at),
      el('mark', {class: 'filter-caret'}, expression.slice(at, at + 1) || ' '),
      expression.slice(at + 1)));
    filterInput.setAttribute('aria-invalid', 'true');
    filterInput.focus();
    filterInput.setSelectionRange(at, Math.min(at + 1, expression.length));
  }
  filterError.replaceChildren(...parts);
  filterError.hidden = false;
}

function setFilter(text) {
  filterInput.value = text;
  state.filter = text;
  writeAddress();
  current?.refresh?.();
}

function viewTraces(filterExpression) {
  state.filter = filterExpression ?? '';
  filterInput.value = state.filter;
  if (location.hash.split('?')[0] === '#/traces') {
    writeAddress();
    current?.refresh?.();
  } else {
    location.hash = '#/traces'; // route() writes the range and filter into it
  }
}

function compare(a, b) {
  location.hash = `#/compare/${encodeURIComponent(a)}/${encodeURIComponent(b)}`;
}

/** map.js, for the views that draw a map (trace_view.js awaits it). Imported statically, so the
 * browser fetches it and its layout library with every other module, not after them. */
function loadMap() {
  return Promise.resolve(mapModule);
}

function mountMapRoute(element) {
  let handle = null;
  let disposed = false;
  loadMap().then((map) => {
    if (disposed || !map?.mountMap) return;
    // map.js redraws itself while it is shown (live); the shell asks it to after a new range or filter.
    handle = map.mountMap(element, {
      range: () => {
        const {start, end} = range();
        return {start, end};
      },
      filter: () => state.filter,
      onViewTraces: viewTraces,
    });
  });
  return {
    refresh: () => handle?.refresh(),
    dispose() {
      disposed = true;
    },
  };
}

/**
 * A range in the address, so a view can be linked and bookmarked: `?minutes=60`, or
 * `?start=<epoch s>&end=<epoch s>` for a fixed window (as the console's own links carry theirs).
 */
function takeRangeFromAddress(query) {
  const params = new URLSearchParams(query);
  const minutes = Number(params.get('minutes'));
  const start = Number(params.get('start'));
  const end = Number(params.get('end'));
  if (params.has('start') && params.has('end') && Number.isFinite(start) && Number.isFinite(end) && end > start) {
    state.custom = {start, end};
    rangeSelect.value = 'custom';
    customStart.value = localInput(start);
    customEnd.value = localInput(end);
    customBox.hidden = false;
  } else if (params.has('minutes') && minutes > 0) {
    state.minutes = minutes;
    state.custom = null;
    if ([...rangeSelect.options].some((option) => option.value === String(minutes))) rangeSelect.value = String(minutes);
  }
  // An address with a query says the whole view: no filter in it is no filter.
  filterInput.value = state.filter = params.get('filter') ?? '';
}

/**
 * The list views' range and filter written back into the address, so that what is shown can
 * be reloaded, linked or bookmarked as it is. A change the user makes is a history entry
 * (Back returns to the previous filter); `replace` only tidies the current one.
 */
function writeAddress({replace = false} = {}) {
  const [hash] = (location.hash || '#/map').split('?');
  const [, name = 'map', ...rest] = hash.split('/');
  if (!(name === 'map' || (name === 'traces' && !rest.length))) return;
  const params = new URLSearchParams();
  if (state.custom) {
    params.set('start', String(Math.round(state.custom.start)));
    params.set('end', String(Math.round(state.custom.end)));
  } else {
    params.set('minutes', String(state.minutes));
  }
  if (state.filter.trim()) params.set('filter', state.filter);
  const address = `${hash === '#' ? '#/map' : hash}?${params}`;
  if (address === location.hash) return;
  if (replace) history.replaceState(null, '', address);
  else history.pushState(null, '', address);
}

function route() {
  current?.dispose?.();
  current = null;
  showFilterError(null);
  const [hash, query = ''] = (location.hash || '#/map').split('?');
  if (query) takeRangeFromAddress(query);
  const [, name = 'map', ...rest] = hash.split('/');
  const args = rest.map((part) => decodeURIComponent(part));
  const listView = name === 'map' || (name === 'traces' && !args.length);
  form.hidden = !listView;
  for (const link of navLinks) link.classList.toggle('active', link.dataset.route === name);
  const element = el('div', {class: `route route-${name}`});
  view.replaceChildren(element);
  document.title = 'X-Ray console';
  if (name === 'traces' && args.length) {
    document.title = `Trace ${args[0]} · X-Ray console`;
    current = mountTrace(element, args[0], {loadMap, viewTraces, compare});
  } else if (name === 'traces') {
    current = mountTraces(element, {
      range, filter: () => state.filter, setFilter, showError: showFilterError,
      openTrace: (id) => { location.hash = `#/traces/${encodeURIComponent(id)}`; }, compare,
    });
  } else if (name === 'compare' && args.length === 2) {
    current = mountCompare(element, args);
  } else {
    current = mountMapRoute(element);
  }
  writeAddress({replace: true});
}

function applyRange() {
  const value = rangeSelect.value;
  customBox.hidden = value !== 'custom';
  if (value !== 'custom') {
    state.minutes = Number(value);
    state.custom = null;
    return true;
  }
  const start = Date.parse(customStart.value) / 1000;
  const end = Date.parse(customEnd.value) / 1000;
  if (!Number.isFinite(start) || !Number.isFinite(end) || end <= start) {
    showFilterError(new Error('Choose a custom range: a start before its end.'));
    return false;
  }
  state.custom = {start, end};
  return true;
}

/** A datetime-local value for epoch seconds, in the browser's time zone. */
function localInput(epochSeconds) {
  const date = new Date(epochSeconds * 1000);
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

rangeSelect.addEventListener('change', () => {
  if (rangeSelect.value === 'custom' && !customStart.value) {
    const {start, end} = range();
    customStart.value = localInput(start);
    customEnd.value = localInput(end + 60);
  }
  if (applyRange()) {
    writeAddress();
    current?.refresh?.();
  }
});

form.addEventListener('submit', (event) => {
  event.preventDefault();
  state.filter = filterInput.value;
  showFilterError(null);
  if (applyRange()) {
    writeAddress();
    current?.refresh?.();
  }
});

/** Says in the header whose traces these are: the local stack's, or an AWS region's. */
async function showSource() {
  const box = document.getElementById('source');
  try {
    const response = await fetch('source.json', {cache: 'no-store'});
    const source = await response.json();
    box.textContent = source.aws ? `AWS · ${source.region}` : 'local stack';
    box.title = [source.xray, source.logs].filter(Boolean).join('; ');
    box.classList.toggle('aws', Boolean(source.aws));
  } catch {
    box.textContent = '';
  }
}

window.addEventListener('hashchange', route);
showSource();
route();
