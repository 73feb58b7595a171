// Preloaded into a server by bench/timeline.ts (`node --import`): timestamps (process.hrtime, the monotonic clock
// the load generator reads too) of the steps of each request, from node:http's and undici's diagnostics channels —
// the request's head parsed, the upstream request created, its head written, its body sent, the upstream's head,
// first body chunk and end, the response finished — and of every write to a socket (node:http's to the client, undici's
// upstream), plus V8's garbage collections. `globalThis.__tl?.('name')` calls added to the source for a session (a
// scratch commit) land in the same timeline. On SIGUSR2 it writes everything to $TIMELINE_OUT as JSON.
import dc from 'node:diagnostics_channel';
import { renameSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { PerformanceObserver, performance } from 'node:perf_hooks';

const MAX_MARKS = 2_000_000;
const names = [];
const times = [];
const mark = (name) => {
  if (names.length >= MAX_MARKS) return;
  names.push(name);
  times.push(Number(process.hrtime.bigint()));
};
globalThis.__tl = mark;

for (const [channel, name] of [
  ['http.server.request.start', 'request'],
  ['http.server.response.finish', 'response.finish'],
  ['undici:request:create', 'upstream.create'],
  ['undici:client:sendHeaders', 'upstream.headersSent'],
  ['undici:request:bodySent', 'upstream.bodySent'],
  ['undici:request:headers', 'upstream.head'],
  ['undici:request:trailers', 'upstream.end'],
]) dc.subscribe(channel, () => mark(name));
// The first body chunk of each upstream answer (a stream's first event).
let awaitingChunk = false;
dc.subscribe('undici:request:headers', () => { awaitingChunk = true; });
dc.subscribe('undici:request:bodyChunkReceived', () => {
  if (!awaitingChunk) return;
  awaitingChunk = false;
  mark('upstream.chunk1');
});
// Every write to a socket: a server's socket is the client's, any other the upstream's.
for (const method of ['_writeGeneric', '_writev']) {
  const original = net.Socket.prototype[method];
  net.Socket.prototype[method] = function (...args) {
    mark(this.server ? 'write.client' : 'write.upstream');
    return original.apply(this, args);
  };
}

const gcs = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcs.push([entry.startTime, entry.duration, entry.detail?.kind ?? 0]);
}).observe({ entryTypes: ['gc'] });
// performance.now() 0 on the hrtime clock, to put the collections on the same timeline.
const hrOrigin = Number(process.hrtime.bigint()) - performance.now() * 1e6;

process.on('SIGUSR2', () => {
  const out = process.env.TIMELINE_OUT;
  writeFileSync(`${out}.part`, JSON.stringify({ names, times, gcs, hrOrigin }));
  renameSync(`${out}.part`, out); // whole or not at all for the reader
});
