// One trace: its own small map (GetTraceGraph), its timeline (BatchGetTraces), the details of
// the row clicked, the invocation's log lines beside it, and "copy as curl".

import {xray} from './api.js';
import {copyButton, el, replace} from './dom.js';
import {clock, ms} from './format.js';
import {findInvocationLines} from './invocation_logs.js';
import {curlCommand} from './curl.js';
import {poll} from './live.js';
import {renderSpanDetails} from './span_details.js';
import {STATUSES, entryRequest, exceptionsById, invocations, linkTrace, spanStatus} from './spans.js';
import {renderTimeline} from './timeline.js';

// The log agent ships lines in batches after the response: keep looking this long.
const LOGS_PATIENCE_MS = 30000;
// How long a just-finished trace is read again for segments still on their way.
const FOLLOW_MS = 30000;

/** Reads a trace; resolves to {trace, tree, graph} or throws (ApiError, or not found). */
export async function loadTrace(traceId) {
  const [traces, graph] = await Promise.all([
    xray('/Traces', {TraceIds: [traceId]}),
    xray('/TraceGraph', {TraceIds: [traceId]}).catch(() => ({Services: []})),
  ]);
  const trace = (traces.Traces ?? []).find((t) => t.Id === traceId);
  if (!trace) throw new Error(`No trace ${traceId} (X-Ray keeps traces 30 days; it may also not be stored yet).`);
  return {trace, tree: linkTrace(trace), graph};
}

/**
 * ctx: {loadMap() → map module or null, viewTraces(filter), compare(a, b)}
 * A trace opened as its request ends is still arriving (each hop sends its segments as it
 * ends): a recent trace is read again every few seconds and redrawn when it has changed.
 */
export function mountTrace(element, traceId, ctx) {
  let disposed = false;
  let stopLogs = () => {};
  let stopFollowing = () => {};
  let shownDocuments = '';
  let shownInvocations = '';
  let selectedId = null;
  const headerBox = el('div');
  const mapBox = el('div', {class: 'trace-small-map'});
  const timelineBox = el('div', {class: 'timeline-box'});
  const detailsBox = el('div', {class: 'details-box'}, el('p', {class: 'muted'}, 'Click a row for its details.'));
  const logsBox = el('aside', {class: 'logs-box'});
  element.replaceChildren(el('p', {class: 'muted'}, `Loading trace ${traceId}…`));

  async function show({trace, tree, graph}) {
    shownDocuments = fingerprint(trace);
    if (!headerBox.isConnected) {
      element.replaceChildren(el('section', {class: 'trace-view'},
        headerBox,
        mapBox,
        el('div', {class: 'trace-columns'},
          el('div', {class: 'trace-main'}, timelineBox, detailsBox),
          logsBox)));
    }
    headerBox.replaceChildren(renderHeader(trace, tree, ctx));
    const exceptions = exceptionsById(tree.spans);
    const timeline = renderTimeline(timelineBox, tree, {
      onSelect: (span) => {
        selectedId = span.id;
        renderSpanDetails(detailsBox, span, exceptions);
      },
    });
    // The row the reader chose, else the first failing span, else the root.
    const first = (selectedId && tree.byId.get(selectedId)) ??
      tree.spans.find((s) => s.doc.fault) ?? tree.spans.find((s) => s.doc.error) ?? tree.roots[0];
    if (first) timeline.select(first.id);

    const invocationKey = invocations(tree).map((call) => call.requestId).join();
    if (invocationKey !== shownInvocations) {
      shownInvocations = invocationKey;
      stopLogs();
      stopLogs = showLogs(logsBox, tree);
    }
    const map = await ctx.loadMap();
    if (!disposed && map?.drawGraph && graph.Services?.length) {
      try {
        map.drawGraph(mapBox, graph.Services, {onViewTraces: ctx.viewTraces});
      } catch (error) {
        mapBox.replaceChildren(el('p', {class: 'muted'}, `The map could not be drawn: ${error.message}`));
      }
    }
  }

  async function follow(startedAt) {
    if (disposed || Date.now() - startedAt > FOLLOW_MS) {
      stopFollowing();
      return;
    }
    const loaded = await loadTrace(traceId);
    if (!disposed && fingerprint(loaded.trace) !== shownDocuments) await show(loaded);
  }

  (async () => {
    let loaded;
    try {
      loaded = await loadTrace(traceId);
    } catch (error) {
      if (!disposed) element.replaceChildren(el('p', {class: 'error-box', role: 'alert'}, error.message));
      return;
    }
    if (disposed) return;
    await show(loaded);
    // Followed only while it may still be arriving: it ended moments ago.
    if (!disposed && Date.now() / 1000 - loaded.tree.end < FOLLOW_MS / 1000) {
      const startedAt = Date.now();
      stopFollowing = poll(() => follow(startedAt), 2000);
    }
  })();

  return {
    dispose() {
      disposed = true;
      stopLogs();
      stopFollowing();
    },
  };
}

/** What identifies the documents of a trace as read: their ids and sizes. */
function fingerprint(trace) {
  return (trace.Segments ?? []).map((s) => `${s.Id}:${String(s.Document ?? '').length}`).sort().join();
}

