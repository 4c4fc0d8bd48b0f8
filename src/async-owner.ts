/**
 * Who owns an async request. A client is its name. An anonymous caller has no
 * name, so the submit hands it a random owner token, once, and keeps only the
 * token's SHA-256: presenting the token (header x-async-owner-token) on later
 * calls is the only way to be that owner, and a copy of the KV namespace does
 * not reveal it.
 */
import type { Caller } from './auth.ts';
import { sha256, timingSafeEqualBytes } from './crypto.ts';
import { bytesToHex } from './hex.ts';

export const OWNER_TOKEN_HEADER = 'x-async-owner-token';
const OWNER_TOKEN_BYTES = 32;
const OWNER_TOKEN = /^aot_[0-9a-f]{64}$/;

export interface NewOwner {
  /** Stored on the record. */
  owner: string;
  /** Returned once to an anonymous caller; never stored. */
  token?: string;
}

export async function newOwner(caller: Caller): Promise<NewOwner> {
  if (!caller.anonymous) return { owner: clientOwner(caller) };
  const token = `aot_${bytesToHex(crypto.getRandomValues(new Uint8Array(OWNER_TOKEN_BYTES)))}`;
  return { owner: await anonymousOwner(token), token };
}

/** The owner this request speaks for, or undefined when an anonymous caller shows no well-formed token. */
export async function presentedOwner(caller: Caller, headers: Headers): Promise<string | undefined> {
  if (!caller.anonymous) return clientOwner(caller);
  const token = headers.get(OWNER_TOKEN_HEADER);
  return token !== null && OWNER_TOKEN.test(token) ? anonymousOwner(token) : undefined;
}

export function sameOwner(stored: string, presented: string | undefined): boolean {
  if (presented === undefined) return false;
  const encoder = new TextEncoder();
  return timingSafeEqualBytes(encoder.encode(stored), encoder.encode(presented));
}

function clientOwner(caller: Caller): string {
  return `client:${caller.name}`;
}

async function anonymousOwner(token: string): Promise<string> {
  return `anon:${bytesToHex(await sha256(token))}`;
}
