// The trace map: X-Ray's service graph laid out left to right (client → API → functions →
// DynamoDB), each node with its average latency, requests per minute and a health ring, each
// edge with the same; a click opens the node's or edge's response-time distribution and a
// "View traces" link with the filter that selects its traces.
//
// It draws exactly what the X-Ray API answers: GetServiceGraph for the window, or, when a
// filter expression is set, GetTraceGraph over the traces that match it (GetServiceGraph takes
// no filter). Layout is dagre's (vendored, see vendor/dagre/VENDORED): a layered layout is
// what a call graph wants, and writing one well is a project of its own.

import { layout, graphlib } from "./vendor/dagre/dagre.esm.js";
import { xray } from "./api.js";

const SVG = "http://www.w3.org/2000/svg";
const NODE_WIDTH = 200;
// A map wider than its pane is shrunk to fit, down to this scale; below it, text gets too small
// to read and the pane scrolls instead.
const SMALLEST_SCALE = 0.75;
const NODE_HEIGHT = 96;
const RING_RADIUS = 22;
const RING_WIDTH = 7;
// How often the map is redrawn while shown: the "at most once a second", and a map of
// minutes of traffic does not change faster than this.
const LIVE_INTERVAL_MS = 5000;
// GetTraceGraph takes a handful of ids per call; a filtered map reads at most this many traces.
const TRACE_GRAPH_BATCH = 5;
const FILTERED_TRACE_LIMIT = 500;

// The four parts of a health ring, in the console's order and colours (style.css: .health-*).
const HEALTH_PARTS = [
  ["ok", "OK"],
  ["error", "Errors (4xx)"],
  ["throttle", "Throttles (429)"],
  ["fault", "Faults (5xx)"],
];

// A short badge per node type, so the kind of each node reads at a glance without images.
const TYPE_BADGES = {
  client: "CLIENT",
  "AWS::ApiGateway::Stage": "API GW",
  "AWS::Lambda": "LAMBDA",
  "AWS::Lambda::Function": "FUNCTION",
  "AWS::DynamoDB::Table": "DYNAMODB",
  "AWS::DynamoDB": "DYNAMODB",
  remote: "REMOTE",
};

/** Links map.css once: the map brings its own look to whichever page mounts it. */
function ensureStylesheet() {
  const href = new URL("./map.css", import.meta.url).href;
  if ([...document.querySelectorAll('link[rel="stylesheet"]')].some((link) => link.href === href)) return;
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = href;
  document.head.append(link);
}

/** The health of a SummaryStatistics block as counts: ok, error (4xx but 429), throttle, fault. */
export function health(statistics) {
  const stats = statistics || {};
  const errors = stats.ErrorStatistics || {};
  const faults = stats.FaultStatistics || {};
  return {
    ok: stats.OkCount || 0,
    error: errors.OtherCount || 0,
    throttle: errors.ThrottleCount || 0,
    fault: faults.TotalCount || 0,
    total: stats.TotalCount || 0,
    responseTime: stats.TotalResponseTime || 0,
  };
}

/** Average response time in milliseconds, or null with nothing counted. */
export function averageMs(statistics) {
  const counts = health(statistics);
  return counts.total ? (counts.responseTime / counts.total) * 1000 : null;
}

/** The filter expression that selects a node's traces (the console's "View traces"). */
export function serviceFilter(service) {
  return `service(${idCall(service)})`;
}

/** The filter expression that selects the traces through an edge. */
export function edgeFilter(source, target) {
  return `edge(${idCall(source)}, ${idCall(target)})`;
}

function idCall(service) {
  const name = JSON.stringify(service.Name || "");
  return service.Type ? `id(name: ${name}, type: ${JSON.stringify(service.Type)})` : `id(name: ${name})`;
}

function formatMs(ms) {
  if (ms === null) return "–";
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;
}

