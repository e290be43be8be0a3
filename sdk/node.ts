/** Consent Ledger SDK, Node-only entry point: file-system storage and deployment files. */
export { FsBlobStore } from "./storage/fs-blob-store";
export { deploymentsDirectory, loadDeployment, saveDeployment } from "./deployments";
export { nodeAesGcmEncrypt, nodeX25519, wrapDataKeyNative } from "./crypto/key-wrap-node";
