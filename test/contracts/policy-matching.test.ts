import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { ZeroAddress, ZeroHash } from "ethers";

import { DataClass, Duo, type DuoName, Purpose, RequestStatus, codesOf, duoMaskOf, maskOf } from "../../sdk/codes";
import { DAY, LEDGER_PARAMS, deployLedgerFixture } from "../helpers/fixtures";
import {
  ALZHEIMER,
  DIABETES,
  type DataUsePolicy,
  PROTOCOL_HASH,
  type RequestTerms,
  minedAt,
  requestAccessResult,
  requestIdOf,
  researchPolicy,
  researchTerms,
} from "../helpers/requests";

/*
 * The rules of `_policyMatches` (AccessRequests.sol), one table row each. Every case starts from the
 * same matching pair, changed only where the case says:
 *   policy  researchPolicy(): GRU, {LAB_RESULT, CONDITION, GENOMIC}, {HRESCH, BIORCH}, no modifier, no end;
 *   request researchTerms():  {LAB_RESULT, CONDITION}, HRESCH, GRU, no obligation, 180 days, no protocol,
 *           from the non-profit university.
 */

type Fixture = Awaited<ReturnType<typeof deployLedgerFixture>>;

interface Case {
  /** What makes the case approve or stay pending. */
  when: string;
  /** Changes to the baseline policy (a function of the current time), or null for no policy at all. */
  policy?: Partial<DataUsePolicy> | ((now: number) => Partial<DataUsePolicy>) | null;
  /** Changes to the baseline request. */
  terms?: Partial<RequestTerms>;
  /** Who asks: the non-profit university (default) or the commercial pharma. */
  researcher?: "university" | "pharma";
  /** Runs after the policy is set, before the request. */
  setup?: (fixture: Fixture, policy: DataUsePolicy | null) => Promise<void>;
}

interface Row {
  rule: string;
  approvesWhen: string;
  otherwise: string;
  approves: Case[];
  pending: Case[];
}

const CATEGORIES: Record<"GRU" | "HMB" | "DS" | "POA", Partial<RequestTerms>> = {
  GRU: { researchCategory: Duo.GRU },
  HMB: { researchCategory: Duo.HMB },
  DS: { researchCategory: Duo.DS, diseaseId: DIABETES },
  POA: { researchCategory: Duo.POA },
};
const categoryCase = (name: keyof typeof CATEGORIES, policy: Partial<DataUsePolicy>): Case => ({
  when: `the request is ${name} research`,
  policy,
  terms: CATEGORIES[name],
});

const OBLIGATIONS: DuoName[] = ["PUB", "COL", "IRB", "MOR", "RTN"];
const NON_SENSITIVE = maskOf(Array.from({ length: DataClass.MENTAL_HEALTH }, (_, c) => c));
const ALL_CLASSES = maskOf(Object.values(DataClass));
const TS_LIMIT = 90 * DAY;

