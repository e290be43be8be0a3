import { rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { expect } from "chai";

import { ConfigError, DEFAULTS, parseConfig } from "../../gateway/config";
import { startGateway, StartupError } from "../../gateway/start";
import {
  gatewayConfig,
  gatewayFetch,
  hardhatPrivateKey,
  randomMasterKeyHex,
  runGatewayCli,
  setupLedger,
  startTestGateway,
  type LedgerSetup,
} from "../helpers/gateway-harness";
import { sharedLocalNode } from "../helpers/local-node";

const KEY = hardhatPrivateKey(1);
const MASTER = "ab".repeat(32);
const env = (extra: Record<string, string> = {}) => ({
  CONSENT_GATEWAY_PRIVATE_KEY: KEY,
  CONSENT_GATEWAY_MASTER_KEY: MASTER,
  ...extra,
});

function configError(argv: string[], environment: Record<string, string>): string {
  try {
    parseConfig(argv, environment);
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message.split("\n")).to.have.length(1);
    return message;
  }
  throw new Error(`parseConfig(${argv.join(" ")}) did not fail`);
}

describe("the custodian gateway: command line", function () {
  this.timeout(120_000);

  describe("flags and environment", function () {
    it("has the documented defaults", function () {
      const config = parseConfig(["--rpc", "http://127.0.0.1:8545"], env());
      expect(config).to.deep.include({
        rpcUrl: "http://127.0.0.1:8545",
        host: "127.0.0.1",
        port: 8787,
        dataDir: path.resolve(".gateway"),
        deploymentFile: undefined,
        logBatchSize: 20,
        logIntervalMs: 5000,
        challengeTtlSeconds: 300,
        sessionTtlSeconds: 900,
        rateLimitPerMinute: 1200,
        confirmations: 0,
        privateKey: KEY,
      });
      expect(Buffer.from(config.masterKey).toString("hex")).to.equal(MASTER);
      expect(DEFAULTS.port).to.equal(8787);
    });

    it("reads the RPC URL from CONSENT_GATEWAY_RPC, and lets a flag win", function () {
      expect(parseConfig([], env({ CONSENT_GATEWAY_RPC: "http://127.0.0.1:1" })).rpcUrl).to.equal("http://127.0.0.1:1");
      expect(
        parseConfig(["--rpc", "http://127.0.0.1:2"], env({ CONSENT_GATEWAY_RPC: "http://127.0.0.1:1" })).rpcUrl,
      ).to.equal("http://127.0.0.1:2");
    });

    it("takes --resync-from repeatedly as peer origins, and refuses a URL that is not http(s)", function () {
      const rpc = ["--rpc", "http://127.0.0.1:8545"];
      expect(parseConfig(rpc, env()).resyncFrom).to.deep.equal([]);
      expect(
        parseConfig(
          [...rpc, "--resync-from", "http://127.0.0.1:8801/", "--resync-from", "https://custodian.example:8443"],
          env(),
        ).resyncFrom,
      ).to.deep.equal(["http://127.0.0.1:8801", "https://custodian.example:8443"]);
      expect(configError([...rpc, "--resync-from", "ftp://peer"], env())).to.contain(
        "--resync-from must use http or https",
      );
    });

    it("takes the rate limit from --rate-limit or CONSENT_GATEWAY_RATE_LIMIT; 0 turns it off", function () {
      const rpc = ["--rpc", "http://127.0.0.1:8545"];
      expect(parseConfig([...rpc, "--rate-limit", "60"], env()).rateLimitPerMinute).to.equal(60);
      expect(parseConfig(rpc, env({ CONSENT_GATEWAY_RATE_LIMIT: "0" })).rateLimitPerMinute).to.equal(0);
      expect(configError([...rpc, "--rate-limit", "-1"], env())).to.contain(
        "--rate-limit must be a whole number from 0 to 1000000",
      );
      expect(configError([...rpc, "--rate-limit", "2000000"], env())).to.contain(
        "--rate-limit must be from 0 to 1000000",
      );
    });

    it("takes the login-challenge limit from --challenge-rate-limit or its variable; 600 by default, 0 turns it off", function () {
      const rpc = ["--rpc", "http://127.0.0.1:8545"];
      expect(parseConfig(rpc, env()).challengesPerMinute).to.equal(600);
      expect(parseConfig([...rpc, "--challenge-rate-limit", "30"], env()).challengesPerMinute).to.equal(30);
      expect(parseConfig(rpc, env({ CONSENT_GATEWAY_CHALLENGE_RATE_LIMIT: "0" })).challengesPerMinute).to.equal(0);
      expect(configError([...rpc, "--challenge-rate-limit", "x"], env())).to.contain(
        "--challenge-rate-limit must be a whole number from 0 to 1000000",
      );
    });

    it("takes the streamed-record limit from --max-record-bytes or its variable; 4 GiB by default", function () {
      const rpc = ["--rpc", "http://127.0.0.1:8545"];
      expect(parseConfig(rpc, env()).maxRecordBytes).to.equal(4 * 1024 ** 3);
      expect(parseConfig([...rpc, "--max-record-bytes", "1048576"], env()).maxRecordBytes).to.equal(1048576);
      expect(parseConfig(rpc, env({ CONSENT_GATEWAY_MAX_RECORD_BYTES: "2048" })).maxRecordBytes).to.equal(2048);
      expect(configError([...rpc, "--max-record-bytes", "10"], env())).to.contain(
        "--max-record-bytes must be from 1024 to",
      );
    });

    it("takes the confirmations from --confirmations or CONSENT_GATEWAY_CONFIRMATIONS", function () {
      const rpc = ["--rpc", "http://127.0.0.1:8545"];
      expect(parseConfig([...rpc, "--confirmations", "12"], env()).confirmations).to.equal(12);
      expect(parseConfig(rpc, env({ CONSENT_GATEWAY_CONFIRMATIONS: "2" })).confirmations).to.equal(2);
      expect(configError([...rpc, "--confirmations", "-1"], env())).to.contain(
        "--confirmations must be a whole number from 0 to 10000",
      );
      expect(configError([...rpc, "--confirmations", "finalized"], env())).to.contain(
        "--confirmations must be a whole number from 0 to 10000",
      );
    });

    it("reads the master key from a file", function () {
      const file = path.join(os.tmpdir(), `gateway-master-${process.pid}`);
      writeFileSync(file, `${MASTER}\n`, { mode: 0o600 });
      try {
        const config = parseConfig(["--rpc", "http://127.0.0.1:8545", "--master-key-file", file], {
          CONSENT_GATEWAY_PRIVATE_KEY: KEY,
        });
        expect(Buffer.from(config.masterKey).toString("hex")).to.equal(MASTER);
        expect(configError(["--rpc", "http://127.0.0.1:8545", "--master-key-file", file], env())).to.contain(
          "given twice",
        );
      } finally {
        rmSync(file, { force: true });
      }
    });

    const cases: [string, string[], Record<string, string>, string][] = [
      ["no RPC", [], env(), "pass --rpc <url> or set CONSENT_GATEWAY_RPC"],
      ["an RPC that is not a URL", ["--rpc", "localhost"], env(), "--rpc must be a URL"],
      [
        "a port that is not a number",
        ["--rpc", "http://127.0.0.1:8545", "--port", "80a"],
        env(),
        "--port must be a whole number",
      ],
      [
        "a port out of range",
        ["--rpc", "http://127.0.0.1:8545", "--port", "70000"],
        env(),
        "--port must be from 0 to 65535",
      ],
      [
        "a batch size of zero",
        ["--rpc", "http://127.0.0.1:8545", "--log-batch-size", "0"],
        env(),
        "--log-batch-size must be from 1",
      ],
      [
        "a session longer than 15 minutes",
        ["--rpc", "http://127.0.0.1:8545", "--session-ttl", "3600"],
        env(),
        "--session-ttl must be from 1 to 900",
      ],
      ["an unknown flag", ["--rpc", "http://127.0.0.1:8545", "--verbose"], env(), "unknown option '--verbose'"],
      [
        "a private key on the command line",
        ["--rpc", "http://127.0.0.1:8545", "--private-key", KEY],
        env(),
        "never a command-line argument",
      ],
      [
        "no private key",
        ["--rpc", "http://127.0.0.1:8545"],
        { CONSENT_GATEWAY_MASTER_KEY: MASTER },
        "set CONSENT_GATEWAY_PRIVATE_KEY",
      ],
      [
        "a malformed private key",
        ["--rpc", "http://127.0.0.1:8545"],
        env({ CONSENT_GATEWAY_PRIVATE_KEY: "0x1234" }),
        "0x followed by 64 hex digits",
      ],
      ["no master key", ["--rpc", "http://127.0.0.1:8545"], { CONSENT_GATEWAY_PRIVATE_KEY: KEY }, "no master key"],
      [
        "a short master key",
        ["--rpc", "http://127.0.0.1:8545"],
        env({ CONSENT_GATEWAY_MASTER_KEY: "abcd" }),
        "must hold 64 hex digits",
      ],
      [
        "a missing deployment file",
        ["--rpc", "http://127.0.0.1:8545", "--deployment", "/nonexistent/d.json"],
        env(),
        "no such file",
      ],
      [
        "a bad provider address",
        ["--rpc", "http://127.0.0.1:8545", "--provider", "0x12"],
        env(),
        "--provider must be a 0x-prefixed",
      ],
    ];
    for (const [what, argv, environment, expected] of cases) {
      it(`refuses ${what} in one line`, function () {
        expect(configError(argv, environment)).to.contain(expected);
      });
    }
  });

  describe("starting", function () {
    let setup: LedgerSetup;

    before(async function () {
      setup = await setupLedger(await sharedLocalNode());
    });

    after(function () {
      setup?.cleanup();
    });

    it("answers /health with its chain, custodian, latest block and pending log entries", async function () {
      const { gateway } = await startTestGateway(setup);
      try {
        const health = await gatewayFetch(`${gateway.url}/health`);
        expect(health.status).to.equal(200);
        expect(health.body).to.deep.include({
          status: "ok",
          chainId: 31337,
          custodian: setup.signers.hospital.address,
          confirmations: 0,
          pendingLogEntries: 0,
        });
        expect(health.body.latestBlock).to.equal(await setup.provider.getBlockNumber());
      } finally {
        await gateway.close();
      }
    });

    it("refuses to start for a custodian key the ledger has not accredited CUSTODIAN", async function () {
      const error = await startGateway(gatewayConfig(setup, { privateKey: hardhatPrivateKey(2) })).catch(
        (caught: unknown) => caught,
      );
      expect(error).to.be.instanceOf(StartupError);
      expect((error as Error).message).to.contain(
        `${setup.signers.lab.address} (CONSENT_GATEWAY_PRIVATE_KEY) is not an accredited CUSTODIAN`,
      );
      expect((error as Error).message).to.contain("does not hold the CUSTODIAN role");
    });

    it("refuses a data directory opened with another master key", async function () {
      const { gateway, config } = await startTestGateway(setup);
      await gateway.close();
      const error = await startGateway({ ...config, masterKey: Buffer.from(randomMasterKeyHex(), "hex") }).catch(
        (caught: unknown) => caught,
      );
      expect(error).to.be.instanceOf(StartupError);
      expect((error as Error).message).to.contain("the master key does not open this data directory");
    });

    it("prints one line and exits non-zero, from the real command line", async function () {
      const badFlag = await runGatewayCli(["--rpc", setup.node.url, "--log-interval-ms", "soon"], env());
      expect(badFlag.code).to.equal(2);
      expect(badFlag.output.trim().split("\n")).to.deep.equal([
        "consent-gateway: option '--log-interval-ms <ms>' argument 'soon' is invalid. --log-interval-ms must be a whole number from 50 to 3600000, got \"soon\" (see --help)",
      ]);

      const notCustodian = await runGatewayCli(
        ["--rpc", setup.node.url, "--deployment", setup.deploymentFile, "--port", "0"],
        env({ CONSENT_GATEWAY_PRIVATE_KEY: hardhatPrivateKey(3) }),
      );
      expect(notCustodian.code).to.equal(1);
      const lines = notCustodian.output.trim().split("\n");
      expect(lines).to.have.length(1);
      expect(lines[0]).to.match(
        /^consent-gateway: refusing to start: 0x[0-9a-fA-F]{40} \(CONSENT_GATEWAY_PRIVATE_KEY\) is not an accredited CUSTODIAN/,
      );
    });
  });
});
