// The benchmark (npm run bench) arrives with issue #6. Until then this says so and fails, so that
// nobody mistakes an empty run for a result.
console.error('switchboard: there is no benchmark yet (see issue #6: fan-out, throughput, latency against Mosquitto and Aedes).');
process.exit(1);