const TABLE: Row[] = [
  {
    rule: "policy set",
    approvesWhen: "permission != 0",
    otherwise: "pending",
    approves: [{ when: "the patient has set a policy" }],
    pending: [
      { when: "the patient never set a policy", policy: null },
      {
        when: "the patient cleared the policy",
        setup: async ({ ledger, patient }) => {
          await ledger.connect(patient).clearPolicy();
        },
      },
    ],
  },
  {
    rule: "policy in force",
    approvesWhen: "validUntil == 0 or > now",
    otherwise: "pending",
    approves: [
      { when: "validUntil is 0" },
      {
        when: "validUntil is one second after the request",
        policy: (now) => ({ validUntil: now + DAY }),
        // The request is mined in the next block, at validUntil - 1.
        setup: async (_, policy) => time.increaseTo(policy!.validUntil - 2),
      },
    ],
    pending: [
      {
        when: "validUntil has been reached",
        policy: (now) => ({ validUntil: now + DAY }),
        setup: async (_, policy) => time.increaseTo(policy!.validUntil),
      },
      {
        when: "validUntil is long past",
        policy: (now) => ({ validUntil: now + DAY }),
        setup: async (_, policy) => time.increaseTo(policy!.validUntil + 365 * DAY),
      },
    ],
  },
  {
    rule: "purpose",
    approvesWhen: "request purpose is in policy.purposes (research purposes only)",
    otherwise: "pending",
    approves: [
      { when: "the purpose is HRESCH, in the policy", terms: { purpose: Purpose.HRESCH } },
      { when: "the purpose is BIORCH, in the policy", terms: { purpose: Purpose.BIORCH } },
      {
        when: "the purpose is CLINTRCH and the policy covers every research purpose",
        policy: { purposes: maskOf([Purpose.HRESCH, Purpose.BIORCH, Purpose.CLINTRCH]) },
        terms: { purpose: Purpose.CLINTRCH },
      },
    ],
    pending: [
      {
        when: "the purpose is CLINTRCH, a research purpose the policy leaves out",
        terms: { purpose: Purpose.CLINTRCH },
      },
    ],
  },
  {
    rule: "data classes",
    approvesWhen: "requested classes ⊆ policy classes",
    otherwise: "pending",
    approves: [
      {
        when: "the request asks for exactly the policy's classes",
        terms: { dataClasses: maskOf([DataClass.LAB_RESULT, DataClass.CONDITION, DataClass.GENOMIC]) },
      },
      { when: "the request asks for one class of the policy", terms: { dataClasses: maskOf([DataClass.GENOMIC]) } },
    ],
    pending: [
      {
        when: "one requested class is outside the policy",
        terms: { dataClasses: maskOf([DataClass.LAB_RESULT, DataClass.IMAGING]) },
      },
      { when: "the only requested class is outside the policy", terms: { dataClasses: maskOf([DataClass.ALLERGY]) } },
    ],
  },
  {
    rule: "sensitive classes",
    approvesWhen: "no MENTAL_HEALTH / SEXUAL_REPRODUCTIVE_HEALTH / SUBSTANCE_USE requested",
    otherwise: "pending",
    approves: [
      {
        when: "a policy releasing every class is asked for every class that is not sensitive",
        policy: { dataClasses: ALL_CLASSES },
        terms: { dataClasses: NON_SENSITIVE },
      },
    ],
    pending: [
      ...(["MENTAL_HEALTH", "SEXUAL_REPRODUCTIVE_HEALTH", "SUBSTANCE_USE"] as const).map((name) => ({
        when: `${name} is requested, although the policy lists it`,
        policy: { dataClasses: ALL_CLASSES },
        terms: { dataClasses: maskOf([DataClass[name]]) },
      })),
      {
        when: "one sensitive class is requested among others",
        policy: { dataClasses: ALL_CLASSES },
        terms: { dataClasses: maskOf([DataClass.LAB_RESULT, DataClass.SUBSTANCE_USE]) },
      },
    ],
  },
  {
    rule: "NRES or GRU policy",
    approvesWhen: "any research category (GRU, HMB, DS, POA)",
    otherwise: "—",
    approves: (["NRES", "GRU"] as const).flatMap((permission) =>
      (["GRU", "HMB", "DS", "POA"] as const).map((category) => ({
        ...categoryCase(category, { permission: Duo[permission] }),
        when: `the policy is ${permission} and the request is ${category} research`,
      })),
    ),
    pending: [],
  },
  {
    rule: "HMB policy",
    approvesWhen: "category HMB or DS",
    otherwise: "pending for GRU, POA",
    approves: [categoryCase("HMB", { permission: Duo.HMB }), categoryCase("DS", { permission: Duo.HMB })],
    pending: [categoryCase("GRU", { permission: Duo.HMB }), categoryCase("POA", { permission: Duo.HMB })],
  },
  {
    rule: "DS policy (disease d)",
    approvesWhen: "category DS with diseaseId == d",
    otherwise: "pending for other disease / category",
    approves: [categoryCase("DS", { permission: Duo.DS, diseaseId: DIABETES })],
    pending: [
      {
        when: "the request is DS research on another disease",
        policy: { permission: Duo.DS, diseaseId: DIABETES },
        terms: { researchCategory: Duo.DS, diseaseId: ALZHEIMER },
      },
      ...(["GRU", "HMB", "POA"] as const).map((c) => categoryCase(c, { permission: Duo.DS, diseaseId: DIABETES })),
    ],
  },
  {
    rule: "POA policy",
    approvesWhen: "category POA",
    otherwise: "pending otherwise",
    approves: [categoryCase("POA", { permission: Duo.POA })],
    pending: (["GRU", "HMB", "DS"] as const).map((c) => categoryCase(c, { permission: Duo.POA })),
  },
  {
    rule: "NPOA modifier",
    approvesWhen: "category != POA",
    otherwise: "pending",
    approves: (["GRU", "HMB", "DS"] as const).map((c) => categoryCase(c, { modifiers: duoMaskOf(["NPOA"]) })),
    pending: [
      categoryCase("POA", { modifiers: duoMaskOf(["NPOA"]) }),
      {
        ...categoryCase("POA", { permission: Duo.NRES, modifiers: duoMaskOf(["NPOA"]) }),
        when: "the policy is NRES with NPOA and the request is POA research",
      },
    ],
  },
  {
    rule: "NPU or NCU modifier",
    approvesWhen: "researcher accredited nonProfit",
    otherwise: "pending for commercial",
    approves: [
      { when: "the policy is NPU and the researcher non-profit", policy: { modifiers: duoMaskOf(["NPU"]) } },
      { when: "the policy is NCU and the researcher non-profit", policy: { modifiers: duoMaskOf(["NCU"]) } },
      {
        when: "the policy is NPU + NCU and the researcher non-profit",
        policy: { modifiers: duoMaskOf(["NPU", "NCU"]) },
      },
      { when: "the policy has neither and the researcher is commercial", researcher: "pharma" },
    ],
    pending: [
      {
        when: "the policy is NPU and the researcher commercial",
        policy: { modifiers: duoMaskOf(["NPU"]) },
        researcher: "pharma",
      },
      {
        when: "the policy is NCU and the researcher commercial",
        policy: { modifiers: duoMaskOf(["NCU"]) },
        researcher: "pharma",
      },
    ],
  },
  {
    rule: "obligations PUB COL IRB MOR RTN",
    approvesWhen: "request acceptedObligations ⊇ policy obligations",
    otherwise: "pending",
    // A protocol is attached throughout, so that only the obligations decide (IRB has its own row).
    approves: [
      ...OBLIGATIONS.map((name) => ({
        when: `the policy requires ${name} and the request accepts it`,
        policy: { modifiers: duoMaskOf([name]) },
        terms: { acceptedObligations: duoMaskOf([name]), protocolHash: PROTOCOL_HASH },
      })),
      {
        when: "the policy requires PUB + RTN and the request accepts all five",
        policy: { modifiers: duoMaskOf(["PUB", "RTN"]) },
        terms: { acceptedObligations: duoMaskOf(OBLIGATIONS), protocolHash: PROTOCOL_HASH },
      },
      {
        when: "the policy requires none and the request accepts some",
        terms: { acceptedObligations: duoMaskOf(["COL", "MOR"]), protocolHash: PROTOCOL_HASH },
      },
    ],
    pending: [
      ...OBLIGATIONS.map((name) => ({
        when: `the policy requires all five and the request accepts all but ${name}`,
        policy: { modifiers: duoMaskOf(OBLIGATIONS) },
        terms: {
          acceptedObligations: duoMaskOf(OBLIGATIONS.filter((o) => o !== name)),
          protocolHash: PROTOCOL_HASH,
        },
      })),
      {
        when: "the policy requires PUB and the request accepts none",
        policy: { modifiers: duoMaskOf(["PUB"]) },
        terms: { protocolHash: PROTOCOL_HASH },
      },
    ],
  },
  {
    rule: "IRB modifier",
    approvesWhen: "protocolHash != 0",
    otherwise: "pending",
    approves: [
      {
        when: "the request accepts IRB and names its protocol",
        policy: { modifiers: duoMaskOf(["IRB"]) },
        terms: { acceptedObligations: duoMaskOf(["IRB"]), protocolHash: PROTOCOL_HASH },
      },
    ],
    pending: [
      {
        when: "the request accepts IRB but names no protocol",
        policy: { modifiers: duoMaskOf(["IRB"]) },
        terms: { acceptedObligations: duoMaskOf(["IRB"]), protocolHash: ZeroHash },
      },
    ],
  },
  {
    rule: "TS modifier",
    approvesWhen: "duration <= maxDuration",
    otherwise: "pending",
    approves: [
      {
        when: "the duration equals maxDuration",
        policy: { modifiers: duoMaskOf(["TS"]), maxDuration: TS_LIMIT },
        terms: { duration: TS_LIMIT },
      },
      {
        when: "the duration is one second",
        policy: { modifiers: duoMaskOf(["TS"]), maxDuration: TS_LIMIT },
        terms: { duration: 1 },
      },
    ],
    pending: [
      {
        when: "the duration is one second over maxDuration",
        policy: { modifiers: duoMaskOf(["TS"]), maxDuration: TS_LIMIT },
        terms: { duration: TS_LIMIT + 1 },
      },
      {
        when: "the duration is twice maxDuration",
        policy: { modifiers: duoMaskOf(["TS"]), maxDuration: TS_LIMIT },
        terms: { duration: 2 * TS_LIMIT },
      },
    ],
  },
];

