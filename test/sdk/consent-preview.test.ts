/**
 * PatientClient.previewGrant / previewApproval against the real ledger: what a grant or an approval
 * would change (#12, point 2), checked against what the mined transaction then does.
 */
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";

import { PatientClient } from "../../sdk/clients/patient";
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
  });
});
