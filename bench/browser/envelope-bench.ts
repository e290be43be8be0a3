/**
 * The browser side of `npm run bench:crypto`: bundled by Vite, loaded in headless Chromium, run by
 * bench/crypto.ts. The SDK's core entry with its defaults: WebCrypto, each 1 MiB segment sealed (opened)
 * and hashed on one of its Web Workers, several segments in flight.
 */
import { openRecordStream, sealRecordStream } from "../../sdk/index";

const CONTEXT = {
  chainId: 31337n,
  registry: "0x5fbdb2315678afecb367f032d93f642f64180aa3",
  patient: "0x70997970c51812dc3a010c7d01b50e0d17dc79c8",
  provider: "0x90f79bf6eb2c4f870365e785982e1f101e93b906",
  dataClass: 2,
  version: 1,
  previousRecordId: `0x${"00".repeat(32)}`,
  contentType: 2,
};

function* chunks(total: number, chunk: Uint8Array): Generator<Uint8Array> {
  for (let sent = 0; sent < total; sent += chunk.length) yield chunk;
}

async function run(totalMiB: number): Promise<{ sealMBps: number; openMBps: number; aesMBps: number; ok: boolean }> {
  const MiB = 1 << 20;
  const total = totalMiB * MiB;
  const chunk = new Uint8Array(MiB);
  for (let i = 0; i < MiB; i += 65536) crypto.getRandomValues(chunk.subarray(i, i + 65536));

  const sealStarted = performance.now();
  const sealing = sealRecordStream(chunks(total, chunk), CONTEXT);
  const envelope: Uint8Array[] = [];
  for await (const part of sealing.envelope) envelope.push(part);
  const recordId = await sealing.recordId;
  const sealMBps = total / 1e6 / ((performance.now() - sealStarted) / 1000);

  const openStarted = performance.now();
  let read = 0;
  for await (const part of openRecordStream(envelope, sealing.dataKey, { recordId })) read += part.length;
  const openMBps = total / 1e6 / ((performance.now() - openStarted) / 1000);

  // WebCrypto AES-256-GCM alone, one 1 MiB call at a time, on the same bytes.
  const key = await crypto.subtle.importKey("raw", crypto.getRandomValues(new Uint8Array(32)), "AES-GCM", false, [
    "encrypt",
  ]);
  const aesStarted = performance.now();
  for (let i = 0; i < totalMiB; i++)
    await crypto.subtle.encrypt({ name: "AES-GCM", iv: crypto.getRandomValues(new Uint8Array(12)) }, key, chunk);
  const aesMBps = total / 1e6 / ((performance.now() - aesStarted) / 1000);
  return { sealMBps, openMBps, aesMBps, ok: read === total };
}

(globalThis as unknown as { envelopeBench: typeof run }).envelopeBench = run;
