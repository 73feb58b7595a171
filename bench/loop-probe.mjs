// Preloaded into a node by bench/stream-gaps.ts (`node --import`): records the main thread's event-loop stalls (a
// 1 ms timer that fired more than 2 ms late, with the thread's own CPU time over that stall) and V8's garbage
// collections, as epoch milliseconds, and writes them to $LOOP_PROBE_OUT when the process exits. A stall in which
// the thread ran is the node's own work (a long callback, a collection); one in which it barely ran is the machine
// (the thread waited to be scheduled).
import { writeFileSync } from 'node:fs';
import { PerformanceObserver, performance } from 'node:perf_hooks';

const origin = performance.timeOrigin;
const stalls = [];
const collections = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) collections.push([origin + entry.startTime, entry.duration]);
}).observe({ entryTypes: ['gc'] });
const threadMs = () => {
  const { user, system } = process.threadCpuUsage();
  return (user + system) / 1000;
};
let last = performance.now();
let lastCpu = threadMs();
setInterval(() => {
  const now = performance.now();
  const cpu = threadMs();
  if (now - last > 2) stalls.push([origin + last, now - last, cpu - lastCpu]);
  last = now;
  lastCpu = cpu;
}, 1).unref();
process.on('exit', () => writeFileSync(process.env.LOOP_PROBE_OUT, JSON.stringify({ stalls, collections })));
