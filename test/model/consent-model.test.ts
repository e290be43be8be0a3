/**
 * Model-based test of the consent rules: random sequences of operations by random actors, applied to the
 * real contracts (fresh deployment per sequence, through loadFixture) and to the reference model in
 * ./consent-model.ts. After EVERY step:
 *
 *   1. the operation reverted exactly when the model says it must, with the custom error (and arguments)
 *      the model names; when it succeeded, it emitted exactly the events the model expects (the audit
 *      trail), in order;
 *   2. the stored state the access rules read equals the model's, for every patient × grantee pair of the
 *      matrix (consentOf, emergencyAccessUntil), every grantee (partyOf), every patient
 *      (emergencyOptedOut), and whatever the step touched (requestStatus, delegateOf, nonceBitmap,
 *      policyOf); from that state the model derives hasAccess and accessBasis for EVERY cell of
 *      2 patients × 6 grantees × 15 classes × 10 purposes;
 *   3. the REAL hasAccess and accessBasis agree with the model on FUZZ_CELLS sampled cells plus, first,
 *      a cell inside every consent, window and accreditation whose boundary the step crossed or touched
 *      (and unknown codes now and then); and every positive answer satisfies the invariants of
 *      docs/testing.md ("Invariants") on the chain's own stored evidence, without the model;
 *   4. at the end of one run in FUZZ_FULL_MATRIX_EVERY (or after every step with FUZZ_FULL_MATRIX_STEPS=1)
 *      the real hasAccess and accessBasis of EVERY cell: 2 × 6 × 16 classes (15 + an unknown one) ×
 *      11 purposes (10 + an unknown one), 4,224 calls.
 *
 * (Why not the real answer of every cell after every step: each eth_call into the 19 KB ledger costs
 * ~0.3-0.5 ms on Hardhat's EDR, so 4,224 per step would make 100 × 20 steps take 30-60 minutes.)
 *
 * Defaults keep CI fast: FUZZ_RUNS=100 sequences of up to FUZZ_STEPS=20 operations. Thousands on demand:
 *
 *   FUZZ_RUNS=5000 npx hardhat test test/model/consent-model.test.ts
 *
 * A failure is shrunk by fast-check and printed with its seed and path; replay exactly that case with
 *
 *   FUZZ_SEED=<seed> FUZZ_PATH=<path> npx hardhat test test/model/consent-model.test.ts
 */
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import fc from "fast-check";
import { type ContractTransactionResponse, Interface, type TypedDataDomain, ZeroAddress, ZeroHash, id } from "ethers";
import { ethers, network } from "hardhat";

import { DAY, LEDGER_PARAMS, YEAR, deployLedgerFixture } from "../helpers/fixtures";
import { fuzzSeed } from "../helpers/seed";
import { SIGNED_CONSENT_TYPES, domainOf, malleate } from "../helpers/signatures";
import { type ViewCall, readAll } from "./chain-reader";
import {
  type AccessRequest,
  ConsentModel,
  type DataUsePolicy,
  Duo,
  type GrantTerms,
  type ModelEvent,
  type Party,
  type RequestTerms,
  Revert,
  Role,
  UINT40_MAX,
  policyTuple,
  requestIdOf,
} from "./consent-model";

// -------------------------------------------------------------------------------------------------
// Configuration.

const envInt = (name: string, fallback: number): number => {
  const value = process.env[name];
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new Error(`${name} must be an integer, got ${value}`);
  return n;
};

const RUNS = envInt("FUZZ_RUNS", 100);
const MAX_STEPS = envInt("FUZZ_STEPS", 20);
const SAMPLED_CELLS = envInt("FUZZ_CELLS", 12);
const FULL_MATRIX_EVERY = Math.max(1, envInt("FUZZ_FULL_MATRIX_EVERY", 20));
const FULL_MATRIX_STEPS = process.env.FUZZ_FULL_MATRIX_STEPS === "1";
const PATH = process.env.FUZZ_PATH || undefined;
const STATS = process.env.FUZZ_STATS === "1";
const GAS = 5_000_000;

/** With FUZZ_STATS=1: how the generated operations fared and where the time went, printed at the end. */
const stats = {
  outcomes: new Map<string, number>(),
  steps: 0,
  runs: 0,
  current: "",
  ms: { transactions: 0, reads: 0, fullMatrix: 0 },
  count(key: string) {
    this.outcomes.set(key, (this.outcomes.get(key) ?? 0) + 1);
  },
};

// -------------------------------------------------------------------------------------------------
// The cast (test/helpers/fixtures.ts) and the matrix checked.

const CAST = [
  "admin",
  "hospital",
  "lab",
  "university",
  "pharma",
  "patient",
  "otherPatient",
  "delegate",
  "relayer",
  "stranger",
] as const;
type Name = (typeof CAST)[number];
type Target = Name | "zero";
const TARGETS: readonly Target[] = [...CAST, "zero"];

const PATIENTS: readonly Name[] = ["patient", "otherPatient"];
const GRANTEES: readonly Name[] = ["hospital", "lab", "university", "pharma", "delegate", "stranger"];
/** Every known class, one unknown one (15) in the full matrix; samples also try 32 and 255. */
const MATRIX_CLASSES = Array.from({ length: 16 }, (_, i) => i);
const MATRIX_PURPOSES = Array.from({ length: 11 }, (_, i) => i);
const SAMPLE_CLASSES = [...MATRIX_CLASSES, 32, 255];
const SAMPLE_PURPOSES = [...MATRIX_PURPOSES, 31, 255];

const NONCES = [0n, 1n, 2n, 3n, 255n, 256n, 257n];
const STUDIES = [id("study:A"), id("study:B")];
const PROTOCOL = id("protocol:ethics-approval");
const DISEASES = [5148, 4975];
const LAB = 1 << 0;
const CONDITION = 1 << 4;
const GENOMIC = 1 << 11;
const MENTAL = 1 << 12;

// -------------------------------------------------------------------------------------------------
// Operations: plain data, generated by fast-check, resolved against the model when they run.

/** A time relative to the block the operation runs in, or an absolute value. */
type At = { rel: number } | { abs: number };

interface GrantSpec {
  grantee: Target;
  dataClasses: number;
  purposes: number;
  validFrom: At;
  validUntil: At;
}

interface TermsSpec {
  /** Shape the terms after the patient's standing policy (if any), so that auto-approval gets exercised. */
  matchPolicy: boolean;
  patient: Target | "self";
  dataClasses: number;
  purpose: number;
  /** "auto": the right category for the purpose (picked from `category`), else a raw value. */
  categoryMode: "auto" | "raw";
  category: number;
  diseaseMode: "auto" | "raw";
  diseaseIndex: number;
  rawDisease: number;
  obligations: bigint;
  duration: number;
  study: number;
  protocol: boolean;
}

interface PolicySpec {
  permission: number;
  modifiers: bigint;
  dataClasses: number;
  purposes: number;
  diseaseMode: "auto" | "raw";
  diseaseIndex: number;
  maxDurationMode: "auto" | "raw";
  maxDuration: number;
  validUntil: At | "never";
}

interface RequestRef {
  index: number;
  /** Pass back a request that was never opened (terms changed after the fact). */
  forge: boolean;
}

/** Not signatures at all: empty, 65 bytes with an impossible v, 64 zero bytes. */
const GARBAGE_SIGNATURES = ["0x", `0x${"ab".repeat(65)}`, `0x${"00".repeat(64)}`];

/** `staleSeen`: a valid signature over a seenConsent that is not the stored one (a stale view). */
type Corruption = "none" | "wrongChain" | "wrongContract" | "tamper" | "malleate" | "garbage" | "staleSeen";

type Op =
  | { t: "grant"; actor: Name | "self"; patient: Target; grant: GrantSpec }
  | { t: "grantBatch"; actor: Name | "self"; patient: Target; grants: GrantSpec[] }
  | { t: "revoke"; actor: Name | "self"; patient: Target; grantee: Target | "granted" }
  | {
      t: "appointDelegate";
      caller: Name;
      delegate: Target;
      validUntil: At;
      purposes: number;
      sensitiveClasses: boolean;
    }
  | { t: "removeDelegate"; caller: Name; delegate: Target }
  | { t: "requestAccess"; researcher: Name; terms: TermsSpec }
  | { t: "decide"; approve: boolean; actor: Name | "patientOf"; ref: RequestRef }
  | { t: "cancel"; caller: Name | "researcherOf"; ref: RequestRef }
  | { t: "setPolicy"; caller: Name; policy: PolicySpec }
  | { t: "clearPolicy"; caller: Name }
  | { t: "openEmergency"; caller: Name; patient: Target | "self"; reason: number; duration: number }
  | { t: "closeEmergency"; caller: Name; patient: Target }
  | { t: "optOut"; caller: Name; optedOut: boolean }
  | { t: "accredit"; caller: Name; party: Target; roles: number; nonProfit: boolean; until: At | "never" }
  | { t: "suspend"; caller: Name; party: Target; reason: number }
  | { t: "reinstate"; caller: Name; party: Target }
  | { t: "renounce"; caller: Name }
  | {
      t: "sign";
      kind: "grant" | "revoke" | "approve" | "deny";
      /** Whose key signs: the patient's own ("self"; the request's patient for decisions), or another's. */
      key: Name | "self";
      /** The signer the relayed call names: the key's own account, or someone else's. */
      claim: Name | "self";
      patient: Target;
      grant: GrantSpec;
      grantee: Target | "granted";
      ref: RequestRef;
      nonce: bigint;
      deadline: number;
      corruption: Corruption;
      /** Keep the signature to relay later (a "relay" step), instead of relaying it now. */
      hold: boolean;
    }
  | { t: "relay"; index: number }
  | { t: "invalidateNonces"; caller: Name; word: bigint; nonces: bigint[] }
  | { t: "time"; kind: "seconds" | "long" | "boundary"; amount: number; delta: number };

