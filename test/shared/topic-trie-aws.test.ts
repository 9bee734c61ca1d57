// AWS IoT's topic matching (topics.multiLevelWildcardMatchesParent: false, the aws profile):
// "sensor/# ... does not match sensor" — https://docs.aws.amazon.com/iot/latest/developerguide/topics.html
// Everything else is the specification's, checked against topicMatches on random input.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TopicTrie } from '../../src/shared/topic-trie.js';
import { topicMatches } from '../../src/shared/topic-match.js';
import { prng } from '../helpers/prng.js';

/** AWS's rule: the spec's, except that 'x/#' needs at least one level below x (possibly empty). */
function awsMatches(filter: string, topic: string): boolean {
  if (filter.endsWith('/#') && topic.split('/').length < filter.split('/').length) return false;
  return topicMatches(filter, topic);
}

describe('topic trie with AWS matching', () => {
  it("'a/#' does not match 'a' but matches 'a/' and below; '#' matches everything", () => {
    const trie = new TopicTrie<string>({ multiLevelWildcardMatchesParent: false });
    trie.add('a/#', 'hash');
    trie.add('#', 'all');
    trie.add('a/+/#', 'plus-hash');
    assert.deepEqual([...trie.match('a')].sort(), ['all']);
    assert.deepEqual([...trie.match('a/')].sort(), ['all', 'hash']);
    assert.deepEqual([...trie.match('a/b')].sort(), ['all', 'hash']);
    assert.deepEqual([...trie.match('a/b/c')].sort(), ['all', 'hash', 'plus-hash']);
    const spec = new TopicTrie<string>();
    spec.add('a/#', 'hash');
    assert.deepEqual([...spec.match('a')], ['hash'], 'the default stays the specification');
  });

  it('agrees with the AWS rule on random filters and topics', () => {
    const rnd = prng(16);
    const levels = ['a', 'b', '', 'c'];
    const pick = () => levels[Math.floor(rnd() * levels.length)]!;
    const topics: string[] = [];
    for (let i = 0; i < 200; i++) topics.push(Array.from({ length: 1 + Math.floor(rnd() * 3) }, pick).join('/'));
    const filters = new Set<string>();
    for (let i = 0; i < 60; i++) {
      const parts = Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => (rnd() < 0.3 ? '+' : pick()));
      if (rnd() < 0.5) parts.push('#');
      filters.add(parts.join('/'));
    }
    const trie = new TopicTrie<string>({ multiLevelWildcardMatchesParent: false });
    for (const f of filters) trie.add(f, f);
    for (const t of topics) {
      const got = [...trie.match(t)].sort();
      const want = [...filters].filter((f) => awsMatches(f, t)).sort();
      assert.deepEqual(got, want, `topic ${JSON.stringify(t)}`);
    }
  });
});
