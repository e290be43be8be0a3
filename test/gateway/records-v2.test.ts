import { createHash } from "node:crypto";

import { expect } from "chai";
import { toUtf8Bytes, ZeroHash } from "ethers";

import { PatientClient } from "../../sdk/clients/patient";
import { DataClass } from "../../sdk/codes";
import { bytesToHex, randomBytes } from "../../sdk/crypto/bytes";
import { ContentType, parseEnvelope } from "../../sdk/crypto/envelope";
import { ENVELOPE_V2_HEADER_BYTES, openRecordRange, sealRecordV2, segmentNonce } from "../../sdk/crypto/envelope-v2";
import { unwrapDataKey } from "../../sdk/crypto/key-wrap";
import { cidOf } from "../../sdk/storage/blob-store";
import type { RunningGateway } from "../../gateway/start";
import { specKeys } from "../helpers/envelope-v2-spec";
import { salamander } from "../helpers/salamander";
import {
  chainNow,
  DAY,
  gatewayFetch,
  providerWithGateway,
  readerWithKey,
  sessionToken,
  setupLedger,
  startTestGateway,
  type LedgerSetup,
} from "../helpers/gateway-harness";
import { sharedLocalNode } from "../helpers/local-node";

const MiB = 1 << 20;

describe("the custodian gateway: v2 records (segmented, key-committing)", function () {
  this.timeout(120_000);

  let setup: LedgerSetup;
  let gateway: RunningGateway;
  let hospital: Awaited<ReturnType<typeof providerWithGateway>>;
  let reader: Awaited<ReturnType<typeof readerWithKey>>;

  before(async function () {
    setup = await setupLedger(await sharedLocalNode());
    ({ gateway } = await startTestGateway(setup));
    hospital = await providerWithGateway(setup, setup.signers.hospital, gateway.url);
    reader = await readerWithKey(setup, setup.signers.researcher, gateway.url);
    const patient = new PatientClient(await setup.as(setup.signers.patient), setup.signers.patient);
    await (
      await patient.grant({
        grantee: setup.signers.researcher.address,
        dataClasses: ["IMAGING"],
        purposes: ["HRESCH"],
        validUntil: (await chainNow(setup.provider)) + 30 * DAY,
      })
    ).wait();
  });

  after(async function () {
    await gateway?.close();
    setup?.cleanup();
  });

  it("ProviderClient publishes v2; a reader fetches the segment index and verifies a byte range fetched with Range requests", async function () {
    const study = new Uint8Array(5 * MiB + 321).map((_, i) => (i * 31 + (i >> 12)) & 0xff);
    const record = await (
      await hospital.provider.publish({ patient: setup.signers.patient.address, dataClass: "IMAGING", payload: study })
    ).wait();
    expect(parseEnvelope(await hospital.store.get(record.cid)).format).to.equal(2);
    expect(gateway.store.getRecord(record.recordId)?.cid).to.equal(record.cid);

    const token = await sessionToken(reader.gateway);
    const auth = { authorization: `Bearer ${token}` };
    const release = await reader.gateway.requestKey(record.recordId, "HRESCH");
    const dataKey = await unwrapDataKey(release.wrappedKey, reader.keyPair, record.recordId);

    const indexResponse = await fetch(`${gateway.url}/records/${record.recordId}/index`, { headers: auth });
    expect(indexResponse.status).to.equal(200);
    const index = new Uint8Array(await indexResponse.arrayBuffer());
    expect(index.length).to.equal(ENVELOPE_V2_HEADER_BYTES + 6 * 32);

    const requested: string[] = [];
    const fetchRange = async (start: number, end: number): Promise<Uint8Array> => {
      const range = `bytes=${start}-${end - 1}`;
      requested.push(range);
      const response = await fetch(`${gateway.url}/records/${record.recordId}/ciphertext`, {
        headers: { ...auth, range },
      });
      expect(response.status, range).to.equal(206);
      expect(response.headers.get("accept-ranges")).to.equal("bytes");
      const body = new Uint8Array(await response.arrayBuffer());
      const total = Number(response.headers.get("content-range")?.split("/")[1]);
      expect(response.headers.get("content-range")).to.equal(`bytes ${start}-${start + body.length - 1}/${total}`);
      return body;
    };
    const offset = 3 * MiB - 100;
    const range = await openRecordRange({
      index,
      fetch: fetchRange,
      dataKey,
      expected: { recordId: record.recordId, dataClass: DataClass.IMAGING },
      offset,
      length: 200,
    });
    expect(Buffer.from(range.plaintext).equals(Buffer.from(study.subarray(offset, offset + 200)))).to.equal(true);
    expect(requested).to.have.length(1); // two segments, one request: not the whole record
    const tail = await openRecordRange({
      index,
      fetch: fetchRange,
      dataKey,
      expected: { recordId: record.recordId },
      offset: 5 * MiB,
      length: 10_000,
    });
    expect(Buffer.from(tail.plaintext).equals(Buffer.from(study.subarray(5 * MiB)))).to.equal(true);

    // Suffix ranges, open ranges, and ranges outside the blob.
    const size = Number(
      (
        await fetch(`${gateway.url}/records/${record.recordId}/ciphertext`, {
          headers: { ...auth, range: "bytes=0-0" },
        })
      ).headers
        .get("content-range")
        ?.split("/")[1],
    );
    expect(size).to.equal(ENVELOPE_V2_HEADER_BYTES + study.length + 6 * 16);
    const suffix = await fetch(`${gateway.url}/records/${record.recordId}/ciphertext`, {
      headers: { ...auth, range: "bytes=-16" },
    });
    expect(suffix.headers.get("content-range")).to.equal(`bytes ${size - 16}-${size - 1}/${size}`);
    expect((await suffix.arrayBuffer()).byteLength).to.equal(16);
    for (const bad of [`bytes=${size}-`, "bytes=5-2", "bytes=0-1,4-5", "lines=1-2"]) {
      const refused = await fetch(`${gateway.url}/records/${record.recordId}/ciphertext`, {
        headers: { ...auth, range: bad },
      });
      expect(refused.status, bad).to.equal(416);
      expect(refused.headers.get("content-range"), bad).to.equal(`bytes */${size}`);
    }
    // The whole ciphertext still comes back as before, and opens.
    const whole = await reader.gateway.fetchCiphertext(record.recordId);
    expect(await cidOf(whole)).to.equal(record.cid);

    // The same through the SDK's GatewayClient, which verifies against the record id it asked for.
    const viaClient = await reader.gateway.fetchRecordRange({
      recordId: record.recordId,
      purpose: "HRESCH",
      keyPair: reader.keyPair,
      offset: 1_000_000,
      length: 100_000,
    });
    expect(Buffer.from(viaClient.plaintext).equals(Buffer.from(study.subarray(1_000_000, 1_100_000)))).to.equal(true);
    expect(viaClient.context.dataClass).to.equal(DataClass.IMAGING);
    expect(viaClient.release.basis).to.equal("Consent");

    // A v1 record has no index.
    const noIndex = await gatewayFetch(`${gateway.url}/records/0x${"00".repeat(32)}/index`, { token });
    expect(noIndex.status).to.equal(404);
  });

  it("ingest checks the key commitment: the second key of a salamander is refused as WrongDataKey", async function () {
    const key1 = randomBytes(32);
    const key2 = randomBytes(32);
    const context = {
      chainId: 31337n,
      registry: setup.deployment.records,
      patient: setup.signers.patient.address,
      provider: setup.signers.hospital.address,
      dataClass: DataClass.IMAGING,
      version: 1,
      previousRecordId: ZeroHash,
      contentType: ContentType.OCTET_STREAM,
    };
    const honest = await sealRecordV2(new Uint8Array(8), context, key1, { segmentSize: 32 });
    const header = honest.envelope.slice(0, ENVELOPE_V2_HEADER_BYTES);
    const salt = header.subarray(114, 130);
    const segment = salamander(
      specKeys(key1, salt).encryptionKey,
      specKeys(key2, salt).encryptionKey,
      segmentNonce(0, true),
      header,
    );
    const envelope = Buffer.concat([header, segment]);
    const cid = await hospital.store.put(envelope);
    const recordId = bytesToHex(
      createHash("sha256")
        .update(Buffer.concat([header, createHash("sha256").update(segment).digest()]))
        .digest(),
    );
    await (
      await hospital.contracts.records
        .connect(setup.signers.hospital)
        .anchorRecord(setup.signers.patient.address, recordId, DataClass.IMAGING, toUtf8Bytes(cid))
    ).wait();

    const token = await sessionToken(hospital.custodian);
    const deposit = (dataKey: Uint8Array) =>
      gatewayFetch(`${gateway.url}/records`, {
        token,
        body: { recordId, dataKey: bytesToHex(dataKey), envelope: envelope.toString("base64") },
      });
    const second = await deposit(key2);
    expect(second.status).to.equal(422);
    expect(second.body).to.deep.include({
      error: "WrongDataKey",
      reason: `the data key is not the key record ${recordId} commits to`,
    });
    expect(gateway.store.getRecord(recordId)).to.equal(undefined);
    const first = await deposit(key1);
    expect(first.status).to.equal(201);
  });
});
