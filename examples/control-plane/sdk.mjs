// @aws-sdk/client-iot against Switchboard's control plane, unchanged but for `endpoint`.
// With `switchboard start --config examples/control-plane/switchboard.yaml` running and an admin
// key in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY from
// `switchboard keys create --admin --policy examples/control-plane/publish-policy.json`):
//   node examples/control-plane/sdk.mjs
// (ENDPOINT_URL and MQTT_URL choose another server; default http://127.0.0.1:8080, mqtt://127.0.0.1:1883.)
import {
  CreateAuthorizerCommand,
  CreateTopicRuleCommand,
  DeleteAuthorizerCommand,
  DeleteTopicRuleCommand,
  IoTClient,
  ListThingsCommand,
  TestInvokeAuthorizerCommand,
} from '@aws-sdk/client-iot';
import { IoTDataPlaneClient, PublishCommand } from '@aws-sdk/client-iot-data-plane';
import mqtt from 'mqtt';

const endpoint = process.env.ENDPOINT_URL ?? 'http://127.0.0.1:8080';
const mqttUrl = process.env.MQTT_URL ?? 'mqtt://127.0.0.1:1883';
const iot = new IoTClient({ endpoint, region: 'us-east-1' });
const data = new IoTDataPlaneClient({ endpoint, region: 'us-east-1' });

await iot.send(
  new CreateAuthorizerCommand({
    authorizerName: 'MyAuthorizer',
    authorizerFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:MyAuthorizer',
    signingDisabled: true,
    status: 'ACTIVE',
  }),
);
const test = await iot.send(new TestInvokeAuthorizerCommand({ authorizerName: 'MyAuthorizer', token: 'allow-me', mqttContext: { clientId: 'boiler' } }));
console.log('TestInvokeAuthorizer:', test.isAuthenticated, test.principalId, test.policyDocuments);

await iot.send(
  new CreateTopicRuleCommand({
    ruleName: 'hot_sensors',
    topicRulePayload: {
      sql: "SELECT temperature, topic(2) AS device FROM 'sensors/+/data' WHERE temperature > 50",
      awsIotSqlVersion: '2016-03-23',
      actions: [{ republish: { roleArn: 'arn:aws:iam::123456789012:role/republish', topic: 'alerts/${topic(2)}', qos: 1 } }],
    },
  }),
);

// The rule acts on a published message: subscribe to its output, publish over the data plane.
const sub = await mqtt.connectAsync(mqttUrl, { clientId: 'alerts-watcher' });
await sub.subscribeAsync('alerts/#', { qos: 1 });
const alert = new Promise((resolve) => sub.once('message', (topic, payload) => resolve(`${topic} ${payload}`)));
await data.send(new PublishCommand({ topic: 'sensors/boiler/data', qos: 1, payload: Buffer.from(JSON.stringify({ temperature: 90 })) }));
console.log('the rule republished:', await alert);
await sub.endAsync();

try {
  await iot.send(new ListThingsCommand({}));
} catch (err) {
  console.log(`ListThings: ${err.name}: ${err.message}`);
}

await iot.send(new DeleteTopicRuleCommand({ ruleName: 'hot_sensors' }));
await iot.send(new DeleteAuthorizerCommand({ authorizerName: 'MyAuthorizer' }));
