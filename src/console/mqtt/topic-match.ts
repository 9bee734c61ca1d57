// Which of the test client's subscriptions a received topic belongs to (MQTT 5.0 §4.7).
//   matches('demo/#', 'demo/x') -> true     matches('demo/+', 'demo/x/y') -> false
//   matches('#', '$aws/events/presence/connected/c1') -> false   [MQTT-4.7.2-1]
//   matches('$share/g/demo/+', 'demo/x') -> true (the filter after the group name)

export function matches(filter: string, topic: string): boolean {
  if (filter.startsWith('$share/')) {
    const slash = filter.indexOf('/', 7);
    if (slash < 0) return false;
    filter = filter.slice(slash + 1);
  }
  const f = filter.split('/');
  const t = topic.split('/');
  // [MQTT-4.7.2-1] Wildcards at the first level do not match topics starting with '$'.
  if (topic.startsWith('$') && (f[0] === '#' || f[0] === '+')) return false;
  for (let i = 0; i < f.length; i++) {
    const level = f[i]!;
    if (level === '#') return true;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}
