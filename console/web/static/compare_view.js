// Two traces side by side (Jaeger's compare): each one's timeline and facts, so that a slow or
// failed request can be read against a good one.

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
  ids.forEach(async (id, index) => {
    const column = columns[index];
    try {
      const {trace, tree} = await loadTrace(id);
      if (disposed) return;
      const box = el('div', {class: 'timeline-box'});
      column.replaceChildren(column.firstChild,
        el('p', {class: 'trace-facts'}, `duration ${ms(trace.Duration ?? tree.end - tree.start)} · ${tree.spans.length} segments and subsegments`),
        box);
      renderTimeline(box, tree);
    } catch (error) {
      if (!disposed) column.replaceChildren(column.firstChild, el('p', {class: 'error-box'}, error.message));
    }
  });
  return {dispose() { disposed = true; }};
}
