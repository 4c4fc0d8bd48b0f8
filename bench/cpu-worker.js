// Times the gateway's request path inside workerd: this Worker imports the
// built gateway and calls its fetch handler in a loop, every upstream fetch
// answered at once by a stub Worker (Miniflare's outboundService), so no
// network is involved. The same loop calling fetch() directly is the floor.
//
// POST a job: {"iterations": n, "via": "gateway" | "fetch", "request": {url, method, headers, body}}
// Answer: {"status", "microsPerIteration"} (status: the first answer's; no loop unless it is 200).
import gateway from './gateway.js';

export default {
  async fetch(request, env, ctx) {
    const job = await request.json();
    const call = () => {
      const { url, method, headers, body } = job.request;
      const req = new Request(url, { method, headers, body });
      return job.via === 'gateway' ? gateway.fetch(req, env, ctx) : fetch(req);
    };
    // One call outside the timing: config parsing, first compilation.
    const first = await call();
    const text = await first.text();
    if (first.status !== 200) return Response.json({ status: first.status, body: text.slice(0, 300) });
    const started = performance.now();
    for (let i = 0; i < job.iterations; i++) {
      const res = await call();
      await res.arrayBuffer();
    }
    const micros = (performance.now() - started) * 1000;
    return Response.json({ status: 200, microsPerIteration: micros / job.iterations });
  },
};
