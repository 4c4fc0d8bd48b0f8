import { readFileSync } from 'node:fs';
import { buildWorker } from './build.mjs';
import { measureCpu } from './cpu.mjs';
const path = await buildWorker({ outdir: '/tmp/out-cpu' });
const r = await measureCpu(readFileSync(path, 'utf8'), { iterations: Number(process.argv[2] ?? 2048), repeats: Number(process.argv[3] ?? 3) });
for (const [k, v] of Object.entries(r)) console.log(k.padEnd(12), 'gw cpu', v.gateway.cpuMicros?.toFixed(0), 'wall', v.gateway.wallMicros?.toFixed(0), '| floor cpu', v.floor?.cpuMicros?.toFixed(0), 'wall', v.floor?.wallMicros?.toFixed(0), v.gateway.error ?? '');
