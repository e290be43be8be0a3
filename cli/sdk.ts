/**
 * The SDK, loaded on first use through its public entry points. The core entry binds the contracts with
 * the typechain bindings, which exist only once the contracts are compiled: loading lazily lets `--help`
 * (and every mistake found before the chain is needed) work in a fresh clone, and keeps `--help` quick.
 * The names say what a command needs; each is the core entry ("consent-ledger") or the Node entry
 * ("consent-ledger/node").
 */
import type * as Sdk from "../sdk/index";
import type * as SdkNode from "../sdk/node";

/* eslint-disable @typescript-eslint/no-require-imports */
const core = () => require("../sdk/index") as typeof Sdk;
const node = () => require("../sdk/node") as typeof SdkNode;

export const load = {
  admin: core,
  audit: core,
  connect: core,
  custodians: core,
  deployments: node,
  fhir: core,
  fhirExport: core,
  fsStore: node,
  gateway: core,
  keyWrap: core,
  keys: core,
  patient: core,
  provider: core,
  pseudonyms: core,
  records: core,
  researcher: core,
  revert: core,
};
