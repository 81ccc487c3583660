import { invokeRemote } from '@forge/bridge';

/** A failed call to the MuleSight backend, with the message to show and the HTTP status if any. */
export class RemoteError extends Error {
  constructor(message, status) {
    super(message);
    this.name = 'RemoteError';
    this.status = status;
  }
}

function errorMessage(payload, status) {
  const error = payload && typeof payload === 'object' ? payload.error : undefined;
  if (error && typeof error.message === 'string' && error.message) return error.message;
  if (typeof payload === 'string' && payload.trim()) return payload.trim().slice(0, 300);
  return `The MuleSight backend answered with HTTP ${status}.`;
}

/**
 * Calls the MuleSight backend through the module's `resolver.endpoint` (Forge Remote). Forge adds
 * the Forge Invocation Token (and the app tokens the endpoint asks for); the backend picks the
 * tenant from that token. Resolves with the response body; rejects with a RemoteError.
 */
export async function callRemote(method, path, body) {
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
    throw new RemoteError(`The MuleSight backend could not be reached: ${message}`);
  }
  // invokeRemote resolves with the remote's { status, headers, body }, or with Forge's error
  // ({ message }) when the remote could not be invoked (unreachable, timed out, invalid answer).
  if (!response || typeof response !== 'object' || !('status' in response)) {
    const message = response && response.message ? response.message : 'no answer';
    throw new RemoteError(`The MuleSight backend could not be reached: ${message}`);
  }
  const status = Number(response.status);
  if (status >= 400) throw new RemoteError(errorMessage(response.body, status), status);
  return response.body;
}