/** Sets up one case on a fresh ledger, asks policyApproves, then opens the request and reads what happened. */
async function runCase(c: Case) {
  const fixture = await loadFixture(deployLedgerFixture);
  const { ledger, patient } = fixture;
  let policy: DataUsePolicy | null = null;
  if (c.policy !== null) {
    const changes = typeof c.policy === "function" ? c.policy(await time.latest()) : (c.policy ?? {});
    policy = researchPolicy(changes);
    await ledger.connect(patient).setPolicy(policy);
  }
  if (c.setup) await c.setup(fixture, policy);

  const researcher = fixture[c.researcher ?? "university"];
  const terms = researchTerms({ patient: patient.address, ...c.terms });
  const predicted = await ledger.policyApproves(researcher.address, terms);

  const tx = await ledger.connect(researcher).requestAccess(terms);
  const receipt = (await tx.wait())!;
  const openedAt = await minedAt(tx);
  const requestId = requestIdOf({ researcher: researcher.address, openedAt, terms });
  const returned = await requestAccessResult(ledger, tx);
  const events = receipt.logs.map((log) => ledger.interface.parseLog(log)!);
  const [status, expiresAt] = await ledger.requestStatus(requestId);
  return { ledger, patient, researcher, terms, predicted, returned, events, status, expiresAt, requestId, openedAt };
}

