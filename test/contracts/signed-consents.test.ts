import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { type Interface, MaxUint256, Signature, id } from "ethers";
import { ethers } from "hardhat";

import { DataClass, Purpose, RequestStatus, maskOf } from "../../sdk/codes";
import {
  type GrantRoute,
  type LedgerFixture,
  type RevokeRoute,
  openResearchRequest,
  shouldBehaveLikeGrant,
  shouldBehaveLikeRevoke,
  treatmentTerms,
  ALL_PURPOSES,
  appointDelegate,
} from "../helpers/consent-behaviours";
import { DAY, LEDGER_PARAMS, YEAR, deployLedgerFixture } from "../helpers/fixtures";
import {
  SIGNED_CONSENT_TYPES,
  digestOf,
  domainOf,
  isNonceUsed,
  malleate,
  signApproveRequest,
  signDenyRequest,
  signGrant,
  seenConsentOf,
  signRevoke,
} from "../helpers/signatures";

// Every relayed call in the shared behaviours uses a fresh nonce, so one test may sign several times.
let nextNonce = 1000n;

const signedGrant: GrantRoute = async (f, actor, patient, terms) => {
  const args = await signGrant(
    f.ledger,
    actor,
    { patient, terms },
    { nonce: nextNonce++, deadline: (await time.latest()) + YEAR },
  );
  return f.ledger.connect(f.relayer).grantBySig(...args);
};

const signedRevoke: RevokeRoute = async (f, actor, patient, grantee) => {
  const args = await signRevoke(
    f.ledger,
    actor,
    { patient, grantee },
    { nonce: nextNonce++, deadline: (await time.latest()) + YEAR },
  );
  return f.ledger.connect(f.relayer).revokeBySig(...args);
};

/** The ledger's cast plus a patient whose account is an ERC-1271 smart wallet owned by `walletOwner`. */
async function deployWithWalletFixture() {
  const f = await deployLedgerFixture();
  const [walletOwner] = (await ethers.getSigners()).slice(11);
  const wallet = await ethers.deployContract("SmartWalletMock", [walletOwner.address]);
  return { ...f, wallet, walletAddress: await wallet.getAddress(), walletOwner };
}

type WalletFixture = Awaited<ReturnType<typeof deployWithWalletFixture>>;

/** Makes the wallet call the ledger, as its owner would through the wallet's UI. */
async function walletCalls(f: WalletFixture, fn: string, args: unknown[]) {
  return f.wallet
    .connect(f.walletOwner)
    .execute(await f.ledger.getAddress(), (f.ledger.interface as Interface).encodeFunctionData(fn, args));
}

async function grantArgs(f: LedgerFixture, key: HardhatEthersSigner, nonce = 1n, seenConsent?: bigint) {
  const terms = treatmentTerms(f.hospital.address, (await time.latest()) + 30 * DAY);
  return signGrant(f.ledger, key, { patient: f.patient, terms, seenConsent }, { nonce });
}

function labForTreatment(f: LedgerFixture, patient: string = f.patient.address) {
  return f.ledger.hasAccess(patient, f.hospital.address, DataClass.LAB_RESULT, Purpose.TREAT);
}