// -------------------------------------------------------------------------------------------------
// Arbitraries: biased towards the actors and values that make things happen, with a tail of nonsense.

const pick = <T>(likely: readonly T[], all: readonly T[], likelyWeight = 4): fc.Arbitrary<T> =>
  fc.oneof(
    { arbitrary: fc.constantFrom(...likely), weight: likelyWeight },
    { arbitrary: fc.constantFrom(...all), weight: 1 },
  );

const patientArb = pick<Target>(PATIENTS, TARGETS, 8);
/** Who acts for a patient: the patient itself, its (would-be) delegate, or anyone. */
const patientActorArb = fc.oneof(
  { arbitrary: fc.constant<Name | "self">("self"), weight: 9 },
  { arbitrary: fc.constant<Name | "self">("delegate"), weight: 2 },
  { arbitrary: fc.constantFrom<Name | "self">(...CAST), weight: 1 },
);
const granteeArb = pick<Target>(GRANTEES, TARGETS, 8);
/** Whom a revocation names: mostly someone the patient has a consent for ("granted"), else anyone. */
const revokeeArb = fc.oneof(
  { arbitrary: fc.constant<Target | "granted">("granted"), weight: 3 },
  { arbitrary: granteeArb as fc.Arbitrary<Target | "granted">, weight: 2 },
);
const adminArb = pick<Name>(["admin"], CAST, 6);
const partyArb = pick<Target>(["hospital", "lab", "university", "pharma", "stranger", "delegate"], TARGETS, 6);

const relTime = fc.oneof(
  { arbitrary: fc.integer({ min: -2, max: 3 }), weight: 2 },
  { arbitrary: fc.integer({ min: 1, max: 120 }), weight: 5 },
  { arbitrary: fc.integer({ min: 1, max: 3 * DAY }), weight: 5 },
  { arbitrary: fc.integer({ min: 1, max: 60 * DAY }), weight: 2 },
  { arbitrary: fc.integer({ min: -60, max: -1 }), weight: 1 },
);
const atArb: fc.Arbitrary<At> = fc.oneof(
  { arbitrary: relTime.map((rel) => ({ rel })), weight: 9 },
  { arbitrary: fc.constantFrom(0, UINT40_MAX).map((abs) => ({ abs })), weight: 1 },
);
const fromArb: fc.Arbitrary<At> = fc.oneof(
  { arbitrary: fc.constant({ abs: 0 }), weight: 4 },
  { arbitrary: fc.integer({ min: -30, max: 2 * DAY }).map((rel) => ({ rel })), weight: 3 },
);

const classesArb = fc.oneof(
  { arbitrary: fc.integer({ min: 1, max: 0x7fff }), weight: 6 },
  { arbitrary: fc.constantFrom(LAB, LAB | CONDITION, GENOMIC, LAB | MENTAL, 0x7fff), weight: 3 },
  { arbitrary: fc.constantFrom(0, 1 << 15, 0x8001, 2 ** 31), weight: 1 },
);
const purposesArb = fc.oneof(
  { arbitrary: fc.integer({ min: 1, max: 0x3ff }), weight: 6 },
  { arbitrary: fc.constantFrom(1, 2, 0b111, 1 << 3, 1 << 9, 0x3ff), weight: 3 },
  { arbitrary: fc.constantFrom(0, 1 << 10, 0x401, 2 ** 31), weight: 1 },
);

const grantSpecArb: fc.Arbitrary<GrantSpec> = fc.record({
  grantee: granteeArb,
  dataClasses: classesArb,
  purposes: purposesArb,
  validFrom: fromArb,
  validUntil: atArb,
});

const OBLIGATION_CODES = [Duo.PUB, Duo.COL, Duo.IRB, Duo.MOR, Duo.RTN];
const MODIFIER_CODES = [...OBLIGATION_CODES, Duo.TS, Duo.NPOA, Duo.NPU, Duo.NCU];
const maskOfCodes = (codes: readonly number[]): bigint => codes.reduce((m, c) => m | (1n << BigInt(c)), 0n);

const termsArb: fc.Arbitrary<TermsSpec> = fc.record({
  matchPolicy: fc.boolean(),
  patient: fc.oneof(
    { arbitrary: fc.constantFrom<Target | "self">(...PATIENTS), weight: 12 },
    { arbitrary: fc.constantFrom<Target | "self">("self", "zero", ...CAST), weight: 1 },
  ),
  dataClasses: fc.oneof(
    { arbitrary: fc.constantFrom(LAB, LAB | CONDITION, GENOMIC, LAB | MENTAL), weight: 4 },
    { arbitrary: classesArb, weight: 1 },
  ),
  purpose: fc.oneof(
    { arbitrary: fc.constantFrom(3, 4, 5), weight: 12 },
    { arbitrary: fc.integer({ min: 0, max: 9 }), weight: 4 },
    { arbitrary: fc.constantFrom(10, 255), weight: 1 },
  ),
  categoryMode: fc.oneof(
    { arbitrary: fc.constant<"auto" | "raw">("auto"), weight: 14 },
    { arbitrary: fc.constant<"auto" | "raw">("raw"), weight: 1 },
  ),
  category: fc.constantFrom(Duo.GRU, Duo.HMB, Duo.DS, Duo.POA, 0, Duo.NRES),
  diseaseMode: fc.oneof(
    { arbitrary: fc.constant<"auto" | "raw">("auto"), weight: 14 },
    { arbitrary: fc.constant<"auto" | "raw">("raw"), weight: 1 },
  ),
  diseaseIndex: fc.nat(1),
  rawDisease: fc.constantFrom(0, 5148),
  obligations: fc.oneof(
    { arbitrary: fc.subarray(OBLIGATION_CODES).map(maskOfCodes), weight: 15 },
    { arbitrary: fc.constantFrom(1n << BigInt(Duo.TS), 1n), weight: 1 },
  ),
  duration: fc.oneof(
    { arbitrary: fc.integer({ min: 1, max: 300 }), weight: 6 },
    { arbitrary: fc.integer({ min: 1, max: LEDGER_PARAMS.maxRequestDuration }), weight: 6 },
    {
      arbitrary: fc.constantFrom(0, LEDGER_PARAMS.maxRequestDuration, LEDGER_PARAMS.maxRequestDuration + 1),
      weight: 1,
    },
  ),
  study: fc.nat(1),
  protocol: fc.boolean(),
});

const policyArb: fc.Arbitrary<PolicySpec> = fc.record({
  permission: fc.oneof(
    { arbitrary: fc.constantFrom(Duo.NRES, Duo.GRU, Duo.HMB, Duo.DS, Duo.POA), weight: 15 },
    { arbitrary: fc.constantFrom(0, 5, 42 + 1), weight: 1 },
  ),
  modifiers: fc.oneof(
    { arbitrary: fc.subarray(MODIFIER_CODES, { maxLength: 3 }).map(maskOfCodes), weight: 15 },
    { arbitrary: fc.constantFrom(1n, 1n << 63n), weight: 1 },
  ),
  dataClasses: fc.oneof(
    {
      arbitrary: fc.constantFrom(LAB | CONDITION | GENOMIC, LAB, LAB | CONDITION | GENOMIC | MENTAL, 0x7fff),
      weight: 5,
    },
    { arbitrary: classesArb, weight: 1 },
  ),
  purposes: fc.oneof(
    { arbitrary: fc.constantFrom(0b111000, 0b011000, 0b001000, 0b100000), weight: 15 },
    { arbitrary: fc.constantFrom(0, 0b1001, 1 << 9), weight: 1 },
  ),
  diseaseMode: fc.oneof(
    { arbitrary: fc.constant<"auto" | "raw">("auto"), weight: 14 },
    { arbitrary: fc.constant<"auto" | "raw">("raw"), weight: 1 },
  ),
  diseaseIndex: fc.nat(1),
  maxDurationMode: fc.oneof(
    { arbitrary: fc.constant<"auto" | "raw">("auto"), weight: 14 },
    { arbitrary: fc.constant<"auto" | "raw">("raw"), weight: 1 },
  ),
  maxDuration: fc.constantFrom(0, 100, 90 * DAY, 5 * YEAR),
  validUntil: fc.oneof({ arbitrary: fc.constant<"never">("never"), weight: 3 }, { arbitrary: atArb, weight: 2 }),
});

const refArb: fc.Arbitrary<RequestRef> = fc.record({
  index: fc.nat(50),
  forge: fc.oneof({ arbitrary: fc.constant(false), weight: 8 }, { arbitrary: fc.constant(true), weight: 1 }),
});

const rolesArb = fc.oneof(
  { arbitrary: fc.integer({ min: 1, max: 7 }), weight: 8 },
  { arbitrary: fc.constantFrom(0, 8, 255), weight: 1 },
);

