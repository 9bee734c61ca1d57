// The MQTT front-end's connections live in the core's registry with every other protocol's
// (src/broker/connection-registry.ts); this name stays for the MQTT code and its tests.
export { ConnectionRegistry as ClientRegistry } from '../broker/connection-registry.js';