describe("SignedConsents", function () {
  describe("the EIP-712 domain", function () {
    it("names this contract, its version and the chain, as the helpers sign for", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const d = await f.ledger.eip712Domain();
      expect(d.fields).to.equal("0x0f");
      expect(d.name).to.equal("ConsentLedger");
      expect(d.version).to.equal("1");
      expect(d.chainId).to.equal((await ethers.provider.getNetwork()).chainId);
      expect(d.verifyingContract).to.equal(await f.ledger.getAddress());
      expect(await domainOf(f.ledger)).to.deep.equal({
        name: "ConsentLedger",
        version: "1",
        chainId: d.chainId,
        verifyingContract: d.verifyingContract,
      });
    });

    it("hashes each type with exactly the fields ISignedConsents documents", async function () {
      const documented = {
        Grant:
          "Grant(address signer,address patient,address grantee,uint32 dataClasses,uint32 purposes,uint40 validFrom,uint40 validUntil,uint256 seenConsent,uint256 nonce,uint256 deadline)",
        Revoke: "Revoke(address signer,address patient,address grantee,uint256 nonce,uint256 deadline)",
        ApproveRequest:
          "ApproveRequest(address signer,bytes32 requestId,uint256 seenConsent,uint256 nonce,uint256 deadline)",
        DenyRequest: "DenyRequest(address signer,bytes32 requestId,uint256 nonce,uint256 deadline)",
      };
      for (const [type, fields] of Object.entries(SIGNED_CONSENT_TYPES)) {
        expect(ethers.TypedDataEncoder.from({ [type]: [...fields] }).encodeType(type)).to.equal(
          documented[type as keyof typeof documented],
        );
      }
    });
  });

  describe("grantBySig", function () {
    context("under the rules every grant follows", function () {
      shouldBehaveLikeGrant(signedGrant);
    });

    context("with a valid signature of the patient", function () {
      it("is relayed by any account, and the event's actor is the signer, not the relayer", async function () {
        const f = await loadFixture(deployLedgerFixture);
        const args = await grantArgs(f, f.patient);
        const [, terms] = args;

        await expect(f.ledger.connect(f.stranger).grantBySig(...args))
          .to.emit(f.ledger, "ConsentGranted")
          .withArgs(
            f.patient.address,
            terms.grantee,
            f.patient.address,
            terms.dataClasses,
            terms.purposes,
            terms.validFrom,
            terms.validUntil,
          );
        expect(await labForTreatment(f)).to.be.true;
        expect(await isNonceUsed(f.ledger, f.stranger.address, 1n)).to.be.false;
      });

      it("spends exactly the nonce it carries", async function () {
        const f = await loadFixture(deployLedgerFixture);
        await f.ledger.connect(f.relayer).grantBySig(...(await grantArgs(f, f.patient, 300n)));

        expect(await isNonceUsed(f.ledger, f.patient.address, 300n)).to.be.true;
        for (const other of [0n, 299n, 301n, 44n])
          expect(await isNonceUsed(f.ledger, f.patient.address, other)).to.be.false;
      });

      it("accepts nonces in any order, as long as each is used once", async function () {
        const f = await loadFixture(deployLedgerFixture);
        for (const nonce of [7n, 3n, MaxUint256, 0n, 256n]) {
          await expect(f.ledger.connect(f.relayer).grantBySig(...(await grantArgs(f, f.patient, nonce)))).to.emit(
            f.ledger,
            "ConsentGranted",
          );
        }
      });

      it("is valid in the very second of its deadline", async function () {
        const f = await loadFixture(deployLedgerFixture);
        const deadline = (await time.latest()) + 100;
        const terms = treatmentTerms(f.hospital.address, deadline + DAY);
        const args = await signGrant(f.ledger, f.patient, { patient: f.patient, terms }, { deadline });
        await time.setNextBlockTimestamp(deadline);

        await expect(f.ledger.connect(f.relayer).grantBySig(...args)).to.emit(f.ledger, "ConsentGranted");
      });
    });

    context("with a signature that must be rejected", function () {
      it("reverts with NonceAlreadyUsed when the same signature is replayed", async function () {
        const f = await loadFixture(deployLedgerFixture);
        const args = await grantArgs(f, f.patient, 5n);
        await f.ledger.connect(f.relayer).grantBySig(...args);

        await expect(f.ledger.connect(f.stranger).grantBySig(...args))
          .to.be.revertedWithCustomError(f.ledger, "NonceAlreadyUsed")
          .withArgs(f.patient.address, 5n);
      });

      it("reverts with NonceAlreadyUsed when a new signature reuses a spent nonce", async function () {
        const f = await loadFixture(deployLedgerFixture);
        await f.ledger.connect(f.relayer).grantBySig(...(await grantArgs(f, f.patient, 5n)));
        const terms = treatmentTerms(f.lab.address, (await time.latest()) + DAY);
        const args = await signGrant(f.ledger, f.patient, { patient: f.patient, terms }, { nonce: 5n });

        await expect(f.ledger.connect(f.relayer).grantBySig(...args))
          .to.be.revertedWithCustomError(f.ledger, "NonceAlreadyUsed")
          .withArgs(f.patient.address, 5n);
      });

      it("reverts with SignatureExpired one second after the deadline", async function () {
        const f = await loadFixture(deployLedgerFixture);
        const deadline = (await time.latest()) + 100;
        const terms = treatmentTerms(f.hospital.address, deadline + DAY);
        const args = await signGrant(f.ledger, f.patient, { patient: f.patient, terms }, { deadline });
        await time.setNextBlockTimestamp(deadline + 1);

        await expect(f.ledger.connect(f.relayer).grantBySig(...args))
          .to.be.revertedWithCustomError(f.ledger, "SignatureExpired")
          .withArgs(deadline);
      });

      it("reverts with InvalidSignature for a signature made for another chain", async function () {
        const f = await loadFixture(deployLedgerFixture);
        const terms = treatmentTerms(f.hospital.address, (await time.latest()) + DAY);
        const args = await signGrant(f.ledger, f.patient, { patient: f.patient, terms }, { domain: { chainId: 1n } });

        await expect(f.ledger.connect(f.relayer).grantBySig(...args))
          .to.be.revertedWithCustomError(f.ledger, "InvalidSignature")
          .withArgs(f.patient.address);
      });

      it("reverts with InvalidSignature for a signature made for another ledger, which that ledger accepts", async function () {
        const f = await loadFixture(deployLedgerFixture);
        const otherLedger = await ethers.deployContract("ConsentLedger", [
          f.admin.address,
          LEDGER_PARAMS.requestTtl,
          LEDGER_PARAMS.maxRequestDuration,
          LEDGER_PARAMS.maxEmergencyDuration,
        ]);
        const terms = treatmentTerms(f.hospital.address, (await time.latest()) + DAY);
        const args = await signGrant(otherLedger, f.patient, { patient: f.patient, terms });

        await expect(f.ledger.connect(f.relayer).grantBySig(...args))
          .to.be.revertedWithCustomError(f.ledger, "InvalidSignature")
          .withArgs(f.patient.address);
        await expect(otherLedger.connect(f.relayer).grantBySig(...args)).to.emit(otherLedger, "ConsentGranted");
      });

      it("reverts with InvalidSignature when the claimed signer did not sign", async function () {
        const f = await loadFixture(deployLedgerFixture);
        const terms = treatmentTerms(f.hospital.address, (await time.latest()) + DAY);
        // The patient signs, but the call claims the other patient signed for itself.
        const args = await signGrant(
          f.ledger,
          f.patient,
          { patient: f.otherPatient, terms },
          { signer: f.otherPatient.address },
        );

        await expect(f.ledger.connect(f.relayer).grantBySig(...args))
          .to.be.revertedWithCustomError(f.ledger, "InvalidSignature")
          .withArgs(f.otherPatient.address);
      });

      it("reverts with InvalidSignature when the relayer changes any signed value", async function () {
        const f = await loadFixture(deployLedgerFixture);
        const [patient, terms, seen, signer, nonce, deadline, signature] = await grantArgs(f, f.patient);
        const tampered: [string, typeof terms, bigint, bigint, bigint][] = [
          [patient, { ...terms, grantee: f.pharma.address }, seen, nonce, deadline],
          [patient, { ...terms, dataClasses: 2n ** 15n - 1n }, seen, nonce, deadline],
          [patient, { ...terms, purposes: 1n << BigInt(Purpose.HOPERAT) }, seen, nonce, deadline],
          [patient, { ...terms, validFrom: 1n }, seen, nonce, deadline],
          [patient, { ...terms, validUntil: BigInt(terms.validUntil) + 1n }, seen, nonce, deadline],
          [f.otherPatient.address, terms, seen, nonce, deadline],
          [patient, terms, seen + 1n, nonce, deadline],
          [patient, terms, seen, nonce + 1n, deadline],
          [patient, terms, seen, nonce, deadline + 1n],
        ];
        for (const [p, t, c, n, d] of tampered) {
          await expect(f.ledger.connect(f.relayer).grantBySig(p, t, c, signer, n, d, signature))
            .to.be.revertedWithCustomError(f.ledger, "InvalidSignature")
            .withArgs(f.patient.address);
        }
        await expect(
          f.ledger.connect(f.relayer).grantBySig(patient, terms, seen, signer, nonce, deadline, signature),
        ).to.emit(f.ledger, "ConsentGranted");
      });

      it("reverts with InvalidSignature for the high-s twin of a valid signature, which stays usable", async function () {
        const f = await loadFixture(deployLedgerFixture);
        const args = await grantArgs(f, f.patient);
        const signature = args[6];
        const twin = malleate(signature);
        // The twin is a different byte string over the same digest that recovers the same key.
        expect(twin).to.not.equal(signature);
        const digest = await digestOf(f.ledger, "Grant", {
          signer: args[3],
          patient: args[0],
          ...args[1],
          seenConsent: args[2],
          nonce: args[4],
          deadline: args[5],
        });
        expect(ethers.recoverAddress(digest, signature)).to.equal(f.patient.address);
        expect(BigInt(Signature.from(signature).s)).to.be.lessThanOrEqual(ethers.N / 2n);

        await expect(f.ledger.connect(f.relayer).grantBySig(args[0], args[1], args[2], args[3], args[4], args[5], twin))
          .to.be.revertedWithCustomError(f.ledger, "InvalidSignature")
          .withArgs(f.patient.address);
        await expect(f.ledger.connect(f.relayer).grantBySig(...args)).to.emit(f.ledger, "ConsentGranted");
      });

      it("reverts with InvalidSignature for an empty, truncated or 64-byte compact signature", async function () {
        const f = await loadFixture(deployLedgerFixture);
        const [patient, terms, seen, signer, nonce, deadline, signature] = await grantArgs(f, f.patient);
        const compact = Signature.from(signature).compactSerialized;
        for (const bad of ["0x", signature.slice(0, 130), compact]) {
          await expect(f.ledger.connect(f.relayer).grantBySig(patient, terms, seen, signer, nonce, deadline, bad))
            .to.be.revertedWithCustomError(f.ledger, "InvalidSignature")
            .withArgs(f.patient.address);
        }
      });

      it("reverts with NonceAlreadyUsed for a nonce the signer cancelled, after NoncesInvalidated", async function () {
        const f = await loadFixture(deployLedgerFixture);
        const args = await grantArgs(f, f.patient, 9n);

        await expect(f.ledger.connect(f.patient).invalidateNonces(0n, 1n << 9n))
          .to.emit(f.ledger, "NoncesInvalidated")
          .withArgs(f.patient.address, 0n, 1n << 9n);
        await expect(f.ledger.connect(f.relayer).grantBySig(...args))
          .to.be.revertedWithCustomError(f.ledger, "NonceAlreadyUsed")
          .withArgs(f.patient.address, 9n);
      });

      it("reverts with NotPatientOrDelegate for a valid signature of someone else, leaving its nonce unspent", async function () {
        const f = await loadFixture(deployLedgerFixture);
        const terms = treatmentTerms(f.hospital.address, (await time.latest()) + DAY);
        const args = await signGrant(f.ledger, f.stranger, { patient: f.patient, terms }, { nonce: 4n });

        await expect(f.ledger.connect(f.relayer).grantBySig(...args))
          .to.be.revertedWithCustomError(f.ledger, "NotPatientOrDelegate")
          .withArgs(f.patient.address, f.stranger.address);
        expect(await isNonceUsed(f.ledger, f.stranger.address, 4n)).to.be.false;
        expect(await labForTreatment(f)).to.be.false;
      });

      it("checks the deadline before the nonce, and the nonce before the signature", async function () {
        const f = await loadFixture(deployLedgerFixture);
        const [patient, terms, seen, signer, nonce, deadline] = await grantArgs(f, f.patient, 2n);
        await f.ledger.connect(f.patient).invalidateNonces(0n, 1n << 2n);

        await expect(f.ledger.connect(f.relayer).grantBySig(patient, terms, seen, signer, nonce, deadline, "0x"))
          .to.be.revertedWithCustomError(f.ledger, "NonceAlreadyUsed")
          .withArgs(f.patient.address, nonce);
        const past = (await time.latest()) - 1;
        await expect(f.ledger.connect(f.relayer).grantBySig(patient, terms, seen, signer, nonce, past, "0x"))
          .to.be.revertedWithCustomError(f.ledger, "SignatureExpired")
          .withArgs(past);
      });
    });

    context("with several signatures in flight", function () {
      // Nonces are unordered by design (ISignedConsents): a later signature does not supersede an
      // earlier one. A patient who changes their mind must cancel the earlier nonce.
      // The grant names the consent its signer saw (#12, point 2): once the revocation changed it, the
      // older grant no longer applies, whatever the order the relayer chose.
      it("refuses an older grant relayed after a newer revocation with ConsentChanged, and a cancelled nonce", async function () {
        const f = await loadFixture(deployLedgerFixture);
        const until = (await time.latest()) + 30 * DAY;
        await f.ledger.connect(f.patient).grant(f.patient.address, f.hospital.address, 1, 1, 0, until);
        const seen = 1n | (1n << 32n) | (BigInt(until) << 104n);
        const olderGrant = await grantArgs(f, f.patient, 1n);
        expect(olderGrant[2]).to.equal(seen);
        const newerRevoke = await signRevoke(
          f.ledger,
          f.patient,
          { patient: f.patient, grantee: f.hospital },
          { nonce: 2n },
        );

        await f.ledger.connect(f.relayer).revokeBySig(...newerRevoke);
        await expect(f.ledger.connect(f.relayer).grantBySig(...olderGrant))
          .to.be.revertedWithCustomError(f.ledger, "ConsentChanged")
          .withArgs(f.patient.address, f.hospital.address, seen, 0n);
        expect(await labForTreatment(f)).to.be.false;
        expect(await isNonceUsed(f.ledger, f.patient.address, 1n)).to.be.false;

        // With a consent in place again, a grant signed over it whose nonce was cancelled stays refused.
        await f.ledger.connect(f.patient).grant(f.patient.address, f.hospital.address, 1, 1, 0, until);
        const staleGrant = await grantArgs(f, f.patient, 3n);
        await f.ledger.connect(f.patient).invalidateNonces(0n, 1n << 3n);
        await f.ledger
          .connect(f.relayer)
          .revokeBySig(
            ...(await signRevoke(f.ledger, f.patient, { patient: f.patient, grantee: f.hospital }, { nonce: 4n })),
          );
        await expect(f.ledger.connect(f.relayer).grantBySig(...staleGrant))
          .to.be.revertedWithCustomError(f.ledger, "NonceAlreadyUsed")
          .withArgs(f.patient.address, 3n);
        expect(await labForTreatment(f)).to.be.false;
      });
    });

    context("from a smart-contract wallet (ERC-1271)", function () {
      async function walletGrantArgs(f: WalletFixture, key: HardhatEthersSigner, nonce = 1n) {
        const terms = treatmentTerms(f.hospital.address, (await time.latest()) + 30 * DAY);
        return signGrant(f.ledger, key, { patient: f.walletAddress, terms }, { signer: f.walletAddress, nonce });
      }

      it("grants for the wallet when its owner signs, with the wallet as actor", async function () {
        const f = await loadFixture(deployWithWalletFixture);
        const args = await walletGrantArgs(f, f.walletOwner);
        const [, terms] = args;

        await expect(f.ledger.connect(f.relayer).grantBySig(...args))
          .to.emit(f.ledger, "ConsentGranted")
          .withArgs(
            f.walletAddress,
            terms.grantee,
            f.walletAddress,
            terms.dataClasses,
            terms.purposes,
            terms.validFrom,
            terms.validUntil,
          );
        expect(await labForTreatment(f, f.walletAddress)).to.be.true;
        expect(await isNonceUsed(f.ledger, f.walletAddress, 1n)).to.be.true;
        expect(await isNonceUsed(f.ledger, f.walletOwner.address, 1n)).to.be.false;
      });

      it("hands the wallet the EIP-712 digest, which it approves only for its owner's signature", async function () {
        const f = await loadFixture(deployWithWalletFixture);
        const [patient, terms, seenConsent, signer, nonce, deadline, signature] = await walletGrantArgs(
          f,
          f.walletOwner,
        );
        const digest = await digestOf(f.ledger, "Grant", { signer, patient, ...terms, seenConsent, nonce, deadline });

        expect(await f.wallet.isValidSignature(digest, signature)).to.equal("0x1626ba7e");
        const strangerSignature = (await walletGrantArgs(f, f.stranger))[6];
        expect(await f.wallet.isValidSignature(digest, strangerSignature)).to.equal("0x00000000");
      });

      it("reverts with InvalidSignature when anyone but the owner signs", async function () {
        const f = await loadFixture(deployWithWalletFixture);
        await expect(f.ledger.connect(f.relayer).grantBySig(...(await walletGrantArgs(f, f.stranger))))
          .to.be.revertedWithCustomError(f.ledger, "InvalidSignature")
          .withArgs(f.walletAddress);
      });

      it("reverts with InvalidSignature for the high-s twin of the owner's signature", async function () {
        const f = await loadFixture(deployWithWalletFixture);
        const args = await walletGrantArgs(f, f.walletOwner);
        args[6] = malleate(args[6]);

        await expect(f.ledger.connect(f.relayer).grantBySig(...args))
          .to.be.revertedWithCustomError(f.ledger, "InvalidSignature")
          .withArgs(f.walletAddress);
      });

      it("reverts with NonceAlreadyUsed on replay", async function () {
        const f = await loadFixture(deployWithWalletFixture);
        const args = await walletGrantArgs(f, f.walletOwner, 8n);
        await f.ledger.connect(f.relayer).grantBySig(...args);

        await expect(f.ledger.connect(f.relayer).grantBySig(...args))
          .to.be.revertedWithCustomError(f.ledger, "NonceAlreadyUsed")
          .withArgs(f.walletAddress, 8n);
      });

      it("reverts with NotPatientOrDelegate when the owner's key claims to act for the wallet itself", async function () {
        const f = await loadFixture(deployWithWalletFixture);
        const terms = treatmentTerms(f.hospital.address, (await time.latest()) + DAY);
        const args = await signGrant(f.ledger, f.walletOwner, { patient: f.walletAddress, terms });

        await expect(f.ledger.connect(f.relayer).grantBySig(...args))
          .to.be.revertedWithCustomError(f.ledger, "NotPatientOrDelegate")
          .withArgs(f.walletAddress, f.walletOwner.address);
      });

      it("reverts with NonceAlreadyUsed for a nonce the wallet cancelled", async function () {
        const f = await loadFixture(deployWithWalletFixture);
        const args = await walletGrantArgs(f, f.walletOwner, 257n);

        await expect(walletCalls(f, "invalidateNonces", [1n, 2n]))
          .to.emit(f.ledger, "NoncesInvalidated")
          .withArgs(f.walletAddress, 1n, 2n);
        await expect(f.ledger.connect(f.relayer).grantBySig(...args))
          .to.be.revertedWithCustomError(f.ledger, "NonceAlreadyUsed")
          .withArgs(f.walletAddress, 257n);
      });

      it("accepts the signature of a delegate the wallet appointed", async function () {
        const f = await loadFixture(deployWithWalletFixture);
        await walletCalls(f, "appointDelegate", [
          f.delegate.address,
          (await time.latest()) + 30 * DAY,
          ALL_PURPOSES,
          true,
        ]);
        const terms = treatmentTerms(f.hospital.address, (await time.latest()) + DAY);
        const args = await signGrant(f.ledger, f.delegate, { patient: f.walletAddress, terms });

        await expect(f.ledger.connect(f.relayer).grantBySig(...args))
          .to.emit(f.ledger, "ConsentGranted")
          .withArgs(
            f.walletAddress,
            f.hospital.address,
            f.delegate.address,
            terms.dataClasses,
            terms.purposes,
            terms.validFrom,
            terms.validUntil,
          );
      });

      it("lets a wallet serve as a patient's delegate and sign for the patient", async function () {
        const f = await loadFixture(deployWithWalletFixture);
        await f.ledger
          .connect(f.patient)
          .appointDelegate(f.walletAddress, (await time.latest()) + 365 * DAY, ALL_PURPOSES, true);
        const terms = treatmentTerms(f.hospital.address, (await time.latest()) + DAY);
        const args = await signGrant(
          f.ledger,
          f.walletOwner,
          { patient: f.patient, terms },
          { signer: f.walletAddress },
        );

        await expect(f.ledger.connect(f.relayer).grantBySig(...args))
          .to.emit(f.ledger, "ConsentGranted")
          .withArgs(
            f.patient.address,
            f.hospital.address,
            f.walletAddress,
            terms.dataClasses,
            terms.purposes,
            terms.validFrom,
            terms.validUntil,
          );
      });
    });
  });

  // #12, point 2: a signed grant or approval names the consent its signer saw for (patient, grantee), so a
  // relayer that holds it while someone else (a delegate, the patient elsewhere) changes that consent
  // cannot make it replace terms the signer never saw.
  describe("the consent the signer saw", function () {
    const narrow = (f: LedgerFixture, until: number) =>
      f.ledger
        .connect(f.delegate)
        .grant(
          f.patient.address,
          f.hospital.address,
          maskOf([DataClass.VITAL_SIGNS]),
          maskOf([Purpose.TREAT]),
          0,
          until,
        );

    it("refuses a held grant with ConsentChanged once a delegate has changed the consent, leaving the nonce unspent", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const until = (await time.latest()) + 60 * DAY;
      await appointDelegate(f, until);
      const held = await grantArgs(f, f.patient, 21n);
      expect(held[2]).to.equal(0n);
      await narrow(f, until);
      const actual = await seenConsentOf(f.ledger, f.patient.address, f.hospital.address);

      await expect(f.ledger.connect(f.relayer).grantBySig(...held))
        .to.be.revertedWithCustomError(f.ledger, "ConsentChanged")
        .withArgs(f.patient.address, f.hospital.address, 0n, actual);
      expect(await isNonceUsed(f.ledger, f.patient.address, 21n)).to.be.false;
      expect(await labForTreatment(f)).to.be.false;
    });

    it("applies a grant signed over the consent as it stands, replacing it", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const until = (await time.latest()) + 60 * DAY;
      await appointDelegate(f, until);
      await narrow(f, until);
      const seen = await seenConsentOf(f.ledger, f.patient.address, f.hospital.address);
      const args = await grantArgs(f, f.patient, 22n);
      expect(args[2]).to.equal(seen);

      await expect(f.ledger.connect(f.relayer).grantBySig(...args)).to.emit(f.ledger, "ConsentReplaced");
      expect(await labForTreatment(f)).to.be.true;
    });

    it("counts a revocation as no consent (0), and an expired consent as the word it left", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const until = (await time.latest()) + DAY;
      await f.ledger.connect(f.patient).grant(f.patient.address, f.hospital.address, 1, 1, 0, until);
      await time.increaseTo(until + 1);
      const expired = 1n | (1n << 32n) | (BigInt(until) << 104n);
      expect(await seenConsentOf(f.ledger, f.patient.address, f.hospital.address)).to.equal(expired);
      await expect(f.ledger.connect(f.relayer).grantBySig(...(await grantArgs(f, f.patient, 23n, 0n))))
        .to.be.revertedWithCustomError(f.ledger, "ConsentChanged")
        .withArgs(f.patient.address, f.hospital.address, 0n, expired);

      await f.ledger.connect(f.patient).revoke(f.patient.address, f.hospital.address);
      await expect(f.ledger.connect(f.relayer).grantBySig(...(await grantArgs(f, f.patient, 24n, 0n)))).to.emit(
        f.ledger,
        "ConsentGranted",
      );
    });

    it("refuses a held approval with ConsentChanged once the researcher's consent changed", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const until = (await time.latest()) + 365 * DAY;
      await appointDelegate(f, until);
      const { request } = await openResearchRequest(f);
      const held = await signApproveRequest(f.ledger, f.patient, request, { nonce: 25n });
      expect(held[1]).to.equal(0n);
      await f.ledger
        .connect(f.delegate)
        .grant(
          f.patient.address,
          f.pharma.address,
          maskOf([DataClass.VITAL_SIGNS]),
          maskOf([Purpose.HRESCH]),
          0,
          until,
        );
      const actual = await seenConsentOf(f.ledger, f.patient.address, f.pharma.address);

      await expect(f.ledger.connect(f.relayer).approveRequestBySig(...held))
        .to.be.revertedWithCustomError(f.ledger, "ConsentChanged")
        .withArgs(f.patient.address, f.pharma.address, 0n, actual);
      // Signed again over what the patient now sees, the approval goes through.
      await expect(
        f.ledger
          .connect(f.relayer)
          .approveRequestBySig(...(await signApproveRequest(f.ledger, f.patient, request, { nonce: 26n }))),
      ).to.emit(f.ledger, "ConsentReplaced");
    });
  });

  describe("revokeBySig", function () {
    context("under the rules every revocation follows", function () {
      shouldBehaveLikeRevoke(signedRevoke);
    });

    async function grantAndSignRevoke(f: LedgerFixture, options: Parameters<typeof signRevoke>[3] = {}) {
      await f.ledger
        .connect(f.patient)
        .grant(f.patient.address, f.hospital.address, 1, 1, 0, (await time.latest()) + 30 * DAY);
      return signRevoke(f.ledger, f.patient, { patient: f.patient, grantee: f.hospital }, { nonce: 3n, ...options });
    }

    it("is relayed by any account, and the event's actor is the signer", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const args = await grantAndSignRevoke(f);

      await expect(f.ledger.connect(f.stranger).revokeBySig(...args))
        .to.emit(f.ledger, "ConsentRevoked")
        .withArgs(f.patient.address, f.hospital.address, f.patient.address);
      expect(await isNonceUsed(f.ledger, f.patient.address, 3n)).to.be.true;
    });

    it("reverts with NonceAlreadyUsed when replayed after the consent is granted again", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const args = await grantAndSignRevoke(f);
      await f.ledger.connect(f.relayer).revokeBySig(...args);
      await f.ledger
        .connect(f.patient)
        .grant(f.patient.address, f.hospital.address, 1, 1, 0, (await time.latest()) + 30 * DAY);

      await expect(f.ledger.connect(f.relayer).revokeBySig(...args))
        .to.be.revertedWithCustomError(f.ledger, "NonceAlreadyUsed")
        .withArgs(f.patient.address, 3n);
      expect(await labForTreatment(f)).to.be.true;
    });

    it("reverts with SignatureExpired after the deadline", async function () {
      const f = await loadFixture(deployLedgerFixture);
      // The deadline is set from the clock after the grant's block: a slow run (coverage) can mine that
      // block well past the fixture's last timestamp, and increaseTo cannot go back in time.
      await grantAndSignRevoke(f);
      const deadline = (await time.latest()) + 100;
      const args = await signRevoke(
        f.ledger,
        f.patient,
        { patient: f.patient, grantee: f.hospital },
        { nonce: 3n, deadline },
      );
      await time.increaseTo(deadline + 1);

      await expect(f.ledger.connect(f.relayer).revokeBySig(...args))
        .to.be.revertedWithCustomError(f.ledger, "SignatureExpired")
        .withArgs(deadline);
    });

    it("reverts with InvalidSignature for another chain, or another grantee than signed", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const otherChain = await grantAndSignRevoke(f, { domain: { chainId: 5n } });
      await expect(f.ledger.connect(f.relayer).revokeBySig(...otherChain))
        .to.be.revertedWithCustomError(f.ledger, "InvalidSignature")
        .withArgs(f.patient.address);

      const [patient, , signer, nonce, deadline, signature] = await signRevoke(
        f.ledger,
        f.patient,
        { patient: f.patient, grantee: f.hospital },
        { nonce: 4n },
      );
      await expect(f.ledger.connect(f.relayer).revokeBySig(patient, f.lab.address, signer, nonce, deadline, signature))
        .to.be.revertedWithCustomError(f.ledger, "InvalidSignature")
        .withArgs(f.patient.address);
    });

    it("reverts with InvalidSignature for a Grant signature presented as a revocation", async function () {
      const f = await loadFixture(deployLedgerFixture);
      await grantAndSignRevoke(f);
      const [patient, terms, , signer, nonce, deadline, signature] = await grantArgs(f, f.patient, 6n);

      await expect(f.ledger.connect(f.relayer).revokeBySig(patient, terms.grantee, signer, nonce, deadline, signature))
        .to.be.revertedWithCustomError(f.ledger, "InvalidSignature")
        .withArgs(f.patient.address);
    });

    it("revokes for a smart-wallet patient on its owner's signature", async function () {
      const f = await loadFixture(deployWithWalletFixture);
      await walletCalls(f, "grant", [f.walletAddress, f.hospital.address, 1, 1, 0, (await time.latest()) + DAY]);
      const args = await signRevoke(
        f.ledger,
        f.walletOwner,
        { patient: f.walletAddress, grantee: f.hospital },
        { signer: f.walletAddress },
      );

      await expect(f.ledger.connect(f.relayer).revokeBySig(...args))
        .to.emit(f.ledger, "ConsentRevoked")
        .withArgs(f.walletAddress, f.hospital.address, f.walletAddress);
    });
  });

  describe("approveRequestBySig", function () {
    it("approves on the patient's signature, relayed by anyone, granting the researcher", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const { request, requestId } = await openResearchRequest(f);
      const args = await signApproveRequest(f.ledger, f.patient, request, { nonce: 1n });

      const tx = f.ledger.connect(f.relayer).approveRequestBySig(...args);
      await expect(tx).to.emit(f.ledger, "RequestApproved").withArgs(requestId, f.patient.address, f.patient.address);
      const approvedAt = await time.latest();
      await expect(tx)
        .to.emit(f.ledger, "ConsentGranted")
        .withArgs(
          f.patient.address,
          f.pharma.address,
          f.patient.address,
          request.terms.dataClasses,
          1 << request.terms.purpose,
          approvedAt,
          approvedAt + request.terms.duration,
        );
      // The approval is in RequestApproved and the consent; the request itself is cleared.
      expect(await f.ledger.requestStatus(requestId)).to.deep.equal([BigInt(RequestStatus.None), 0n]);
      expect(await f.ledger.consentOf(f.patient.address, f.pharma.address)).to.deep.equal([
        BigInt(request.terms.dataClasses),
        BigInt(1 << request.terms.purpose),
        BigInt(approvedAt),
        BigInt(approvedAt + request.terms.duration),
      ]);
      expect(await f.ledger.hasAccess(f.patient.address, f.pharma.address, DataClass.LAB_RESULT, Purpose.HRESCH)).to.be
        .true;
      expect(await isNonceUsed(f.ledger, f.patient.address, 1n)).to.be.true;
    });

    it("approves on a live delegate's signature, naming the delegate as actor", async function () {
      const f = await loadFixture(deployLedgerFixture);
      await f.ledger
        .connect(f.patient)
        .appointDelegate(f.delegate.address, (await time.latest()) + 365 * DAY, ALL_PURPOSES, true);
      const { request, requestId } = await openResearchRequest(f);
      const args = await signApproveRequest(f.ledger, f.delegate, request);

      await expect(f.ledger.connect(f.relayer).approveRequestBySig(...args))
        .to.emit(f.ledger, "RequestApproved")
        .withArgs(requestId, f.patient.address, f.delegate.address);
    });

    it("approves for a smart-wallet patient on its owner's signature", async function () {
      const f = await loadFixture(deployWithWalletFixture);
      const { request, requestId } = await openResearchRequest(f, { patient: f.walletAddress });
      const args = await signApproveRequest(f.ledger, f.walletOwner, request, { signer: f.walletAddress });

      await expect(f.ledger.connect(f.relayer).approveRequestBySig(...args))
        .to.emit(f.ledger, "RequestApproved")
        .withArgs(requestId, f.walletAddress, f.walletAddress);
    });

    it("reverts with NotPatientOrDelegate for a signature of anyone else, the researcher included", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const { request } = await openResearchRequest(f);
      for (const signer of [f.stranger, f.pharma]) {
        const args = await signApproveRequest(f.ledger, signer, request);
        await expect(f.ledger.connect(f.relayer).approveRequestBySig(...args))
          .to.be.revertedWithCustomError(f.ledger, "NotPatientOrDelegate")
          .withArgs(f.patient.address, signer.address);
      }
    });

    it("reverts with NonceAlreadyUsed when replayed", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const { request } = await openResearchRequest(f);
      const args = await signApproveRequest(f.ledger, f.patient, request, { nonce: 12n });
      await f.ledger.connect(f.relayer).approveRequestBySig(...args);

      await expect(f.ledger.connect(f.relayer).approveRequestBySig(...args))
        .to.be.revertedWithCustomError(f.ledger, "NonceAlreadyUsed")
        .withArgs(f.patient.address, 12n);
    });

    it("reverts with SignatureExpired after the deadline", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const { request } = await openResearchRequest(f);
      const deadline = (await time.latest()) + 60;
      const args = await signApproveRequest(f.ledger, f.patient, request, { deadline });
      await time.increaseTo(deadline + 1);

      await expect(f.ledger.connect(f.relayer).approveRequestBySig(...args))
        .to.be.revertedWithCustomError(f.ledger, "SignatureExpired")
        .withArgs(deadline);
    });

    it("reverts with InvalidSignature for a signature over another request", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const first = await openResearchRequest(f);
      const second = await openResearchRequest(f, { studyId: id("study-2") });
      const [, seen, signer, nonce, deadline, signature] = await signApproveRequest(f.ledger, f.patient, first.request);

      await expect(
        f.ledger.connect(f.relayer).approveRequestBySig(second.request, seen, signer, nonce, deadline, signature),
      )
        .to.be.revertedWithCustomError(f.ledger, "InvalidSignature")
        .withArgs(f.patient.address);
    });

    it("reverts with InvalidSignature for a denial signature presented as an approval", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const { request } = await openResearchRequest(f);
      const [, signer, nonce, deadline, signature] = await signDenyRequest(f.ledger, f.patient, request);

      await expect(f.ledger.connect(f.relayer).approveRequestBySig(request, 0n, signer, nonce, deadline, signature))
        .to.be.revertedWithCustomError(f.ledger, "InvalidSignature")
        .withArgs(f.patient.address);
    });

    it("reverts with InvalidSignature for a signature made for another chain", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const { request } = await openResearchRequest(f);
      const args = await signApproveRequest(f.ledger, f.patient, request, { domain: { chainId: 1n } });

      await expect(f.ledger.connect(f.relayer).approveRequestBySig(...args))
        .to.be.revertedWithCustomError(f.ledger, "InvalidSignature")
        .withArgs(f.patient.address);
    });

    it("reverts with RequestNotFound for a decided request, leaving the nonce unspent", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const { request, requestId } = await openResearchRequest(f);
      await f.ledger.connect(f.patient).denyRequest(request);
      const args = await signApproveRequest(f.ledger, f.patient, request, { nonce: 77n });

      await expect(f.ledger.connect(f.relayer).approveRequestBySig(...args))
        .to.be.revertedWithCustomError(f.ledger, "RequestNotFound")
        .withArgs(requestId);
      expect(await isNonceUsed(f.ledger, f.patient.address, 77n)).to.be.false;
    });

    it("reverts with RequestNotFound for a request it already approved: a second signature cannot decide it again", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const { request, requestId } = await openResearchRequest(f);
      await f.ledger
        .connect(f.relayer)
        .approveRequestBySig(...(await signApproveRequest(f.ledger, f.patient, request, { nonce: 80n })));
      const consent = await f.ledger.consentOf(f.patient.address, f.pharma.address);

      await expect(
        f.ledger
          .connect(f.relayer)
          .approveRequestBySig(...(await signApproveRequest(f.ledger, f.patient, request, { nonce: 81n }))),
      )
        .to.be.revertedWithCustomError(f.ledger, "RequestNotFound")
        .withArgs(requestId);
      await expect(
        f.ledger
          .connect(f.relayer)
          .denyRequestBySig(...(await signDenyRequest(f.ledger, f.patient, request, { nonce: 82n }))),
      )
        .to.be.revertedWithCustomError(f.ledger, "RequestNotFound")
        .withArgs(requestId);
      expect(await isNonceUsed(f.ledger, f.patient.address, 81n)).to.be.false;
      expect(await isNonceUsed(f.ledger, f.patient.address, 82n)).to.be.false;
      expect(await f.ledger.consentOf(f.patient.address, f.pharma.address)).to.deep.equal(consent);
    });

    it("reverts with RequestExpired once the request's time to be decided has run out", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const { request, requestId } = await openResearchRequest(f);
      const expiresAt = Number(request.openedAt) + LEDGER_PARAMS.requestTtl;
      const args = await signApproveRequest(f.ledger, f.patient, request, { deadline: expiresAt + DAY });
      await time.increaseTo(expiresAt);

      await expect(f.ledger.connect(f.relayer).approveRequestBySig(...args))
        .to.be.revertedWithCustomError(f.ledger, "RequestExpired")
        .withArgs(requestId, expiresAt);
    });
  });

  describe("denyRequestBySig", function () {
    it("denies on the patient's signature, relayed by anyone, granting nothing", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const { request, requestId } = await openResearchRequest(f);
      const args = await signDenyRequest(f.ledger, f.patient, request, { nonce: 2n });

      await expect(f.ledger.connect(f.stranger).denyRequestBySig(...args))
        .to.emit(f.ledger, "RequestDenied")
        .withArgs(requestId, f.patient.address, f.patient.address)
        .and.not.to.emit(f.ledger, "ConsentGranted");
      // The denial is in RequestDenied; the request itself is cleared.
      expect(await f.ledger.requestStatus(requestId)).to.deep.equal([BigInt(RequestStatus.None), 0n]);
      expect((await f.ledger.consentOf(f.patient.address, f.pharma.address)).validUntil).to.equal(0n);
      expect(await isNonceUsed(f.ledger, f.patient.address, 2n)).to.be.true;
    });

    it("denies on a live delegate's signature, naming the delegate as actor", async function () {
      const f = await loadFixture(deployLedgerFixture);
      await f.ledger
        .connect(f.patient)
        .appointDelegate(f.delegate.address, (await time.latest()) + 365 * DAY, ALL_PURPOSES, true);
      const { request, requestId } = await openResearchRequest(f);
      const args = await signDenyRequest(f.ledger, f.delegate, request);

      await expect(f.ledger.connect(f.relayer).denyRequestBySig(...args))
        .to.emit(f.ledger, "RequestDenied")
        .withArgs(requestId, f.patient.address, f.delegate.address);
    });

    it("denies for a smart-wallet patient on its owner's signature", async function () {
      const f = await loadFixture(deployWithWalletFixture);
      const { request, requestId } = await openResearchRequest(f, { patient: f.walletAddress });
      const args = await signDenyRequest(f.ledger, f.walletOwner, request, { signer: f.walletAddress });

      await expect(f.ledger.connect(f.relayer).denyRequestBySig(...args))
        .to.emit(f.ledger, "RequestDenied")
        .withArgs(requestId, f.walletAddress, f.walletAddress);
    });

    it("reverts with NotPatientOrDelegate for a signature of anyone else", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const { request } = await openResearchRequest(f);
      const args = await signDenyRequest(f.ledger, f.stranger, request);

      await expect(f.ledger.connect(f.relayer).denyRequestBySig(...args))
        .to.be.revertedWithCustomError(f.ledger, "NotPatientOrDelegate")
        .withArgs(f.patient.address, f.stranger.address);
    });

    it("reverts with NonceAlreadyUsed when replayed", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const { request } = await openResearchRequest(f);
      const args = await signDenyRequest(f.ledger, f.patient, request, { nonce: 13n });
      await f.ledger.connect(f.relayer).denyRequestBySig(...args);

      await expect(f.ledger.connect(f.relayer).denyRequestBySig(...args))
        .to.be.revertedWithCustomError(f.ledger, "NonceAlreadyUsed")
        .withArgs(f.patient.address, 13n);
    });

    it("reverts with SignatureExpired after the deadline", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const { request } = await openResearchRequest(f);
      const deadline = (await time.latest()) + 60;
      const args = await signDenyRequest(f.ledger, f.patient, request, { deadline });
      await time.increaseTo(deadline + 1);

      await expect(f.ledger.connect(f.relayer).denyRequestBySig(...args))
        .to.be.revertedWithCustomError(f.ledger, "SignatureExpired")
        .withArgs(deadline);
    });

    it("reverts with InvalidSignature for an approval signature presented as a denial", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const { request } = await openResearchRequest(f);
      const [, , signer, nonce, deadline, signature] = await signApproveRequest(f.ledger, f.patient, request);

      await expect(f.ledger.connect(f.relayer).denyRequestBySig(request, signer, nonce, deadline, signature))
        .to.be.revertedWithCustomError(f.ledger, "InvalidSignature")
        .withArgs(f.patient.address);
    });
  });

  describe("invalidateNonces", function () {
    it("cancels every nonce of the mask in the word, and no other, emitting NoncesInvalidated", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const mask = (1n << 0n) | (1n << 17n) | (1n << 255n);

      await expect(f.ledger.connect(f.patient).invalidateNonces(0n, mask))
        .to.emit(f.ledger, "NoncesInvalidated")
        .withArgs(f.patient.address, 0n, mask);
      for (let bit = 0n; bit < 256n; bit++) {
        expect(await isNonceUsed(f.ledger, f.patient.address, bit), `nonce ${bit}`).to.equal(
          ((mask >> bit) & 1n) === 1n,
        );
      }
      expect(await isNonceUsed(f.ledger, f.patient.address, 256n)).to.be.false;
    });

    it("maps bit i of word w to nonce w * 256 + i", async function () {
      const f = await loadFixture(deployLedgerFixture);
      await f.ledger.connect(f.patient).invalidateNonces(3n, 1n << 5n);

      expect(await isNonceUsed(f.ledger, f.patient.address, 3n * 256n + 5n)).to.be.true;
      expect(await isNonceUsed(f.ledger, f.patient.address, 5n)).to.be.false;
      expect(await isNonceUsed(f.ledger, f.patient.address, 3n * 256n + 4n)).to.be.false;
    });

    it("reaches the highest nonce through the highest word", async function () {
      const f = await loadFixture(deployLedgerFixture);
      await f.ledger.connect(f.patient).invalidateNonces(MaxUint256 >> 8n, 1n << 255n);

      expect(await isNonceUsed(f.ledger, f.patient.address, MaxUint256)).to.be.true;
      expect(await isNonceUsed(f.ledger, f.patient.address, MaxUint256 - 1n)).to.be.false;
      await expect(f.ledger.connect(f.relayer).grantBySig(...(await grantArgs(f, f.patient, MaxUint256))))
        .to.be.revertedWithCustomError(f.ledger, "NonceAlreadyUsed")
        .withArgs(f.patient.address, MaxUint256);
    });

    it("adds to earlier cancellations and spent nonces, never restores one", async function () {
      const f = await loadFixture(deployLedgerFixture);
      await f.ledger.connect(f.relayer).grantBySig(...(await grantArgs(f, f.patient, 1n)));
      await f.ledger.connect(f.patient).invalidateNonces(0n, 1n << 2n);
      await f.ledger.connect(f.patient).invalidateNonces(0n, 1n << 3n);
      await expect(f.ledger.connect(f.patient).invalidateNonces(0n, 0n))
        .to.emit(f.ledger, "NoncesInvalidated")
        .withArgs(f.patient.address, 0n, 0n);

      for (const nonce of [1n, 2n, 3n]) expect(await isNonceUsed(f.ledger, f.patient.address, nonce)).to.be.true;
      expect(await isNonceUsed(f.ledger, f.patient.address, 4n)).to.be.false;
    });

    it("cancels 256 signatures at once with a full mask", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const pending = [await grantArgs(f, f.patient, 256n), await grantArgs(f, f.patient, 511n)];
      await f.ledger.connect(f.patient).invalidateNonces(1n, MaxUint256);

      for (const args of pending) {
        await expect(f.ledger.connect(f.relayer).grantBySig(...args))
          .to.be.revertedWithCustomError(f.ledger, "NonceAlreadyUsed")
          .withArgs(f.patient.address, args[4]);
      }
      await expect(f.ledger.connect(f.relayer).grantBySig(...(await grantArgs(f, f.patient, 512n)))).to.emit(
        f.ledger,
        "ConsentGranted",
      );
    });

    it("cancels only the caller's own nonces", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const args = await grantArgs(f, f.patient, 1n);
      await expect(f.ledger.connect(f.stranger).invalidateNonces(0n, MaxUint256))
        .to.emit(f.ledger, "NoncesInvalidated")
        .withArgs(f.stranger.address, 0n, MaxUint256);

      expect(await isNonceUsed(f.ledger, f.patient.address, 1n)).to.be.false;
      await expect(f.ledger.connect(f.relayer).grantBySig(...args)).to.emit(f.ledger, "ConsentGranted");
    });
  });

  describe("nonceBitmap", function () {
    it("returns a signer's word of 256 nonces in one read, spent and cancelled ones as set bits", async function () {
      const f = await loadFixture(deployLedgerFixture);
      await f.ledger.connect(f.relayer).grantBySig(...(await grantArgs(f, f.patient, 3n)));
      await f.ledger.connect(f.patient).invalidateNonces(1n, 0b101n);

      expect(await f.ledger.nonceBitmap(f.patient.address, 0n)).to.equal(1n << 3n);
      expect(await f.ledger.nonceBitmap(f.patient.address, 1n)).to.equal(0b101n);
      expect(await f.ledger.nonceBitmap(f.patient.address, 2n)).to.equal(0n);
      expect(await f.ledger.nonceBitmap(f.delegate.address, 0n)).to.equal(0n);
    });

    it("reads the highest word", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const lastWord = MaxUint256 >> 8n;
      await f.ledger.connect(f.patient).invalidateNonces(lastWord, 1n << 255n);
      expect(await f.ledger.nonceBitmap(f.patient.address, lastWord)).to.equal(1n << 255n);
    });
  });

  describe("each signer's nonces", function () {
    it("are kept apart", async function () {
      const f = await loadFixture(deployLedgerFixture);
      await f.ledger
        .connect(f.patient)
        .appointDelegate(f.delegate.address, (await time.latest()) + 365 * DAY, ALL_PURPOSES, true);
      expect(await isNonceUsed(f.ledger, f.patient.address, 1n)).to.be.false;

      await f.ledger.connect(f.relayer).grantBySig(...(await grantArgs(f, f.patient, 1n)));
      expect(await isNonceUsed(f.ledger, f.patient.address, 1n)).to.be.true;
      expect(await isNonceUsed(f.ledger, f.delegate.address, 1n)).to.be.false;

      // The delegate's nonce 1 is its own, unspent by the patient's signature.
      await expect(f.ledger.connect(f.relayer).grantBySig(...(await grantArgs(f, f.delegate, 1n)))).to.emit(
        f.ledger,
        "ConsentGranted",
      );
      expect(await isNonceUsed(f.ledger, f.delegate.address, 1n)).to.be.true;
    });
  });
  // A signature names the account it speaks for. Two accounts that accept the same key (a wallet and
  // its owner's address; two wallets of one owner) must not each get a use of it, nor reach a nonce
  // the other spent or cancelled.
  describe("a signature speaks for the account it names, and for no other", function () {
    /** A carer who moved to a new wallet with the same key: both wallets are the patient's delegates. */
    async function deployCarerWithTwoWalletsFixture() {
      const f = await deployWithWalletFixture();
      const newWallet = await ethers.deployContract("SmartWalletMock", [f.walletOwner.address]);
      // A year: the delegates' grants (30 days) must end by the end of their appointment.
      const until = (await time.latest()) + 365 * DAY;
      await f.ledger.connect(f.patient).appointDelegate(f.walletAddress, until, ALL_PURPOSES, true);
      await f.ledger.connect(f.patient).appointDelegate(await newWallet.getAddress(), until, ALL_PURPOSES, true);
      return { ...f, newWalletAddress: await newWallet.getAddress() };
    }

    context("a smart-wallet patient whose owner's key is also its delegate", function () {
      async function ownerIsDelegate() {
        const f = await loadFixture(deployWithWalletFixture);
        await walletCalls(f, "appointDelegate", [
          f.walletOwner.address,
          (await time.latest()) + 365 * DAY,
          ALL_PURPOSES,
          true,
        ]);
        return f;
      }

      it("refuses the wallet's grant relayed a second time as the owner's", async function () {
        const f = await ownerIsDelegate();
        const terms = treatmentTerms(f.hospital.address, (await time.latest()) + 30 * DAY);
        const args = await signGrant(
          f.ledger,
          f.walletOwner,
          { patient: f.walletAddress, terms },
          { signer: f.walletAddress, nonce: 5n },
        );
        await expect(f.ledger.connect(f.relayer).grantBySig(...args)).to.emit(f.ledger, "ConsentGranted");
        await walletCalls(f, "revoke", [f.walletAddress, f.hospital.address]);

        args[3] = f.walletOwner.address;
        await expect(f.ledger.connect(f.relayer).grantBySig(...args))
          .to.be.revertedWithCustomError(f.ledger, "InvalidSignature")
          .withArgs(f.walletOwner.address);
        expect(await labForTreatment(f, f.walletAddress)).to.be.false;
      });

      it("refuses a grant whose nonce the wallet cancelled, relayed as the owner's", async function () {
        const f = await ownerIsDelegate();
        const terms = treatmentTerms(f.hospital.address, (await time.latest()) + 30 * DAY);
        const args = await signGrant(
          f.ledger,
          f.walletOwner,
          { patient: f.walletAddress, terms },
          { signer: f.walletAddress, nonce: 6n },
        );
        await walletCalls(f, "invalidateNonces", [0n, 1n << 6n]);

        args[3] = f.walletOwner.address;
        await expect(f.ledger.connect(f.relayer).grantBySig(...args))
          .to.be.revertedWithCustomError(f.ledger, "InvalidSignature")
          .withArgs(f.walletOwner.address);
        expect(await labForTreatment(f, f.walletAddress)).to.be.false;
      });

      it("refuses an approval whose nonce the wallet cancelled, relayed as the owner's", async function () {
        const f = await ownerIsDelegate();
        const { request } = await openResearchRequest(f, { patient: f.walletAddress });
        const args = await signApproveRequest(f.ledger, f.walletOwner, request, { signer: f.walletAddress, nonce: 7n });
        await walletCalls(f, "invalidateNonces", [0n, 1n << 7n]);

        args[2] = f.walletOwner.address;
        await expect(f.ledger.connect(f.relayer).approveRequestBySig(...args))
          .to.be.revertedWithCustomError(f.ledger, "InvalidSignature")
          .withArgs(f.walletOwner.address);
      });

      it("still accepts the owner's own signature as delegate, naming the owner", async function () {
        const f = await ownerIsDelegate();
        const terms = treatmentTerms(f.hospital.address, (await time.latest()) + 30 * DAY);
        const args = await signGrant(f.ledger, f.walletOwner, { patient: f.walletAddress, terms }, { nonce: 5n });

        await expect(f.ledger.connect(f.relayer).grantBySig(...args))
          .to.emit(f.ledger, "ConsentGranted")
          .withArgs(
            f.walletAddress,
            f.hospital.address,
            f.walletOwner.address,
            terms.dataClasses,
            terms.purposes,
            terms.validFrom,
            terms.validUntil,
          );
      });
    });

    context("a carer's old and new wallet with one key, both delegates", function () {
      it("refuses the old wallet's grant relayed again as the new wallet's", async function () {
        const f = await loadFixture(deployCarerWithTwoWalletsFixture);
        const terms = treatmentTerms(f.hospital.address, (await time.latest()) + 30 * DAY);
        const args = await signGrant(
          f.ledger,
          f.walletOwner,
          { patient: f.patient, terms },
          { signer: f.walletAddress, nonce: 9n },
        );
        await f.ledger.connect(f.relayer).grantBySig(...args);
        await f.ledger.connect(f.patient).revoke(f.patient.address, f.hospital.address);

        args[3] = f.newWalletAddress;
        await expect(f.ledger.connect(f.relayer).grantBySig(...args))
          .to.be.revertedWithCustomError(f.ledger, "InvalidSignature")
          .withArgs(f.newWalletAddress);
        expect(await labForTreatment(f)).to.be.false;
      });

      it("refuses an old revocation replayed through the new wallet after the patient granted again", async function () {
        const f = await loadFixture(deployCarerWithTwoWalletsFixture);
        await f.ledger
          .connect(f.patient)
          .grant(f.patient.address, f.hospital.address, 1, 1, 0, (await time.latest()) + 30 * DAY);
        const args = await signRevoke(
          f.ledger,
          f.walletOwner,
          { patient: f.patient, grantee: f.hospital },
          { signer: f.walletAddress, nonce: 4n },
        );
        await expect(f.ledger.connect(f.relayer).revokeBySig(...args)).to.emit(f.ledger, "ConsentRevoked");
        await f.ledger
          .connect(f.patient)
          .grant(f.patient.address, f.hospital.address, 1, 1, 0, (await time.latest()) + 30 * DAY);

        args[2] = f.newWalletAddress;
        await expect(f.ledger.connect(f.relayer).revokeBySig(...args))
          .to.be.revertedWithCustomError(f.ledger, "InvalidSignature")
          .withArgs(f.newWalletAddress);
        expect(await labForTreatment(f)).to.be.true;
      });

      it("still accepts a revocation the carer signs for the new wallet", async function () {
        const f = await loadFixture(deployCarerWithTwoWalletsFixture);
        await f.ledger
          .connect(f.patient)
          .grant(f.patient.address, f.hospital.address, 1, 1, 0, (await time.latest()) + 30 * DAY);
        const args = await signRevoke(
          f.ledger,
          f.walletOwner,
          { patient: f.patient, grantee: f.hospital },
          { signer: f.newWalletAddress, nonce: 4n },
        );

        await expect(f.ledger.connect(f.relayer).revokeBySig(...args))
          .to.emit(f.ledger, "ConsentRevoked")
          .withArgs(f.patient.address, f.hospital.address, f.newWalletAddress);
      });
    });
  });
});
