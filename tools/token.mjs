#!/usr/bin/env node
// Prints a fresh client token and the CLIENTS entry that admits it.
// Usage: npm run token -- <client-name> [alias ...] [--admin]
import { createHash, randomBytes } from 'node:crypto';

const args = process.argv.slice(2);
const name = args.find((a) => !a.startsWith('--'));
if (!name || !/^[a-z0-9][a-z0-9._-]{0,63}$/i.test(name)) {
  console.error('usage: npm run token -- <client-name> [alias ...] [--admin]');
  process.exit(2);
}
const aliases = args.filter((a) => !a.startsWith('--') && a !== name);
const token = `bgw_${randomBytes(32).toString('base64url')}`;
const entry = {
  token_sha256: createHash('sha256').update(token).digest('hex'),
  models: aliases.length > 0 ? aliases : ['*'],
  ...(args.includes('--admin') ? { admin: true } : {}),
};
console.log(`token (give it to the client; it is shown only once):\n  ${token}\n`);
console.log(`CLIENTS entry (merge it into the CLIENTS var or secret):\n  ${JSON.stringify({ [name]: entry })}`);
