import { invokeRemote } from '@forge/bridge';

/**
 * A failed call to the MuleSight backend: the message to show, the HTTP status if any, the
 * backend's error code and its field-level messages (422: `{field: [message, …]}`).
 */
export class RemoteError extends Error {
  constructor(message, status, { code, fields, timeout } = {}) {
    super(message);
    this.name = 'RemoteError';
    this.status = status;
    this.code = code;
    this.fields = fields || {};
    this.timeout = Boolean(timeout);
  }
}

function errorOf(payload) {
  return payload && typeof payload === 'object' && payload.error && typeof payload.error === 'object'
    ? payload.error
    : {};
}

function errorMessage(payload, status) {
  const { message } = errorOf(payload);
  if (typeof message === 'string' && message) return message;
  if (typeof payload === 'string' && payload.trim()) return payload.trim().slice(0, 300);
  return `The MuleSight backend answered with HTTP ${status}.`;
}

const TIMEOUT = /timed? ?out|timeout/i;

/**
 * Calls the MuleSight backend through the module's `resolver.endpoint` (Forge Remote). Forge adds
 * the Forge Invocation Token (and the app tokens the endpoint asks for); the backend picks the
 * tenant from that token. Resolves with `{status, body}`; rejects with a RemoteError.
 */
export async function callRemoteFull(method, path, body) {
  const input = { method, path, headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    input.headers['Content-Type'] = 'application/json';
    input.body = body;
  }
  let response;
  try {
    response = await invokeRemote(input);
  } catch (err) {
    const message = err && err.message ? err.message : String(err);
    throw new RemoteError(`The MuleSight backend could not be reached: ${message}`, undefined, {
      timeout: TIMEOUT.test(message),
    });
  }
  // invokeRemote resolves with the remote's { status, headers, body }, or with Forge's error
  // ({ message }) when the remote could not be invoked (unreachable, timed out, invalid answer).
  if (!response || typeof response !== 'object' || !('status' in response)) {
    const message = response && response.message ? response.message : 'no answer';
    throw new RemoteError(`The MuleSight backend could not be reached: ${message}`, undefined, {
      timeout: TIMEOUT.test(message),
    });
  }
  const status = Number(response.status);
  if (status >= 400) {
    const { code, fields } = errorOf(response.body);
    throw new RemoteError(errorMessage(response.body, status), status, {
      code,
      fields,
      timeout: status === 504,
    });
  }
  return { status, body: response.body };
}

/** Like callRemoteFull, resolving with the body only. */
export async function callRemote(method, path, body) {
  return (await callRemoteFull(method, path, body)).body;
}
