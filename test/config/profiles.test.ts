// The `aws` profile (src/config/profiles.ts): AWS IoT Core's quotas as defaults that explicit
// values override, through every way a value is given (file, environment, flags), and a reload.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, validateConfig } from '../../src/config/load.js';
import { applyProfile, PROFILES } from '../../src/config/profiles.js';
import { applyReloadable, diffConfig } from '../../src/config/reload.js';

describe('config profiles', () => {
  it('the default profile is the specification and no throttles', () => {
    const c = validateConfig({});
    assert.equal(c.profile, 'default');
    assert.equal(c.limits.maxQos, 2);
    assert.equal(c.limits.maxFiltersPerSubscribe, 64);
    assert.equal(c.limits.minKeepAliveSeconds, 0);
    for (const k of ['maxPublishesPerSecond', 'maxInboundBytesPerSecond', 'maxSubscriptionsPerSecond', 'maxConnectsPerClientIdPerSecond'] as const) assert.equal(c.limits[k], 0, k);
    assert.deepEqual(c.topics, { multiLevelWildcardMatchesParent: true, retainedForWildcardFilters: true });
  });

  // https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits
  it('aws: AWS IoT Core message-broker quotas and behaviours', () => {
    const c = validateConfig({ profile: 'aws' });
    assert.equal(c.limits.maxQos, 1);
    assert.equal(c.limits.maxFiltersPerSubscribe, 8);
    assert.equal(c.limits.minKeepAliveSeconds, 30);
    assert.equal(c.limits.maxKeepAliveSeconds, 1200);
    assert.equal(c.limits.maxPayloadBytes, 131072);
    assert.equal(c.limits.maxSessionExpirySeconds, 3600);
    assert.equal(c.limits.maxPublishesPerSecond, 100);
    assert.equal(c.limits.maxInboundBytesPerSecond, 512 * 1024);
    assert.equal(c.limits.maxSubscriptionsPerSecond, 500);
    assert.equal(c.limits.maxConnectsPerClientIdPerSecond, 1);
    assert.deepEqual(c.topics, { multiLevelWildcardMatchesParent: false, retainedForWildcardFilters: false });
  });

  it('explicit values override the profile, field by field', () => {
    const c = validateConfig({ profile: 'aws', limits: { maxFiltersPerSubscribe: 20, maxPublishesPerSecond: 0 }, topics: { retainedForWildcardFilters: true } });
    assert.equal(c.limits.maxFiltersPerSubscribe, 20);
    assert.equal(c.limits.maxPublishesPerSecond, 0);
    assert.equal(c.limits.maxQos, 1, 'the rest of the profile still applies');
    assert.deepEqual(c.topics, { multiLevelWildcardMatchesParent: false, retainedForWildcardFilters: true });
  });

  it('applyProfile leaves its input alone, and every profile value validates', () => {
    const tree = { profile: 'aws', limits: { maxTopicBytes: 100 } };
    const out = applyProfile(tree) as { limits: Record<string, unknown> };
    assert.deepEqual(tree, { profile: 'aws', limits: { maxTopicBytes: 100 } });
    assert.equal(out.limits.maxTopicBytes, 100);
    const c = validateConfig({ profile: 'aws' });
    for (const [section, values] of Object.entries(PROFILES.aws)) {
      for (const [key, value] of Object.entries(values)) assert.equal((c as unknown as Record<string, Record<string, unknown>>)[section]![key], value, `${section}.${key}`);
    }
  });

  it('an unknown profile is named in the error', () => {
    assert.throws(() => validateConfig({ profile: 'azure' }), (err: unknown) => err instanceof ConfigError && /profile/.test(err.message));
  });

  it('the profile comes from the file, SWITCHBOARD_PROFILE or --profile; flags and environment still override its values', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-profile-'));
    try {
      const file = join(dir, 'c.yaml');
      writeFileSync(file, 'profile: aws\nlimits:\n  maxFiltersPerSubscribe: 16\n');
      const fromFile = loadConfig({ file, env: {} });
      assert.equal(fromFile.limits.maxFiltersPerSubscribe, 16);
      assert.equal(fromFile.limits.maxQos, 1);
      const fromEnv = loadConfig({ env: { SWITCHBOARD_PROFILE: 'aws', SWITCHBOARD_LIMITS__MAX_PUBLISHES_PER_SECOND: '5' } });
      assert.equal(fromEnv.profile, 'aws');
      assert.equal(fromEnv.limits.maxPublishesPerSecond, 5);
      assert.equal(fromEnv.limits.maxConnectsPerClientIdPerSecond, 1);
      const fromFlag = loadConfig({ env: {}, overrides: { profile: 'aws', 'limits.minKeepAliveSeconds': '10' } });
      assert.equal(fromFlag.limits.minKeepAliveSeconds, 10);
      assert.equal(fromFlag.topics.multiLevelWildcardMatchesParent, false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reload: switching to the aws profile applies its reloadable limits (throttles included) and names the rest as needing a restart', () => {
    const running = validateConfig({});
    const next = validateConfig({ profile: 'aws' });
    const changes = diffConfig(running, next);
    assert.deepEqual(changes.limits.maxPublishesPerSecond, { from: 0, to: 100 });
    assert.deepEqual(changes.limits.maxConnectsPerClientIdPerSecond, { from: 0, to: 1 });
    assert.deepEqual(changes.limits.maxFiltersPerSubscribe, { from: 64, to: 8 });
    for (const path of ['profile', 'limits.maxQos', 'topics.multiLevelWildcardMatchesParent', 'topics.retainedForWildcardFilters']) {
      assert.ok(changes.needsRestart.includes(path), `${path} needs a restart: ${changes.needsRestart.join(', ')}`);
    }
    const after = applyReloadable(running, next);
    assert.equal(after.limits.maxPublishesPerSecond, 100);
    assert.equal(after.limits.maxQos, 2, 'announced in CONNACK: kept until restart');
    // The same file read again under the same profile changes nothing.
    const again = diffConfig(next, validateConfig({ profile: 'aws' }));
    assert.deepEqual(again.limits, {});
    assert.deepEqual(again.needsRestart, []);
  });
});
