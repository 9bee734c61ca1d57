// Profiles: named sets of defaults, applied to the raw configuration before validation (so a
// reload, which reads the file again, gets them too). A field set in the file, the environment or
// a flag always wins over its profile's value; the profile only fills what was left unset.
//
// 'aws': AWS IoT Core's message-broker quotas and behaviours where Switchboard's defaults differ
// (or equal them, written out so `switchboard config --profile aws` shows every value AWS imposes).
// Sources, per value: docs/compatibility.md ("Profiles"), from
//   https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits (quotas) and
//   https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html (differences from the spec).
export const PROFILE_NAMES = ['default', 'aws'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

type Section = Record<string, unknown>;

export const PROFILES: Record<ProfileName, Record<string, Section>> = {
  default: {},
  aws: {
    limits: {
      maxPayloadBytes: 131072, // "Message size: 128 KB"
      maxTopicBytes: 256, // "Topic size: 256 bytes"
      maxTopicLevels: 8, // "Maximum number of slashes in topic and topic filter: 7"
      maxClientIdBytes: 128, // "Client ID size: 128 bytes"
      maxFiltersPerSubscribe: 8, // "Maximum subscriptions per subscribe call: 8"
      maxSubscriptionsPerConnection: 50, // "Subscriptions per connection: 50"
      maxInflightMessages: 100, // "Maximum inbound/outbound unacknowledged messages: 100"
      topicAliasMaximum: 8, // "Topic aliases per connection: 8"
      minKeepAliveSeconds: 30, // "Keep-alive period: 30-1200 s"
      maxKeepAliveSeconds: 1200,
      maxSessionExpirySeconds: 3600, // "Persistent session expiry period: 1 hour" (adjustable to 7 days)
      defaultSessionExpirySeconds: 3600,
      maxMessageExpirySeconds: 604800, // MQTT 5 Message Expiry Interval: at most 7 days
      maxQos: 1, // "AWS IoT Core supports MQTT QoS levels 0 and 1 only"
      maxPublishesPerSecond: 100, // "Publish requests per second per connection: 100"
      maxInboundBytesPerSecond: 524288, // "Throughput per connection: 512 KiB/s"
      maxSubscriptionsPerSecond: 500, // "Subscriptions per second per account: 500"
      maxConnectsPerClientIdPerSecond: 1, // "Connect requests per second per client ID: 1"
    },
    topics: {
      multiLevelWildcardMatchesParent: false, // "sensor/# ... does not match sensor"
      retainedForWildcardFilters: false, // retained messages only for an exact topic filter
    },
  },
};

const isSection = (v: unknown): v is Section => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Returns `tree` with its profile's values filled in where it sets none. An unknown or missing
 * profile leaves the tree as it is (the schema names an unknown one). `tree` is not modified.
 */
export function applyProfile(tree: unknown): unknown {
  if (!isSection(tree)) return tree;
  const name = tree.profile;
  if (typeof name !== 'string' || !(PROFILE_NAMES as readonly string[]).includes(name)) return tree;
  const profile = PROFILES[name as ProfileName];
  const out: Section = { ...tree };
  for (const [section, values] of Object.entries(profile)) {
    const given = out[section];
    if (given === undefined) out[section] = { ...values };
    // A section that is not an object is left for the schema to report.
    else if (isSection(given)) out[section] = { ...values, ...given };
  }
  return out;
}