const accreditUntilArb: fc.Arbitrary<At | "never"> = fc.oneof(
  { arbitrary: fc.constant<"never">("never"), weight: 3 },
  { arbitrary: fc.integer({ min: -2, max: 30 }).map((rel) => ({ rel })), weight: 2 },
  { arbitrary: fc.integer({ min: 1, max: 5 * DAY }).map((rel) => ({ rel })), weight: 2 },
);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 16,
    arbitrary: fc.record({
      t: fc.constant("grant" as const),
      actor: patientActorArb,
      patient: patientArb,
      grant: grantSpecArb,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant("grantBatch" as const),
      actor: patientActorArb,
      patient: patientArb,
      grants: fc.array(grantSpecArb, { maxLength: 3 }),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      t: fc.constant("revoke" as const),
      actor: patientActorArb,
      patient: patientArb,
      grantee: revokeeArb,
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      t: fc.constant("appointDelegate" as const),
      caller: pick<Name>(PATIENTS, CAST, 6),
      delegate: pick<Target>(["delegate"], TARGETS, 6),
      validUntil: atArb,
      // Mostly every purpose, so that delegates stay useful to the other steps; some narrower; few invalid.
      purposes: fc.oneof(
        { arbitrary: fc.constant(0x3ff), weight: 5 },
        { arbitrary: fc.constantFrom(0b111, 1 << 9, 0b111 | (1 << 3)), weight: 3 },
        { arbitrary: purposesArb, weight: 1 },
      ),
      sensitiveClasses: fc.oneof(
        { arbitrary: fc.constant(true), weight: 2 },
        { arbitrary: fc.constant(false), weight: 1 },
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant("removeDelegate" as const),
      caller: pick<Name>(PATIENTS, CAST, 6),
      delegate: pick<Target>(["delegate"], TARGETS, 6),
    }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      t: fc.constant("requestAccess" as const),
      researcher: pick<Name>(["university", "pharma"], CAST, 8),
      terms: termsArb,
    }),
  },
  {
    weight: 7,
    arbitrary: fc.record({
      t: fc.constant("decide" as const),
      approve: fc.boolean(),
      actor: fc.oneof(
        { arbitrary: fc.constant<"patientOf">("patientOf"), weight: 6 },
        { arbitrary: fc.constant<Name>("delegate"), weight: 2 },
        { arbitrary: fc.constantFrom<Name>(...CAST), weight: 1 },
      ),
      ref: refArb,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant("cancel" as const),
      caller: fc.oneof(
        { arbitrary: fc.constant<"researcherOf">("researcherOf"), weight: 5 },
        { arbitrary: fc.constantFrom<Name>(...CAST), weight: 1 },
      ),
      ref: refArb,
    }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      t: fc.constant("setPolicy" as const),
      caller: pick<Name>(PATIENTS, CAST, 8),
      policy: policyArb,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ t: fc.constant("clearPolicy" as const), caller: pick<Name>(PATIENTS, CAST, 8) }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      t: fc.constant("openEmergency" as const),
      caller: pick<Name>(["hospital", "lab"], CAST, 6),
      patient: fc.oneof(
        { arbitrary: fc.constantFrom<Target | "self">(...PATIENTS), weight: 10 },
        { arbitrary: fc.constantFrom<Target | "self">("self", "zero", "stranger"), weight: 1 },
      ),
      reason: fc.oneof(
        { arbitrary: fc.constantFrom(1, 2, 3, 4), weight: 8 },
        { arbitrary: fc.constantFrom(0, 5, 255), weight: 1 },
      ),
      duration: fc.oneof(
        { arbitrary: fc.integer({ min: 1, max: 120 }), weight: 4 },
        { arbitrary: fc.integer({ min: 1, max: LEDGER_PARAMS.maxEmergencyDuration }), weight: 3 },
        {
          arbitrary: fc.constantFrom(0, LEDGER_PARAMS.maxEmergencyDuration, LEDGER_PARAMS.maxEmergencyDuration + 1),
          weight: 1,
        },
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant("closeEmergency" as const),
      caller: pick<Name>(["hospital", "lab"], CAST, 6),
      patient: patientArb,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant("optOut" as const),
      caller: pick<Name>(PATIENTS, CAST, 8),
      optedOut: fc.boolean(),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant("accredit" as const),
      caller: adminArb,
      party: partyArb,
      roles: rolesArb,
      nonProfit: fc.boolean(),
      until: accreditUntilArb,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant("suspend" as const),
      caller: adminArb,
      party: partyArb,
      reason: fc.nat(0xffff),
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("reinstate" as const), caller: adminArb, party: partyArb }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("renounce" as const), caller: adminArb }) },
  {
    weight: 9,
    arbitrary: fc.record({
      t: fc.constant("sign" as const),
      kind: fc.constantFrom<"grant" | "revoke" | "approve" | "deny">("grant", "grant", "revoke", "approve", "deny"),
      key: patientActorArb,
      claim: fc.oneof(
        { arbitrary: fc.constant<"self">("self"), weight: 8 },
        { arbitrary: fc.constantFrom<Name>(...CAST), weight: 1 },
      ),
      patient: patientArb,
      grant: grantSpecArb,
      grantee: revokeeArb,
      ref: refArb,
      nonce: fc.constantFrom(...NONCES),
      deadline: fc.oneof(
        { arbitrary: fc.integer({ min: -2, max: 5 }), weight: 2 },
        { arbitrary: fc.integer({ min: 60, max: 3 * DAY }), weight: 5 },
      ),
      corruption: fc.oneof(
        { arbitrary: fc.constant<Corruption>("none"), weight: 14 },
        { arbitrary: fc.constant<Corruption>("staleSeen"), weight: 2 },
        {
          arbitrary: fc.constantFrom<Corruption>("wrongChain", "wrongContract", "tamper", "malleate", "garbage"),
          weight: 3,
        },
      ),
      hold: fc.oneof({ arbitrary: fc.constant(false), weight: 2 }, { arbitrary: fc.constant(true), weight: 1 }),
    }),
  },
  { weight: 4, arbitrary: fc.record({ t: fc.constant("relay" as const), index: fc.nat(20) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant("invalidateNonces" as const),
      caller: pick<Name>([...PATIENTS, "delegate"], CAST, 6),
      word: fc.constantFrom(0n, 1n),
      nonces: fc.subarray(NONCES),
    }),
  },
  {
    weight: 10,
    arbitrary: fc.record({
      t: fc.constant("time" as const),
      kind: fc.constantFrom<"seconds" | "long" | "boundary">("seconds", "long", "boundary", "boundary"),
      amount: fc.nat(400),
      delta: fc.constantFrom(-1, 0, 0, 1),
    }),
  },
);

// -------------------------------------------------------------------------------------------------
// Readable counterexamples.

const at = (a: At | "never"): string =>
  a === "never"
    ? "never"
    : "abs" in a
      ? a.abs === UINT40_MAX
        ? "MAX40"
        : String(a.abs)
      : `now${a.rel >= 0 ? "+" : ""}${a.rel}`;
const hex = (n: number): string => `0x${n.toString(16)}`;
const grantText = (g: GrantSpec): string =>
  `{to ${g.grantee}, classes ${hex(g.dataClasses)}, purposes ${hex(g.purposes)}, from ${at(g.validFrom)}, until ${at(g.validUntil)}}`;

function describeOp(op: Op): string {
  switch (op.t) {
    case "grant":
      return `grant by ${op.actor} for ${op.patient} ${grantText(op.grant)}`;
    case "grantBatch":
      return `grantBatch by ${op.actor} for ${op.patient} [${op.grants.map(grantText).join(", ")}]`;
    case "revoke":
      return `revoke by ${op.actor} for ${op.patient} of ${op.grantee}`;
    case "appointDelegate":
      return `${op.caller} appoints ${op.delegate} until ${at(op.validUntil)} for purposes ${hex(op.purposes)}${op.sensitiveClasses ? " with" : " without"} sensitive classes`;
    case "removeDelegate":
      return `${op.caller} removes delegate ${op.delegate}`;
    case "requestAccess": {
      const t = op.terms;
      if (t.matchPolicy)
        return `${op.researcher} requests ${t.patient} what its policy allows (purpose pick ${t.diseaseIndex}, duration ${t.duration})`;
      return (
        `${op.researcher} requests ${t.patient}: classes ${hex(t.dataClasses)} purpose ${t.purpose} category ` +
        `${t.categoryMode === "auto" ? `auto(${t.category})` : t.category} disease ${t.diseaseMode === "auto" ? "auto" : t.rawDisease} ` +
        `obligations ${hex(Number(t.obligations))} duration ${t.duration} study ${t.study} protocol ${t.protocol}`
      );
    }
    case "decide":
      return `${op.approve ? "approve" : "deny"} by ${op.actor} request #${op.ref.index}${op.ref.forge ? " (forged)" : ""}`;
    case "cancel":
      return `cancel by ${op.caller} request #${op.ref.index}${op.ref.forge ? " (forged)" : ""}`;
    case "setPolicy": {
      const p = op.policy;
      return (
        `${op.caller} sets policy permission ${p.permission} modifiers ${p.modifiers.toString(16)} classes ${hex(p.dataClasses)} ` +
        `purposes ${hex(p.purposes)} until ${p.validUntil === "never" ? "never" : at(p.validUntil)} maxDuration ${p.maxDurationMode}:${p.maxDuration}`
      );
    }
    case "clearPolicy":
      return `${op.caller} clears its policy`;
    case "openEmergency":
      return `${op.caller} opens emergency on ${op.patient} reason ${op.reason} for ${op.duration}s`;
    case "closeEmergency":
      return `${op.caller} closes emergency on ${op.patient}`;
    case "optOut":
      return `${op.caller} sets emergency opt-out ${op.optedOut}`;
    case "accredit":
      return `${op.caller} accredits ${op.party} roles ${op.roles} nonProfit ${op.nonProfit} until ${at(op.until)}`;
    case "suspend":
      return `${op.caller} suspends ${op.party} (reason ${op.reason})`;
    case "reinstate":
      return `${op.caller} reinstates ${op.party}`;
    case "renounce":
      return `${op.caller} renounces ownership`;
    case "sign": {
      const what =
        op.kind === "grant"
          ? `grant for ${op.patient} ${grantText(op.grant)}`
          : op.kind === "revoke"
            ? `revoke for ${op.patient} of ${op.grantee}`
            : `${op.kind} request #${op.ref.index}${op.ref.forge ? " (forged)" : ""}`;
      return (
        `${op.key} signs${op.claim === "self" ? "" : ` as ${op.claim}`} ${what} nonce ${op.nonce} deadline now+${op.deadline}` +
        `${op.corruption === "none" ? "" : ` [${op.corruption}]`}${op.hold ? " (held)" : " and relayer relays it"}`
      );
    }
    case "relay":
      return `relayer relays signature #${op.index}`;
    case "invalidateNonces":
      return `${op.caller} cancels nonces [${op.nonces.join(", ")}] in word ${op.word}`;
    case "time":
      return op.kind === "boundary"
        ? `time jumps to boundary #${op.amount} ${op.delta >= 0 ? "+" : ""}${op.delta}s`
        : `time passes ${op.kind === "seconds" ? `${(op.amount % 10) + 1}s` : `${op.amount + 1} hours`}`;
  }
}

