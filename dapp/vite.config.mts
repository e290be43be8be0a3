/**
 * The dashboard's Vite configuration. It imports the SDK by its package name, "consent-ledger", as a dApp
 * does; see README.md ("How the page gets the SDK") for why that name resolves to the SDK's TypeScript
 * entry point (sdk/index.ts) by default, and CONSENT_DAPP_SDK=dist to the built package instead.
 */
import { defineConfig } from "vite";

const at = (relative: string) => decodeURIComponent(new URL(relative, import.meta.url).pathname);
const useBuiltPackage = process.env.CONSENT_DAPP_SDK === "dist";

export default defineConfig({
  root: at("."),
  base: "./",
  clearScreen: false,
  // The built package needs nothing here: its "module" export, the ES-module build, is what Vite picks.
  resolve: useBuiltPackage ? {} : { alias: { "consent-ledger": at("../sdk/index.ts") } },
  build: {
    target: "es2022",
    outDir: "dist",
    emptyOutDir: true,
    // ethers and the SDK in one chunk: about 0.56 MB minified, 0.18 MB gzipped.
    chunkSizeWarningLimit: 800,
    reportCompressedSize: false,
  },
  server: { host: "127.0.0.1" },
  preview: { host: "127.0.0.1" },
});
