// A Lambda-style custom authorizer, unchanged from what AWS IoT would run: the token decides,
// and the policy lets the client connect under its own client ID and publish below sensors/.
export const handler = async (event) => {
  const clientId = event.protocolData?.mqtt?.clientId ?? 'unknown';
  const arn = 'arn:aws:iot:us-east-1:123456789012';
  return {
    isAuthenticated: event.token === 'allow-me',
    principalId: 'exampleUser',
    disconnectAfterInSeconds: 3600,
    refreshAfterInSeconds: 300,
    policyDocuments: [
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: 'iot:Connect', Resource: `${arn}:client/${clientId}` },
          { Effect: 'Allow', Action: 'iot:Publish', Resource: `${arn}:topic/sensors/*` },
        ],
      }),
    ],
  };
};
