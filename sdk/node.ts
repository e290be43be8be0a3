/** Consent Ledger SDK, Node-only entry point: file-system storage and deployment files. */
export { FsBlobStore } from "./storage/fs-blob-store";
export { deploymentsDirectory, loadDeployment, saveDeployment } from "./deployments";
export { nodeX25519, wrapDataKeyNative } from "./crypto/x25519-node";