const readable = (arb: fc.Arbitrary<Op>): fc.Arbitrary<Op> =>
  arb.map((op) => Object.defineProperty(op, fc.toStringMethod, { value: () => describeOp(op), enumerable: false }));

// -------------------------------------------------------------------------------------------------
// Running a sequence.

type LedgerFixture = Awaited<ReturnType<typeof deployLedgerFixture>>;

interface Signed {
  kind: "grant" | "revoke" | "approve" | "deny";
  signer: string;
  patient: string;
  terms?: GrantTerms;
  grantee?: string;
  request?: AccessRequest;
  /** For a grant or an approval: the consent word the signer saw when signing. */
  seenConsent?: bigint;
  nonce: bigint;
  deadline: bigint;
  signature: string;
  /** Whether `signer` signed exactly what is relayed, for this ledger on this chain. */
  valid: boolean;
  label: string;
  /** Whether it has been sent already (sending it again is a replay). */
  relayed: boolean;
}

interface Run {
  f: LedgerFixture;
  model: ConsentModel;
  latest: number;
  address: Record<Target, string>;
  signer: Record<Name, HardhatEthersSigner>;
  ledgerAddress: string;
  recordsAddress: string;
  domain: TypedDataDomain;
  pool: Signed[];
  rng: () => number;
  history: string[];
  /** The block time of the previous check: boundaries crossed since are checked first. */
  lastChecked: number;
}

/** What a step touched (or tried to), read back from the chain right after it. */
interface Touched {
  /** "patient|grantee": consentOf and emergencyAccessUntil. */
  pairs: Set<string>;
  parties: Set<string>;
  /** Patients whose emergency opt-out (and so every window on them) may have changed. */
  patients: Set<string>;
  requests: Set<string>;
  delegates: Set<string>;
  nonces: Set<string>;
  policies: Set<string>;
}

const noneTouched = (): Touched => ({
  pairs: new Set(),
  parties: new Set(),
  patients: new Set(),
  requests: new Set(),
  delegates: new Set(),
  nonces: new Set(),
  policies: new Set(),
});

/** Everything the model changed between two states (so a step reads back exactly what it wrote). */
function diff(before: ConsentModel, after: ConsentModel, into: Touched): void {
  const changed = <V>(a: Map<string, V>, b: Map<string, V>, add: (key: string) => void) => {
    for (const key of new Set([...a.keys(), ...b.keys()]))
      if (JSON.stringify(norm(a.get(key))) !== JSON.stringify(norm(b.get(key)))) add(key);
  };
  changed(before.consents, after.consents, (k) => into.pairs.add(k));
  changed(before.windows, after.windows, (k) => into.pairs.add(k));
  changed(before.parties, after.parties, (k) => into.parties.add(k));
  changed(before.optedOut, after.optedOut, (k) => into.patients.add(k));
  changed(before.epochs, after.epochs, (k) => into.patients.add(k));
  changed(before.requests, after.requests, (k) => into.requests.add(k));
  changed(before.delegates, after.delegates, (k) => into.delegates.add(k));
  changed(before.policies, after.policies, (k) => into.policies.add(k));
  const nonces = <T>(m: Map<string, Set<T>>) => new Map([...m].map(([k, v]) => [k, [...v].sort()]));
  changed(nonces(before.usedNonces), nonces(after.usedNonces), (signer) => {
    for (const n of after.usedNonces.get(signer) ?? []) into.nonces.add(`${signer}|${n}`);
  });
}

class Mismatch extends Error {
  override name = "ModelMismatch";
}

/** The cast's name of an address, for messages. */
function nameOf(run: Run, address: string): string {
  return TARGETS.find((name) => run.address[name] === address) ?? address;
}

/** A tiny deterministic PRNG (mulberry32): the sampled cells are part of the replayable case. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** "granted": the first grantee (in cast order) holding a stored consent of `patient`, else the lab. */
function revokee(run: Run, patient: string, grantee: Target | "granted"): string {
  if (grantee !== "granted") return run.address[grantee];
  const holder = TARGETS.find((name) => run.model.consents.has(`${patient}|${run.address[name]}`));
  return run.address[holder ?? "lab"];
}

function resolveAt(a: At, now: number): number {
  const value = "abs" in a ? a.abs : now + a.rel;
  return Math.min(Math.max(value, 0), UINT40_MAX);
}

function resolveGrant(run: Run, g: GrantSpec, now: number): GrantTerms {
  return {
    grantee: run.address[g.grantee],
    dataClasses: g.dataClasses,
    purposes: g.purposes,
    validFrom: resolveAt(g.validFrom, now),
    validUntil: resolveAt(g.validUntil, now),
  };
}

function resolveTerms(run: Run, researcher: Name, t: TermsSpec): RequestTerms {
  let patient = t.patient === "self" ? run.address[researcher] : run.address[t.patient];
  if (t.matchPolicy) {
    // Ask a patient who has a standing policy, if any has one.
    const withPolicy = PATIENTS.map((name) => run.address[name]).filter((p) => run.model.policies.has(p));
    if (withPolicy.length > 0) patient = withPolicy[t.study % withPolicy.length];
  }
  const policy = run.model.policies.get(patient);
  if (t.matchPolicy && policy !== undefined) {
    // What the policy allows: its non-sensitive classes, one of its purposes, its kind of research, every
    // obligation accepted with a protocol, and a duration within its time limit.
    const classes = policy.dataClasses & 0x0fff & (t.dataClasses | 1);
    const purposes = [3, 4, 5].filter((u) => (policy.purposes >> u) & 1);
    const category = policy.permission === Duo.NRES ? Duo.GRU : policy.permission;
    const timeLimited = ((policy.modifiers >> BigInt(Duo.TS)) & 1n) === 1n;
    return {
      patient,
      dataClasses: classes || policy.dataClasses,
      purpose: purposes.length > 0 ? purposes[t.diseaseIndex % purposes.length] : t.purpose,
      researchCategory: category,
      diseaseId: category === Duo.DS ? policy.diseaseId : 0,
      acceptedObligations: maskOfCodes(OBLIGATION_CODES),
      duration: Math.max(
        1,
        Math.min(t.duration || 1, timeLimited ? policy.maxDuration : LEDGER_PARAMS.maxRequestDuration),
      ),
      studyId: STUDIES[t.study],
      protocolHash: PROTOCOL,
    };
  }
  const research = t.purpose >= 3 && t.purpose <= 5;
  let category = t.category;
  if (t.categoryMode === "auto")
    category = research
      ? [Duo.GRU, Duo.HMB, Duo.DS, Duo.POA].includes(t.category as never)
        ? t.category
        : Duo.GRU
      : 0;
  const diseaseId = t.diseaseMode === "auto" ? (category === Duo.DS ? DISEASES[t.diseaseIndex] : 0) : t.rawDisease;
  return {
    patient,
    dataClasses: t.dataClasses,
    purpose: t.purpose,
    researchCategory: category,
    diseaseId,
    acceptedObligations: t.obligations,
    duration: t.duration,
    studyId: STUDIES[t.study],
    protocolHash: t.protocol ? PROTOCOL : ZeroHash,
  };
}

function resolvePolicy(p: PolicySpec, now: number): DataUsePolicy {
  const ts = ((p.modifiers >> BigInt(Duo.TS)) & 1n) === 1n;
  return {
    permission: p.permission,
    modifiers: p.modifiers,
    dataClasses: p.dataClasses,
    purposes: p.purposes,
    diseaseId:
      p.diseaseMode === "auto" ? (p.permission === Duo.DS ? DISEASES[p.diseaseIndex] : 0) : DISEASES[p.diseaseIndex],
    maxDuration: p.maxDurationMode === "auto" ? (ts ? p.maxDuration || 90 * DAY : 0) : p.maxDuration,
    validUntil: p.validUntil === "never" ? 0 : resolveAt(p.validUntil, now),
  };
}

/** The request a step refers to: one opened earlier (any status), or one never opened. */
function resolveRequest(run: Run, ref: RequestRef, now: number): AccessRequest {
  const log = run.model.requestLog;
  // Mostly a pending one (the interesting case), sometimes any request ever opened (most are closed).
  const pending = [...run.model.requests.values()].map((stored) => stored.request);
  if (!ref.forge && pending.length > 0 && ref.index % 4 !== 3) return pending[ref.index % pending.length];
  if (log.length > 0 && !ref.forge) return log[ref.index % log.length];
  const base: AccessRequest =
    log.length > 0
      ? log[ref.index % log.length]
      : {
          researcher: run.address.pharma,
          openedAt: now - 1,
          terms: resolveTerms(run, "pharma", {
            matchPolicy: false,
            patient: "patient",
            dataClasses: LAB,
            purpose: 3,
            categoryMode: "auto",
            category: Duo.GRU,
            diseaseMode: "auto",
            diseaseIndex: 0,
            rawDisease: 0,
            obligations: 0n,
            duration: DAY,
            study: 0,
            protocol: false,
          }),
        };
  return { ...base, terms: { ...base.terms, studyId: id(`forged:${ref.index}`) } };
}

const abiRequest = (r: AccessRequest) => ({ researcher: r.researcher, openedAt: r.openedAt, terms: { ...r.terms } });
const abiGrant = (g: GrantTerms) => ({ ...g });

