// Every other AWS IoT control-plane operation (ListThings, CreatePolicy, CreateKeysAndCertificate,
// ...) gets an error in AWS's shape naming it as unsupported, never a bare 404: the SDKs send an
// operation as a method and a REST path, so a request no route matched is recognised by its
// shape against the API model's table (iot-operations.ts).
//
// 501 with x-amzn-ErrorType UnsupportedOperationException: the SDKs raise an exception of that
// name with our message (AWS CLI: "An error occurred (UnsupportedOperationException) when calling
// the ListThings operation: ..."), and none of them retries a 501 (they retry 500, 502, 503, 504
// and throttling). The answer reveals nothing but the public list of what Switchboard lacks, so
// it needs no credentials.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { IOT_OPERATIONS } from './iot-operations.js';

interface Template {
  name: string;
  method: string;
  pattern: RegExp;
  /** Literal segments: a more literal template wins over one with more parameters. */
  literals: number;
}

function compile(name: string, method: string, path: string): Template {
  // botocore's model writes some paths with a trailing '/', the JS SDK's without: both match.
  const segments = path.replace(/(.)\/$/, '$1').split('/').slice(1);
  let literals = 0;
  const pattern = segments
    .map((s) => {
      if (/^\{[^}]+\+\}$/.test(s)) return '.+';
      if (/^\{[^}]+\}$/.test(s)) return '[^/]+';
      literals++;
      return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return { name, method, pattern: new RegExp(`^/${pattern}/?$`), literals };
}

export class UnsupportedOperations {
  private readonly templates: Template[];

  /** `supported`: the operations this server implements (never named as unsupported). */
  constructor(supported: ReadonlySet<string>) {
    this.templates = IOT_OPERATIONS.filter(([name]) => !supported.has(name))
      .map(([name, method, path]) => compile(name, method, path))
      .sort((a, b) => b.literals - a.literals);
  }

  /** The AWS IoT operation a method and raw path are, if it is one this server lacks. */
  match(method: string, rawPath: string): string | undefined {
    for (const t of this.templates) if (t.method === method && t.pattern.test(rawPath)) return t.name;
    return undefined;
  }

  /** The unmatched-route responder (http-server.ts addUnmatchedResponder). */
  readonly respond = (request: FastifyRequest, reply: FastifyReply): boolean => {
    const q = request.url.indexOf('?');
    const name = this.match(request.method, q < 0 ? request.url : request.url.slice(0, q));
    if (name === undefined) return false;
    reply
      .code(501)
      .header('x-amzn-ErrorType', 'UnsupportedOperationException')
      .send({ code: 'UnsupportedOperationException', message: `${name} is an AWS IoT operation that Switchboard does not support (see docs/compatibility.md for the supported control-plane operations)` });
    return true;
  };
}
