// MQTT 5 message properties <-> JSON text, the one encoding the stores and the cluster backplane share:
//   { contentType: 'text/plain', correlationData: <Buffer 01 02>, userProperties: { b: '1', a: ['2', '3'] } }
//   <-> '{"contentType":"text/plain","correlationData":"AQI=","userProperties":[["b","1"],["a",["2","3"]]]}'
// correlationData is base64; user properties are [name, value] pairs so their order survives even
// for names an object would reorder ("10" before "b") [MQTT-3.3.2-18: order kept when forwarding].
// Any other property is copied as plain JSON.
import type { MessageProperties } from './message.js';

// A message fanned out to many persistent sessions is stored once per session; its properties
// are encoded once.
const encodedProperties = new WeakMap<MessageProperties, string>();

export function encodeProperties(properties: MessageProperties | undefined): string | null {
  if (properties === undefined) return null;
  let json = encodedProperties.get(properties);
  if (json === undefined) {
    const out: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(properties)) {
      if (value === undefined) continue;
      if (name === 'correlationData') out[name] = (value as Buffer).toString('base64');
      else if (name === 'userProperties') out[name] = Object.entries(value as object);
      else out[name] = value;
    }
    json = JSON.stringify(out);
    encodedProperties.set(properties, json);
  }
  return json;
}

export function decodeProperties(json: string | null): MessageProperties | undefined {
  if (json === null) return undefined;
  const parsed = JSON.parse(json) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(parsed)) {
    if (name === 'correlationData') out[name] = Buffer.from(value as string, 'base64');
    else if (name === 'userProperties') {
      const props: Record<string, string | string[]> = {};
      for (const [k, v] of value as [string, string | string[]][]) props[k] = v;
      out[name] = props;
    } else out[name] = value;
  }
  return out as MessageProperties;
}
