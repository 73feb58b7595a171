// Run by drain.test.ts in a process of its own, with a 1 MB young generation: tracks 50,000 exchanges of 32 in flight
// after a quiet moment (the drain's own state outlives two scavenges, into the old generation, as it does in a node that
// idled), and prints how many bytes per exchange the scavenges of that churn promoted (V8's GC profiler: old space after
// each scavenge minus before it).
import { EventEmitter } from 'node:events';
import type { Server, ServerResponse } from 'node:http';
import v8 from 'node:v8';
import { HttpDrain } from '../../../src/http/drain.js';

const drain = new HttpDrain({ closeIdleConnections() {} } as unknown as Server);
const inFlight: EventEmitter[] = [];
const exchange = () => {
  // A response with some state of its own, as a real one holds its request, headers and listeners.
  const res = Object.assign(new EventEmitter(), { headersSent: false, state: Array.from({ length: 40 }, (_, i) => ({ i })) });
  drain.track(res as unknown as ServerResponse);
  inFlight.push(res);
  if (inFlight.length > 32) inFlight.shift()!.emit('close');
};
for (let i = 0; i < 64; i++) exchange();
// The quiet moment: allocation that is not the drain's, kept across several scavenges.
let held: object[] | null = [];
for (let i = 0; i < 2_000_000; i++) held.push({ i });
held = null;

const EXCHANGES = 50_000;
const profiler = new v8.GCProfiler();
profiler.start();
for (let i = 0; i < EXCHANGES; i++) exchange();
const statistics = profiler.stop().statistics as Array<{ gcType: string; beforeGC: HeapAt; afterGC: HeapAt }>;
interface HeapAt { heapSpaceStatistics: Array<{ spaceName: string; spaceUsedSize: number }> }
const oldSpace = (at: HeapAt) => at.heapSpaceStatistics.find((space) => space.spaceName === 'old_space')!.spaceUsedSize;
let promoted = 0;
let scavenges = 0;
for (const gc of statistics) {
  if (gc.gcType !== 'Scavenge') continue;
  scavenges++;
  promoted += oldSpace(gc.afterGC) - oldSpace(gc.beforeGC);
}
console.log(JSON.stringify({ scavenges, promotedPerExchange: promoted / EXCHANGES }));
