/**
 * GA4GH Passport v1.2 ControlledAccessGrants visas from a real gateway on loopback, over real contracts:
 * verified as a relying repository would (jose, against the gateway's published JWKS), issued only while
 * the research consent stands.
 */
import { expect } from "chai";
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify, type JWTPayload } from "jose";

import { GatewayClient } from "../../sdk/clients/gateway";
import { PatientClient } from "../../sdk/clients/patient";
import { ResearcherClient } from "../../sdk/clients/researcher";
import type { RunningGateway } from "../../gateway/start";
import {
  chainNow,
  DAY,
  gatewayConfig,
  gatewayFetch,
  grantResearcherLabResults,
  sessionToken,
  setupLedger,
  type LedgerSetup,
} from "../helpers/gateway-harness";
import { startGateway } from "../../gateway/start";
import { sharedLocalNode } from "../helpers/local-node";

interface Visa extends JWTPayload {
  ga4gh_visa_v1: { type: string; asserted: number; value: string; source: string; by: string };
}

describe("GA4GH visas for researchers", function () {
  this.timeout(120_000);
  let setup: LedgerSetup;
  let gateway: RunningGateway;
  let config: ReturnType<typeof gatewayConfig>;
  let token: string;

  before(async function () {
    setup = await setupLedger(await sharedLocalNode());
    config = gatewayConfig(setup);
    gateway = await startGateway(config, { logger: false, receiptTimeoutMs: 10_000 });
    token = await sessionToken(
      new GatewayClient(gateway.url, setup.signers.researcher, await setup.as(setup.signers.researcher)),
    );
  });
  after(async function () {
    await gateway?.close();
    setup?.cleanup();
  });

  const askVisa = (patient: string, bearer: string | null = token) =>
    gatewayFetch(`${gateway.url}/ga4gh/visas`, { body: { patient }, token: bearer ?? undefined });

  it("publishes its signing key at /.well-known/jwks.json", async function () {
    const { status, body } = await gatewayFetch(`${gateway.url}/.well-known/jwks.json`);
    expect(status).to.equal(200);
    const [key] = body.keys as Record<string, string>[];
    expect(key).to.include({ kty: "EC", crv: "P-256", alg: "ES256", use: "sig" });
    expect(key).to.not.have.property("d");
  });

  it("refuses a caller who is not logged in, and a researcher without a research consent", async function () {
    expect((await askVisa(setup.signers.patient.address, null)).status).to.equal(401);
    const { status, body } = await askVisa(setup.signers.patient.address);
    expect([status, body.error]).to.deep.equal([403, "NoResearchConsent"]);
  });

  it("issues a visa while the patient's research consent stands, that a repository verifies against the JWKS", async function () {
    await grantResearcherLabResults(setup);
    const { status, body } = await askVisa(setup.signers.patient.address);
    expect(status, JSON.stringify(body)).to.equal(200);
    const visa = body.visa as string;

    const remote = createRemoteJWKSet(new URL(`${gateway.url}/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify<Visa>(visa, remote, {
      issuer: gateway.publicUrl,
      algorithms: ["ES256"],
    });
    expect(protectedHeader.jku).to.equal(`${gateway.publicUrl}/.well-known/jwks.json`);
    expect(payload.sub).to.equal(`eip155:31337:${setup.signers.researcher.address}`);
    expect(payload.exp! - payload.iat!).to.be.within(1, 3600);
    expect(payload.jti).to.be.a("string");
    const dataset = `${gateway.publicUrl}/datasets/eip155:31337:${setup.signers.patient.address}`;
    expect(payload.ga4gh_visa_v1).to.deep.include({
      type: "ControlledAccessGrants",
      value: dataset,
      source: gateway.publicUrl,
      by: "dac",
    });
    expect(payload.ga4gh_visa_v1.asserted).to.be.within(payload.iat! - 600, payload.iat!);

    const jwks = (await gatewayFetch(`${gateway.url}/.well-known/jwks.json`)).body as unknown as Parameters<
      typeof createLocalJWKSet
    >[0];
    await jwtVerify(visa, createLocalJWKSet(jwks), { issuer: gateway.publicUrl });
    const [head, , signature] = visa.split(".");
    const forged = Buffer.from(
      JSON.stringify({ ...payload, sub: "eip155:31337:0x0000000000000000000000000000000000000001" }),
    ).toString("base64url");
    await jwtVerify(`${head}.${forged}.${signature}`, createLocalJWKSet(jwks)).then(
      () => expect.fail("a forged visa verified"),
      (error: Error) => expect(error.name).to.equal("JWSSignatureVerificationFailed"),
    );
  });

  it("gives a revoked consent no new visa", async function () {
    const patient = new PatientClient(await setup.as(setup.signers.patient), setup.signers.patient);
    await (await patient.revoke(setup.signers.researcher.address)).wait();
    const { status, body } = await askVisa(setup.signers.patient.address);
    expect([status, body.error]).to.deep.equal([403, "NoResearchConsent"]);
  });

  it("issues one for a consent the patient's standing policy approved, and refuses a treatment-only consent", async function () {
    const patient = new PatientClient(await setup.as(setup.signers.otherPatient), setup.signers.otherPatient);
    await (
      await patient.setPolicy({
        permission: "GRU",
        dataClasses: ["LAB_RESULT"],
        validUntil: (await chainNow(setup.provider)) + 30 * DAY,
      })
    ).wait();
    const researcher = new ResearcherClient(await setup.as(setup.signers.researcher), setup.signers.researcher);
    const { approved } = await (
      await researcher.requestAccess({
        patient: setup.signers.otherPatient.address,
        dataClasses: ["LAB_RESULT"],
        purpose: "HRESCH",
        researchCategory: "GRU",
        duration: DAY,
        studyId: "visa-study",
      })
    ).wait();
    expect(approved).to.equal(true);
    const client = new GatewayClient(gateway.url, setup.signers.researcher, await setup.as(setup.signers.researcher));
    const { visa, dataset } = await client.requestVisa(setup.signers.otherPatient.address);
    const { payload } = await jwtVerify<Visa>(
      visa,
      createRemoteJWKSet(new URL(`${gateway.url}/.well-known/jwks.json`)),
      { issuer: gateway.publicUrl },
    );
    expect(payload.ga4gh_visa_v1.value).to.equal(dataset);

    await (
      await patient.grant({
        grantee: setup.signers.researcher.address,
        dataClasses: ["LAB_RESULT"],
        purposes: ["TREAT"],
        validUntil: (await chainNow(setup.provider)) + DAY,
      })
    ).wait();
    expect((await askVisa(setup.signers.otherPatient.address)).body.error).to.equal("NoResearchConsent");
    await client.requestVisa(setup.signers.otherPatient.address).then(
      () => expect.fail("a visa for a treatment-only consent"),
      (error: Error) => expect(error.message).to.contain("NoResearchConsent"),
    );
  });

  it("keeps its signing key across a restart (sealed under the master key)", async function () {
    const before = (await gatewayFetch(`${gateway.url}/.well-known/jwks.json`)).body.keys as { kid: string }[];
    await gateway.close();
    gateway = await startGateway(config, { logger: false, receiptTimeoutMs: 10_000 });
    const after = (await gatewayFetch(`${gateway.url}/.well-known/jwks.json`)).body.keys as { kid: string }[];
    expect(after[0].kid).to.equal(before[0].kid);
  });
});
