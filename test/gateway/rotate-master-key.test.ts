/**
 * Master-key rotation (`npm run gateway:rotate-master-key`) and the data directory's lock, as an operator
 * meets them: the command as a child process, the gateway restarted on the rotated directory.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

import { expect } from "chai";

import { lockDataDirectory } from "../../gateway/data-lock";
import { KeyVault } from "../../gateway/key-vault";
import type { RunningGateway } from "../../gateway/start";
import { GatewayStore } from "../../gateway/store";
import { PatientClient } from "../../sdk/clients/patient";
import {
  DAY,
  ROTATE_MASTER_KEY_MAIN,
  chainNow,
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
    const patient = new PatientClient(await setup.as(setup.signers.patient), setup.signers.patient);
    await (
      await patient.grant({
        grantee: setup.signers.researcher.address,
        dataClasses: ["LAB_RESULT"],
        purposes: ["HRESCH"],
        validUntil: (await chainNow(setup.provider)) + DAY,
      })
    ).wait();
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
          `rotate-master-key: ${dataDir}.* is in use by a consent gateway, pid ${running.child.pid}.*: stop it first`,
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
    // The gateway's own writes aside (sessions, purges), every sealed key is as it was.
    const store = GatewayStore.open(path.join(dataDir, "gateway.sqlite"), { readonly: true });
    try {
      await new KeyVault(hexKey(oldKey)).verifyCheckValue(store.getMeta("masterKeyCheck")!);
    } finally {
      store.close();
    }
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

    const store = GatewayStore.open(path.join(dataDir, "gateway.sqlite"), { readonly: true });
    try {
      await new KeyVault(hexKey(oldKey)).verifyCheckValue(store.getMeta("masterKeyCheck")!);
    } finally {
      store.close();
    }
  });

  it("re-seals every key under the new key (from a file), after which only the new key opens the gateway", async function () {
    const newKeyFile = path.join(setup.tempDir, "new-master.key");
    writeFileSync(newKeyFile, `${newKey}\n`, { mode: 0o600 });
    const rotated = await rotate({ CONSENT_GATEWAY_MASTER_KEY: oldKey }, [
      "--data-dir",
      dataDir,
      "--new-master-key-file",
      newKeyFile,
    ]);
    expect(rotated.code, rotated.output).to.equal(0);
    expect(rotated.output).to.include(`re-sealed ${recordIds.length} data keys in ${dataDir} under the new master key`);

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

  it("takes over a lock its holder left behind when it died", function () {
    const dir = mkdtempSync(path.join(setup.tempDir, "stale-lock-"));
    // A pid that cannot be alive: above the kernel's limit (pid_max is at most 2^22).
    writeFileSync(
      path.join(dir, "gateway.lock"),
      JSON.stringify({ pid: 2 ** 22 + 1, holder: "a consent gateway", since: "then" }),
    );
    const release = lockDataDirectory(dir, "a test");
    expect(JSON.parse(readFileSync(path.join(dir, "gateway.lock"), "utf8")).pid).to.equal(process.pid);
    expect(() => lockDataDirectory(dir, "another test")).to.throw(/is in use by a test, pid \d+ \(this process\)/);
    release();
    lockDataDirectory(dir, "a third test")();
  });
});
