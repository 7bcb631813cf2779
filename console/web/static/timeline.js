// The trace's timeline: one row per segment and subsegment, nested, each a bar on the trace's
// time axis, coloured by status; a row's caret folds its children away.

import {el} from './dom.js';
import {ms} from './format.js';
import {httpStatus, spanStatus} from './spans.js';

const TICKS = 4;

/**
 * Draws `tree` (spans.linkTrace) into `container`; `onSelect(span)` when a row is clicked.
 * `axisSeconds` stretches the axis beyond the trace (compare: two traces on one scale);
 * `mark(span)` may return a node to show after a row's name (compare: what differs).
 * Returns {select(spanId)}.
 */
export function renderTimeline(container, tree, {onSelect = () => {}, axisSeconds = 0, mark = () => null} = {}) {
  const total = Math.max(tree.end - tree.start, axisSeconds, 1e-6);
  const collapsed = new Set();
  const rows = new Map();

  const axis = el('div', {class: 'timeline-row timeline-axis', 'aria-hidden': 'true'},
    el('div', {class: 'tl-name'}, 'Segment / subsegment'),
    el('div', {class: 'tl-track'},
      Array.from({length: TICKS + 1}, (_, i) => el('span', {
        class: 'tl-tick', style: {left: `${(i / TICKS) * 100}%`},
      }, ms((total * i) / TICKS)))),
    el('div', {class: 'tl-status'}, 'Status'),
    el('div', {class: 'tl-duration'}, 'Duration'));

  const body = el('div', {class: 'timeline-body', role: 'tree'});
  for (const span of tree.spans) {
    const row = renderRow(span);
    rows.set(span.id, row);
    body.append(row);
  }
  container.replaceChildren(el('div', {class: 'timeline'}, axis, body));

  function renderRow(span) {
    const status = spanStatus(span.doc);
    const end = span.end ?? tree.end;
    const left = ((span.start - tree.start) / total) * 100;
    const width = Math.max(((end - span.start) / total) * 100, 0.4);
    const coldStart = span.doc.name === 'Initialization' && !span.segment;
    const kind = span.segment ? span.doc.origin : span.doc.namespace;
    const toggle = span.children.length
      ? el('button', {type: 'button', class: 'tl-toggle', 'aria-label': `fold ${span.doc.name}`, 'aria-expanded': 'true'}, '▾')
      : el('span', {class: 'tl-toggle tl-leaf'}, '');
    const flags = ['fault', 'error', 'throttle'].filter((flag) => span.doc[flag]);
    const row = el('div', {
      class: `timeline-row span-row status-${status}${span.segment ? ' is-segment' : ''}${coldStart ? ' cold-start' : ''}`,
      role: 'treeitem',
      tabindex: '0',
      dataset: {
        spanId: span.id, name: span.doc.name ?? '', depth: String(span.depth),
        parentId: span.parent?.id ?? '', status,
      },
      title: `${span.doc.name} · starts +${ms(span.start - tree.start)} · ${ms(end - span.start)}`,
    },
    el('div', {class: 'tl-name', style: {paddingLeft: `${span.depth * 1.1}rem`}},
      toggle,
      el('span', {class: 'tl-label'}, span.doc.name ?? '?'),
      kind ? el('span', {class: 'tl-kind'}, kind) : null,
      coldStart ? el('span', {class: 'badge cold'}, 'cold start') : null,
      flags.map((flag) => el('span', {class: `badge ${flag}`}, flag)),
      span.doc.in_progress || span.end === null ? el('span', {class: 'badge progress'}, 'in progress') : null,
      mark(span)),
    el('div', {class: 'tl-track'},
      el('div', {class: `tl-bar bar-${status}${span.end === null ? ' open' : ''}`, style: {left: `${left}%`, width: `${width}%`}})),
    el('div', {class: 'tl-status'}, httpStatus(span.doc) ?? ''),
    el('div', {class: 'tl-duration'}, span.end === null ? '…' : ms(span.end - span.start)));

    if (span.children.length) {
      toggle.addEventListener('click', (event) => {
        event.stopPropagation();
        fold(span, !collapsed.has(span.id));
      });
    }
    row.addEventListener('click', () => select(span.id));
    // As a tree view is driven: Up / Down move between the rows shown, Left folds (or goes to
    // the parent), Right unfolds, Enter or Space shows the row's details.
    row.addEventListener('keydown', (event) => {
      const shown = tree.spans.filter((s) => !rows.get(s.id).hidden);
      const at = shown.indexOf(span);
      let target = null;
      if (event.key === 'Enter' || event.key === ' ') {
        select(span.id);
      } else if (event.key === 'ArrowDown') {
        target = shown[at + 1];
      } else if (event.key === 'ArrowUp') {
        target = shown[at - 1];
      } else if (event.key === 'ArrowLeft') {
        if (span.children.length && !collapsed.has(span.id)) fold(span, true);
        else target = span.parent;
      } else if (event.key === 'ArrowRight') {
        if (collapsed.has(span.id)) fold(span, false);
      } else {
        return;
      }
      event.preventDefault();
      if (target) {
        rows.get(target.id).focus();
        select(target.id);
      }
    });
    return row;
  }

  function fold(span, folded) {
    if (folded) collapsed.add(span.id);
    else collapsed.delete(span.id);
    const toggle = rows.get(span.id).querySelector('button.tl-toggle');
    toggle.textContent = folded ? '▸' : '▾';
    toggle.setAttribute('aria-expanded', String(!folded));
    applyFolding();
  }

  function applyFolding() {
    for (const span of tree.spans) {
      let hidden = false;
      for (let up = span.parent; up; up = up.parent) {
        if (collapsed.has(up.id)) {
          hidden = true;
          break;
        }
      }
      rows.get(span.id).hidden = hidden;
    }
  }

  function select(spanId) {
    for (const [id, row] of rows) row.classList.toggle('selected', id === spanId);
    const span = tree.byId.get(spanId);
    if (span) onSelect(span);
  }

  return {select};
}
