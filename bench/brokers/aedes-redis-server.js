// Aedes as its documentation scales it out: one instance per process, messages between instances
// through mqemitter-redis. Usage: node aedes-redis-server.js TCP_PORT WS_PORT REDIS_URL
// (in-memory persistence: the benchmark's subscriptions are clean sessions).
import { Aedes } from 'aedes';
import factory from 'aedes-server-factory';
import mqemitterRedis from 'mqemitter-redis';

const [tcpPort, wsPort] = process.argv.slice(2, 4).map(Number);
const redisUrl = process.argv[4];
const mq = mqemitterRedis({ connectionString: redisUrl });
const aedes = await Aedes.createBroker({ mq });
const tcp = factory.createServer(aedes);
const ws = factory.createServer(aedes, { ws: true });
await Promise.all([
  new Promise((resolve) => tcp.listen(tcpPort, '127.0.0.1', resolve)),
  new Promise((resolve) => ws.listen(wsPort, '127.0.0.1', resolve)),
]);
console.log(JSON.stringify({ msg: 'aedes ready', tcpPort, wsPort }));
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
