// The page's only way out: its own server's /xray/<path> and /logs, which pass the calls on
// unchanged to the X-Ray API and CloudWatch Logs (local, or AWS with --aws).

export class ApiError extends Error {
  constructor(message, {status = 0, type = '', position = null} = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.type = type;
    // Where in a FilterExpression the API found the problem, when its message says so.
    this.position = position;
  }
}

const POSITION = /at position (\d+)/;

async function post(url, body, headers = {}) {
  let response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: {'Content-Type': 'application/json', ...headers},
      body: JSON.stringify(body ?? {}),
      cache: 'no-store',
    });
  } catch (error) {
    throw new ApiError(`cannot reach the console's server: ${error.message}`);
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : {};
  } catch {
    data = null;
  }
  if (!response.ok) {
    const message = data?.message ?? data?.Message ?? `HTTP ${response.status} ${response.statusText}`;
    // rest-json says the type in a header ("InvalidRequestException:http://..."), JSON 1.1 in __type.
    const rawType = response.headers.get('x-amzn-ErrorType') ?? data?.__type ?? '';
    const type = rawType.split(':')[0].split('#').pop();
    const match = POSITION.exec(message);
    throw new ApiError(message, {status: response.status, type, position: match ? Number(match[1]) : null});
  }
  if (data === null) throw new ApiError(`the answer to ${url} is not JSON`, {status: response.status});
  return data;
}

/** An X-Ray API call by its REST path ("/TraceSummaries", "/ServiceGraph", ...) → parsed JSON. */
export function xray(path, body) {
  return post(`xray/${String(path).replace(/^\/+/, '')}`, body);
}

/** A CloudWatch Logs call by operation name ("FilterLogEvents", ...) → parsed JSON. */
export function logs(operation, body) {
  return post('logs', body, {
    'Content-Type': 'application/x-amz-json-1.1',
    'X-Amz-Target': `Logs_20140328.${operation}`,
  });
}
