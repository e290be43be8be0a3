/**
 * Master-key rotation (`npm run gateway:rotate-master-key`) and the data directory's lock, as an operator
 * meets them: the command as a child process, the gateway restarted on the rotated directory.
 */
import { spawn } from "node:child_process";
import { createDecipheriv, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";

import { expect } from "chai";

import { DataDirectoryLockedError, lockDataDirectory } from "../../gateway/data-lock";
import { fingerprintOf } from "../../gateway/rotate-master-key";
import type { RunningGateway } from "../../gateway/start";
import { GatewayStore } from "../../gateway/store";
import {
  ROTATE_MASTER_KEY_MAIN,
  grantResearcherLabResults,
  labObservation,
  providerWithGateway,
  publish,
  randomMasterKeyHex,
  readerWithKey,
  runGatewayCli,
  setupLedger,
  spawnGateway,
  startTestGateway,
  type LedgerSetup,
} from "../helpers/gateway-harness";
import { sharedLocalNode } from "../helpers/local-node";

const hexKey = (hex: string) => Uint8Array.from(Buffer.from(hex, "hex"));

describe("the custodian gateway: master-key rotation and the data directory's lock", function () {
  this.timeout(180_000);

  let setup: LedgerSetup;
  let dataDir: string;
  const oldKey = randomMasterKeyHex();
  const newKey = randomMasterKeyHex();
  const observations = [labObservation("glucose-r1", 91), labObservation("glucose-r2", 104)];
  const recordIds: string[] = [];

  const rotate = (env: Record<string, string | undefined>, args: string[] = ["--data-dir", dataDir]) =>
    runGatewayCli(args, { CONSENT_GATEWAY_MASTER_KEY: undefined, ...env }, 60_000, ROTATE_MASTER_KEY_MAIN);

  /**
   * The directory is under `keyHex`: its master-key check and every sealed data key open with it. Checked
   * with node:crypto from the documented layout (AES-256-GCM, IV || ciphertext || tag; the check's AAD and
   * plaintext; a data key's AAD is its record id), not with the KeyVault under test.
   */
  function expectUnderKey(keyHex: string) {
    const open = (iv: Uint8Array, sealed: Uint8Array, aad: Uint8Array) => {
      const decipher = createDecipheriv("aes-256-gcm", hexKey(keyHex), iv);
      decipher.setAAD(aad);
      decipher.setAuthTag(sealed.subarray(sealed.length - 16));
      return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - 16)), decipher.final()]);
    };
    const store = GatewayStore.open(path.join(dataDir, "gateway.sqlite"), { readonly: true });
    try {
      const check = Buffer.from(store.getMeta("masterKeyCheck")!.slice(2), "hex");
      const plaintext = open(
        check.subarray(0, 12),
        check.subarray(12),
        Buffer.from("consent-ledger/gateway/master-key-check/v1"),
      );
      expect(plaintext.toString()).to.equal("consent-ledger gateway master key");
      const sealed = store.sealedKeys();
      expect(sealed.map((row) => row.recordId).sort()).to.deep.equal([...recordIds].sort());
      for (const row of sealed) {
        expect(
          open(row.keyIv, row.keyCiphertext, Buffer.from(row.recordId.slice(2), "hex")),
          row.recordId,
        ).to.have.length(32);
      }
    } finally {
      store.close();
    }
  }

  /** Nothing in the directory opens with `keyHex`. */
  function expectNotUnderKey(keyHex: string) {
    expect(() => expectUnderKey(keyHex)).to.throw(/unable to authenticate data|Unsupported state/);
  }

  before(async function () {
    setup = await setupLedger(await sharedLocalNode());
    dataDir = mkdtempSync(path.join(setup.tempDir, "rotate-"));
    const { gateway } = await startTestGateway(setup, { dataDir, masterKey: hexKey(oldKey) });
    try {
      const hospital = await providerWithGateway(setup, setup.signers.hospital, gateway.url);
      for (const observation of observations) {
        recordIds.push(
          (await publish(hospital.provider, setup.signers.patient.address, "LAB_RESULT", observation)).recordId,
        );
      }
    } finally {
      await gateway.close();
    }
    await grantResearcherLabResults(setup);
  });

  after(function () {
    setup?.cleanup();
  });

  it("refuses while a gateway runs on the directory, and a second gateway too; nothing changes", async function () {
    const running = await spawnGateway(setup, { dataDir, masterKeyHex: oldKey });
    try {
      const refused = await rotate({ CONSENT_GATEWAY_MASTER_KEY: oldKey, CONSENT_GATEWAY_NEW_MASTER_KEY: newKey });
      expect(refused.code).to.equal(1);
      expect(refused.output).to.match(
        new RegExp(
          `rotate-master-key: ${dataDir} is in use by a consent gateway \\(pid ${running.child.pid} on .*\\): stop it first`,
        ),
      );
      let second: RunningGateway | undefined;
      const startError = await startTestGateway(setup, { dataDir, masterKey: hexKey(oldKey) })
        .then(({ gateway }) => {
          second = gateway;
        })
        .catch((error: Error) => error);
      await second?.close();
      expect(startError).to.be.instanceOf(Error);
      expect((startError as Error).message).to.match(/refusing to start: .* is in use by a consent gateway/);
    } finally {
      await running.kill("SIGTERM");
    }
    expectUnderKey(oldKey);
  });

  it("refuses a wrong current key, the same key twice, and a missing new key, changing nothing", async function () {
    const wrong = await rotate({
      CONSENT_GATEWAY_MASTER_KEY: randomMasterKeyHex(),
      CONSENT_GATEWAY_NEW_MASTER_KEY: newKey,
    });
    expect(wrong.code).to.equal(1);
    expect(wrong.output).to.match(/the current master key does not open .*: nothing changed/);

    const same = await rotate({ CONSENT_GATEWAY_MASTER_KEY: oldKey, CONSENT_GATEWAY_NEW_MASTER_KEY: oldKey });
    expect(same.code).to.equal(2);
    expect(same.output).to.match(/the new master key is the current one: generate another/);

    const missing = await rotate({ CONSENT_GATEWAY_MASTER_KEY: oldKey, CONSENT_GATEWAY_NEW_MASTER_KEY: undefined });
    expect(missing.code).to.equal(2);
    expect(missing.output).to.match(
      /no new master key: set CONSENT_GATEWAY_NEW_MASTER_KEY .* or pass --new-master-key-file/,
    );

    const nowhere = await rotate({ CONSENT_GATEWAY_MASTER_KEY: oldKey, CONSENT_GATEWAY_NEW_MASTER_KEY: newKey }, [
      "--data-dir",
      path.join(setup.tempDir, "no-such-dir"),
    ]);
    expect(nowhere.code).to.equal(1);
    expect(nowhere.output).to.match(/holds no gateway data \(no gateway\.sqlite\)/);

    expectUnderKey(oldKey);
  });

  it("re-seals every key under the new key (from a file), after which only the new key opens the gateway", async function () {
    const before = GatewayStore.open(path.join(dataDir, "gateway.sqlite"), { readonly: true });
    const oldSeals = before.sealedKeys();
    before.close();
    expect(oldSeals).to.have.length(recordIds.length);
    const newKeyFile = path.join(setup.tempDir, "new-master.key");
    writeFileSync(newKeyFile, `${newKey}\n`, { mode: 0o600 });
    const rotated = await rotate({ CONSENT_GATEWAY_MASTER_KEY: oldKey }, [
      "--data-dir",
      dataDir,
      "--new-master-key-file",
      newKeyFile,
    ]);
    expect(rotated.code, rotated.output).to.equal(0);
    expect(rotated.output).to.include(
      `re-sealed ${recordIds.length} data keys in ${dataDir} under the new master key (fingerprint ${fingerprintOf(hexKey(newKey))})`,
    );
    // No copy of an old seal is left anywhere in the database's files: the old key, were it leaked,
    // opens nothing here.
    const files = readdirSync(dataDir).filter((name) => name.startsWith("gateway.sqlite"));
    const contents = files.map((name) => readFileSync(path.join(dataDir, name)));
    for (const old of oldSeals) {
      for (const [i, content] of contents.entries()) {
        expect(
          content.includes(Buffer.from(old.keyCiphertext)),
          `${files[i]} still holds ${old.recordId}'s old seal`,
        ).to.equal(false);
      }
    }

    expectUnderKey(newKey);
    expectNotUnderKey(oldKey);

    const withOldKey = await startTestGateway(setup, { dataDir, masterKey: hexKey(oldKey) }).catch(
      (error: Error) => error,
    );
    expect(withOldKey).to.be.instanceOf(Error);
    expect((withOldKey as Error).message).to.match(/the master key does not open this data directory/);

    const { gateway } = await startTestGateway(setup, { dataDir, masterKey: hexKey(newKey) });
    try {
      const reader = await readerWithKey(setup, setup.signers.researcher, gateway.url);
      for (const [i, recordId] of recordIds.entries()) {
        const opened = await reader.gateway.fetchRecord({ recordId, purpose: "HRESCH", keyPair: reader.keyPair });
        expect(opened.resource).to.deep.equal(observations[i]);
      }
    } finally {
      await gateway.close();
    }
  });

  it("leaves no old seal in the database's files, even where rows moved (200 records)", function () {
    const dir = mkdtempSync(path.join(setup.tempDir, "scrub-"));
    const store = GatewayStore.open(path.join(dir, "gateway.sqlite"));
    const address = setup.signers.patient.address;
    const rows = Array.from({ length: 200 }, (_, i) => ({
      recordId: `0x${randomBytes(32).toString("hex")}`,
      keyIv: new Uint8Array(randomBytes(12)),
      keyCiphertext: new Uint8Array(randomBytes(48)),
      index: i,
    }));
    try {
      for (const row of rows) {
        store.insertRecord({
          recordId: row.recordId,
          cid: `bafk-${row.index}`,
          provider: address,
          patient: address,
          dataClass: 0,
          version: 1,
          keyIv: row.keyIv,
          keyCiphertext: row.keyCiphertext,
          depositedBy: address,
          depositedAt: row.index,
        });
      }
      // Resealed with longer ciphertexts, so rows no longer fit where they were.
      store.replaceSealedKeys(
        rows.map((row) => ({
          recordId: row.recordId,
          keyIv: new Uint8Array(randomBytes(12)),
          keyCiphertext: new Uint8Array(randomBytes(96)),
        })),
        "0x01",
      );
    } finally {
      store.close();
    }
    const contents = readdirSync(dir)
      .filter((name) => name.startsWith("gateway.sqlite"))
      .map((name) => readFileSync(path.join(dir, name)));
    const left = rows.filter((row) => contents.some((content) => content.includes(Buffer.from(row.keyCiphertext))));
    expect(left.map((row) => row.recordId)).to.deep.equal([]);
  });

  it("rolls the whole replacement back when it would not cover every record", async function () {
    const store = GatewayStore.open(path.join(dataDir, "gateway.sqlite"));
    try {
      const before = store.sealedKeys();
      const check = store.getMeta("masterKeyCheck");
      const partial = [{ ...before[0], keyIv: new Uint8Array(12), keyCiphertext: new Uint8Array(48) }];
      expect(() => store.replaceSealedKeys(partial, "0x00")).to.throw(
        `resealed 1 of ${before.length} records: the rotation is rolled back, nothing changed`,
      );
      expect(store.sealedKeys()).to.deep.equal(before);
      expect(store.getMeta("masterKeyCheck")).to.equal(check);
    } finally {
      store.close();
    }
  });

  it("is one holder at a time, in this process or another, and vanishes with a killed holder", async function () {
    const dir = mkdtempSync(path.join(setup.tempDir, "lock-"));
    const release = lockDataDirectory(dir, "a test");
    expect(() => lockDataDirectory(dir, "another test")).to.throw(
      DataDirectoryLockedError,
      new RegExp(`is in use by a test \\(pid ${process.pid} on .*, this process, since .*\\): stop it first`),
    );
    release();
    release(); // twice is harmless

    // Another process takes it and is killed with SIGKILL: no stale lock is left behind.
    const script =
      `require(${JSON.stringify(path.resolve(__dirname, "../../gateway/data-lock.ts"))})` +
      `.lockDataDirectory(${JSON.stringify(dir)}, "a child"); console.log("locked"); setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on("data", (chunk: Buffer) => {
          if (chunk.toString().includes("locked")) resolve();
        });
        child.once("exit", (code) => reject(new Error(`the child exited (${code}) before taking the lock`)));
      });
      expect(() => lockDataDirectory(dir, "a test")).to.throw(
        DataDirectoryLockedError,
        new RegExp(`is in use by a child \\(pid ${child.pid} on `),
      );
    } finally {
      const gone = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await gone;
    }
    lockDataDirectory(dir, "a test after the kill")();
  });
});
