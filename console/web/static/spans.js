// A BatchGetTraces trace as a tree of spans: every segment and subsegment, each segment under
// the subsegment its parent_id names (API Gateway's `Lambda` call → the AWS::Lambda segment →
// the function's segment), sorted by start. The same linking as console/traces.py.

export const STATUSES = ['fault', 'throttle', 'error', 'ok'];

/** The status a span is drawn in: fault (5xx) > throttle (429) > error (4xx) > ok. */
export function spanStatus(doc) {
  if (doc.fault) return 'fault';
  if (doc.throttle) return 'throttle';
  if (doc.error) return 'error';
  return 'ok';
}

export function httpStatus(doc) {
  return doc.http?.response?.status ?? null;
}

function parseDocument(raw) {
  let doc = raw;
  if (typeof raw === 'string') {
    try {
      doc = JSON.parse(raw);
    } catch {
      return null;
    }
  }
  return doc && typeof doc === 'object' && typeof doc.id === 'string' ? doc : null;
}

/**
 * trace: a `Trace` of BatchGetTraces ({Id, Duration, Segments: [{Id, Document}]}).
 * → {roots, spans (every span, in tree order), start, end}
 * A span: {id, doc, segment, children, parent, depth, start, end}.
 */
export function linkTrace(trace) {
  const byId = new Map();
  const tops = [];

  function index(doc, segment) {
    if (byId.has(doc.id)) return null; // a resent document: the first one wins
    const span = {
      id: doc.id, doc, segment, children: [], parent: null, depth: 0,
      start: Number(doc.start_time),
      end: doc.end_time === undefined ? null : Number(doc.end_time),
    };
    byId.set(doc.id, span);
    for (const child of doc.subsegments ?? []) {
      if (child && typeof child === 'object' && typeof child.id === 'string') {
        const childSpan = index(child, false);
        if (childSpan) {
          childSpan.parent = span;
          span.children.push(childSpan);
        }
      }
    }
    return span;
  }

  for (const segment of trace.Segments ?? []) {
    const doc = parseDocument(segment.Document);
    if (!doc) continue;
    const span = index(doc, doc.type !== 'subsegment');
    if (span) tops.push(span);
  }

  const topOf = (span) => {
    let node = span;
    while (node.parent) node = node.parent;
    return node;
  };
  const roots = [];
  for (const top of tops) {
    const parent = byId.get(top.doc.parent_id ?? '');
    // A parent missing (a partial trace) or inside this very document's tree would loop: a root.
    let ancestor = parent ? topOf(parent) : null;
    if (!parent || ancestor === top) {
      roots.push(top);
      continue;
    }
    top.parent = parent;
    parent.children.push(top);
    ancestor = topOf(top);
    if (ancestor === top) { // still a loop somewhere above: undo
      parent.children.pop();
      top.parent = null;
      roots.push(top);
    }
  }

  const spans = [];
  const byStart = (a, b) => a.start - b.start;
  function walk(span, depth) {
    span.depth = depth;
    spans.push(span);
    span.children.sort(byStart);
    for (const child of span.children) walk(child, depth + 1);
  }
  roots.sort(byStart);
  for (const root of roots) walk(root, 0);

  const starts = spans.map((s) => s.start).filter(Number.isFinite);
  const ends = spans.map((s) => s.end ?? s.start).filter(Number.isFinite);
  return {
    roots,
    spans,
    byId,
    start: starts.length ? Math.min(...starts) : 0,
    end: ends.length ? Math.max(...ends) : 0,
  };
}

/** Every recorded exception by id: a cause may be only the id of one recorded elsewhere. */
export function exceptionsById(spans) {
  const found = new Map();
  for (const span of spans) {
    const cause = span.doc.cause;
    if (cause && typeof cause === 'object') {
      for (const exception of cause.exceptions ?? []) {
        if (exception && typeof exception.id === 'string' && !found.has(exception.id)) {
          found.set(exception.id, exception);
        }
      }
    }
  }
  return found;
}

/** The API Gateway stage segment's request: what the client sent (for "copy as curl"). */
export function entryRequest(tree) {
  const stage = tree.spans.find((s) => s.segment && s.doc.origin === 'AWS::ApiGateway::Stage') ??
    tree.roots.find((s) => s.doc.http?.request?.url);
  const request = stage?.doc.http?.request;
  return request?.url ? {method: request.method ?? 'GET', url: request.url} : null;
}

/** Each function invocation of the trace: the AWS::Lambda segment's request id and function. */
export function invocations(tree) {
  return tree.spans
    .filter((s) => s.segment && s.doc.origin === 'AWS::Lambda' && s.doc.aws?.request_id)
    .map((s) => ({
      requestId: s.doc.aws.request_id,
      functionName: s.doc.name,
      start: s.start,
      end: s.end ?? s.start,
    }));
}