function formatRate(perMinute) {
  return perMinute >= 10 ? perMinute.toFixed(0) : perMinute.toFixed(2);
}

function element(name, attributes = {}, text = null) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

function html(name, className = "", text = null) {
  const node = document.createElement(name);
  if (className) node.className = className;
  if (text !== null) node.textContent = text;
  return node;
}

/**
 * A ring of four arcs, OK / errors / throttles / faults, each as long as its share. Each arc
 * is a circle whose dash is its share of the circumference, rotated to start where the
 * previous one ended.
 */
function healthRing(counts, cx, cy) {
  const group = element("g", { class: "health-ring" });
  const circumference = 2 * Math.PI * RING_RADIUS;
  group.append(element("circle", { cx, cy, r: RING_RADIUS, class: "health-track", "stroke-width": RING_WIDTH }));
  if (!counts.total) return group;
  let offset = 0;
  for (const [part] of HEALTH_PARTS) {
    const share = counts[part] / counts.total;
    if (share <= 0) continue;
    const length = share * circumference;
    group.append(
      element("circle", {
        cx,
        cy,
        r: RING_RADIUS,
        class: `health-${part}`,
        "stroke-width": RING_WIDTH,
        "stroke-dasharray": `${length} ${circumference - length}`,
        "stroke-dashoffset": -offset,
        transform: `rotate(-90 ${cx} ${cy})`,
        "data-part": part,
        "data-count": counts[part],
      }),
    );
    offset += length;
  }
  return group;
}

/** The worst status a node or edge had: what colours its outline. */
function worst(counts) {
  if (counts.fault) return "fault";
  if (counts.throttle) return "throttle";
  if (counts.error) return "error";
  return "ok";
}

/**
 * Draws `services` (GetServiceGraph's or GetTraceGraph's Services) into `container`, replacing
 * what was there. `minutes` is the window's length for requests per minute (null: show counts).
 */
