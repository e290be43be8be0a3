/**
 * WebCrypto on a few Web Workers, for the segments of v2 envelopes in a browser.
 *
 * A browser does a WebCrypto call's work on the thread that makes it: profiled in Chromium 156, the
 * AES-256-GCM, the SHA-256 and the page faults of each 1 MiB segment's buffers all land on the calling
 * thread, and four calls in flight go no faster than one. Sealed from the page's thread, a record uses one
 * core, shared with the page. Here each segment of at least WORKER_MIN_SEGMENT_BYTES is sealed (or opened)
 * and hashed in one worker, in one round trip: the input goes over in a reused buffer (one copy,
 * transferred), the result and its hash come back transferred (no copy).
 *
 * Same WebCrypto, same bytes: only the thread differs. Where no worker can run (Node has no global Worker;
 * a page whose Content-Security-Policy refuses blob: workers; a worker that fails), every call runs on the
 * calling thread instead, as webSegmentCrypto does.
 */
import { GCM_TAG_BYTES } from "./aes-gcm";
import { webSegmentCrypto, type SegmentCrypto } from "./segment-crypto";

/** Smaller segments stay on the calling thread: a round trip to a worker costs more than they do. */
export const WORKER_MIN_SEGMENT_BYTES = 64 * 1024;
/** Workers are stopped once idle this long (they hold no key between jobs). */
const IDLE_MS = 5_000;
const MAX_WORKERS = 4;

// The worker: plain JavaScript, no imports (nothing for a bundler to resolve), started from a blob: URL.
// A sealed segment's input is plaintext: the worker zeroes its copy before handing the buffer back.
const WORKER_SOURCE = `"use strict";
const subtle = self.crypto.subtle;
const params = (m) => ({ name: "AES-GCM", iv: m.nonce, additionalData: m.aad, tagLength: ${GCM_TAG_BYTES * 8} });
self.onmessage = async (event) => {
  const m = event.data;
  const input = new Uint8Array(m.buffer, 0, m.length);
  let reply;
  try {
    if (m.op === "seal") {
      const sealed = await subtle.encrypt(params(m), m.key, input);
      input.fill(0);
      reply = { job: m.job, out: sealed, hash: await subtle.digest("SHA-256", sealed) };
    } else {
      const hashing = m.hash ? subtle.digest("SHA-256", input) : null;
      let opened = null;
      try {
        opened = await subtle.decrypt(params(m), m.key, input);
      } catch {
        opened = null;
      }
      reply = { job: m.job, out: opened, hash: hashing ? await hashing : null };
    }
  } catch (error) {
    input.fill(0);
    reply = { job: m.job, error: String((error && error.message) || error) };
  }
  reply.buffer = m.buffer;
  const transfer = [m.buffer];
  if (reply.out) transfer.push(reply.out);
  if (reply.hash) transfer.push(reply.hash);
  try {
    self.postMessage(reply, transfer);
  } catch (error) {
    self.postMessage({ job: m.job, error: String(error) }); // the page redoes this job on its own thread
  }
};
`;

interface Reply {
  job: number;
  out?: ArrayBuffer | null;
  hash?: ArrayBuffer | null;
  error?: string;
  /** The input's buffer, handed back for the next job (absent after an error). */
  buffer?: ArrayBuffer;
}

/**
 * The workers, started on first use and stopped when idle. A job that cannot run on a worker resolves to
 * undefined, and its caller runs it on its own thread.
 */
class SegmentWorkerPool {
  private workers: Worker[] = [];
  private queued: number[] = [];
  private readonly pending = new Map<number, { worker: number; settle: (reply: Reply | undefined) => void }>();
  private spare: ArrayBuffer[] = [];
  private nextJob = 0;
  private idle: ReturnType<typeof setTimeout> | undefined;
  private url: string | undefined;
  /** Workers failed here once (refused by a Content-Security-Policy, say): never try again. */
  private failed = false;

  /** Whether jobs go to workers in this environment. */
  get usable(): boolean {
    return (
      !this.failed &&
      typeof Worker === "function" &&
      typeof Blob === "function" &&
      typeof URL !== "undefined" &&
      typeof URL.createObjectURL === "function"
    );
  }

  /** How many workers run (or would run) here. */
  get size(): number {
    const cores = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
    return Math.min(MAX_WORKERS, Math.max(1, cores ?? 2));
  }

