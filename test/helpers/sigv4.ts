// SigV4-presigned MQTT-over-WebSocket URLs made with the AWS SDK's own signer
// (@smithy/signature-v4), in the two ways clients carry a session token: signed into the canonical
// query (@smithy, most generic signers) or appended after signing (AWS IoT's documented way, and
// what the AWS IoT device SDKs do).
import { buildQueryString, HttpRequest } from '@smithy/core/protocols';
import { Hash } from '@smithy/core/serde';
import { SignatureV4 } from '@smithy/signature-v4';

const Sha256 = Hash.bind(null, 'sha256');

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface PresignOptions {
  service?: string;
  region?: string;
  expiresIn?: number;
  signingDate?: Date;
  /** 'signed': in the canonical query; 'appended': added after signing; default 'appended'. */
  token?: 'signed' | 'appended';
  /** Default '/mqtt'; '/ws' for JSON over WebSocket. */
  path?: string;
  /** Parameters signed with the URL (e.g. clientId for /ws). */
  query?: Record<string, string>;
}

/** ws://{host}/mqtt?X-Amz-... for a server on 127.0.0.1:port. */
export async function presignMqttUrl(port: number, credentials: Credentials, opts: PresignOptions = {}): Promise<string> {
  const host = `127.0.0.1:${port}`;
  const { sessionToken, ...longTerm } = credentials;
  const signedToken = opts.token === 'signed' && sessionToken !== undefined;
  const signer = new SignatureV4({
    service: opts.service ?? 'iotdevicegateway',
    region: opts.region ?? 'us-east-1',
    credentials: signedToken ? credentials : longTerm,
    sha256: Sha256,
  });
  const path = opts.path ?? '/mqtt';
  const request = new HttpRequest({ method: 'GET', protocol: 'ws:', hostname: '127.0.0.1', port, path, headers: { host }, ...(opts.query ? { query: opts.query } : {}) });
  const signed = await signer.presign(request, { expiresIn: opts.expiresIn ?? 300, ...(opts.signingDate ? { signingDate: opts.signingDate } : {}) });
  let url = `ws://${host}${path}?${buildQueryString(signed.query as Record<string, string>)}`;
  if (sessionToken !== undefined && !signedToken) url += `&X-Amz-Security-Token=${encodeURIComponent(sessionToken)}`;
  return url;
}
