// Function authorizer for the connect-rate scenario: admits every client that sends a token, with
// the same policy (policy.json) that the other Switchboard runs give anonymous clients, so the
// measurement is the cost of running an authorizer (worker-thread round trip, response
// validation, policy compilation), not of a decision. Clients pass a distinct token each, so the
// result cache never answers for it.
import { readFileSync } from 'node:fs';

const policy = JSON.parse(readFileSync(new URL('./policy.json', import.meta.url), 'utf8'));

export const handler = async (event) => ({
  isAuthenticated: typeof event.token === 'string' && event.token.length > 0,
  principalId: 'bench',
  disconnectAfterInSeconds: 86400,
  refreshAfterInSeconds: 86400,
  policyDocuments: [policy],
});
