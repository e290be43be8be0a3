/**
 * Envelope v2 in a real browser: the SDK's core entry (sdk/index.ts) bundled by Vite and loaded in
 * headless Chromium (/usr/bin/chromium, driven by playwright-core) from a loopback page, so WebCrypto
 * runs as a dApp's would, several segments in flight. What the browser seals, node:crypto opens by the
 * spec (test/helpers/envelope-v2-spec.ts), and the other way round. Segments of 64 KiB or more are sealed
 * and opened on Web Workers (sdk/crypto/segment-workers.ts), and on the page's thread where a
 * Content-Security-Policy refuses workers. Skipped, saying why, only when /usr/bin/chromium is missing.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";

import { expect } from "chai";
import { chromium, type Browser, type Page } from "playwright-core";
import { build } from "vite";

import { specOpen, specSeal } from "../helpers/envelope-v2-spec";

const CHROMIUM = "/usr/bin/chromium";
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
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

/** What the test page exposes as globalThis.sdk: the SDK's core entry, bundled (test/helpers/browser-sdk-entry.ts). */
type BrowserSdk = typeof import("../../sdk/index");

describe("envelope v2 in Chromium (WebCrypto)", function () {
  this.timeout(120_000);
  let server: Server | undefined;
  let browser: Browser | undefined;
  let page: Page;

  before(async function () {
    if (!existsSync(CHROMIUM)) this.skip();
    const out = (await build({
      configFile: false,
      logLevel: "silent",
      root: path.resolve(__dirname, ".."),
      build: {
        write: false,
        minify: false,
        lib: { entry: path.resolve(__dirname, "../helpers/browser-sdk-entry.ts"), formats: ["iife"], name: "Sdk" },
      },
    })) as unknown as { output: { code?: string }[] }[] | { output: { code?: string }[] };
    const bundle = (Array.isArray(out) ? out[0] : out).output[0].code as string;
    server = createServer((request, response) => {
      if (request.url === "/sdk.js") response.writeHead(200, { "content-type": "text/javascript" }).end(bundle);
      else
        response
          .writeHead(200, {
            "content-type": "text/html",
            // A dApp that allows its own scripts and no worker at all: the SDK must still seal and open.
            ...(request.url === "/no-workers"
              ? { "content-security-policy": "script-src 'self'; worker-src 'none'" }
              : {}),
          })
          .end('<!doctype html><script src="/sdk.js"></script>');
    });
    await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  });

  after(async function () {
    await browser?.close();
    server?.close();
  });

  /**
   * A fresh page (so the SDK's worker pool starts anew) at `pathname`, counting the Web Workers it starts
   * and the ones a Content-Security-Policy refuses.
   */
  async function freshPage(pathname: string): Promise<Page> {
    const fresh = await (browser as Browser).newPage();
    await fresh.addInitScript(() => {
      const counts = { started: 0, refused: 0 };
      (globalThis as unknown as { workerCounts: typeof counts }).workerCounts = counts;
      const Native = globalThis.Worker;
      globalThis.Worker = class extends Native {
        constructor(url: string | URL, options?: WorkerOptions) {
          try {
            super(url, options);
          } catch (error) {
            counts.refused += 1;
            throw error;
          }
          counts.started += 1;
          this.addEventListener("error", () => void (counts.refused += 1));
        }
      };
    });
    await fresh.goto(`http://127.0.0.1:${(server?.address() as AddressInfo).port}${pathname}`);
    return fresh;
  }

  /** In the page: seals `total` bytes (1 MiB segments), returns the envelope as base64, key, id and worker counts. */
  async function sealIn(target: Page, total: number) {
    return target.evaluate(
      async ({ context, total }) => {
        const { sealRecordStream, toReadableStream } = (globalThis as unknown as { sdk: BrowserSdk }).sdk;
        const plaintext = new Uint8Array(total).map((_, i) => (i * 7 + (i >> 12)) & 0xff);
        let at = 0;
        const source = new ReadableStream({
          pull(controller) {
            if (at >= total) return controller.close();
            controller.enqueue(plaintext.slice(at, at + 300_007));
            at += 300_007;
          },
        });
        const sealing = sealRecordStream(source, { ...context, chainId: BigInt(context.chainId) });
        const envelope = new Uint8Array(await new Response(toReadableStream(sealing.envelope)).arrayBuffer());
        let binary = "";
        for (let i = 0; i < envelope.length; i += 32_768)
          binary += String.fromCharCode(...envelope.subarray(i, i + 32_768));
        const counts = (globalThis as unknown as { workerCounts: { started: number; refused: number } }).workerCounts;
        return {
          envelope: btoa(binary),
          dataKey: Array.from(sealing.dataKey),
          recordId: await sealing.recordId,
          counts: { ...counts },
        };
      },
      { context: { ...CONTEXT, chainId: Number(CONTEXT.chainId) }, total },
    );
  }

  /** In the page: opens `envelope` (base64) as a stream against `recordId`: its SHA-256, or the error's name, segment and problem. */
  async function openIn(target: Page, envelope: string, dataKey: number[], recordId: string) {
    return target.evaluate(
      async ({ envelope, dataKey, recordId }) => {
        const { openRecordStream, SegmentError } = (globalThis as unknown as { sdk: BrowserSdk }).sdk;
        const bytes = Uint8Array.from(atob(envelope), (c) => c.charCodeAt(0));
        const parts: Uint8Array<ArrayBuffer>[] = [];
        try {
          for await (const part of openRecordStream([bytes], Uint8Array.from(dataKey), { recordId }))
            parts.push(part as Uint8Array<ArrayBuffer>);
        } catch (caught) {
          const error = caught as { name?: string; segment?: number; problem?: string };
          return `${caught instanceof SegmentError ? "SegmentError" : error.name}:${error.segment ?? ""}:${error.problem ?? ""}`;
        }
        const plaintext = new Uint8Array(await new Blob(parts).arrayBuffer());
        return Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", plaintext)), (b) =>
          b.toString(16).padStart(2, "0"),
        ).join("");
      },
      { envelope, dataKey, recordId },
    );
  }

  it("seals a 3 MiB stream in the browser that node:crypto opens by the spec, and opens the spec's envelope", async function () {
    const sealed = await page.evaluate(
      async (context) => {
        const { sealRecordStream, toReadableStream } = (globalThis as unknown as { sdk: BrowserSdk }).sdk;
        const total = 3 * 1024 * 1024 + 77;
        const plaintext = new Uint8Array(total).map((_, i) => (i * 31) & 0xff);
        let at = 0;
        const source = new ReadableStream({
          pull(controller) {
            if (at >= total) return controller.close();
            controller.enqueue(plaintext.slice(at, at + 100_003));
            at += 100_003;
          },
        });
        const sealing = sealRecordStream(source, { ...context, chainId: BigInt(context.chainId) });
        const envelope = new Uint8Array(await new Response(toReadableStream(sealing.envelope)).arrayBuffer());
        // Base64 across the page boundary: an array of numbers this long would take longer than the crypto.
        let binary = "";
        for (let i = 0; i < envelope.length; i += 32_768)
          binary += String.fromCharCode(...envelope.subarray(i, i + 32_768));
        return { envelope: btoa(binary), dataKey: Array.from(sealing.dataKey), recordId: await sealing.recordId };
      },
      { ...CONTEXT, chainId: Number(CONTEXT.chainId) },
    );
    const opened = specOpen(Buffer.from(sealed.envelope, "base64"), Uint8Array.from(sealed.dataKey));
    expect(opened.recordId).to.equal(sealed.recordId);
    expect(opened.plaintext.length).to.equal(3 * 1024 * 1024 + 77);
    expect(opened.plaintext.every((byte, i) => byte === ((i * 31) & 0xff))).to.equal(true);

    const dataKey = new Uint8Array(32).fill(5);
    const spec = specSeal(
      Uint8Array.from({ length: 70_000 }, (_, i) => i & 0xff),
      CONTEXT,
      dataKey,
      new Uint8Array(16).fill(1),
      16_384,
    );
    const browserOpened = (await page.evaluate(
      async ({ envelope, key, recordId }) => {
        const { openRecord } = (globalThis as unknown as { sdk: BrowserSdk }).sdk;
        const bytes = Uint8Array.from(atob(envelope), (c) => c.charCodeAt(0));
        const result = await openRecord(bytes, Uint8Array.from(key), { recordId });
        return Array.from(result.plaintext as Uint8Array);
      },
      { envelope: spec.envelope.toString("base64"), key: Array.from(dataKey), recordId: spec.recordId },
    )) as number[];
    expect(browserOpened.length).to.equal(70_000);
    expect(browserOpened.every((byte, i) => byte === (i & 0xff))).to.equal(true);
  });

  it("refuses a reordered segment and a wrong key with the SDK's typed errors, in the browser", async function () {
    const outcome = await page.evaluate(
      async (context) => {
        const { sealRecordV2, openRecord, SegmentError, KeyCommitmentError } = (
          globalThis as unknown as { sdk: BrowserSdk }
        ).sdk;
        const sealed = await sealRecordV2(
          new Uint8Array(100),
          { ...context, chainId: BigInt(context.chainId) },
          undefined,
          { segmentSize: 32 },
        );
        const e = sealed.envelope as Uint8Array;
        const swapped = new Uint8Array(e);
        swapped.set(e.subarray(162 + 48, 162 + 96), 162);
        swapped.set(e.subarray(162, 162 + 48), 162 + 48);
        const describe = async (promise: Promise<unknown>) => {
          try {
            await promise;
            return "opened";
          } catch (caught) {
            const error = caught as { name?: string; segment?: number; problem?: string };
            return `${caught instanceof SegmentError ? "SegmentError" : caught instanceof KeyCommitmentError ? "KeyCommitmentError" : error.name}:${error.segment ?? ""}:${error.problem ?? ""}`;
          }
        };
        return {
          swapped: await describe(openRecord(swapped, sealed.dataKey)),
          wrongKey: await describe(openRecord(e, new Uint8Array(32))),
        };
      },
      { ...CONTEXT, chainId: Number(CONTEXT.chainId) },
    );
    expect(outcome).to.deep.equal({ swapped: "SegmentError:0:authentication", wrongKey: "KeyCommitmentError::" });
  });

  it("seals and opens 1 MiB segments on Web Workers: byte for byte the spec's format, and every tampering refused by segment", async function () {
    const total = 5 * 1024 * 1024 + 12_345;
    const expected = Buffer.alloc(total);
    for (let i = 0; i < total; i++) expected[i] = (i * 7 + (i >> 12)) & 0xff;
    const target = await freshPage("/");
    try {
      const sealed = await sealIn(target, total);
      expect(sealed.counts.started, "the SDK started Web Workers for 1 MiB segments").to.be.greaterThan(0);
      expect(sealed.counts.refused).to.equal(0);
      const envelope = Buffer.from(sealed.envelope, "base64");
      const opened = specOpen(envelope, Uint8Array.from(sealed.dataKey));
      expect(opened.recordId).to.equal(sealed.recordId);
      expect(opened.plaintext.equals(expected)).to.equal(true);

      // The spec's envelope (not the browser's), opened on the workers against its record id.
      const dataKey = new Uint8Array(32).fill(9);
      const spec = specSeal(expected, CONTEXT, dataKey, new Uint8Array(16).fill(3), 1 << 20);
      const digest = createHash("sha256").update(expected).digest("hex");
      expect(await openIn(target, spec.envelope.toString("base64"), Array.from(dataKey), spec.recordId)).to.equal(
        digest,
      );

      const full = (1 << 20) + 16;
      const segment = (i: number) => spec.envelope.subarray(162 + i * full, 162 + (i + 1) * full);
      const flipped = Buffer.from(spec.envelope);
      flipped[162 + full + 1000] ^= 1;
      const swapped = Buffer.concat([
        spec.envelope.subarray(0, 162),
        segment(1),
        segment(0),
        spec.envelope.subarray(162 + 2 * full),
      ]);
      const cut = spec.envelope.subarray(0, 162 + 5 * full);
      const outcomes = [];
      for (const bad of [flipped, swapped, cut])
        outcomes.push(await openIn(target, bad.toString("base64"), Array.from(dataKey), spec.recordId));
      expect(outcomes).to.deep.equal([
        "SegmentError:1:authentication",
        "SegmentError:0:authentication",
        "SegmentError:4:truncated",
      ]);
    } finally {
      await target.close();
    }
  });

  it("seals on the page's thread when the page's Content-Security-Policy refuses workers", async function () {
    const total = 3 * 1024 * 1024 + 5;
    const target = await freshPage("/no-workers");
    try {
      const sealed = await sealIn(target, total);
      expect(sealed.counts.refused, "the page refused the SDK's worker").to.be.greaterThan(0);
      const opened = specOpen(Buffer.from(sealed.envelope, "base64"), Uint8Array.from(sealed.dataKey));
      expect(opened.recordId).to.equal(sealed.recordId);
      expect(opened.plaintext.length).to.equal(total);
      expect(opened.plaintext.every((byte, i) => byte === ((i * 7 + (i >> 12)) & 0xff))).to.equal(true);
      const digest = createHash("sha256").update(opened.plaintext).digest("hex");
      expect(await openIn(target, sealed.envelope, sealed.dataKey, sealed.recordId)).to.equal(digest);
    } finally {
      await target.close();
    }
  });
});
