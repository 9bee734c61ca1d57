// The CLI's way to a running node: its admin API over HTTP (loopback, or with the admin token).
export interface AdminTarget {
  endpoint: string;
  token: string | undefined;
}

export class AdminApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function adminTarget(values: { endpoint?: string | undefined; token?: string | undefined }): AdminTarget {
  return {
    endpoint: (values.endpoint ?? process.env.SWITCHBOARD_ENDPOINT ?? 'http://127.0.0.1:8080').replace(/\/$/, ''),
    token: values.token ?? process.env.SWITCHBOARD_ADMIN_TOKEN,
  };
}

export async function callAdmin(target: AdminTarget, method: string, path: string, body?: unknown): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(target.endpoint + path, {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(target.token ? { authorization: `Bearer ${target.token}` } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    throw new AdminApiError(0, 'ConnectionError', `cannot reach Switchboard at ${target.endpoint}: ${(err as Error).cause ? String((err as Error).cause) : (err as Error).message}`);
  }
  const text = await response.text();
  const data = text ? (JSON.parse(text) as Record<string, unknown>) : null;
  if (!response.ok) {
    throw new AdminApiError(response.status, String(data?.code ?? response.status), String(data?.message ?? response.statusText));
  }
  return data;
}
