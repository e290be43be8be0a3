/**
 * Envelope v2 in a real browser: the SDK's core entry (sdk/index.ts) bundled by Vite and loaded in
 * headless Chromium (/usr/bin/chromium, driven by playwright-core) from a loopback page, so WebCrypto
 * runs as a dApp's would, several segments in flight. What the browser seals, node:crypto opens by the
 * spec (test/helpers/envelope-v2-spec.ts), and the other way round. Skipped, saying why, only when
 * /usr/bin/chromium is missing.
 */
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
        response.writeHead(200, { "content-type": "text/html" }).end('<!doctype html><script src="/sdk.js"></script>');
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
});