type Outcome = Awaited<ReturnType<typeof runCase>>;

async function expectApproved(o: Outcome, label: string) {
  const { ledger, patient, researcher, terms } = o;
  expect(o.predicted, `${label}: policyApproves`).to.equal(true);
  expect(o.returned, `${label}: requestAccess returned`).to.deep.equal({ requestId: o.requestId, approved: true });
  // Approved at once and never stored: the events and the consent are its record.
  expect([o.status, o.expiresAt], `${label}: status`).to.deep.equal([BigInt(RequestStatus.None), 0n]);
  expect(
    o.events.map((e) => e.name),
    `${label}: events`,
  ).to.deep.equal(["RequestOpened", "RequestApproved", "ConsentGranted"]);
  expect([...o.events[1].args], `${label}: RequestApproved`).to.deep.equal([o.requestId, patient.address, ZeroAddress]);
  expect([...o.events[2].args], `${label}: ConsentGranted`).to.deep.equal([
    patient.address,
    researcher.address,
    ZeroAddress,
    BigInt(terms.dataClasses),
    BigInt(1 << terms.purpose),
    BigInt(o.openedAt),
    BigInt(o.openedAt + terms.duration),
  ]);
  for (const dataClass of codesOf(terms.dataClasses)) {
    expect(await ledger.hasAccess(patient.address, researcher.address, dataClass, terms.purpose), `${label}: hasAccess`)
      .to.be.true;
  }
}

