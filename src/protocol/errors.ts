// Errors as values with stable codes: handlers throw a ProtocolError, and only the dispatcher
// turns it into a DISCONNECT (v5) or a closed connection (v3.1.1).
import { RC } from './reason-codes.js';

export class ProtocolError extends Error {
  readonly reasonCode: number;
  /** Stable, log-friendly code such as 'topic-name-invalid'. */
  readonly code: string;
  constructor(code: string, reasonCode: number, message: string) {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
    this.reasonCode = reasonCode;
  }
}

export const malformed = (message: string) => new ProtocolError('malformed-packet', RC.malformed, message);
export const protocolError = (message: string) => new ProtocolError('protocol-error', RC.protocolError, message);