/** Values compared the way the chain returns them: numbers as decimal strings, addresses lowercase. */
function norm(value: unknown): unknown {
  if (Array.isArray(value)) return Array.from(value, norm);
  if (typeof value === "bigint" || typeof value === "number") return BigInt(value).toString();
  if (typeof value === "string") return value.toLowerCase();
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, norm(v)]));
  }
  return value;
}
const same = (a: unknown, b: unknown): boolean => JSON.stringify(norm(a)) === JSON.stringify(norm(b));
const show = (value: unknown): string => JSON.stringify(norm(value));

function revertData(error: unknown): string | undefined {
  const e = error as { data?: unknown; error?: { data?: unknown }; info?: { error?: { data?: unknown } } };
  for (const candidate of [e?.data, e?.error?.data, e?.info?.error?.data]) {
    if (typeof candidate === "string" && candidate.startsWith("0x")) return candidate;
    const nested = (candidate as { data?: unknown } | undefined)?.data;
    if (typeof nested === "string" && nested.startsWith("0x")) return nested;
  }
  return undefined;
}

/** Runs one transaction at `now` (its own block); the decoded custom error when it reverts. */
async function transact(
  run: Run,
  now: number,
  send: () => Promise<ContractTransactionResponse>,
): Promise<{ ok: true; events: ModelEvent[] } | { ok: false; name: string; args: unknown[] }> {
  await network.provider.send("evm_setNextBlockTimestamp", [now]);
  try {
    const tx = await send();
    const receipt = await tx.wait();
    run.latest = now;
    const block = await ethers.provider.getBlock(receipt!.blockNumber);
    if (block!.timestamp !== now) throw new Mismatch(`harness: the transaction ran at ${block!.timestamp}, not ${now}`);
    const events = receipt!.logs
      .filter((log) => log.address === run.ledgerAddress)
      .map((log) => {
        const parsed = run.f.ledger.interface.parseLog(log)!;
        return { name: parsed.name, args: Array.from(parsed.args) };
      });
    return { ok: true, events };
  } catch (error) {
    if (error instanceof Mismatch) throw error;
    run.latest = now;
    const data = revertData(error);
    if (data === undefined) throw new Mismatch(`the transaction failed without revert data: ${String(error)}`);
    const parsed = run.f.ledger.interface.parseError(data);
    if (parsed === null) throw new Mismatch(`the transaction reverted with undecodable data ${data}`);
    return { ok: false, name: parsed.name, args: Array.from(parsed.args) };
  }
}

/** Applies `op` to a clone of the model; the clone (kept only on success) or the Revert it must raise. */
function modelStep<T>(run: Run, apply: (m: ConsentModel) => T): { model: ConsentModel; value?: T; revert?: Revert } {
  const model = run.model.clone();
  try {
    return { model, value: apply(model) };
  } catch (error) {
    if (error instanceof Revert) return { model, revert: error };
    throw error;
  }
}

/** The chain did what the model says: same success or same custom error; on success the same events. */
async function expectSameOutcome<T>(
  run: Run,
  label: string,
  apply: (m: ConsentModel) => T,
  now: number,
  send: () => Promise<ContractTransactionResponse>,
): Promise<T | undefined> {
  const expected = modelStep(run, apply);
  const started = Date.now();
  const actual = await transact(run, now, send);
  stats.ms.transactions += Date.now() - started;
  if (STATS) stats.count(`${stats.current}: ${actual.ok ? "ok" : actual.name}`);
  if (expected.revert !== undefined) {
    if (actual.ok)
      throw new Mismatch(`${label}: succeeded, but the model says it must revert with ${expected.revert.message}`);
    if (actual.name !== expected.revert.errorName || !same(actual.args, expected.revert.args)) {
      throw new Mismatch(
        `${label}: reverted with ${actual.name}${show(actual.args)}, the model says ${expected.revert.errorName}${show(expected.revert.args)}`,
      );
    }
    return undefined;
  }
  if (!actual.ok) {
    throw new Mismatch(`${label}: reverted with ${actual.name}${show(actual.args)}, but the model says it succeeds`);
  }
  const want = expected.model.events.map((e) => [e.name, e.args]);
  const got = actual.events.map((e) => [e.name, e.args]);
  if (!same(got, want)) throw new Mismatch(`${label}: emitted ${show(got)}, the model expects ${show(want)}`);
  run.model = expected.model;
  return expected.value;
}

async function sign(run: Run, op: Extract<Op, { t: "sign" }>, now: number): Promise<Signed | undefined> {
  let keyName: Name | undefined;
  if (op.key !== "self") keyName = op.key;
  else {
    const patient =
      op.kind === "grant" || op.kind === "revoke"
        ? run.address[op.patient]
        : resolveRequest(run, op.ref, now).terms.patient;
    keyName = CAST.find((name) => run.address[name] === patient);
  }
  if (keyName === undefined) return undefined;
  const key = run.signer[keyName];
  const signer = op.claim === "self" ? key.address : run.address[op.claim];
  const patient = run.address[op.patient];
  const nonce = op.nonce;
  const deadline = BigInt(now + op.deadline);
  const domain: TypedDataDomain = { ...run.domain };
  if (op.corruption === "wrongChain") domain.chainId = 1n;
  if (op.corruption === "wrongContract") domain.verifyingContract = run.recordsAddress;

  let type: keyof typeof SIGNED_CONSENT_TYPES;
  let message: Record<string, unknown>;
  const signed: Omit<Signed, "signature" | "valid" | "relayed"> = {
    kind: op.kind,
    signer,
    patient,
    nonce,
    deadline,
    label: describeOp(op),
  };
  let relayed: Partial<Signed> = {};
  if (op.kind === "grant") {
    const terms = resolveGrant(run, op.grant, now);
    type = "Grant";
    // The signer saw the consent as it stands now; the relay may come after it has changed.
    const stored = run.model.consentWord(patient, terms.grantee);
    const seenConsent = op.corruption === "staleSeen" ? stored ^ (1n << 104n) : stored;
    message = { signer, patient, ...terms, seenConsent, nonce, deadline };
    signed.terms = terms;
    signed.seenConsent = seenConsent;
    // Tampering: the relayer widens the classes after the patient signed.
    if (op.corruption === "tamper")
      relayed = { terms: { ...terms, dataClasses: (terms.dataClasses ^ (1 << 3)) >>> 0 } };
  } else if (op.kind === "revoke") {
    const grantee = revokee(run, patient, op.grantee);
    type = "Revoke";
    message = { signer, patient, grantee, nonce, deadline };
    signed.grantee = grantee;
    if (op.corruption === "tamper")
      relayed = { grantee: grantee === run.address.lab ? run.address.hospital : run.address.lab };
  } else {
    const request = resolveRequest(run, op.ref, now);
    type = op.kind === "approve" ? "ApproveRequest" : "DenyRequest";
    if (op.kind === "approve") {
      const stored = run.model.consentWord(request.terms.patient, request.researcher);
      const seenConsent = op.corruption === "staleSeen" ? stored ^ (1n << 104n) : stored;
      message = { signer, requestId: requestIdOf(request), seenConsent, nonce, deadline };
      signed.seenConsent = seenConsent;
    } else {
      message = { signer, requestId: requestIdOf(request), nonce, deadline };
    }
    signed.request = request;
    if (op.corruption === "tamper")
      relayed = { request: { ...request, terms: { ...request.terms, duration: request.terms.duration + 1 } } };
  }
  let signature = await key.signTypedData(domain, { [type]: [...SIGNED_CONSENT_TYPES[type]] }, message);
  if (op.corruption === "malleate") signature = malleate(signature);
  if (op.corruption === "garbage") signature = GARBAGE_SIGNATURES[Number(op.nonce % BigInt(GARBAGE_SIGNATURES.length))];
  // A stale view is still the signer's own signature: the ledger refuses it for what it saw, not how it signed.
  const valid = (op.corruption === "none" || op.corruption === "staleSeen") && signer === key.address;
  return { ...signed, ...relayed, signature, valid, relayed: false };
}

async function relay(run: Run, s: Signed, label: string, touched: Touched): Promise<void> {
  const now = run.latest + 1;
  s.relayed = true;
  const ledger = run.f.ledger.connect(run.f.relayer);
  touched.nonces.add(`${s.signer}|${s.nonce}`);
  switch (s.kind) {
    case "grant":
      await expectSameOutcome(
        run,
        label,
        (m) => m.grantBySig(s.patient, s.terms!, s.seenConsent!, s.signer, s.nonce, s.deadline, s.valid, now),
        now,
        () =>
          ledger.grantBySig(s.patient, abiGrant(s.terms!), s.seenConsent!, s.signer, s.nonce, s.deadline, s.signature, {
            gasLimit: GAS,
          }),
      );
      return;
    case "revoke":
      await expectSameOutcome(
        run,
        label,
        (m) => m.revokeBySig(s.patient, s.grantee!, s.signer, s.nonce, s.deadline, s.valid, now),
        now,
        () => ledger.revokeBySig(s.patient, s.grantee!, s.signer, s.nonce, s.deadline, s.signature, { gasLimit: GAS }),
      );
      return;
    default: {
      const approve = s.kind === "approve";
      touched.requests.add(requestIdOf(s.request!));
      await expectSameOutcome(
        run,
        label,
        (m) => m.decideBySig(s.request!, approve, s.seenConsent, s.signer, s.nonce, s.deadline, s.valid, now),
        now,
        () =>
          approve
            ? ledger.approveRequestBySig(
                abiRequest(s.request!),
                s.seenConsent!,
                s.signer,
                s.nonce,
                s.deadline,
                s.signature,
                { gasLimit: GAS },
              )
            : ledger.denyRequestBySig(abiRequest(s.request!), s.signer, s.nonce, s.deadline, s.signature, {
                gasLimit: GAS,
              }),
      );
    }
  }
}

