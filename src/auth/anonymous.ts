// Admission of clients that present no credentials the server checks. The safe default admits
// them only from loopback, so a fresh install on a public interface is not an open broker.
import type { Authorization, ClientPermissions } from '../broker/authorization.js';
import { RC } from '../protocol/reason-codes.js';

const everything: ClientPermissions = {
  canPublish: () => true,
  canSubscribe: () => true,
  canReceive: () => true,
};

export function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1' || address === 'localhost';
}

export function anonymousAuthorization(mode: 'loopback' | 'everyone' | 'nobody'): Authorization {
  return {
    async authorizeConnect(request) {
      const address = request.connection.remoteAddress;
      if (mode === 'everyone' || (mode === 'loopback' && isLoopback(address))) {
        return { allowed: true, principal: 'anonymous', permissions: everything };
      }
      return {
        allowed: false,
        reasonCode: RC.notAuthorized,
        reason: mode === 'nobody' ? 'anonymous clients are not accepted' : `anonymous clients are accepted from loopback only, not from ${address}`,
      };
    },
  };
}
