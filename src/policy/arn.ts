/**
 * Resource ARNs for the authorization requests the broker makes (iot-action-resources.md):
 *
 *   iot:Connect, iot:DeleteConnection            arn:aws:iot:REGION:ACCOUNT:client/<clientId>
 *   iot:Publish, iot:RetainPublish, iot:Receive,
 *   iot:GetRetainedMessage                       arn:aws:iot:REGION:ACCOUNT:topic/<topic>
 *   iot:Subscribe                                arn:aws:iot:REGION:ACCOUNT:topicfilter/<filter as sent>
 *   iot:ListRetainedMessages                     *
 *
 * Region and account come from configuration so that documents written for a real AWS
 * account (with its literal region and account id) mean the same thing here.
 * Names are inserted verbatim: a filter `a/+` is the ARN text `topicfilter/a/+`.
 */

export type IotResourceType = 'client' | 'topic' | 'topicfilter';

export interface ArnScope {
  /** Defaults to `aws`; `aws-cn` and `aws-us-gov` exist for their regions. */
  readonly partition?: string;
  readonly region: string;
  readonly accountId: string;
}

export function arnPrefix(scope: ArnScope): string {
  return `arn:${scope.partition ?? 'aws'}:iot:${scope.region}:${scope.accountId}:`;
}

export function arnFor(scope: ArnScope, type: IotResourceType, name: string): string {
  return `${arnPrefix(scope)}${type}/${name}`;
}

/** The IoT policy actions the broker and data plane check. */
export const IotAction = {
  Connect: 'iot:Connect',
  Publish: 'iot:Publish',
  RetainPublish: 'iot:RetainPublish',
  Receive: 'iot:Receive',
  Subscribe: 'iot:Subscribe',
  GetRetainedMessage: 'iot:GetRetainedMessage',
  ListRetainedMessages: 'iot:ListRetainedMessages',
  DeleteConnection: 'iot:DeleteConnection',
} as const;

export type IotActionName = (typeof IotAction)[keyof typeof IotAction];