export function drawGraph(container, services, { onViewTraces = () => {}, minutes = null } = {}) {
  ensureStylesheet();
  container.replaceChildren();
  container.classList.add("trace-map");
  if (!services || services.length === 0) {
    container.append(html("p", "empty", "No traces in this time range. Send a request to the API, then refresh."));
    return;
  }
  const byId = new Map(services.map((service) => [service.ReferenceId, service]));
  const graph = new graphlib.Graph({ multigraph: false });
  graph.setGraph({ rankdir: "LR", nodesep: 40, ranksep: 40, marginx: 20, marginy: 20 });
  graph.setDefaultEdgeLabel(() => ({}));
  for (const service of services) {
    graph.setNode(String(service.ReferenceId), { width: NODE_WIDTH, height: NODE_HEIGHT });
  }
  for (const service of services) {
    for (const edge of service.Edges || []) {
      if (byId.has(edge.ReferenceId)) {
        graph.setEdge(String(service.ReferenceId), String(edge.ReferenceId), { width: 70, height: 30, labelpos: "c" });
      }
    }
  }
  layout(graph);

  const size = graph.graph();
  const svg = element("svg", {
    class: "map-svg",
    width: Math.ceil(size.width),
    height: Math.ceil(size.height),
    viewBox: `0 0 ${Math.ceil(size.width)} ${Math.ceil(size.height)}`,
    role: "img",
    "aria-label": "Trace map",
  });
  const defs = element("defs");
  const marker = element("marker", {
    id: "map-arrow",
    viewBox: "0 0 10 10",
    refX: 10,
    refY: 5,
    markerWidth: 8,
    markerHeight: 8,
    orient: "auto-start-reverse",
  });
  marker.append(element("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "map-arrow" }));
  defs.append(marker);
  svg.append(defs);

  const details = html("aside", "map-details");
  details.hidden = true;
  const select = (what, draw) => {
    for (const chosen of svg.querySelectorAll(".selected")) chosen.classList.remove("selected");
    what.classList.add("selected");
    details.hidden = false;
    const close = html("button", "close", "×");
    close.type = "button";
    close.title = "Close";
    close.addEventListener("click", () => {
      details.hidden = true;
      what.classList.remove("selected");
      container.classList.remove("has-details");
    });
    // A short map (one trace's) grows while its details are open, so the panel is not cut.
    container.classList.add("has-details");
    details.replaceChildren(close);
    draw(details);
  };

  for (const service of services) {
    for (const edge of service.Edges || []) {
      const target = byId.get(edge.ReferenceId);
      if (!target) continue;
      const laid = graph.edge(String(service.ReferenceId), String(edge.ReferenceId));
      svg.append(drawEdge(service, target, edge, laid, minutes, select, onViewTraces));
    }
  }
  for (const service of services) {
    const laid = graph.node(String(service.ReferenceId));
    svg.append(drawNode(service, laid, minutes, select, onViewTraces));
  }
  const scroller = html("div", "map-canvas");
  scroller.append(svg);
  container.append(scroller, details);
  fit(svg, scroller, size);
}

/** Shrinks the drawing to its pane's width (the whole map in view, as the console shows it),
 * never below SMALLEST_SCALE and never past its natural size. */
function fit(svg, pane, size) {
  const available = pane.clientWidth - 2;
  if (available <= 0 || available >= size.width) return;
  const scale = Math.max(SMALLEST_SCALE, available / size.width);
  svg.setAttribute("width", Math.floor(size.width * scale));
  svg.setAttribute("height", Math.floor(size.height * scale));
}

function drawNode(service, laid, minutes, select, onViewTraces) {
  const counts = health(service.SummaryStatistics);
  const isClient = service.Type === "client";
  const x = laid.x - NODE_WIDTH / 2;
  const y = laid.y - NODE_HEIGHT / 2;
  const group = element("g", {
    class: `map-node status-${worst(counts)}${isClient ? " client" : ""}`,
    tabindex: 0,
    "data-reference-id": service.ReferenceId,
    "data-name": service.Name || "",
    "data-type": service.Type || "",
    "data-total": counts.total,
    "data-ok": counts.ok,
    "data-error": counts.error,
    "data-throttle": counts.throttle,
    "data-fault": counts.fault,
  });
  group.append(element("rect", { x, y, width: NODE_WIDTH, height: NODE_HEIGHT, rx: 10, class: "node-box" }));
  const ringX = x + 34;
  const ringY = laid.y;
  group.append(healthRing(counts, ringX, ringY));
  const badge = TYPE_BADGES[service.Type] || (service.Type || "").split("::").pop().toUpperCase();
  group.append(element("text", { x: ringX, y: ringY + 3, class: "node-badge", "text-anchor": "middle" }, badge.slice(0, 8)));
  const textX = x + 66;
  group.append(element("text", { x: textX, y: y + 24, class: "node-name" }, truncate(service.Name || "", 21)));
  group.append(element("text", { x: textX, y: y + 40, class: "node-type" }, truncate(service.Type || "", 24)));
  if (!isClient) {
    const average = averageMs(service.SummaryStatistics);
    group.append(element("text", { x: textX, y: y + 62, class: "node-latency", "data-average-ms": average ?? "" }, formatMs(average)));
    group.append(element("text", { x: textX, y: y + 80, class: "node-rate" }, rateText(counts.total, minutes)));
  }
  const title = element("title", {}, `${service.Name} (${service.Type || "no type"})`);
  group.append(title);
  const open = () => select(group, (panel) => nodeDetails(panel, service, counts, minutes, onViewTraces));
  group.addEventListener("click", open);
  group.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") open();
  });
  return group;
}

