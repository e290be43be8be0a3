/**
 * PatientClient.previewGrant / previewApproval against the real ledger: what a grant or an approval
 * would change (#12, point 2), checked against what the mined transaction then does.
 */
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";

import { PatientClient, consentWordOf, parseSignedConsent, relaySignedConsent } from "../../sdk/clients/patient";
import { ContractRevertError, InvalidArgumentError } from "../../sdk/errors";
import { DataClass, Purpose, maskOf } from "../../sdk/codes";
import { DAY, deployLedgerFixture } from "../helpers/fixtures";
import { openRequest, researchTerms } from "../helpers/requests";
import { sdkContracts } from "../helpers/sdk";

describe("PatientClient: previewing a change of consent", function () {
  async function patientFixture() {
    const f = await deployLedgerFixture();
    const client = new PatientClient(await sdkContracts(f, f.patient), f.patient);
    return { ...f, client };
  }

  it("previews a first grant as replacing nothing", async function () {
    const { client, patient, hospital } = await loadFixture(patientFixture);
    const validUntil = (await time.latest()) + 30 * DAY;
    const change = await client.previewGrant({
      grantee: hospital.address,
      dataClasses: ["LAB_RESULT"],
      purposes: ["TREAT"],
      validUntil,
    });
    expect(change).to.deep.equal({
      before: undefined,
      after: {
        patient: patient.address,
        grantee: hospital.address,
        dataClasses: maskOf([DataClass.LAB_RESULT]),
        purposes: maskOf([Purpose.TREAT]),
        validFrom: 0,
        validUntil,
      },
      replaces: false,
      seenConsent: 0n,
    });
  });

  it("previews a narrowing grant as before → after, which the mined grant's ConsentReplaced confirms", async function () {
    const { client, ledger, hospital } = await loadFixture(patientFixture);
    const validUntil = (await time.latest()) + 30 * DAY;
    const before = await (
      await client.grant({
        grantee: hospital.address,
        dataClasses: ["LAB_RESULT", "IMAGING"],
        purposes: ["TREAT"],
        validUntil,
      })
    ).wait();
    const narrower = {
      grantee: hospital.address,
      dataClasses: ["IMAGING" as const],
      purposes: ["TREAT" as const],
      validUntil,
    };

    const change = await client.previewGrant(narrower);
    expect(change.replaces).to.equal(true);
    expect(change.before).to.deep.equal(before);
    expect(change.after.dataClasses).to.equal(maskOf([DataClass.IMAGING]));

    const tx = await client.grant(narrower);
    const receipt = await ledger.runner!.provider!.getTransactionReceipt(tx.hash);
    const replaced = receipt!.logs
      .map((log) => ledger.interface.parseLog(log))
      .find((e) => e?.name === "ConsentReplaced");
    expect(Array.from(replaced!.args).slice(2).map(Number)).to.deep.equal([
      change.before!.dataClasses,
      change.before!.purposes,
      change.before!.validFrom,
      change.before!.validUntil,
    ]);
  });

  it("previews an approval over a consent that has not ended, and over one that has as replacing nothing", async function () {
    const { client, ledger, patient, university } = await loadFixture(patientFixture);
    const validUntil = (await time.latest()) + 10 * DAY;
    const held = await (
      await client.grant({ grantee: university.address, dataClasses: ["LAB_RESULT"], purposes: ["HRESCH"], validUntil })
    ).wait();
    const request = await openRequest(
      ledger,
      university,
      researchTerms({ patient: patient.address, dataClasses: maskOf([DataClass.CONDITION]) }),
    );

    const change = await client.previewApproval(request);
    const now = await time.latest();
    expect(change.before).to.deep.equal(held);
    expect(change.replaces).to.equal(true);
    expect(change.after).to.deep.equal({
      patient: patient.address,
      grantee: university.address,
      dataClasses: maskOf([DataClass.CONDITION]),
      purposes: maskOf([Purpose.HRESCH]),
      validFrom: now,
      validUntil: now + request.terms.duration,
    });

    await time.increaseTo(validUntil);
    const later = await client.previewApproval(request);
    expect(later.before).to.equal(undefined);
    expect(later.replaces).to.equal(false);
    // The ended consent is still what the ledger holds: a signed approval names it.
    expect(later.seenConsent).to.equal(consentWordOf(held));
  });

  // #12, point 2: a signed grant or approval carries the consent the preview read; if a delegate changes
  // that consent before the relay, the ledger refuses it.
  context("signing what the preview showed", function () {
    async function withDelegateFixture() {
      const f = await patientFixture();
      const until = (await time.latest()) + 365 * DAY;
      await (
        await f.client.appointDelegate(f.delegate.address, until, {
          purposes: ["TREAT", "HRESCH"],
          sensitiveClasses: false,
        })
      ).wait();
      const delegateClient = new PatientClient(await sdkContracts(f, f.delegate), f.delegate);
      const relayerContracts = await sdkContracts(f, f.relayer);
      return { ...f, delegateClient, relayerContracts, until };
    }

    it("signs a grant over the previewed consent, and the relay applies it while nothing changed", async function () {
      const { client, delegateClient, relayerContracts, relayer, hospital, patient, until } =
        await loadFixture(withDelegateFixture);
      await (
        await delegateClient.grant(
          { grantee: hospital.address, dataClasses: ["VITAL_SIGNS"], purposes: ["TREAT"], validUntil: until },
          { patient: patient.address },
        )
      ).wait();
      const input = {
        grantee: hospital.address,
        dataClasses: ["LAB_RESULT" as const],
        purposes: ["TREAT" as const],
        validUntil: until,
      };
      const preview = await client.previewGrant(input);
      expect(preview.seenConsent).to.equal(consentWordOf(preview.before));

      const signed = await client.signGrant(input, { seenConsent: preview.seenConsent });
      expect(signed.seenConsent).to.equal(preview.seenConsent.toString());
      await (await relaySignedConsent(relayerContracts, relayer, signed)).wait();
      expect((await client.consentTo(hospital.address))!.dataClasses).to.equal(maskOf([DataClass.LAB_RESULT]));
    });

    it("refuses a held grant with ConsentChanged once a delegate changed the consent", async function () {
      const { client, delegateClient, relayerContracts, relayer, hospital, patient, until } =
        await loadFixture(withDelegateFixture);
      const input = {
        grantee: hospital.address,
        dataClasses: ["LAB_RESULT" as const],
        purposes: ["TREAT" as const],
        validUntil: until,
      };
      const preview = await client.previewGrant(input);
      const signed = await client.signGrant(input);
      expect(signed.seenConsent).to.equal("0");
      expect(preview.seenConsent).to.equal(0n);
      await (
        await delegateClient.grant(
          { grantee: hospital.address, dataClasses: ["VITAL_SIGNS"], purposes: ["TREAT"], validUntil: until },
          { patient: patient.address },
        )
      ).wait();

      const error = await relaySignedConsent(relayerContracts, relayer, signed).then(
        (pending) => pending.wait().then(() => undefined),
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(ContractRevertError);
      expect((error as ContractRevertError).errorName).to.equal("ConsentChanged");
      expect((await client.consentTo(hospital.address))!.dataClasses).to.equal(maskOf([DataClass.VITAL_SIGNS]));
    });

    it("refuses a held approval with ConsentChanged once the researcher's consent changed", async function () {
      const { client, delegateClient, relayerContracts, relayer, ledger, patient, university, until } =
        await loadFixture(withDelegateFixture);
      const request = await openRequest(ledger, university, researchTerms({ patient: patient.address }));
      const signed = await client.signApprove(request);
      expect(signed.seenConsent).to.equal("0");
      await (
        await delegateClient.grant(
          { grantee: university.address, dataClasses: ["VITAL_SIGNS"], purposes: ["HRESCH"], validUntil: until },
          { patient: patient.address },
        )
      ).wait();

      const error = await relaySignedConsent(relayerContracts, relayer, signed).then(
        (pending) => pending.wait().then(() => undefined),
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(ContractRevertError);
      expect((error as ContractRevertError).errorName).to.equal("ConsentChanged");
    });

    it("refuses a signed grant or approval file without seenConsent", function () {
      const file = {
        kind: "grant",
        chainId: 31337,
        ledger: "0x" + "11".repeat(20),
        signer: "0x" + "22".repeat(20),
        nonce: "0",
        deadline: 1,
        signature: "0x" + "ab".repeat(65),
        patient: "0x" + "22".repeat(20),
        grant: { grantee: "0x" + "33".repeat(20), dataClasses: 1, purposes: 1, validFrom: 0, validUntil: 2 },
      };
      expect(() => parseSignedConsent(file)).to.throw(InvalidArgumentError, /seenConsent/);
      expect(parseSignedConsent({ ...file, seenConsent: "5" }).seenConsent).to.equal("5");
    });
  });
});
