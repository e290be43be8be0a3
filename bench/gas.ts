/**
 * `npm run bench`: measures the suite against the Ethereum Attestation Service on one Hardhat network,
 * prints the table and rewrites the committed snapshot (bench/gas.json) and the table of docs/gas.md.
 * The measuring itself is bench/measure.ts, shared with test/bench/gas-snapshot.test.ts.
 */
import { KNOWN_MISSES, OPERATIONS, TARGETS, measureGas } from "./measure";
import { DOCS_PATH, SNAPSHOT_PATH, consoleTable, writeSnapshot } from "./report";

async function main(): Promise<void> {
  const report = await measureGas();
  console.log(consoleTable(report));
  console.log();

  const { crossChecks, operations } = report;
  console.log(
    `hasAccess: gasUsed ${crossChecks.hasAccessTxGas} - intrinsic ${crossChecks.hasAccessIntrinsicGas} = ` +
      `${operations.hasAccess.gas} execution gas; debug_traceTransaction: ${crossChecks.hasAccessTraceExecutionGas}`,
  );
  console.log(
    `EAS as published in its npm package (0.8.29, paris, OpenZeppelin 5.3): attest ${crossChecks.easPublishedBuildGrant} ` +
      `vs ${operations.grant.eas} as compiled here`,
  );
  const binding = OPERATIONS.filter((name) => operations[name].eip7623Binding);
  console.log(
    `EIP-7623 calldata floor (Osaka): ${binding.length === 0 ? "binding for no operation" : `binding for ${binding.join(", ")}`}`,
  );
  for (const name of OPERATIONS) {
    const target = TARGETS[name];
    if (target !== null && operations[name].gas > target) {
      console.log(
        `target missed: ${name} ${operations[name].gas} > ${target}` +
          (KNOWN_MISSES[name] ? ` (known miss: ${KNOWN_MISSES[name]!.why})` : ""),
      );
    }
  }

  writeSnapshot(report);
  console.log(`\nwrote ${SNAPSHOT_PATH} and the table of ${DOCS_PATH}`);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
