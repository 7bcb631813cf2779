// The log lines of one Lambda invocation, from CloudWatch Logs: the lines of its log stream
// from `START RequestId: <id>` to `REPORT RequestId: <id>`. An execution environment runs
// one invocation at a time, so those lines are that invocation's and no other's.

import {logs} from './api.js';

const PAGES = 10;
// The log agent sends lines in batches, after the response: look a little past the trace.
const AFTER_SECONDS = 120;
const BEFORE_SECONDS = 30;

// DescribeLogGroups answers by prefix, read once per page load.
const groupsCache = new Map();

async function describeGroups(prefix) {
  const names = [];
  let nextToken;
  for (let page = 0; page < PAGES; page++) {
    const answer = await logs('DescribeLogGroups', {
      ...(prefix ? {logGroupNamePrefix: prefix} : {}), ...(nextToken ? {nextToken} : {}),
    });
    names.push(...(answer.logGroups ?? []).map((g) => g.logGroupName));
    nextToken = answer.nextToken;
    if (!nextToken) break;
  }
  return names;
}

function cached(key, read) {
  if (!groupsCache.has(key)) {
    groupsCache.set(key, read().catch((error) => {
      groupsCache.delete(key);
      throw error;
    }));
  }
  return groupsCache.get(key);
}

/**
 * Log groups a function's lines may be in, likeliest first: Lambda's default
 * (/aws/lambda/<name>), then groups that name the function's stack and logical id. A
 * deployed name is <stack>-<LogicalId>-<suffix>, and a LoggingConfig group usually names those.
 */
export async function candidateGroups(functionName) {
  const own = `/aws/lambda/${functionName}`;
  const words = functionName.split('-').filter((w) => w.length > 2);
  const score = (name) => (name === own ? 100 : words.filter((w) => name.includes(w)).length);
  const rank = (names) => names.map((name) => [score(name), name]).filter(([s]) => s > 1)
    .sort((a, b) => b[0] - a[0]).map(([, name]) => name);
  let groups = rank(await cached('/aws/lambda/', () => describeGroups('/aws/lambda/')));
  // A LoggingConfig group may be named anything: look beyond /aws/lambda/ when nothing fits there.
  if (!groups.length) groups = rank(await cached('', () => describeGroups('')));
  if (!groups.includes(own)) groups.push(own);
  return groups.slice(0, 8);
}

/**
 * {requestId, functionName, start, end} (spans.invocations) →
 * {logGroupName, logStreamName, events: [{timestamp, message}], complete} or null when no
 * START line is found (yet: the lines may still be on their way).
 */
export async function findInvocationLines(invocation) {
  const {requestId, functionName} = invocation;
  const window = {
    startTime: Math.floor((invocation.start - BEFORE_SECONDS) * 1000),
    endTime: Math.ceil((invocation.end + AFTER_SECONDS) * 1000),
  };
  for (const logGroupName of await candidateGroups(functionName)) {
    let found;
    try {
      found = await logs('FilterLogEvents', {
        logGroupName, ...window, filterPattern: `"START RequestId: ${requestId}"`, limit: 1,
      });
    } catch (error) {
      if (error.type === 'ResourceNotFoundException') continue;
      throw error;
    }
    const start = found.events?.[0];
    if (!start) continue;
    return {logGroupName, logStreamName: start.logStreamName, ...(await readUntilReport(logGroupName, start, requestId))};
  }
  return null;
}

async function readUntilReport(logGroupName, startEvent, requestId) {
  const events = [];
  const report = `REPORT RequestId: ${requestId}`;
  let nextToken;
  for (let page = 0; page < PAGES; page++) {
    const answer = await logs('GetLogEvents', {
      logGroupName,
      logStreamName: startEvent.logStreamName,
      startTime: startEvent.timestamp,
      startFromHead: true,
      ...(nextToken ? {nextToken} : {}),
    });
    let begun = events.length > 0;
    for (const event of answer.events ?? []) {
      if (!begun && !event.message.startsWith(`START RequestId: ${requestId}`)) continue;
      begun = true;
      events.push({timestamp: event.timestamp, message: event.message});
      if (event.message.startsWith(report)) return {events, complete: true};
    }
    // The same token back means the end of the stream so far.
    if (!answer.nextForwardToken || answer.nextForwardToken === nextToken) break;
    nextToken = answer.nextForwardToken;
  }
  return {events, complete: false};
}
