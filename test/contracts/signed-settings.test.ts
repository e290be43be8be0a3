/**
 * actBySig: the signed forms of the patient's own settings (policy, delegates, emergency opt-out, nonce
 * cancellation), relayed by anyone. Each must do exactly what the direct call does for the signer.
 */
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import {
  type ContractTransactionResponse,
  type Interface,
  MaxUint256,
  ZeroHash,
  concat,
  id,
  toBeHex,
  zeroPadValue,
} from "ethers";
import { ethers } from "hardhat";

import { ALL_PURPOSES, treatmentTerms } from "../helpers/consent-behaviours";
import { DAY, YEAR, deployLedgerFixture } from "../helpers/fixtures";
import { researchPolicy } from "../helpers/requests";
import {
  SIGNED_ACTION_TYPES,
  type SignedActionType,
  digestOf,
  encodeActionArgs,
  isNonceUsed,
  signAction,
  signGrant,
  typehashOf,
} from "../helpers/signatures";

type Fixture = Awaited<ReturnType<typeof deployLedgerFixture>>;

interface Scenario {
  type: SignedActionType;
  /** The signed fields between signer and nonce, for `patient`. */
  fields(f: Fixture, now: number): Record<string, unknown>;
  /** The same action as a direct call by `patient`. */
  direct(
    f: Fixture,
    patient: HardhatEthersSigner,
    fields: Record<string, unknown>,
  ): Promise<ContractTransactionResponse>;
  /** What must be there before (done directly by the patient). */
  setup?(f: Fixture, patient: HardhatEthersSigner, now: number): Promise<unknown>;
  /** The state the action changes, as views show it. */
  state(f: Fixture, patient: string): Promise<unknown>;
}

const policyFields = (now: number) => {
  const p = researchPolicy({ validUntil: now + YEAR });
  return { ...p, modifiers: BigInt(p.modifiers) };
};

const SCENARIOS: Scenario[] = [
  {
    type: "SetPolicy",
    fields: (_, now) => policyFields(now),
    direct: (f, patient, fields) =>
      f.ledger.connect(patient).setPolicy(fields as unknown as Parameters<typeof f.ledger.setPolicy>[0]),
    state: async (f, patient) => [...(await f.ledger.policyOf(patient))],
  },
  {
    type: "ClearPolicy",
    fields: () => ({}),
    direct: (f, patient) => f.ledger.connect(patient).clearPolicy(),
    // An opt-out beside the policy: clearing keeps it.
    setup: async (f, patient, now) => {
      await f.ledger.connect(patient).setPolicy(policyFields(now));
      await f.ledger.connect(patient).setEmergencyOptOut(true);
    },
    state: async (f, patient) => [[...(await f.ledger.policyOf(patient))], await f.ledger.emergencyOptedOut(patient)],
  },
  {
    type: "AppointDelegate",
    fields: (f, now) => ({
      delegate: f.delegate.address,
      validUntil: now + YEAR,
      purposes: ALL_PURPOSES,
      sensitiveClasses: true,
    }),
    direct: (f, patient, x) =>
      f.ledger
        .connect(patient)
        .appointDelegate(
          x.delegate as string,
          x.validUntil as number,
          x.purposes as number,
          x.sensitiveClasses as boolean,
        ),
    state: async (f, patient) => [...(await f.ledger.delegateOf(patient, f.delegate.address))],
  },
  {
    type: "RemoveDelegate",
    fields: (f) => ({ delegate: f.delegate.address }),
    direct: (f, patient, x) => f.ledger.connect(patient).removeDelegate(x.delegate as string),
    setup: (f, patient, now) =>
      f.ledger.connect(patient).appointDelegate(f.delegate.address, now + YEAR, ALL_PURPOSES, false),
    state: async (f, patient) => [...(await f.ledger.delegateOf(patient, f.delegate.address))],
  },
  {
    type: "SetEmergencyOptOut",
    fields: () => ({ optedOut: true }),
    direct: (f, patient, x) => f.ledger.connect(patient).setEmergencyOptOut(x.optedOut as boolean),
    state: async (f, patient) => f.ledger.emergencyOptedOut(patient),
  },
  {
    type: "InvalidateNonces",
    // A word far from the signature's own nonce, so both patients' words compare equal.
    fields: () => ({ word: 5n, mask: (1n << 3n) | (1n << 200n) }),
    direct: (f, patient, x) => f.ledger.connect(patient).invalidateNonces(x.word as bigint, x.mask as bigint),
    state: async (f, patient) => f.ledger.nonceBitmap(patient, 5n),
  },
];