function drawEdge(source, target, edge, laid, minutes, select, onViewTraces) {
  const counts = health(edge.SummaryStatistics);
  const group = element("g", {
    class: `map-edge status-${worst(counts)}`,
    tabindex: 0,
    "data-source": source.Name || "",
    "data-source-type": source.Type || "",
    "data-target": target.Name || "",
    "data-target-type": target.Type || "",
    "data-total": counts.total,
  });
  const points = laid.points;
  const path = points.map((point, index) => `${index ? "L" : "M"} ${point.x} ${point.y}`).join(" ");
  // A wide invisible stroke under the line makes the edge easy to click.
  group.append(element("path", { d: path, class: "edge-hit" }));
  group.append(element("path", { d: path, class: "edge-line", "marker-end": "url(#map-arrow)" }));
  if (counts.total) {
    const average = averageMs(edge.SummaryStatistics);
    group.append(element("text", { x: laid.x, y: laid.y - 4, class: "edge-label", "text-anchor": "middle" }, formatMs(average)));
    group.append(element("text", { x: laid.x, y: laid.y + 10, class: "edge-label", "text-anchor": "middle" }, rateText(counts.total, minutes)));
  }
  const open = () => select(group, (panel) => edgeDetails(panel, source, target, edge, counts, minutes, onViewTraces));
  group.addEventListener("click", open);
  group.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") open();
  });
  return group;
}

function rateText(total, minutes) {
  if (minutes) return `${formatRate(total / minutes)} req/min`;
  return `${total} request${total === 1 ? "" : "s"}`;
}

function truncate(text, length) {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}

function nodeDetails(panel, service, counts, minutes, onViewTraces) {
  panel.append(html("h3", "", service.Name || ""));
  panel.append(html("p", "detail-type", service.Type || "no type"));
  if (service.Type === "client") {
    panel.append(html("p", "", "The callers of the API. X-Ray keeps no statistics for them."));
  } else {
    healthTable(panel, counts, minutes, averageMs(service.SummaryStatistics));
    histogram(panel, "Response time distribution", service.ResponseTimeHistogram);
  }
  viewTraces(panel, serviceFilter(service), onViewTraces);
}

function edgeDetails(panel, source, target, edge, counts, minutes, onViewTraces) {
  panel.append(html("h3", "", `${source.Name} → ${target.Name}`));
  healthTable(panel, counts, minutes, averageMs(edge.SummaryStatistics));
  histogram(panel, "Response time distribution", edge.ResponseTimeHistogram);
  viewTraces(panel, edgeFilter(source, target), onViewTraces);
}

function healthTable(panel, counts, minutes, average) {
  const table = html("table", "health-table");
  const rows = [
    ["Requests", String(counts.total)],
    ["Average response time", formatMs(average)],
  ];
  if (minutes) rows.push(["Requests per minute", formatRate(counts.total / minutes)]);
  for (const [part, label] of HEALTH_PARTS) {
    const share = counts.total ? ` (${((counts[part] / counts.total) * 100).toFixed(1)} %)` : "";
    rows.push([label, `${counts[part]}${share}`, part]);
  }
  for (const [label, value, part] of rows) {
    const row = html("tr", part ? `health-row health-row-${part}` : "");
    row.append(html("th", "", label), html("td", "", value));
    table.append(row);
  }
  panel.append(table);
}

/** The API's histogram (Value in seconds, Count) as bars, one per bucket. */
function histogram(panel, title, entries) {
  panel.append(html("h4", "", title));
  if (!entries || entries.length === 0) {
    panel.append(html("p", "empty", "No response times recorded."));
    return;
  }
  const sorted = [...entries].sort((a, b) => a.Value - b.Value);
  const most = Math.max(...sorted.map((entry) => entry.Count));
  const width = 260;
  const barHeight = 14;
  const svg = element("svg", { class: "histogram", width, height: sorted.length * (barHeight + 4) });
  sorted.forEach((entry, index) => {
    const y = index * (barHeight + 4);
    const length = Math.max(2, (entry.Count / most) * (width - 120));
    svg.append(element("text", { x: 0, y: y + barHeight - 3, class: "histogram-label" }, formatMs(entry.Value * 1000)));
    svg.append(element("rect", { x: 70, y, width: length, height: barHeight, class: "histogram-bar", "data-value": entry.Value, "data-count": entry.Count }));
    svg.append(element("text", { x: 74 + length, y: y + barHeight - 3, class: "histogram-label" }, String(entry.Count)));
  });
  panel.append(svg);
}