async function moveTime(run: Run, op: Extract<Op, { t: "time" }>): Promise<void> {
  let target: number;
  if (op.kind === "seconds") target = run.latest + (op.amount % 10) + 1;
  else if (op.kind === "long") target = run.latest + (op.amount + 1) * 3600;
  else {
    // Exactly onto (or one second around) a moment where some answer changes: an end, a start, an expiry.
    const ahead = run.model.boundaries().filter((t) => t + op.delta > run.latest);
    target = ahead.length > 0 ? ahead[op.amount % ahead.length] + op.delta : run.latest + 1;
  }
  target = Math.min(target, UINT40_MAX - 1);
  if (target <= run.latest) target = run.latest + 1;
  await network.provider.send("evm_mine", [target]);
  run.latest = target;
}

async function step(run: Run, op: Op, touched: Touched): Promise<void> {
  const label = describeOp(op);
  const now = run.latest + 1;
  const a = run.address;
  const L = (name: Name) => run.f.ledger.connect(run.signer[name]);
  const gas = { gasLimit: GAS };
  /** The acting account's name: "self" is the patient, when the patient is someone we hold a key for. */
  const actorOf = (actor: Name | "self", patient: string): Name | undefined =>
    actor === "self" ? CAST.find((name) => a[name] === patient) : actor;
  switch (op.t) {
    case "time":
      return moveTime(run, op);
    case "grant": {
      const patient = a[op.patient];
      const actor = actorOf(op.actor, patient);
      if (actor === undefined) return;
      const terms = resolveGrant(run, op.grant, now);
      await expectSameOutcome(
        run,
        label,
        (m) => m.grant(a[actor], patient, terms, now),
        now,
        () =>
          L(actor).grant(
            patient,
            terms.grantee,
            terms.dataClasses,
            terms.purposes,
            terms.validFrom,
            terms.validUntil,
            gas,
          ),
      );
      return;
    }
    case "grantBatch": {
      const patient = a[op.patient];
      const actor = actorOf(op.actor, patient);
      if (actor === undefined) return;
      const grants = op.grants.map((g) => resolveGrant(run, g, now));
      await expectSameOutcome(
        run,
        label,
        (m) => m.grantBatch(a[actor], patient, grants, now),
        now,
        () => L(actor).grantBatch(patient, grants.map(abiGrant), gas),
      );
      return;
    }
    case "revoke": {
      const actor = actorOf(op.actor, a[op.patient]);
      if (actor === undefined) return;
      const grantee = revokee(run, a[op.patient], op.grantee);
      await expectSameOutcome(
        run,
        label,
        (m) => m.revoke(a[actor], a[op.patient], grantee, now),
        now,
        () => L(actor).revoke(a[op.patient], grantee, gas),
      );
      return;
    }
    case "appointDelegate": {
      const until = resolveAt(op.validUntil, now);
      touched.delegates.add(`${a[op.caller]}|${a[op.delegate]}`);
      await expectSameOutcome(
        run,
        label,
        (m) => m.appointDelegate(a[op.caller], a[op.delegate], until, op.purposes, op.sensitiveClasses, now),
        now,
        () => L(op.caller).appointDelegate(a[op.delegate], until, op.purposes, op.sensitiveClasses, gas),
      );
      return;
    }
    case "removeDelegate":
      touched.delegates.add(`${a[op.caller]}|${a[op.delegate]}`);
      await expectSameOutcome(
        run,
        label,
        (m) => m.removeDelegate(a[op.caller], a[op.delegate]),
        now,
        () => L(op.caller).removeDelegate(a[op.delegate], gas),
      );
      return;
    case "requestAccess": {
      const researcher = a[op.researcher];
      const terms = resolveTerms(run, op.researcher, op.terms);
      // First the view a researcher asks before opening: same rule, at the latest block.
      const before = modelStep(run, (m) => m.policyApproves(researcher, terms, run.latest));
      let said: boolean | { name: string; args: unknown[] };
      try {
        said = await run.f.ledger.policyApproves(researcher, terms);
      } catch (error) {
        const parsed = run.f.ledger.interface.parseError(revertData(error) ?? "0x");
        if (parsed === null) throw error;
        said = { name: parsed.name, args: Array.from(parsed.args) };
      }
      const want = before.revert ? { name: before.revert.errorName, args: before.revert.args } : before.value!;
      if (!same(said, want))
        throw new Mismatch(`policyApproves before "${label}": chain ${show(said)}, model ${show(want)}`);
      touched.policies.add(terms.patient);
      const opened = await expectSameOutcome(
        run,
        label,
        (m) => m.requestAccess(researcher, terms, now),
        now,
        () => L(op.researcher).requestAccess(terms, gas),
      );
      if (opened) touched.requests.add(opened.requestId);
      if (STATS && opened?.approved) stats.count("requestAccess: auto-approved by the patient's policy");
      return;
    }
    case "decide": {
      const request = resolveRequest(run, op.ref, now);
      const actor = op.actor === "patientOf" ? request.terms.patient : a[op.actor];
      const signer = CAST.find((name) => a[name] === actor);
      if (signer === undefined) return; // a forged request's patient may be no one we hold a key for
      touched.requests.add(requestIdOf(request));
      await expectSameOutcome(
        run,
        label,
        (m) => m.decide(actor, request, op.approve, now),
        now,
        () =>
          op.approve
            ? L(signer).approveRequest(abiRequest(request), gas)
            : L(signer).denyRequest(abiRequest(request), gas),
      );
      return;
    }
    case "cancel": {
      const request = resolveRequest(run, op.ref, now);
      const caller = op.caller === "researcherOf" ? request.researcher : a[op.caller];
      const signer = CAST.find((name) => a[name] === caller);
      if (signer === undefined) return;
      touched.requests.add(requestIdOf(request));
      await expectSameOutcome(
        run,
        label,
        (m) => m.cancel(caller, request),
        now,
        () => L(signer).cancelRequest(abiRequest(request), gas),
      );
      return;
    }
    case "setPolicy": {
      const policy = resolvePolicy(op.policy, now);
      touched.policies.add(a[op.caller]);
      await expectSameOutcome(
        run,
        label,
        (m) => m.setPolicy(a[op.caller], policy, now),
        now,
        () => L(op.caller).setPolicy(policy, gas),
      );
      return;
    }
    case "clearPolicy":
      touched.policies.add(a[op.caller]);
      await expectSameOutcome(
        run,
        label,
        (m) => m.clearPolicy(a[op.caller]),
        now,
        () => L(op.caller).clearPolicy(gas),
      );
      return;
    case "openEmergency": {
      const patient = op.patient === "self" ? a[op.caller] : a[op.patient];
      await expectSameOutcome(
        run,
        label,
        (m) => m.openEmergencyAccess(a[op.caller], patient, op.reason, op.duration, now),
        now,
        () => L(op.caller).openEmergencyAccess(patient, op.reason, op.duration, gas),
      );
      return;
    }
    case "closeEmergency":
      await expectSameOutcome(
        run,
        label,
        (m) => m.closeEmergencyAccess(a[op.caller], a[op.patient], now),
        now,
        () => L(op.caller).closeEmergencyAccess(a[op.patient], gas),
      );
      return;
    case "optOut":
      await expectSameOutcome(
        run,
        label,
        (m) => m.setEmergencyOptOut(a[op.caller], op.optedOut),
        now,
        () => L(op.caller).setEmergencyOptOut(op.optedOut, gas),
      );
      return;
    case "accredit": {
      const until = op.until === "never" ? 0 : resolveAt(op.until, now);
      await expectSameOutcome(
        run,
        label,
        (m) => m.accredit(a[op.caller], a[op.party], op.roles, op.nonProfit, until, now),
        now,
        () => L(op.caller).accredit(a[op.party], op.roles, op.nonProfit, until, gas),
      );
      return;
    }
    case "suspend":
      await expectSameOutcome(
        run,
        label,
        (m) => m.suspend(a[op.caller], a[op.party], op.reason),
        now,
        () => L(op.caller).suspend(a[op.party], op.reason, gas),
      );
      return;
    case "reinstate":
      await expectSameOutcome(
        run,
        label,
        (m) => m.reinstate(a[op.caller], a[op.party]),
        now,
        () => L(op.caller).reinstate(a[op.party], gas),
      );
      return;
    case "renounce":
      await expectSameOutcome(
        run,
        label,
        (m) => m.renounceOwnership(a[op.caller]),
        now,
        () => L(op.caller).renounceOwnership.send(gas),
      );
      return;
    case "sign": {
      // Signed at the latest block's time, relayed (unless held) in the next block.
      const signed = await sign(run, op, run.latest);
      if (signed === undefined) return;
      run.pool.push(signed);
      if (!op.hold) await relay(run, signed, label, touched);
      return;
    }
    case "relay": {
      if (run.pool.length === 0) return;
      // Mostly a held signature not sent yet (possibly now stale or superseded); sometimes a replay.
      const waiting = run.pool.filter((s) => !s.relayed);
      const signed =
        waiting.length > 0 && op.index % 3 !== 0
          ? waiting[op.index % waiting.length]
          : run.pool[op.index % run.pool.length];
      await relay(run, signed, `${label} = (${signed.label})`, touched);
      return;
    }
    case "invalidateNonces": {
      const inWord = op.nonces.filter((n) => n >> 8n === op.word);
      const mask = inWord.reduce((m, n) => m | (1n << (n & 0xffn)), 0n);
      for (const n of inWord) touched.nonces.add(`${a[op.caller]}|${n}`);
      await expectSameOutcome(
        run,
        label,
        (m) => m.invalidateNonces(a[op.caller], op.word, mask),
        now,
        () => L(op.caller).invalidateNonces(op.word, mask, gas),
      );
      return;
    }
  }
}

// -------------------------------------------------------------------------------------------------
// Checking the chain against the model (and against the invariants) after a step.

interface Cell {
  p: number;
  g: number;
  c: number;
  u: number;
}

