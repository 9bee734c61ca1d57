#!/usr/bin/env bash
# The AWS CLI against Switchboard's control plane, unchanged but for --endpoint-url.
# With `switchboard start --config examples/control-plane/switchboard.yaml` running:
#   examples/control-plane/aws-cli.sh
# (ENDPOINT_URL chooses another server) and, to see the rule's output, in another terminal: mosquitto_sub -t 'alerts/#' -v
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
endpoint=${ENDPOINT_URL:-http://127.0.0.1:8080}
switchboard=(node "$here/../../bin/switchboard.js")

# An admin key (from loopback no token is needed; elsewhere add --token); its policy also lets it
# publish below sensors/ on the data plane.
key=$("${switchboard[@]}" keys create --admin --policy "$here/publish-policy.json" --description "control-plane example" --endpoint "$endpoint")
export AWS_ACCESS_KEY_ID=$(node -p 'JSON.parse(process.argv[1]).accessKeyId' "$key")
export AWS_SECRET_ACCESS_KEY=$(node -p 'JSON.parse(process.argv[1]).secretAccessKey' "$key")
export AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=''
aws() { command aws "$@" --endpoint-url "$endpoint"; }

aws iot create-authorizer --authorizer-name MyAuthorizer \
  --authorizer-function-arn arn:aws:lambda:us-east-1:123456789012:function:MyAuthorizer \
  --signing-disabled --status ACTIVE
aws iot test-invoke-authorizer --authorizer-name MyAuthorizer --token allow-me

aws iot create-topic-rule --rule-name hot_sensors --topic-rule-payload '{
  "sql": "SELECT temperature, topic(2) AS device FROM '\''sensors/+/data'\'' WHERE temperature > 50",
  "awsIotSqlVersion": "2016-03-23",
  "actions": [{ "republish": { "roleArn": "arn:aws:iam::123456789012:role/republish", "topic": "alerts/${topic(2)}", "qos": 1 } }]
}'
aws iot list-topic-rules

# AWS CLI v2 reads blobs as base64 unless told; v1 does not know the option.
binary=()
case "$(command aws --version 2>&1)" in aws-cli/2*) binary=(--cli-binary-format raw-in-base64-out) ;; esac
aws iot-data publish --topic sensors/boiler/data --qos 1 --payload '{"temperature": 90}' "${binary[@]}"
echo "published; a subscriber to alerts/# got {\"temperature\":90,\"device\":\"boiler\"} on alerts/boiler"

aws iot delete-topic-rule --rule-name hot_sensors
aws iot delete-authorizer --authorizer-name MyAuthorizer
