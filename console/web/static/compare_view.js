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
      renderTimeline(box, tree, {axisSeconds: longest});
    });
  });
  return {dispose() { disposed = true; }};
}