/** Every cell of the full matrix: 2 patients × 6 grantees × 16 classes × 11 purposes. */
const ALL_CELLS: readonly Cell[] = PATIENTS.flatMap((_, p) =>
  GRANTEES.flatMap((__, g) => MATRIX_CLASSES.flatMap((c) => MATRIX_PURPOSES.map((u) => ({ p, g, c, u })))),
);

/**
 * The cells whose REAL hasAccess/accessBasis a step reads. First the cells most likely to be wrong: inside
 * the consent of every pair the step touched, and inside every consent, window or accreditation whose
 * boundary (start, end, lapse) has been crossed since the last check; then other consents and windows,
 * then random cells (with unknown codes now and then), up to SAMPLED_CELLS.
 */
function sampleCells(run: Run, touched: Touched, now: number): Cell[] {
  const must: Cell[] = [];
  const may: Cell[] = [];
  const pickOf = <T>(xs: readonly T[]): T => xs[Math.floor(run.rng() * xs.length)];
  const bits = (mask: number, count: number) =>
    Array.from({ length: count }, (_, i) => i).filter((i) => (mask >>> i) & 1);
  const crossed = (time: number) => time > run.lastChecked && time <= now;
  for (const [p, patient] of PATIENTS.entries()) {
    for (const [g, grantee] of GRANTEES.entries()) {
      const key = `${run.address[patient]}|${run.address[grantee]}`;
      const party = run.model.partyOf(run.address[grantee]);
      const partyChanged =
        touched.parties.has(run.address[grantee]) || (party.accreditedUntil !== 0 && crossed(party.accreditedUntil));
      const consent = run.model.consents.get(key);
      const cs = consent ? bits(consent.dataClasses, 15) : [];
      const us = consent ? bits(consent.purposes, 10) : [];
      if (cs.length > 0 && us.length > 0) {
        const cell = { p, g, c: pickOf(cs), u: pickOf(us) };
        const hot =
          touched.pairs.has(key) || partyChanged || crossed(consent!.validFrom) || crossed(consent!.validUntil);
        (hot ? must : may).push(cell);
      } else if (touched.pairs.has(key)) {
        must.push({ p, g, c: Math.floor(run.rng() * 15), u: Math.floor(run.rng() * 10) });
      }
      const window = run.model.windows.get(key);
      if (window) {
        const cell = { p, g, c: Math.floor(run.rng() * 15), u: pickOf([0, 1]) };
        const hot =
          touched.pairs.has(key) || touched.patients.has(run.address[patient]) || partyChanged || crossed(window.until);
        (hot ? must : may).push(cell);
      }
    }
  }
  const cells = [...must];
  while (cells.length < SAMPLED_CELLS && may.length > 0)
    cells.push(may.splice(Math.floor(run.rng() * may.length), 1)[0]);
  while (cells.length < SAMPLED_CELLS) {
    const wild = run.rng() < 0.15;
    cells.push({
      p: Math.floor(run.rng() * PATIENTS.length),
      g: Math.floor(run.rng() * GRANTEES.length),
      c: wild ? pickOf(SAMPLE_CLASSES) : Math.floor(run.rng() * 15),
      u: wild ? pickOf(SAMPLE_PURPOSES) : Math.floor(run.rng() * 10),
    });
  }
  return cells;
}

/** The model's accessBasis, or the custom error it must revert with (unknown codes). */
function expectedBasis(
  model: ConsentModel,
  patient: string,
  grantee: string,
  c: number,
  u: number,
  t: number,
): unknown {
  try {
    return [model.accessBasis(patient, grantee, c, u, t)];
  } catch (error) {
    if (error instanceof Revert) return { error: error.errorName, args: error.args };
    throw error;
  }
}

const partyTuple = (p: Party) => [p.roles, p.nonProfit, p.suspended, p.accreditedUntil, p.index, p.suspensions];
const consentTuple = (c: { dataClasses: number; purposes: number; validFrom: number; validUntil: number }) => [
  c.dataClasses,
  c.purposes,
  c.validFrom,
  c.validUntil,
];

interface Check {
  call: ViewCall;
  what: string;
  expect: (t: number) => unknown;
}

/**
 * One step's comparison, all at the block the step ended on:
 * - the stored state of EVERY pair of the matrix (consentOf, emergencyAccessUntil), of every grantee
 *   (partyOf) and patient (emergencyOptedOut), plus whatever the step touched; from this state the model
 *   answers hasAccess/accessBasis for every cell, so every cell is accounted for at every step;
 * - the real hasAccess and accessBasis of the sampled cells (every cell when `full`);
 * - the invariants of docs/testing.md ("Invariants") on every positive answer, from the chain's own evidence.
 */
async function checkChain(run: Run, touched: Touched, where: string, full: boolean): Promise<void> {
  const { model } = run;
  const iface = run.f.ledger.interface as unknown as Interface;
  const call = (fn: string, ...args: unknown[]): ViewCall => ({ target: run.ledgerAddress, iface, fn, args });
  const pa = PATIENTS.map((n) => run.address[n]);
  const ga = GRANTEES.map((n) => run.address[n]);

  const checks: Check[] = [];
  const pairs = new Set(touched.pairs);
  for (const patient of [...pa, ...touched.patients]) for (const grantee of ga) pairs.add(`${patient}|${grantee}`);
  for (const key of pairs) {
    const [patient, grantee] = key.split("|");
    checks.push({
      call: call("consentOf", patient, grantee),
      what: `consentOf(${nameOf(run, patient)}, ${nameOf(run, grantee)})`,
      expect: () => [consentTuple(model.consentOf(patient, grantee))],
    });
    checks.push({
      call: call("emergencyAccessUntil", patient, grantee),
      what: `emergencyAccessUntil(${nameOf(run, patient)}, ${nameOf(run, grantee)})`,
      expect: (t) => [model.emergencyAccessUntil(patient, grantee, t)],
    });
  }
  for (const patient of new Set([...pa, ...touched.patients])) {
    checks.push({
      call: call("emergencyOptedOut", patient),
      what: `emergencyOptedOut(${nameOf(run, patient)})`,
      expect: () => [model.emergencyOptedOut(patient)],
    });
  }
  for (const party of new Set([...ga, ...touched.parties])) {
    checks.push({
      call: call("partyOf", party),
      what: `partyOf(${nameOf(run, party)})`,
      expect: () => [partyTuple(model.partyOf(party))],
    });
  }
  for (const requestId of touched.requests) {
    checks.push({
      call: call("requestStatus", requestId),
      what: `requestStatus(${requestId.slice(0, 10)}…)`,
      expect: (t) => {
        const s = model.requestStatus(requestId, t);
        return [s.status, s.expiresAt];
      },
    });
  }
  for (const key of touched.delegates) {
    const [patient, delegate] = key.split("|");
    checks.push({
      call: call("delegateOf", patient, delegate),
      what: `delegateOf(${nameOf(run, patient)}, ${nameOf(run, delegate)})`,
      expect: () => {
        const d = model.delegateOf(patient, delegate);
        return [[d.validUntil, d.purposes, d.sensitiveClasses]];
      },
    });
  }
  for (const key of touched.nonces) {
    const [signer, nonce] = key.split("|");
    const word = BigInt(nonce) >> 8n;
    checks.push({
      call: call("nonceBitmap", signer, word),
      what: `nonceBitmap(${nameOf(run, signer)}, ${word})`,
      expect: () => [model.nonceBitmap(signer, word)],
    });
  }
  for (const patient of touched.policies) {
    checks.push({
      call: call("policyOf", patient),
      what: `policyOf(${nameOf(run, patient)})`,
      expect: () => [policyTuple(model.policyOf(patient))],
    });
  }
  const cells = full ? ALL_CELLS : sampleCells(run, touched, run.latest);
  const firstCell = checks.length;
  for (const cell of cells) {
    const patient = pa[cell.p];
    const grantee = ga[cell.g];
    const name = `(${PATIENTS[cell.p]}, ${GRANTEES[cell.g]}, class ${cell.c}, purpose ${cell.u})`;
    checks.push({
      call: call("hasAccess", patient, grantee, cell.c, cell.u),
      what: `hasAccess${name}`,
      expect: (t) => [model.hasAccess(patient, grantee, cell.c, cell.u, t)],
    });
    checks.push({
      call: call("accessBasis", patient, grantee, cell.c, cell.u),
      what: `accessBasis${name}`,
      expect: (t) => expectedBasis(model, patient, grantee, cell.c, cell.u, t),
    });
  }

  const reading = await readAll(checks.map((c) => c.call));
  const t = reading.timestamp;
  if (t !== run.latest) throw new Mismatch(`harness: the reads ran at ${t}, not at the latest block's ${run.latest}`);
  const actual = (i: number): unknown => {
    const r = reading.results[i];
    if (r.ok) return r.values;
    const parsed = iface.parseError(r.data);
    return { error: parsed?.name ?? `undecodable ${r.data}`, args: parsed ? Array.from(parsed.args) : [] };
  };
  for (const [i, check] of checks.entries()) {
    const expected = check.expect(t);
    if (!same(actual(i), expected)) {
      throw new Mismatch(
        `${where}: at t=${t} ${check.what} is ${show(actual(i))} on chain, the model says ${show(expected)}`,
      );
    }
  }

  // The invariants of docs/testing.md ("Invariants"), on the chain's own evidence, whatever the model says.
  const evidence = {
    consent: new Map<string, bigint[]>(),
    window: new Map<string, bigint>(),
    party: new Map<string, unknown[]>(),
    optedOut: new Map<string, boolean>(),
  };
  for (const [i, check] of checks.entries()) {
    const r = reading.results[i];
    if (!r.ok) continue;
    const [a0, a1] = check.call.args as string[];
    if (check.call.fn === "consentOf")
      evidence.consent.set(
        `${a0}|${a1}`,
        Array.from(r.values[0] as unknown[], (v) => BigInt(v as bigint)),
      );
    if (check.call.fn === "emergencyAccessUntil") evidence.window.set(`${a0}|${a1}`, BigInt(r.values[0] as bigint));
    if (check.call.fn === "partyOf") evidence.party.set(a0, Array.from(r.values[0] as unknown[]));
    if (check.call.fn === "emergencyOptedOut") evidence.optedOut.set(a0, r.values[0] as boolean);
  }
  for (let i = firstCell; i < checks.length; i += 2) {
    const [patient, grantee, c, u] = checks[i].call.args as [string, string, number, number];
    const access = reading.results[i].ok ? (reading.results[i] as { values: unknown[] }).values[0] : "revert";
    const basis = reading.results[i + 1].ok
      ? Number((reading.results[i + 1] as { values: unknown[] }).values[0])
      : "revert";
    const broken = invariantBroken(evidence, patient, grantee, c, u, access, basis, t);
    if (broken) {
      throw new Mismatch(
        `${where}: invariant broken at t=${t} for (${nameOf(run, patient)}, ${nameOf(run, grantee)}, class ${c}, purpose ${u}): ${broken}`,
      );
    }
  }
}

