/**
 * Requests to the session server's enclave endpoints (`<base>/enclave/...`, served by the
 * server extension `enclave.kernels.lab`). The browser never talks to the review service
 * itself: the session server does, with the session's own hub token.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** A refusal or failure, with the one-line message the server gave. */
export class EnclaveRequestError extends Error {
  constructor(
    message: string,
    readonly status: number
  ) {
    super(message);
  }
}

/** POST `body` as JSON to `<base>/enclave/<path>`; the answer's JSON, or an EnclaveRequestError. */
export async function postEnclave<T>(path: string, body: unknown): Promise<T> {
  return requestEnclave<T>(path, { method: 'POST', body: JSON.stringify(body) });
}

/** GET `<base>/enclave/<path>`; the answer's JSON, or an EnclaveRequestError. */
export async function getEnclave<T>(path: string): Promise<T> {
  return requestEnclave<T>(path, { method: 'GET' });
}

async function requestEnclave<T>(path: string, init: RequestInit): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'enclave', path);
  const response = await ServerConnection.makeRequest(url, init, settings);
  let data: any = {};
  try {
    data = await response.json();
  } catch {
    // no JSON answer: the status says what happened
  }
  if (!response.ok) {
    throw new EnclaveRequestError(
      data.message || `the session server answered HTTP ${response.status}`,
      response.status
    );
  }
  return data as T;
}
