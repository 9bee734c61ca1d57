// A custom authorizer in the shape AWS IoT Core's Lambda authorizers have, so the same file runs
// on AWS and on Switchboard. Switchboard calls `handler` with the event AWS would send (token,
// protocolData.{tls,http,mqtt}, connectionMetadata) and uses the object it returns.
//
// This one lets anybody in, as a fixed principal, with narrow rights:
//   - connect with any client ID,
//   - publish to the topic `client` only,
//   - subscribe to the filter `server` only (no wildcards, so `#` is refused).
// It grants no iot:Receive, so a subscription to `server` is accepted but delivers nothing;
// add { Effect: 'Allow', Action: 'iot:Receive', Resource: ARN + 'topic/server' } to receive.
//
// Registered in examples/switchboard.yaml with `signingDisabled: true` (there is no token to
// sign), or on a running node whose functions.dir holds this file (e.g. started with
// --set functions.dir=examples/authorizers) with:
//   switchboard authorizers create --name Unauthenticated --type function \
//     --handler unauthenticated --signing-disabled
// Browsers select it with ws://HOST:PORT/mqtt?x-amz-customauthorizer-name=Unauthenticated.
//
// CommonJS on purpose: it is what the Lambda console creates.

// Resources are matched against arn:aws:iot:{auth.region}:{auth.accountId}:... ; 123456789012 is
// Switchboard's default account ID (auth.accountId).
const ARN = 'arn:aws:iot:us-east-1:123456789012:';

// `async` handlers return their answer; the third parameter (Lambda's callback) is unused.
exports.handler = async (event, _context, _callback) => {
    return {
        isAuthenticated: true,
        // Letters and digits only, at most 128 (AWS rejects anything else).
        principalId: 'Unauthenticated',
        // Up to 10 documents of at most 2,048 characters each, as objects (or JSON strings).
        policyDocuments: [{
            Version: '2012-10-17',
            Statement: [
                { Effect: 'Allow', Action: 'iot:Connect', Resource: ARN + 'client/*' },
                // client/* grants nothing for Subscribe or Publish (their resources are
                // topicfilter/... and topic/...); kept to mirror the common Lambda it imitates.
                { Effect: 'Allow', Action: 'iot:Subscribe', Resource: [ARN + 'client/*', ARN + 'topicfilter/server'] },
                { Effect: 'Allow', Action: 'iot:Publish', Resource: [ARN + 'client/*', ARN + 'topic/client'] },
            ],
        }],
        // Close the connection after an hour; ask this handler again every 5 minutes (both
        // must lie in 300..86400 seconds).
        disconnectAfterInSeconds: 3600,
        refreshAfterInSeconds: 300,
    };
};
