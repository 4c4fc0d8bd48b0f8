#!/usr/bin/env node
// `npm run dev`: the gateway on http://127.0.0.1:8787 with wrangler.toml's local
// demo config, in front of a fake Baseten on 127.0.0.1:8788. No Cloudflare account needed.
import { startLocalGateway } from './local-gateway.mjs';

const gateway = await startLocalGateway({
  port: Number(process.env.PORT ?? 8787),
  fakePort: Number(process.env.FAKE_BASETEN_PORT ?? 8788),
  servedNames: { llm001: 'Qwen/Qwen2.5-3B-Instruct' },
  inherit: true,
});
console.log(`
gateway     ${gateway.url}   (fake Baseten at ${gateway.fake.url})
playground  ${gateway.url}/   (open in a browser)
try         curl -s ${gateway.url}/v1/models/echo/predict -H 'content-type: application/json' -d '{"prompt":"hello"}'
            curl -sN ${gateway.url}/v1/models/echo/predict -H 'content-type: application/json' -d '{"fake":{"stream":{"chunks":5,"chunk_bytes":16,"delay_ms":300}}}'
token       dev-token-change-me (admin, every alias): curl -s ${gateway.url}/v1/models -H 'authorization: Bearer dev-token-change-me'
`);
const shutdown = async () => {
  await gateway.stop();
  process.exit(0);
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