/** The ledger's events of a transaction, as [name, args] with `from` replaced by `to` wherever it appears. */
async function eventsOf(f: Fixture, tx: ContractTransactionResponse, from: string, to: string) {
  const receipt = await tx.wait();
  const ledgerAddress = await f.ledger.getAddress();
  return receipt!.logs
    .filter((log) => log.address === ledgerAddress)
    .map((log) => {
      const parsed = (f.ledger.interface as Interface).parseLog(log)!;
      const args = parsed.args.toArray().map((v) => (v === from ? to : typeof v === "object" ? v.toString() : v));
      return [parsed.name, args];
    });
}

let nextNonce = 1n;
const fresh = () => nextNonce++;

describe("SignedConsents: actBySig", function () {
  describe("the types", function () {
    it("hash with exactly the fields ISignedConsents documents, all static", async function () {
      const documented: Record<SignedActionType, string> = {
        SetPolicy:
          "SetPolicy(address signer,uint8 permission,uint64 modifiers,uint32 dataClasses,uint16 purposes,uint32 diseaseId,uint40 maxDuration,uint40 validUntil,uint256 nonce,uint256 deadline)",
        ClearPolicy: "ClearPolicy(address signer,uint256 nonce,uint256 deadline)",
        AppointDelegate:
          "AppointDelegate(address signer,address delegate,uint40 validUntil,uint32 purposes,bool sensitiveClasses,uint256 nonce,uint256 deadline)",
        RemoveDelegate: "RemoveDelegate(address signer,address delegate,uint256 nonce,uint256 deadline)",
        SetEmergencyOptOut: "SetEmergencyOptOut(address signer,bool optedOut,uint256 nonce,uint256 deadline)",
        InvalidateNonces: "InvalidateNonces(address signer,uint256 word,uint256 mask,uint256 nonce,uint256 deadline)",
      };
      for (const [type, fields] of Object.entries(SIGNED_ACTION_TYPES)) {
        expect(ethers.TypedDataEncoder.from({ [type]: [...fields] }).encodeType(type)).to.equal(
          documented[type as SignedActionType],
        );
        for (const field of fields)
          expect(field.type, `${type}.${field.name}`).to.match(/^(address|bool|u?int\d+|bytes32)$/);
      }
    });
  });

  for (const scenario of SCENARIOS) {
    describe(scenario.type, function () {
      it("relayed by an account with no role, does for the signer exactly what the direct call does", async function () {
        const f = await loadFixture(deployLedgerFixture);
        const now = await time.latest();
        const fields = scenario.fields(f, now);
        await scenario.setup?.(f, f.patient, now);
        await scenario.setup?.(f, f.otherPatient, now);

        const direct = await scenario.direct(f, f.patient, fields);
        const args = await signAction(f.ledger, f.otherPatient, scenario.type, fields, {
          nonce: fresh(),
          deadline: now + DAY,
        });
        const relayed = await f.ledger.connect(f.stranger).actBySig(...args);

        const directEvents = await eventsOf(f, direct, f.patient.address, f.otherPatient.address);
        expect(directEvents).to.not.be.empty;
        expect(await eventsOf(f, relayed, "", "")).to.deep.equal(directEvents);
        expect(await scenario.state(f, f.otherPatient.address)).to.deep.equal(
          await scenario.state(f, f.patient.address),
        );
        expect(await isNonceUsed(f.ledger, f.otherPatient.address, args[3])).to.be.true;
        // The relayer is no one in all this.
        expect(await isNonceUsed(f.ledger, f.stranger.address, args[3])).to.be.false;
      });

      it("reverts with NonceAlreadyUsed when replayed", async function () {
        const f = await loadFixture(deployLedgerFixture);
        const now = await time.latest();
        await scenario.setup?.(f, f.patient, now);
        const args = await signAction(f.ledger, f.patient, scenario.type, scenario.fields(f, now), { nonce: fresh() });
        await f.ledger.connect(f.relayer).actBySig(...args);

        await expect(f.ledger.connect(f.relayer).actBySig(...args))
          .to.be.revertedWithCustomError(f.ledger, "NonceAlreadyUsed")
          .withArgs(f.patient.address, args[3]);
      });

      it("reverts with InvalidSignature when the claimed signer did not sign", async function () {
        const f = await loadFixture(deployLedgerFixture);
        const now = await time.latest();
        // The stranger's key, claiming the patient as signer.
        const args = await signAction(f.ledger, f.stranger, scenario.type, scenario.fields(f, now), {
          signer: f.patient.address,
          nonce: fresh(),
        });
        await expect(f.ledger.connect(f.relayer).actBySig(...args))
          .to.be.revertedWithCustomError(f.ledger, "InvalidSignature")
          .withArgs(f.patient.address);
      });

      it("reverts with SignatureExpired one second after the deadline", async function () {
        const f = await loadFixture(deployLedgerFixture);
        const now = await time.latest();
        await scenario.setup?.(f, f.patient, now);
        const deadline = now + 100;
        const args = await signAction(f.ledger, f.patient, scenario.type, scenario.fields(f, now), {
          nonce: fresh(),
          deadline,
        });
        await time.setNextBlockTimestamp(deadline + 1);
        await expect(f.ledger.connect(f.relayer).actBySig(...args))
          .to.be.revertedWithCustomError(f.ledger, "SignatureExpired")
          .withArgs(deadline);
      });

      it("reverts with NonceAlreadyUsed for a nonce the signer cancelled", async function () {
        const f = await loadFixture(deployLedgerFixture);
        const now = await time.latest();
        await scenario.setup?.(f, f.patient, now);
        const nonce = fresh();
        const args = await signAction(f.ledger, f.patient, scenario.type, scenario.fields(f, now), { nonce });
        await f.ledger.connect(f.patient).invalidateNonces(nonce >> 8n, 1n << (nonce & 0xffn));

        await expect(f.ledger.connect(f.relayer).actBySig(...args))
          .to.be.revertedWithCustomError(f.ledger, "NonceAlreadyUsed")
          .withArgs(f.patient.address, nonce);
      });

      it("reverts with InvalidSignature for a signature made for another chain or ledger", async function () {
        const f = await loadFixture(deployLedgerFixture);
        const now = await time.latest();
        for (const domain of [{ chainId: 1n }, { verifyingContract: await f.keys.getAddress() }]) {
          const args = await signAction(f.ledger, f.patient, scenario.type, scenario.fields(f, now), {
            nonce: fresh(),
            domain,
          });
          await expect(f.ledger.connect(f.relayer).actBySig(...args))
            .to.be.revertedWithCustomError(f.ledger, "InvalidSignature")
            .withArgs(f.patient.address);
        }
      });
    });
  }

  describe("tampering by the relayer", function () {
    it("reverts with InvalidSignature when any word of the args is changed", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const now = await time.latest();
      for (const scenario of SCENARIOS) {
        const args = await signAction(f.ledger, f.patient, scenario.type, scenario.fields(f, now), { nonce: fresh() });
        const words = (args[1].length - 2) / 64;
        for (let i = 0; i < words; i++) {
          const hex = args[1].slice(2);
          const word = BigInt("0x" + hex.slice(i * 64, (i + 1) * 64));
          // Flip the lowest bit: still a valid value of every field type (a bool 1 -> 0, an address -> another).
          const changed = "0x" + hex.slice(0, i * 64) + toBeHex(word ^ 1n, 32).slice(2) + hex.slice((i + 1) * 64);
          const tampered = [args[0], changed, ...args.slice(2)] as typeof args;
          await expect(f.ledger.connect(f.relayer).actBySig(...tampered), `${scenario.type} word ${i}`)
            .to.be.revertedWithCustomError(f.ledger, "InvalidSignature")
            .withArgs(f.patient.address);
        }
      }
    });

    it("reverts with InvalidSignature when the nonce or the deadline is changed", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const [action, args, signer, nonce, deadline, signature] = await signAction(
        f.ledger,
        f.patient,
        "SetEmergencyOptOut",
        { optedOut: true },
        { nonce: 7n },
      );
      for (const [n, d] of [
        [8n, deadline],
        [nonce, deadline + 1n],
      ]) {
        await expect(f.ledger.connect(f.relayer).actBySig(action, args, signer, n, d, signature))
          .to.be.revertedWithCustomError(f.ledger, "InvalidSignature")
          .withArgs(f.patient.address);
      }
    });

    it("reverts with InvalidSignature for a signature of one action presented as another with the same args", async function () {
      const f = await loadFixture(deployLedgerFixture);
      // RemoveDelegate and SetEmergencyOptOut both take one word; so do AppointDelegate's first field.
      const removal = await signAction(
        f.ledger,
        f.patient,
        "RemoveDelegate",
        { delegate: f.delegate.address },
        { nonce: 1n },
      );
      const optOut = await signAction(f.ledger, f.patient, "SetEmergencyOptOut", { optedOut: true }, { nonce: 2n });
      const asOptOut = [typehashOf("SetEmergencyOptOut"), optOut[1], ...removal.slice(2)] as typeof removal;
      const asRemoval = [typehashOf("RemoveDelegate"), removal[1], ...optOut.slice(2)] as typeof optOut;
      for (const args of [asOptOut, asRemoval]) {
        await expect(f.ledger.connect(f.relayer).actBySig(...args))
          .to.be.revertedWithCustomError(f.ledger, "InvalidSignature")
          .withArgs(f.patient.address);
      }
      // Nothing was spent: the genuine ones still go through.
      await expect(f.ledger.connect(f.relayer).actBySig(...optOut)).to.emit(f.ledger, "EmergencyOptOutSet");
    });

    it("reverts with UnsupportedSignedAction for a valid Grant signature presented to actBySig, leaving it usable", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const terms = treatmentTerms(f.hospital.address, (await time.latest()) + 30 * DAY);
      const grant = await signGrant(f.ledger, f.patient, { patient: f.patient, terms }, { nonce: 3n });
      const [patient, t, seenConsent, signer, nonce, deadline, signature] = grant;
      // Grant is all static too: its struct hash is keccak(typehash ‖ signer ‖ these words ‖ nonce ‖ deadline).
      const middle = ethers.AbiCoder.defaultAbiCoder().encode(
        ["address", "address", "uint32", "uint32", "uint40", "uint40", "uint256"],
        [patient, t.grantee, t.dataClasses, t.purposes, t.validFrom, t.validUntil, seenConsent],
      );
      const grantTypehash = id(
        "Grant(address signer,address patient,address grantee,uint32 dataClasses,uint32 purposes,uint40 validFrom,uint40 validUntil,uint256 seenConsent,uint256 nonce,uint256 deadline)",
      );
      await expect(f.ledger.connect(f.relayer).actBySig(grantTypehash, middle, signer, nonce, deadline, signature))
        .to.be.revertedWithCustomError(f.ledger, "UnsupportedSignedAction")
        .withArgs(grantTypehash, 7 * 32);
      await expect(f.ledger.connect(f.relayer).grantBySig(...grant)).to.emit(f.ledger, "ConsentGranted");
    });

    it("reverts with UnsupportedSignedAction for an unknown action, with the action and the args' length", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const [, args, signer, nonce, deadline, signature] = await signAction(
        f.ledger,
        f.patient,
        "ClearPolicy",
        {},
        { nonce: 1n },
      );
      for (const action of [ZeroHash, id("ClearPolicy(address signer)")]) {
        await expect(f.ledger.connect(f.relayer).actBySig(action, args, signer, nonce, deadline, signature))
          .to.be.revertedWithCustomError(f.ledger, "UnsupportedSignedAction")
          .withArgs(action, 0);
      }
    });

    it("reverts with UnsupportedSignedAction for args longer or shorter than the type's fields", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const [action, args, signer, nonce, deadline, signature] = await signAction(
        f.ledger,
        f.patient,
        "RemoveDelegate",
        { delegate: f.delegate.address },
        { nonce: 1n },
      );
      for (const changed of [concat([args, ZeroHash]), "0x", args.slice(0, -2)]) {
        await expect(f.ledger.connect(f.relayer).actBySig(action, changed, signer, nonce, deadline, signature))
          .to.be.revertedWithCustomError(f.ledger, "UnsupportedSignedAction")
          .withArgs(action, (changed.length - 2) / 2);
      }
    });
  });

  describe("the rules of the direct call", function () {
    it("refuse a signed action as they refuse the call, with the same error, leaving the nonce unspent", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const now = await time.latest();
      const cases: [SignedActionType, Record<string, unknown>, string, unknown[]][] = [
        // The signer cannot be its own delegate.
        [
          "AppointDelegate",
          { delegate: f.patient.address, validUntil: now + YEAR, purposes: ALL_PURPOSES, sensitiveClasses: false },
          "InvalidDelegate",
          [f.patient.address],
        ],
        [
          "RemoveDelegate",
          { delegate: f.delegate.address },
          "DelegateNotFound",
          [f.patient.address, f.delegate.address],
        ],
        ["SetPolicy", { ...policyFields(now), permission: 0 }, "InvalidPolicyPermission", [0]],
      ];
      for (const [type, fields, error, values] of cases) {
        const args = await signAction(f.ledger, f.patient, type, fields, { nonce: fresh() });
        await expect(f.ledger.connect(f.relayer).actBySig(...args))
          .to.be.revertedWithCustomError(f.ledger, error)
          .withArgs(...values);
        expect(await isNonceUsed(f.ledger, f.patient.address, args[3])).to.be.false;
      }
    });

    it("act on the signer's own account only: a delegate's signed appointment appoints for the delegate", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const now = await time.latest();
      await f.ledger.connect(f.patient).appointDelegate(f.delegate.address, now + YEAR, ALL_PURPOSES, true);
      const args = await signAction(f.ledger, f.delegate, "SetEmergencyOptOut", { optedOut: true }, { nonce: fresh() });
      await expect(f.ledger.connect(f.relayer).actBySig(...args))
        .to.emit(f.ledger, "EmergencyOptOutSet")
        .withArgs(f.delegate.address, true);
      expect(await f.ledger.emergencyOptedOut(f.patient.address)).to.be.false;
    });

    it("opting out by signature ends an open emergency window for good, as the direct call does", async function () {
      const f = await loadFixture(deployLedgerFixture);
      await f.ledger.connect(f.hospital).openEmergencyAccess(f.patient.address, 1, 3600);
      expect(await f.ledger.emergencyAccessUntil(f.patient.address, f.hospital.address)).to.not.equal(0n);
      await f.ledger
        .connect(f.relayer)
        .actBySig(...(await signAction(f.ledger, f.patient, "SetEmergencyOptOut", { optedOut: true }, { nonce: 1n })));
      await f.ledger
        .connect(f.relayer)
        .actBySig(...(await signAction(f.ledger, f.patient, "SetEmergencyOptOut", { optedOut: false }, { nonce: 2n })));
      expect(await f.ledger.emergencyAccessUntil(f.patient.address, f.hospital.address)).to.equal(0n);
    });
  });

  describe("InvalidateNonces by signature", function () {
    it("cancels the signer's pending signatures, its own nonce among them if the mask says so", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const terms = treatmentTerms(f.hospital.address, (await time.latest()) + 30 * DAY);
      const pending = await signGrant(f.ledger, f.patient, { patient: f.patient, terms }, { nonce: 9n });
      const cancel = await signAction(
        f.ledger,
        f.patient,
        "InvalidateNonces",
        { word: 0n, mask: (1n << 9n) | (1n << 10n) },
        { nonce: 10n },
      );
      await expect(f.ledger.connect(f.relayer).actBySig(...cancel))
        .to.emit(f.ledger, "NoncesInvalidated")
        .withArgs(f.patient.address, 0n, (1n << 9n) | (1n << 10n));
      await expect(f.ledger.connect(f.relayer).grantBySig(...pending))
        .to.be.revertedWithCustomError(f.ledger, "NonceAlreadyUsed")
        .withArgs(f.patient.address, 9n);
    });

    it("reaches the highest word", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const args = await signAction(
        f.ledger,
        f.patient,
        "InvalidateNonces",
        { word: MaxUint256 >> 8n, mask: 1n << 255n },
        { nonce: 1n },
      );
      await f.ledger.connect(f.relayer).actBySig(...args);
      expect(await isNonceUsed(f.ledger, f.patient.address, MaxUint256)).to.be.true;
    });
  });

  describe("the signer read back from calldata", function () {
    it("is believed only from the ledger itself: an account that appends another address acts as itself", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const ledger = await f.ledger.getAddress();
      const call = (f.ledger.interface as Interface).encodeFunctionData("setEmergencyOptOut", [true]);
      const forged = concat([call, zeroPadValue(f.patient.address, 32)]);
      const tx = await f.stranger.sendTransaction({ to: ledger, data: forged });
      await expect(tx).to.emit(f.ledger, "EmergencyOptOutSet").withArgs(f.stranger.address, true);
      expect(await f.ledger.emergencyOptedOut(f.patient.address)).to.be.false;
    });
  });

  describe("from a smart-contract wallet (ERC-1271)", function () {
    it("sets the wallet's policy on its owner's signature, and refuses anyone else's", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const [walletOwner] = (await ethers.getSigners()).slice(11);
      const wallet = await ethers.deployContract("SmartWalletMock", [walletOwner.address]);
      const walletAddress = await wallet.getAddress();
      const fields = policyFields(await time.latest());

      const refused = await signAction(f.ledger, f.stranger, "SetPolicy", fields, { signer: walletAddress, nonce: 1n });
      await expect(f.ledger.connect(f.relayer).actBySig(...refused))
        .to.be.revertedWithCustomError(f.ledger, "InvalidSignature")
        .withArgs(walletAddress);

      const args = await signAction(f.ledger, walletOwner, "SetPolicy", fields, { signer: walletAddress, nonce: 1n });
      // The wallet is handed the EIP-712 digest of the typed SetPolicy, as a wallet's UI shows it.
      const digest = await digestOf(f.ledger, "SetPolicy", {
        signer: walletAddress,
        ...fields,
        nonce: 1n,
        deadline: args[4],
      });
      expect(await wallet.isValidSignature(digest, args[5])).to.equal("0x1626ba7e");
      await expect(f.ledger.connect(f.relayer).actBySig(...args)).to.emit(f.ledger, "PolicySet");
      expect((await f.ledger.policyOf(walletAddress)).permission).to.equal(fields.permission);
    });
  });

  describe("encoding", function () {
    it("takes as args exactly the calldata of the direct call after its selector", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const now = await time.latest();
      const iface = f.ledger.interface as Interface;
      const fields = policyFields(now);
      expect(encodeActionArgs("SetPolicy", fields)).to.equal(
        "0x" + iface.encodeFunctionData("setPolicy", [fields]).slice(10),
      );
      expect(encodeActionArgs("InvalidateNonces", { word: 1n, mask: 2n })).to.equal(
        "0x" + iface.encodeFunctionData("invalidateNonces", [1n, 2n]).slice(10),
      );
    });
  });
});
