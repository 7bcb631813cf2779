// The response-time distribution of the listed traces (the console's Analytics, in small):
// one bar per range of response times, its height the number of traces; a click narrows the
// filter to that range, so the slow tail is one click away.

import {el} from './dom.js';
import {ms} from './format.js';

const BINS = 24;

/**
 * summaries: TraceSummary items; onRange(low, high) with response times in seconds.
 * Draws nothing for fewer than two traces with a response time.
 */
export function renderHistogram(container, summaries, {onRange = () => {}} = {}) {
  const times = summaries.map((s) => s.ResponseTime).filter((t) => Number.isFinite(t));
  if (times.length < 2) {
    container.replaceChildren();
    container.hidden = true;
    return;
  }
  container.hidden = false;
  const low = Math.min(...times);
  const high = Math.max(...times);
  const width = (high - low) / BINS || 0.001;
  const counts = new Array(BINS).fill(0);
  for (const time of times) counts[Math.min(BINS - 1, Math.floor((time - low) / width))] += 1;
  const most = Math.max(...counts);
  const bars = counts.map((count, index) => {
    const from = low + index * width;
    const to = index === BINS - 1 ? high : from + width;
    const label = `${count} trace${count === 1 ? '' : 's'} with response time ${ms(from)} – ${ms(to)}`;
    const bar = el('button', {
      type: 'button', class: 'histogram-bin', title: label, 'aria-label': label, disabled: count === 0,
      dataset: {count: String(count), from: String(from), to: String(to)},
    }, el('span', {class: 'histogram-fill', style: {height: `${(count / most) * 100}%`}}));
    bar.addEventListener('click', () => onRange(from, to));
    return bar;
  });
  container.replaceChildren(
    el('div', {class: 'histogram-title'}, 'Response time distribution (click a bar to filter to it)'),
    el('div', {class: 'histogram-bars'}, bars),
    el('div', {class: 'histogram-axis'}, el('span', {}, ms(low)), el('span', {}, ms(high))));
}