function viewTraces(panel, filter, onViewTraces) {
  const button = html("button", "view-traces", "View traces");
  button.type = "button";
  button.dataset.filter = filter;
  button.addEventListener("click", () => onViewTraces(filter));
  const code = html("code", "view-traces-filter", filter);
  panel.append(button, code);
}

/** Every trace id the filter matches in the window, newest first, up to FILTERED_TRACE_LIMIT. */
async function matchingTraceIds(start, end, filter) {
  const ids = [];
  let token;
  do {
    const body = { StartTime: start, EndTime: end, FilterExpression: filter, Sampling: false };
    if (token) body.NextToken = token;
    const page = await xray("/TraceSummaries", body);
    for (const summary of page.TraceSummaries || []) ids.push(summary.Id);
    token = page.NextToken;
  } while (token && ids.length < FILTERED_TRACE_LIMIT);
  return ids.slice(0, FILTERED_TRACE_LIMIT);
}

/**
 * The services of the traces `ids`, from GetTraceGraph in batches, merged into one graph: the
 * same node from two batches adds its counts and histograms, as one call over all ids would.
 */
async function traceGraph(ids) {
  const merged = new Map();
  const names = new Map(); // ReferenceId in a batch → key across batches
  for (let index = 0; index < ids.length; index += TRACE_GRAPH_BATCH) {
    let token;
    do {
      const body = { TraceIds: ids.slice(index, index + TRACE_GRAPH_BATCH) };
      if (token) body.NextToken = token;
      const page = await xray("/TraceGraph", body);
      names.clear();
      for (const service of page.Services || []) names.set(service.ReferenceId, `${service.Name}\u0000${service.Type || ""}`);
      for (const service of page.Services || []) mergeService(merged, names, service);
      token = page.NextToken;
    } while (token);
  }
  // Reference ids become the merged nodes' positions, edges re-pointed to them.
  const keys = [...merged.keys()];
  return keys.map((key, referenceId) => {
    const service = merged.get(key);
    return {
      ...service,
      ReferenceId: referenceId,
      Edges: [...service.edgesByKey.entries()].map(([targetKey, edge]) => ({ ...edge, ReferenceId: keys.indexOf(targetKey) })),
      edgesByKey: undefined,
    };
  });
}

function mergeService(merged, names, service) {
  const key = names.get(service.ReferenceId);
  let into = merged.get(key);
  if (!into) {
    into = { Name: service.Name, Names: service.Names, Type: service.Type, Root: service.Root, edgesByKey: new Map() };
    merged.set(key, into);
  }
  into.SummaryStatistics = addStatistics(into.SummaryStatistics, service.SummaryStatistics);
  into.ResponseTimeHistogram = addHistogram(into.ResponseTimeHistogram, service.ResponseTimeHistogram);
  for (const edge of service.Edges || []) {
    const targetKey = names.get(edge.ReferenceId);
    if (targetKey === undefined) continue;
    const known = into.edgesByKey.get(targetKey) || {};
    into.edgesByKey.set(targetKey, {
      SummaryStatistics: addStatistics(known.SummaryStatistics, edge.SummaryStatistics),
      ResponseTimeHistogram: addHistogram(known.ResponseTimeHistogram, edge.ResponseTimeHistogram),
    });
  }
}