/**
 * docs/testing.md ("Invariants") I1-I3, judged from what the chain stores (consentOf, partyOf, emergencyAccessUntil,
 * emergencyOptedOut), not from the model: no access without a live grant covering it and the
 * accreditation its purpose needs; no emergency basis without an open window of a live provider for
 * treatment on a patient who has not opted out; known codes never revert, unknown ones never pass.
 */
function invariantBroken(
  evidence: {
    consent: Map<string, bigint[]>;
    window: Map<string, bigint>;
    party: Map<string, unknown[]>;
    optedOut: Map<string, boolean>;
  },
  patient: string,
  grantee: string,
  c: number,
  u: number,
  access: unknown,
  basis: unknown,
  t: number,
): string | undefined {
  const T = BigInt(t);
  const known = c < 15 && u < 10;
  if (access === "revert") return "hasAccess reverted (it must answer any input)";
  if (!known)
    return access === false && basis === "revert" ? undefined : "an unknown code passed, or did not revert accessBasis";
  if (basis === "revert") return "accessBasis reverted on known codes";
  const key = `${patient}|${grantee}`;
  const [classes, purposes, from, until] = evidence.consent.get(key) ?? [0n, 0n, 0n, 0n];
  const party = evidence.party.get(grantee);
  const live = (need: number) =>
    need === 0 ||
    (party !== undefined &&
      (Number(party[0]) & need) !== 0 &&
      party[2] === false &&
      (BigInt(party[3] as bigint) === 0n || BigInt(party[3] as bigint) > T));
  const need = [
    Role.PROVIDER,
    Role.PROVIDER,
    Role.PROVIDER,
    Role.RESEARCHER,
    Role.RESEARCHER,
    Role.RESEARCHER,
    Role.ALL,
    Role.ALL,
    Role.ALL,
    0,
  ][u];
  const covered =
    ((classes >> BigInt(c)) & 1n) === 1n && ((purposes >> BigInt(u)) & 1n) === 1n && from <= T && T < until;
  if (access === true && !(covered && live(need))) {
    return "I1: access without a consent that covers the class and purpose, has started and not ended, to a grantee holding the accreditation the purpose needs";
  }
  if ((basis === 1) !== (access === true))
    return "accessBasis says Consent exactly when hasAccess is true, and here it does not";
  if (basis === 2) {
    if (u !== 0 && u !== 1) return "I3: an emergency basis for a purpose other than TREAT or ETREAT";
    if (!((evidence.window.get(key) ?? 0n) > T)) return "I3: an emergency basis without an open window";
    if (evidence.optedOut.get(patient) !== false) return "I3: an emergency basis for a patient who opted out";
    if (!live(Role.PROVIDER)) return "I3: an emergency basis for a grantee that is not a live provider";
  }
  return undefined;
}

/**
 * At the end of a sequence, everything that could have been written: every pair, party and patient of the
 * cast, every request ever opened, every delegate appointment and nonce any step touched or the model
 * holds, and every policy of the cast.
 */
function everything(run: Run, seen: Touched): Touched {
  const all = noneTouched();
  for (const key of seen.pairs) all.pairs.add(key);
  for (const name of CAST) all.parties.add(run.address[name]);
  for (const key of seen.parties) all.parties.add(key);
  for (const request of run.model.requestLog) all.requests.add(requestIdOf(request));
  for (const key of [...seen.delegates, ...run.model.delegates.keys()]) all.delegates.add(key);
  for (const signer of [...PATIENTS, "delegate" as const])
    for (const n of NONCES) all.nonces.add(`${run.address[signer]}|${n}`);
  for (const key of seen.nonces) all.nonces.add(key);
  for (const name of CAST) all.policies.add(run.address[name]);
  return all;
}

// -------------------------------------------------------------------------------------------------

async function initialModel(f: LedgerFixture): Promise<ConsentModel> {
  const model = new ConsentModel({
    administrator: f.admin.address,
    requestTtl: LEDGER_PARAMS.requestTtl,
    maxRequestDuration: LEDGER_PARAMS.maxRequestDuration,
    maxEmergencyDuration: LEDGER_PARAMS.maxEmergencyDuration,
  });
  // The fixture's accreditations, in its order (indexes 1-4).
  const now = await time.latest();
  model.accredit(f.admin.address, f.hospital.address, Role.PROVIDER | Role.CUSTODIAN, false, 0, now);
  model.accredit(f.admin.address, f.lab.address, Role.PROVIDER, false, 0, now);
  model.accredit(f.admin.address, f.university.address, Role.RESEARCHER, true, 0, now);
  model.accredit(f.admin.address, f.pharma.address, Role.RESEARCHER, false, 0, now);
  return model;
}

async function runSequence(ops: readonly Op[], seed: number, fullAtEnd: boolean): Promise<void> {
  const f = await loadFixture(deployLedgerFixture);
  const signer = Object.fromEntries(CAST.map((name) => [name, f[name]])) as Record<Name, HardhatEthersSigner>;
  const address = { ...Object.fromEntries(CAST.map((name) => [name, f[name].address])), zero: ZeroAddress } as Record<
    Target,
    string
  >;
  const run: Run = {
    f,
    model: await initialModel(f),
    latest: await time.latest(),
    address,
    signer,
    ledgerAddress: await f.ledger.getAddress(),
    recordsAddress: await f.records.getAddress(),
    domain: await domainOf(f.ledger),
    pool: [],
    rng: prng(seed),
    history: [],
    lastChecked: 0,
  };
  run.lastChecked = run.latest;
  const seen = noneTouched();
  for (const [i, op] of ops.entries()) {
    const touched = noneTouched();
    const where = `step ${i + 1} (${describeOp(op)})`;
    try {
      const before = run.model;
      stats.current = op.t === "sign" ? `sign ${op.kind}${op.hold ? " (held)" : ""}` : op.t;
      stats.steps++;
      await step(run, op, touched);
      diff(before, run.model, touched);
      const started = Date.now();
      await checkChain(run, touched, where, FULL_MATRIX_STEPS);
      stats.ms.reads += Date.now() - started;
    } catch (error) {
      if (error instanceof Mismatch)
        error.message = `${error.message}\n  after: ${run.history.join("\n         ") || "(nothing)"}`;
      throw error;
    }
    run.lastChecked = run.latest;
    for (const [key, set] of Object.entries(touched) as [keyof Touched, Set<string>][])
      for (const v of set) seen[key].add(v);
    run.history.push(`[t=${run.latest}] ${describeOp(op)}`);
  }
  try {
    const started = Date.now();
    stats.runs++;
    await checkChain(run, everything(run, seen), `after all ${ops.length} steps`, fullAtEnd && !FULL_MATRIX_STEPS);
    stats.ms[fullAtEnd ? "fullMatrix" : "reads"] += Date.now() - started;
  } catch (error) {
    if (error instanceof Mismatch) error.message = `${error.message}\n  after: ${run.history.join("\n         ")}`;
    throw error;
  }
}

describe("the consent rules, model-based", function () {
  // The runs move the clock by up to years; leave the network at the fixture's state and time, so that
  // later test files that sign with wall-clock deadlines are not handed a chain living in the future.
  after(async function () {
    await loadFixture(deployLedgerFixture);
  });

  it(`agree with the reference model over ${RUNS} random sequences of up to ${MAX_STEPS} operations`, async function () {
    this.timeout(0);
    const property = fc.asyncProperty(
      fc.array(readable(opArb), { minLength: 1, maxLength: MAX_STEPS, size: "max" }),
      fc.integer(),
      fc.nat(FULL_MATRIX_EVERY - 1),
      async (ops, seed, ticket) => runSequence(ops, seed, ticket === FULL_MATRIX_EVERY - 1),
    );
    const details = await fc.check(property, { numRuns: RUNS, seed: fuzzSeed(), path: PATH, endOnFailure: false });
    if (STATS) {
      console.log(`    ${stats.runs} sequences, ${stats.steps} steps; ms: ${JSON.stringify(stats.ms)}`);
      for (const [key, n] of [...stats.outcomes].sort()) console.log(`      ${key.padEnd(48)} ${n}`);
    }
    if (details.failed) {
      const cause = details.errorInstance;
      const message =
        `${fc.defaultReportMessage(details)}\n\nFailure: ${cause instanceof Error ? (cause.stack ?? cause.message) : String(cause)}` +
        `\n\nReplay this case with:\n  FUZZ_SEED=${details.seed} FUZZ_PATH=${details.counterexamplePath} ` +
        `npx hardhat test test/model/consent-model.test.ts`;
      // The message is the whole report: no second copy as a stack trace.
      throw Object.assign(new Error(message), { stack: message });
    }
  });
});