/** `consent`: what the researcher holds already, left as it was (default: none). */
async function expectPending(o: Outcome, label: string, consent: bigint[] = [0n, 0n, 0n, 0n]) {
  const { ledger, patient, researcher } = o;
  expect(o.predicted, `${label}: policyApproves`).to.equal(false);
  expect(o.returned, `${label}: requestAccess returned`).to.deep.equal({ requestId: o.requestId, approved: false });
  // Never an automatic denial: the request waits for the patient.
  expect([o.status, o.expiresAt], `${label}: status`).to.deep.equal([
    BigInt(RequestStatus.Pending),
    BigInt(o.openedAt + LEDGER_PARAMS.requestTtl),
  ]);
  expect(
    o.events.map((e) => e.name),
    `${label}: events`,
  ).to.deep.equal(["RequestOpened"]);
  expect(await ledger.consentOf(patient.address, researcher.address), `${label}: consent`).to.deep.equal(consent);
}

describe("policy matching", function () {
  describe("the rules of a standing policy, one row each", function () {
    for (const row of TABLE) {
      const title =
        `| ${row.rule} | approves when ${row.approvesWhen} | ${row.otherwise} |` +
        ` (${row.approves.length} approving, ${row.pending.length} pending cases)`;
      it(title, async function () {
        expect(row.approves.length, "every row shows at least one approving case").to.be.greaterThan(0);
        for (const c of row.approves) await expectApproved(await runCase(c), `${row.rule}, approves when ${c.when}`);
        for (const c of row.pending) await expectPending(await runCase(c), `${row.rule}, pending when ${c.when}`);
      });
    }
  });

  describe("auto-approval", function () {
    it("never denies: a request the policy does not match can still be approved by the patient", async function () {
      const o = await runCase({
        when: "a sensitive class",
        policy: { dataClasses: ALL_CLASSES },
        terms: { dataClasses: maskOf([DataClass.MENTAL_HEALTH]) },
      });
      await expectPending(o, "sensitive class");
      const request = { researcher: o.researcher.address, openedAt: o.openedAt, terms: o.terms };
      await expect(o.ledger.connect(o.patient).approveRequest(request))
        .to.emit(o.ledger, "RequestApproved")
        .withArgs(o.requestId, o.patient.address, o.patient.address);
    });

    it("decides the request for good: the patient cannot decide it again, the researcher cannot cancel it", async function () {
      const o = await runCase({ when: "the baseline" });
      await expectApproved(o, "baseline");
      const request = { researcher: o.researcher.address, openedAt: o.openedAt, terms: o.terms };
      // An auto-approved request was never stored, so there is no request left to act on.
      await expect(o.ledger.connect(o.patient).denyRequest(request))
        .to.be.revertedWithCustomError(o.ledger, "RequestNotFound")
        .withArgs(o.requestId);
      await expect(o.ledger.connect(o.patient).approveRequest(request))
        .to.be.revertedWithCustomError(o.ledger, "RequestNotFound")
        .withArgs(o.requestId);
      await expect(o.ledger.connect(o.researcher).cancelRequest(request))
        .to.be.revertedWithCustomError(o.ledger, "RequestNotFound")
        .withArgs(o.requestId);
      // The policy's consent stands, untouched by the refused calls.
      expect(await o.ledger.consentOf(o.patient.address, o.researcher.address)).to.deep.equal([
        BigInt(o.terms.dataClasses),
        BigInt(1 << o.terms.purpose),
        BigInt(o.openedAt),
        BigInt(o.openedAt + o.terms.duration),
      ]);
    });

    it("leaves the request to the patient when the researcher holds a consent that has not ended", async function () {
      let earlierUntil = 0;
      const o = await runCase({
        when: "an earlier consent exists",
        setup: async ({ ledger, patient, university }) => {
          earlierUntil = (await time.latest()) + 1000 * DAY;
          await ledger
            .connect(patient)
            .grant(
              patient.address,
              university.address,
              maskOf([DataClass.IMAGING]),
              maskOf([Purpose.BIORCH]),
              0,
              earlierUntil,
            );
        },
      });
      // Approving would replace that consent (narrowing or widening access): only the patient decides.
      await expectPending(o, "earlier consent", [
        BigInt(maskOf([DataClass.IMAGING])),
        BigInt(maskOf([Purpose.BIORCH])),
        0n,
        BigInt(earlierUntil),
      ]);
      expect(
        await o.ledger.hasAccess(o.patient.address, o.researcher.address, DataClass.IMAGING, Purpose.BIORCH),
      ).to.equal(true);
    });
  });
});
