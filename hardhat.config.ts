import path from "node:path";

import { subtask, task, vars } from "hardhat/config";
import type { HardhatUserConfig, NetworkUserConfig } from "hardhat/types";
import { TASK_COMPILE, TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } from "hardhat/builtin-tasks/task-names";
import "@nomicfoundation/hardhat-toolbox";

import { writeAbiData } from "./scripts/abi-data";

// No machine we build on may download a compiler, so Hardhat is pointed at the solcjs build shipped
// in the pinned npm package `solc`. EAS 1.9.0 pins exactly this version too, which lets the gas
// benchmark compile both systems with one compiler.
const SOLC_VERSION = "0.8.29";

// ConsentLedger's optimizer runs, measured (npm run bench) against the 1,000,000 of the other contracts:
//   runs        deployed bytes   free under EIP-170's 24,576   gas on each snapshot row
//   1,000,000   23,753           823                           (reference)
//   200,000     23,753           823                           the same code
//   50,000      22,313           2,263                         +3 on every ledger call (grant, revoke,
//                                                              hasAccess, requestAccess, approve,
//                                                              grantBySig, the records' ledger checks),
//                                                              +6 setPolicyBySig, +12 defineSet3
//   10,000      20,961           3,615                         +27 to +207 (grantBySig +207, approve +135)
// 50,000 buys 1,440 bytes for 3 gas a call: a ledger at 1 byte below the limit cannot take a fix, even to a
// security check, so the room is kept (test/contracts/smoke.test.ts fails under 512 bytes free).
const LEDGER_RUNS = 50_000;

subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args: { solcVersion: string }, _hre, runSuper) => {
  if (args.solcVersion !== SOLC_VERSION) return runSuper();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const solc = require("solc") as { version(): string };
  return {
    compilerPath: path.join(path.dirname(require.resolve("solc/package.json")), "soljson.js"),
    isSolcJs: true,
    version: SOLC_VERSION,
    longVersion: solc.version(),
  };
});

// After the typechain bindings, the same ABIs as plain data (typechain-types/abis.ts) for the viem entry.
task(TASK_COMPILE, async (args, hre, runSuper) => {
  const result = await runSuper(args);
  await writeAbiData(hre.artifacts, path.join(hre.config.paths.root, hre.config.typechain.outDir));
  return result;
});

/**
 * Any EVM network is configured by Hardhat configuration variables alone, never a committed secret:
 *   npx hardhat vars set CONSENT_LEDGER_RPC_URL_SEPOLIA https://...
 *   npx hardhat vars set CONSENT_LEDGER_DEPLOYER_KEY_SEPOLIA 0x...
 * The network appears only when both are set, so a fresh clone needs none of them.
 */
function networkFromVars(name: string, extra: Partial<NetworkUserConfig> = {}): Record<string, NetworkUserConfig> {
  const suffix = name.toUpperCase().replace(/[^A-Z0-9]/g, "_");
  const url = vars.get(`CONSENT_LEDGER_RPC_URL_${suffix}`, "");
  const key = vars.get(`CONSENT_LEDGER_DEPLOYER_KEY_${suffix}`, "");
  if (!url || !key) return {};
  return { [name]: { url, accounts: [key], ...extra } as NetworkUserConfig };
}

const config: HardhatUserConfig = {
  solidity: {
    // The `compilers` form, since Hardhat 2 reads `overrides` only there; the one compiler is unchanged.
    compilers: [
      {
        version: SOLC_VERSION,
        settings: {
          // As many runs as EAS uses: the contracts are deployed once and called for every anchor, release
          // and key registration. ConsentLedger alone is built at LEDGER_RUNS (below, `overrides`).
          optimizer: { enabled: true, runs: 1_000_000 },
          evmVersion: "cancun",
          viaIR: true,
        },
      },
    ],
    // The Ethereum Attestation Service, which the gas benchmark (bench/, test/bench/) measures against,
    // is compiled as its maintainers build it: the 0.8.29 it pins, with the optimizer settings of its
    // own hardhat.config.ts (1,000,000 runs, no via-IR, no metadata hash), which the deployment
    // metadata shipped in its npm package confirms. EAS targets "paris" there, but the OpenZeppelin
    // 5.7 it resolves to here uses `mcopy`, so it gets "cancun", as ours (Hardhat runs Osaka anyway).
    // One entry per EAS source file, plus the bench file that only imports them (so EAS is never
    // also compiled via-IR).
    overrides: {
      "contracts/ConsentLedger.sol": {
        version: SOLC_VERSION,
        settings: { optimizer: { enabled: true, runs: LEDGER_RUNS }, evmVersion: "cancun", viaIR: true },
      },
      ...Object.fromEntries(
        [
          "contracts/bench/EasContracts.sol",
          ...[
            "EAS.sol",
            "SchemaRegistry.sol",
            "IEAS.sol",
            "ISchemaRegistry.sol",
            "ISemver.sol",
            "Semver.sol",
            "Common.sol",
            "eip1271/EIP1271Verifier.sol",
            "resolver/ISchemaResolver.sol",
          ].map((file) => `@ethereum-attestation-service/eas-contracts/contracts/${file}`),
        ].map((sourceName) => [
          sourceName,
          {
            version: SOLC_VERSION,
            settings: {
              optimizer: { enabled: true, runs: 1_000_000 },
              evmVersion: "cancun",
              metadata: { bytecodeHash: "none" },
            },
          },
        ]),
      ),
    },
  },
  networks: {
    hardhat: {},
    // A local node on another port: CONSENT_LEDGER_LOCALHOST_URL=http://127.0.0.1:8546 (README, "Local node").
    localhost: { url: process.env.CONSENT_LEDGER_LOCALHOST_URL || "http://127.0.0.1:8545" },
    ...networkFromVars("sepolia"),
    // A permissioned Besu/QBFT chain: zero gas price is common there, so none is assumed.
    ...networkFromVars("besu", { gasPrice: 0 }),
  },
  gasReporter: {
    enabled: process.env.REPORT_GAS === "1",
  },
  typechain: {
    outDir: "typechain-types",
    target: "ethers-v6",
  },
  mocha: {
    timeout: 120_000,
  },
};

export default config;
