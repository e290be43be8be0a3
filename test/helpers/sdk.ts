import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import type { Signer } from "ethers";
import { ethers } from "hardhat";

import { connect, type LedgerContracts } from "../../sdk/chain/connect";
import { deployLedgerFixture } from "./fixtures";

/** The fixture's contracts seen through the SDK, bound to `runner`. */
export async function sdkContracts(
  suite: Pick<Awaited<ReturnType<typeof deployLedgerFixture>>, "ledger" | "records" | "accessLog" | "keys">,
  runner: Signer,
): Promise<LedgerContracts> {
  const { chainId } = await ethers.provider.getNetwork();
  return connect(runner, {
    chainId: Number(chainId),
    ledger: await suite.ledger.getAddress(),
    records: await suite.records.getAddress(),
    accessLog: await suite.accessLog.getAddress(),
    keys: await suite.keys.getAddress(),
  });
}

/** A fresh temporary folder, removed by the returned cleanup. */
export async function tempDirectory(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), `${prefix}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A small FHIR R4 Observation, as records carry in the examples. */
export function labObservation(patientRef: string, value: number) {
  return {
    resourceType: "Observation",
    status: "final",
    category: [
      { coding: [{ system: "http://terminology.hl7.org/CodeSystem/observation-category", code: "laboratory" }] },
    ],
    code: {
      coding: [{ system: "http://loinc.org", code: "4548-4", display: "Hemoglobin A1c/Hemoglobin.total in Blood" }],
    },
    subject: { reference: `Patient/${patientRef}` },
    effectiveDateTime: "2026-11-02T09:30:00Z",
    valueQuantity: { value, unit: "%", system: "http://unitsofmeasure.org", code: "%" },
  };
}
