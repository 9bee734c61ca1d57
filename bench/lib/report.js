// Turns repetitions into the results table: each broker's median over the repetitions, and
// Switchboard's factor against each peer measured in the same run (>1 means Switchboard did better:
// higher for rates, lower for times, CPU and memory).
import { median } from './stats.js';

// NATS (nats-server's MQTT listener) runs in the TCP scenarios only: '–' in WebSocket rows.
export const PEERS = ['mosquitto', 'aedes', 'nats'];

function fmt(value, unit) {
  if (value === null || value === undefined) return '–';
  if (unit === 'msg/s' || unit === 'conn/s') {
    if (value >= 1e6) return `${(value / 1e6).toFixed(2)}M`;
    if (value >= 1e4) return `${(value / 1e3).toFixed(0)}k`;
    if (value >= 1e3) return `${(value / 1e3).toFixed(1)}k`;
    return value.toFixed(0);
  }
  if (value >= 100) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

export function factor(sb, peer, better) {
  if (sb === null || peer === null || sb === 0 || peer === 0) return null;
  return better === 'higher' ? sb / peer : peer / sb;
}

function fmtFactor(f) {
  return f === null ? '–' : `${f >= 10 ? f.toFixed(0) : f.toFixed(2)}×`;
}

/**
 * `scenarios`: the plan's scenario descriptions ({ id, label, rows: [{ label, switchboard }],
 * metrics: [{ key, label, unit, better }] }); `records`: one per (scenario, transport, target, rep).
 * Returns { rows, markdown }.
 */
export function summarize(scenarios, records) {
  const rows = [];
  for (const s of scenarios) {
    const transports = [...new Set(records.filter((r) => r.scenario === s.id).map((r) => r.transport))];
    for (const transport of transports) {
      const of = (target, key) => {
        const rs = records.filter((r) => r.scenario === s.id && r.transport === transport && r.target === target);
        return { value: median(rs.map((r) => r.metrics?.[key])), reps: rs.length, records: rs };
      };
      for (const variant of s.rows) {
        for (const m of s.metrics) {
          const sb = of(variant.switchboard, m.key);
          const peers = Object.fromEntries(PEERS.map((p) => [p, of(p, m.key)]));
          const notes = [];
          for (const [name, cell] of [[variant.switchboard, sb], ...Object.entries(peers)]) {
            const losses = median(cell.records.map((r) => r.metrics?.losses));
            if (m.key === s.metrics[0].key && losses) notes.push(`${short(name)} lost ${fmtCount(losses)}`);
            const errors = cell.records.filter((r) => r.error).length;
            if (m.key === s.metrics[0].key && errors) notes.push(`${short(name)} failed ${errors}/${cell.reps}`);
            const overloaded = cell.records.filter((r) => r.metrics?.overloaded).length;
            if (m.key === s.metrics[0].key && overloaded) notes.push(`${short(name)} overloaded ${overloaded}/${cell.reps}`);
            const starved = cell.records.filter((r) => r.metrics?.brokerWaited >= 0.1).length;
            if (m.key === s.metrics[0].key && starved) notes.push(`${short(name)} shared its core ${starved}/${cell.reps}`);
            // The generator's core was (nearly) full: the broker may be faster than measured.
            const genBound = cell.records.filter((r) => r.metrics?.genCpu >= 0.85).length;
            if (m.key === s.metrics[0].key && m.genSensitive !== false && genBound) notes.push(`${short(name)} generator ≥85% busy ${genBound}/${cell.reps}`);
          }
          if (variant.compareTo && m.key === s.metrics[0].key) {
            const base = of(variant.compareTo, m.key).value;
            const f = factor(sb.value, base, m.better);
            if (f !== null) notes.push(`${fmtFactor(f)} vs ${variant.compareTo}${variant.target ? ` (target ≥${variant.target}×${f >= variant.target ? ', met' : ', MISSED'})` : ''}`);
          }
          rows.push({
            scenario: s.id,
            label: `${s.label}${variant.label ? ` (${variant.label})` : ''}`,
            transport,
            metric: m.label,
            unit: m.unit,
            better: m.better,
            switchboardTarget: variant.switchboard,
            switchboard: sb.value,
            mosquitto: peers.mosquitto.value,
            aedes: peers.aedes.value,
            nats: peers.nats.value,
            vsMosquitto: factor(sb.value, peers.mosquitto.value, m.better),
            vsAedes: factor(sb.value, peers.aedes.value, m.better),
            vsNats: factor(sb.value, peers.nats.value, m.better),
            reps: Math.max(sb.reps, peers.mosquitto.reps, peers.aedes.reps, peers.nats.reps),
            notes: notes.join('; '),
          });
        }
      }
    }
  }
  const lines = [
    '| Scenario | Transport | Metric | Switchboard | Mosquitto | Aedes | NATS | SB vs Mosquitto | SB vs Aedes | SB vs NATS | Notes |',
    '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const r of rows) {
    lines.push(`| ${r.label} | ${r.transport.toUpperCase()} | ${r.metric} | ${fmt(r.switchboard, r.unit)} | ${fmt(r.mosquitto, r.unit)} | ${fmt(r.aedes, r.unit)} | ${fmt(r.nats, r.unit)} | ${fmtFactor(r.vsMosquitto)} | ${fmtFactor(r.vsAedes)} | ${fmtFactor(r.vsNats)} | ${r.notes} |`);
  }
  return { rows, markdown: lines.join('\n') };
}

function short(name) {
  return name.replace('switchboard', 'SB');
}

function fmtCount(n) {
  return n >= 1000 ? `${(n / 1000).toFixed(1)}k` : String(Math.round(n));
}
