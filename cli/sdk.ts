/**
 * The SDK's modules, each loaded on first use. The ones that bind the contracts import the typechain
 * bindings, which exist only once the contracts are compiled: loading lazily lets `--help` (and every
 * mistake found before the chain is needed) work in a fresh clone. Loading only the module a command
 * needs (not the whole index) also keeps each command's start quick.
 */
import type * as Admin from "../sdk/clients/admin";
import type * as Audit from "../sdk/clients/audit";
import type * as Connect from "../sdk/chain/connect";
import type * as Deployments from "../sdk/deployments";
import type * as FhirExport from "../sdk/fhir/export";
import type * as FsStore from "../sdk/storage/fs-blob-store";
import type * as Gateway from "../sdk/clients/gateway";
import type * as KeyWrap from "../sdk/crypto/key-wrap";
import type * as Keys from "../sdk/crypto/keys";
import type * as Patient from "../sdk/clients/patient";
import type * as Provider from "../sdk/clients/provider";
import type * as Records from "../sdk/clients/records";
import type * as Researcher from "../sdk/clients/researcher";
import type * as Revert from "../sdk/chain/revert";

/* eslint-disable @typescript-eslint/no-require-imports */
export const load = {
  admin: () => require("../sdk/clients/admin") as typeof Admin,
  audit: () => require("../sdk/clients/audit") as typeof Audit,
  connect: () => require("../sdk/chain/connect") as typeof Connect,
  deployments: () => require("../sdk/deployments") as typeof Deployments,
  fhirExport: () => require("../sdk/fhir/export") as typeof FhirExport,
  fsStore: () => require("../sdk/storage/fs-blob-store") as typeof FsStore,
  gateway: () => require("../sdk/clients/gateway") as typeof Gateway,
  keyWrap: () => require("../sdk/crypto/key-wrap") as typeof KeyWrap,
  keys: () => require("../sdk/crypto/keys") as typeof Keys,
  patient: () => require("../sdk/clients/patient") as typeof Patient,
  provider: () => require("../sdk/clients/provider") as typeof Provider,
  records: () => require("../sdk/clients/records") as typeof Records,
  researcher: () => require("../sdk/clients/researcher") as typeof Researcher,
  revert: () => require("../sdk/chain/revert") as typeof Revert,
};
