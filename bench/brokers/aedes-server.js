// Aedes as its README starts it: one broker, a TCP server and a WebSocket server from
// aedes-server-factory, in-memory persistence. Usage: node aedes-server.js TCP_PORT WS_PORT
import { Aedes } from 'aedes';
import factory from 'aedes-server-factory';

const [tcpPort, wsPort] = process.argv.slice(2).map(Number);
const aedes = await Aedes.createBroker();
const tcp = factory.createServer(aedes);
const ws = factory.createServer(aedes, { ws: true });
await Promise.all([
  new Promise((resolve) => tcp.listen(tcpPort, '127.0.0.1', resolve)),
  new Promise((resolve) => ws.listen(wsPort, '127.0.0.1', resolve)),
]);
console.log(JSON.stringify({ msg: 'aedes ready', tcpPort, wsPort }));
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
