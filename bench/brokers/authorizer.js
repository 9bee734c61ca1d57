// Function authorizer for the connect-rate scenario: admits every client with every right, so the
// measurement is the cost of running an authorizer (worker-thread round trip, response
// validation, policy compilation), not of a decision. Clients pass a distinct token each, so the
// result cache never answers for it.
const ARN = 'arn:aws:iot:us-east-1:123456789012:';

export const handler = async (event) => ({
  isAuthenticated: typeof event.token === 'string' && event.token.length > 0,
  principalId: 'bench',
  disconnectAfterInSeconds: 86400,
  refreshAfterInSeconds: 86400,
  policyDocuments: [
    {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: ['iot:Connect', 'iot:Publish', 'iot:Subscribe', 'iot:Receive'], Resource: `${ARN}*` }],
    },
  ],
});