function renderHeader(trace, tree, ctx) {
  const request = entryRequest(tree);
  const root = tree.roots[0];
  const status = root?.doc.http?.response?.status;
  const cold = tree.spans.find((s) => !s.segment && s.doc.name === 'Initialization');
  // As the trace list's flags: a fault anywhere in the trace is the trace's fault.
  const found = new Set(tree.spans.map((s) => spanStatus(s.doc)));
  const worst = STATUSES.find((status) => found.has(status)) ?? 'ok';
  const curlBox = el('div', {class: 'curl-box', hidden: true});
  const curlButton = request ? el('button', {type: 'button', class: 'curl-button'}, 'Copy as curl') : null;
  curlButton?.addEventListener('click', async () => {
    const command = curlCommand(request);
    curlBox.hidden = false;
    replace(curlBox, el('code', {class: 'curl-command'}, command),
      request.method !== 'GET' ? el('p', {class: 'muted'}, 'Traces do not record request bodies: add -d \'...\' with the body to send.') : null);
    try {
      await navigator.clipboard.writeText(command);
      curlButton.textContent = 'Copied as curl';
    } catch {
      curlButton.textContent = 'Copy the command below';
    }
  });
  const compareInput = el('input', {type: 'text', class: 'compare-input', placeholder: 'another trace id', 'aria-label': 'trace id to compare with', spellcheck: 'false'});
  const compareForm = el('form', {class: 'compare-form'}, compareInput, el('button', {type: 'submit'}, 'Compare'));
  compareForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const other = compareInput.value.trim();
    if (other) ctx.compare(trace.Id, other);
  });
  return el('header', {class: 'trace-header'},
    el('div', {class: 'trace-title'},
      el('h2', {}, 'Trace ', el('span', {class: 'trace-id-full'}, trace.Id)), copyButton(trace.Id, 'Copy id')),
    el('div', {class: 'trace-facts'},
      request ? el('span', {class: 'fact'}, el('strong', {}, request.method), ' ', request.url) : null,
      status ? el('span', {class: `fact http-status s${String(status).charAt(0)}xx`}, String(status)) : null,
      el('span', {class: 'fact'}, `started ${clock(tree.start)}`),
      el('span', {class: 'fact'}, `duration ${ms(trace.Duration ?? tree.end - tree.start)}`),
      el('span', {class: 'fact'}, `${tree.spans.length} segments and subsegments`),
      el('span', {class: `badge ${worst}`, title: 'the worst status of any segment or subsegment'}, worst),
      cold ? el('span', {class: 'badge cold'}, `cold start: Initialization ${ms((cold.end ?? cold.start) - cold.start)}`) : null,
      trace.LimitExceeded ? el('span', {class: 'badge error'}, 'LimitExceeded: X-Ray left out segments') : null),
    el('div', {class: 'trace-actions'}, curlButton, compareForm),
    curlBox);
}

/** The log lines of each invocation in the trace; retried while they may still be on their way. */
function showLogs(box, tree) {
  const calls = invocations(tree);
  box.replaceChildren(el('h3', {}, 'Logs'));
  if (!calls.length) {
    box.append(el('p', {class: 'muted'}, 'No Lambda invocation in this trace.'));
    return () => {};
  }
  const sections = calls.map((call) => {
    const section = el('section', {class: 'invocation-logs', dataset: {requestId: call.requestId}},
      el('h4', {}, call.functionName, el('span', {class: 'muted'}, ` · RequestId ${call.requestId}`)),
      el('p', {class: 'muted'}, 'Looking for the log lines…'));
    box.append(section);
    return {call, section, done: false};
  });
  const startedAt = Date.now();
  async function look() {
    for (const entry of sections.filter((s) => !s.done)) {
      try {
        const found = await findInvocationLines(entry.call);
        const patient = Date.now() - startedAt < LOGS_PATIENCE_MS;
        if (found && (found.complete || !patient)) {
          entry.done = true;
          renderLines(entry.section, entry.call, found);
        } else if (!patient) {
          entry.done = true;
          entry.section.lastChild.textContent = `No log lines found for RequestId ${entry.call.requestId}.`;
        }
      } catch (error) {
        entry.done = true;
        entry.section.lastChild.textContent = `Logs unavailable: ${error.message}`;
      }
    }
    if (sections.every((s) => s.done)) stop();
  }
  const stop = poll(look, 2000);
  look();
  return stop;
}

function renderLines(section, call, found) {
  const lines = el('div', {class: 'log-lines'}, found.events.map((event) => {
    const kind = /^(START|END|REPORT) RequestId:/.exec(event.message)?.[1]?.toLowerCase() ?? 'output';
    return el('div', {class: `log-line log-${kind}`},
      el('time', {class: 'log-time', datetime: new Date(event.timestamp).toISOString()}, clock(event.timestamp / 1000)),
      el('span', {class: 'log-message'}, event.message.replace(/\n$/, '')));
  }));
  replace(section,
    el('h4', {}, call.functionName, el('span', {class: 'muted'}, ` · RequestId ${call.requestId}`)),
    el('p', {class: 'muted log-source'}, `${found.logGroupName} · ${found.logStreamName}`),
    lines,
    found.complete ? null : el('p', {class: 'muted'}, 'No REPORT line yet: the invocation may still be running.'));
}
