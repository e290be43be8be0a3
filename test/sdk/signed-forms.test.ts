/**
 * SIGNED_FORMS (sdk/clients/signed-forms.ts) is what the dashboard and the CLI tell a patient about how
 * an action is sent: this pins it to what PatientClient really does with a relayer. An action marked as
 * signed must reach the relayer as a signed message; one marked as not must be refused with
 * NoSignedFormError (and never sent from the patient's account). When a signed form is added to
 * PatientClient, this fails until its entry in SIGNED_FORMS is flipped.
 */
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";

import {
  actionRoute,
  CARE_DELEGATE_SCOPE,
  hasSignedForm,
  NoSignedFormError,
  PatientClient,
  ResearcherClient,
  SIGNED_FORMS,
  type ConsentRelayer,
  type PatientAction,
  type SignedConsent,
} from "../../sdk/index";
import { deployLedgerFixture } from "../helpers/fixtures";
import { sdkContracts } from "../helpers/sdk";

const DAY = 86_400;

/** A relayer that keeps what it is handed and sends nothing: the routing is what is under test. */
class Recorder implements ConsentRelayer {
  readonly seen: SignedConsent[] = [];
  async submit(signed: SignedConsent): Promise<never> {
    this.seen.push(signed);
    throw new Error("recorded");
  }
}

describe("SIGNED_FORMS: which patient actions go through a relayer", function () {
  it("matches what PatientClient does with a relayer, action by action", async function () {
    const suite = await loadFixture(deployLedgerFixture);
    const { patient, university, stranger } = suite;
    const now = Math.floor(Date.now() / 1000);
    const asked = await (
      await new ResearcherClient(await sdkContracts(suite, university), university).requestAccess({
        patient: patient.address,
        dataClasses: ["LAB_RESULT"],
        purpose: "HRESCH",
        researchCategory: "HMB",
        duration: 30 * DAY,
        studyId: "signed-forms",
      })
    ).wait();
    const calls: Record<PatientAction, (client: PatientClient) => Promise<unknown>> = {
      grant: (c) =>
        c.grant({ grantee: stranger.address, dataClasses: ["LAB_RESULT"], purposes: ["TREAT"], validUntil: now + DAY }),
      revoke: (c) => c.revoke(stranger.address),
      approve: (c) => c.approve(asked.request),
      deny: (c) => c.deny(asked.request),
      grantBatch: (c) =>
        c.grantBatch([
          { grantee: stranger.address, dataClasses: ["LAB_RESULT"], purposes: ["TREAT"], validUntil: now + DAY },
        ]),
      setPolicy: (c) => c.setPolicy({ permission: "GRU", dataClasses: ["LAB_RESULT"] }),
      clearPolicy: (c) => c.clearPolicy(),
      appointDelegate: (c) => c.appointDelegate(stranger.address, now + DAY, CARE_DELEGATE_SCOPE),
      removeDelegate: (c) => c.removeDelegate(stranger.address),
      setEmergencyOptOut: (c) => c.setEmergencyOptOut(true),
      cancelSignature: (c) => c.cancelSignature(5n),
      registerEncryptionKey: (c) => c.registerEncryptionKey({ publicKey: new Uint8Array(32).fill(7) }),
      withdrawEncryptionKey: (c) => c.withdrawEncryptionKey(),
    };
    // A key to withdraw, registered before the count of the patient's own transactions starts.
    await (await suite.keys.connect(patient).registerKey("0x" + "07".repeat(32))).wait();
    const nonceBefore = await patient.getNonce();
    for (const action of Object.keys(calls) as PatientAction[]) {
      const relayer = new Recorder();
      const client = new PatientClient(await sdkContracts(suite, patient), patient, { relayer });
      let caught: unknown;
      try {
        await calls[action](client);
      } catch (error) {
        caught = error;
      }
      if (SIGNED_FORMS[action]) {
        expect(
          relayer.seen.map((signed) => signed.kind),
          `${action} reaches the relayer signed`,
        ).to.have.length(1);
        expect(String(caught)).to.include("recorded");
      } else {
        expect(relayer.seen, `${action} is not handed to the relayer`).to.deep.equal([]);
        expect(caught, `${action} is refused with NoSignedFormError`).to.be.instanceOf(NoSignedFormError);
      }
    }
    expect(await patient.getNonce(), "the patient's account sent nothing").to.equal(nonceBefore);
  });

  it("names the route an action takes: the relayer, directly by choice, or directly for want of a signed form", function () {
    expect(hasSignedForm("revoke")).to.equal(true);
    expect(actionRoute("grant", true)).to.equal("relayer");
    expect(actionRoute("grant", false)).to.equal("direct");
    expect(actionRoute("setPolicy", true)).to.equal("relayer");
    expect(actionRoute("grantBatch", true)).to.equal("direct-no-signed-form");
    expect(actionRoute("grantBatch", false)).to.equal("direct");
  });
});