  /** Runs `op` on a worker: the reply, or undefined when workers cannot be used (then run it here). */
  run(
    op: "seal" | "open",
    key: CryptoKey,
    nonce: Uint8Array,
    aad: Uint8Array,
    input: Uint8Array,
    hash: boolean,
  ): Promise<Reply | undefined> {
    if (!this.start()) return Promise.resolve(undefined);
    clearTimeout(this.idle);
    const buffer = this.buffer(input.length);
    new Uint8Array(buffer, 0, input.length).set(input);
    let worker = 0;
    for (let i = 1; i < this.workers.length; i++) if (this.queued[i] < this.queued[worker]) worker = i;
    const job = this.nextJob++;
    return new Promise((settle) => {
      this.pending.set(job, { worker, settle });
      this.queued[worker] += 1;
      try {
        this.workers[worker].postMessage({ op, job, key, nonce, aad, buffer, length: input.length, hash }, [buffer]);
      } catch {
        this.fail(); // a key or value this browser cannot pass to a worker: settles this job too
      }
    });
  }

  private start(): boolean {
    if (this.workers.length > 0) return true;
    if (!this.usable) return false;
    try {
      this.url ??= URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "text/javascript" }));
      for (let i = 0; i < this.size; i++) {
        const worker = new Worker(this.url, { name: "consent-ledger segment crypto" });
        worker.onmessage = (event: MessageEvent<Reply>) => this.settle(event.data);
        // A worker that cannot start (CSP, no WebCrypto there) reports here: everything moves back.
        worker.onerror = (event) => {
          event.preventDefault();
          this.fail();
        };
        worker.onmessageerror = () => this.fail();
        this.workers.push(worker);
        this.queued.push(0);
      }
      return true;
    } catch {
      this.fail();
      return false;
    }
  }

  private settle(reply: Reply): void {
    const job = this.pending.get(reply.job);
    if (!job) return;
    this.pending.delete(reply.job);
    this.queued[job.worker] -= 1;
    if (reply.buffer && this.spare.length < 2 * this.workers.length + 2) this.spare.push(reply.buffer);
    if (this.pending.size === 0) this.idle = setTimeout(() => this.stop(), IDLE_MS);
    job.settle(reply);
  }

  /** A buffer of at least `length` bytes: a spare one handed back by a worker, or a new one. */
  private buffer(length: number): ArrayBuffer {
    const at = this.spare.findIndex((buffer) => buffer.byteLength >= length && buffer.byteLength <= 2 * length);
    return at >= 0 ? this.spare.splice(at, 1)[0] : new ArrayBuffer(length);
  }

  private stop(): void {
    for (const worker of this.workers) worker.terminate();
    this.workers = [];
    this.queued = [];
    this.spare = [];
    for (const job of this.pending.values()) job.settle(undefined);
    this.pending.clear();
  }

  private fail(): void {
    this.failed = true;
    this.stop();
  }
}

const pool = new SegmentWorkerPool();

const inThread = webSegmentCrypto;

/**
 * WebCrypto with each large segment sealed or opened, and hashed, on a Web Worker (several segments in
 * flight across the workers); on the calling thread where workers are unavailable. The SDK's default in
 * a browser (sealRecordStream, openRecordStream, verifyRecordStream, openRecord, sealRecordV2).
 */
export const workerSegmentCrypto: SegmentCrypto = {
  ...inThread,
  name: "webcrypto-workers",
  get parallelism(): number {
    // Two segments per worker, so each has the next one queued while the last one comes back.
    return pool.usable ? 2 * pool.size + 2 : inThread.parallelism;
  },
  async sealAndHash(key, nonce, plaintext, aad) {
    if (plaintext.length >= WORKER_MIN_SEGMENT_BYTES) {
      const reply = await pool.run("seal", key as CryptoKey, nonce, aad, plaintext, true);
      if (reply?.out && reply.hash && reply.error === undefined)
        return [new Uint8Array(reply.out), new Uint8Array(reply.hash)];
    }
    const sealed = await inThread.seal(key, nonce, plaintext, aad);
    return [sealed, await inThread.sha256(sealed)];
  },
  async openAndHash(key, nonce, sealed, aad, hash) {
    if (sealed.length >= WORKER_MIN_SEGMENT_BYTES) {
      const reply = await pool.run("open", key as CryptoKey, nonce, aad, sealed, hash);
      if (reply && reply.error === undefined && (!hash || reply.hash))
        return [reply.out ? new Uint8Array(reply.out) : null, reply.hash ? new Uint8Array(reply.hash) : NO_HASH];
    }
    return Promise.all([inThread.open(key, nonce, sealed, aad), hash ? inThread.sha256(sealed) : NO_HASH]);
  },
};

const NO_HASH = new Uint8Array(0);
