// Two traces side by side (Jaeger's compare): each one's timeline and facts, so that a slow or
// failed request can be read against a good one. Both are drawn on the longer one's time axis.

import {el} from './dom.js';
import {ms} from './format.js';
import {loadTrace} from './trace_view.js';
import {renderTimeline} from './timeline.js';

export function mountCompare(element, ids) {
  let disposed = false;
  const columns = ids.map((id) => el('div', {class: 'compare-column', dataset: {traceId: id}},
    el('h3', {}, el('a', {href: `#/traces/${encodeURIComponent(id)}`}, id)),
    el('p', {class: 'muted'}, 'Loading…')));
  element.replaceChildren(el('section', {class: 'compare-view'}, columns));
  // Both traces on one scale (the longer one's), so that bar lengths compare across columns.
  Promise.allSettled(ids.map((id) => loadTrace(id))).then((results) => {
    if (disposed) return;
    const longest = Math.max(0, ...results.filter((r) => r.status === 'fulfilled')
      .map((r) => r.value.tree.end - r.value.tree.start));
    results.forEach((result, index) => {
      const column = columns[index];
      if (result.status === 'rejected') {
        column.replaceChildren(column.firstChild, el('p', {class: 'error-box'}, result.reason.message));
        return;
      }
      const {trace, tree} = result.value;
      const box = el('div', {class: 'timeline-box'});
      column.replaceChildren(column.firstChild,
        el('p', {class: 'trace-facts'}, `duration ${ms(trace.Duration ?? tree.end - tree.start)} · ${tree.spans.length} segments and subsegments`),
        box);
      const other = results[1 - index];
      const otherTree = other.status === 'fulfilled' ? other.value.tree : null;
      renderTimeline(box, tree, {axisSeconds: longest, mark: otherTree ? differences(tree, otherTree) : undefined});
    });
  });
  return {dispose() { disposed = true; }};
}

/** A span's place in its trace: the names from the root down, and which of its like it is. */
function places(tree) {
  const seen = new Map();
  const byId = new Map();
  for (const span of tree.spans) {
    const names = [];
    for (let node = span; node; node = node.parent) names.unshift(node.doc.name);
    const path = names.join(' › ');
    const nth = (seen.get(path) ?? 0) + 1;
    seen.set(path, nth);
    byId.set(span.id, `${path} #${nth}`);
  }
  return byId;
}

/**
 * For Jaeger's compare: mark(span) for `tree` against `other` — "only here" for a span the
 * other trace has no counterpart of (a cold start's Initialization), else how much longer or
 * shorter it took there.
 */
function differences(tree, other) {
  const mine = places(tree);
  const theirs = new Map([...places(other)].map(([id, place]) => [place, other.byId.get(id)]));
  return (span) => {
    const counterpart = theirs.get(mine.get(span.id));
    if (!counterpart) return el('span', {class: 'badge only-here'}, 'only here');
    if (span.end === null || counterpart.end === null) return null;
    const delta = (span.end - span.start) - (counterpart.end - counterpart.start);
    if (Math.abs(delta) < 0.0005) return null;
    return el('span', {class: `delta ${delta > 0 ? 'slower' : 'faster'}`,
      title: 'compared with the same span of the other trace'}, `${delta > 0 ? '+' : '−'}${ms(Math.abs(delta))}`);
  };
}