function addStatistics(a, b) {
  if (!b) return a;
  if (!a) return structuredClone(b);
  const sum = (x, y) => (x || 0) + (y || 0);
  return {
    OkCount: sum(a.OkCount, b.OkCount),
    ErrorStatistics: {
      ThrottleCount: sum(a.ErrorStatistics?.ThrottleCount, b.ErrorStatistics?.ThrottleCount),
      OtherCount: sum(a.ErrorStatistics?.OtherCount, b.ErrorStatistics?.OtherCount),
      TotalCount: sum(a.ErrorStatistics?.TotalCount, b.ErrorStatistics?.TotalCount),
    },
    FaultStatistics: {
      OtherCount: sum(a.FaultStatistics?.OtherCount, b.FaultStatistics?.OtherCount),
      TotalCount: sum(a.FaultStatistics?.TotalCount, b.FaultStatistics?.TotalCount),
    },
    TotalCount: sum(a.TotalCount, b.TotalCount),
    TotalResponseTime: sum(a.TotalResponseTime, b.TotalResponseTime),
  };
}

function addHistogram(a, b) {
  const counts = new Map();
  for (const entry of [...(a || []), ...(b || [])]) counts.set(entry.Value, (counts.get(entry.Value) || 0) + entry.Count);
  return [...counts.entries()].map(([Value, Count]) => ({ Value, Count }));
}

/**
 * The map view: draws the window's graph into `container` and redraws it every few seconds
 * while it is on the page and the page is visible. `options.range()` gives {start, end} in
 * epoch seconds, `options.filter()` the filter expression ("" for none).
 */
export function mountMap(container, { range, filter = () => "", onViewTraces = () => {} }) {
  const status = html("p", "map-status");
  status.setAttribute("role", "status");
  const canvas = html("div", "map-area");
  container.replaceChildren(status, canvas);
  let drawing = null;

  async function draw() {
    const { start, end } = range();
    const expression = (filter() || "").trim();
    const minutes = Math.max((end - start) / 60, 1 / 60);
    try {
      const services = expression
        ? await traceGraph(await matchingTraceIds(start, end, expression))
        : (await xray("/ServiceGraph", { StartTime: start, EndTime: end })).Services || [];
      // A redraw rebuilds the SVG: keep the open details panel's node selected across it.
      const selected = canvas.querySelector(".map-node.selected, .map-edge.selected");
      const selectedKey = selected ? selectionKey(selected) : null;
      drawGraph(canvas, services, { onViewTraces, minutes });
      if (selectedKey) canvas.querySelector(selectedKey)?.dispatchEvent(new Event("click"));
      // For `make bench` (bench/console_figures.py): when the first map was on the page.
      if (!performance.getEntriesByName("map-drawn").length) performance.mark("map-drawn");
      status.textContent = `${services.length} nodes · updated ${new Date().toLocaleTimeString()}`;
      status.classList.remove("error");
      container.dataset.loaded = "true";
    } catch (error) {
      status.textContent = `Could not read the service graph: ${error.message}`;
      status.classList.add("error");
    }
  }

  function refresh() {
    // One draw at a time: a slow API is not asked again before it has answered.
    if (!drawing) drawing = draw().finally(() => (drawing = null));
    return drawing;
  }

  const timer = setInterval(() => {
    if (!container.isConnected) {
      clearInterval(timer);
      return;
    }
    if (document.visibilityState === "visible") refresh();
  }, LIVE_INTERVAL_MS);
  refresh();
  return { refresh };
}

function selectionKey(selected) {
  const escape = (value) => CSS.escape(value);
  if (selected.classList.contains("map-node")) {
    return `.map-node[data-name="${escape(selected.dataset.name)}"][data-type="${escape(selected.dataset.type)}"]`;
  }
  const { source, sourceType, target, targetType } = selected.dataset;
  return (
    `.map-edge[data-source="${escape(source)}"][data-source-type="${escape(sourceType)}"]` +
    `[data-target="${escape(target)}"][data-target-type="${escape(targetType)}"]`
  );
}
