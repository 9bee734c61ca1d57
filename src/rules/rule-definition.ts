// A rule as users write it (config file, admin API, CLI): AWS's TopicRulePayload, with the actions
// Switchboard runs locally (republish, function, http, log).
import { z } from 'zod';

const template = z.string().min(1).max(1024);

export const actionSchema = z.union([
  z.object({
    republish: z
      .object({
        topic: template,
        qos: z.union([z.literal(0), z.literal(1)]).default(0),
        // AWS requires the IAM role the action assumes. Switchboard assumes no role; the ARN is
        // kept so that the control plane's GetTopicRule returns what CreateTopicRule was given.
        roleArn: z.string().min(1).max(2048).optional(),
        headers: z
          .object({
            payloadFormatIndicator: template.optional(),
            contentType: template.optional(),
            responseTopic: template.optional(),
            correlationData: template.optional(),
            messageExpiry: template.optional(),
            userProperties: z.array(z.object({ key: template, value: template }).strict()).max(100).optional(),
          })
          .strict()
          .optional(),
      })
      .strict(),
  }).strict(),
  z.object({ function: z.object({ handler: z.string().min(1), timeoutMs: z.number().int().min(100).max(60000).default(5000) }).strict() }).strict(),
  z.object({
    http: z
      .object({
        url: z.string().url(),
        headers: z.array(z.object({ key: z.string().min(1), value: template }).strict()).max(100).optional(),
        timeoutMs: z.number().int().min(100).max(60000).default(5000),
        retries: z.number().int().min(0).max(5).default(2),
      })
      .strict(),
  }).strict(),
  z.object({ log: z.object({ level: z.enum(['info', 'warn', 'debug']).default('info') }).strict() }).strict(),
]);

export const ruleSchema = z
  .object({
    name: z.string().regex(/^[a-zA-Z0-9_]{1,128}$/, 'must be 1-128 letters, digits or underscores (AWS rule names)'),
    sql: z.string().min(1).max(256 * 1024),
    description: z.string().max(2028).optional(),
    ruleDisabled: z.boolean().default(false),
    awsIotSqlVersion: z.enum(['2015-10-08', '2016-03-23']).default('2016-03-23'),
    actions: z.array(actionSchema).max(10).default([]),
    errorAction: actionSchema.optional(),
  })
  .strict();

export type RuleDefinition = z.infer<typeof ruleSchema>;
export type ActionDefinition = z.infer<typeof actionSchema>;
