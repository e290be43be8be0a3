// Coverage instruments contracts/ only: test doubles and the EAS build for the benchmark are not ours, and
// lens/ReadBatch is never deployed (the SDK runs its creation code from the typechain factory in eth_call;
// test/sdk/patient-events.test.ts covers it).
module.exports = {
  skipFiles: ["test/", "bench/", "lens/"],
  configureYulOptimizer: true,
  istanbulReporter: ["text-summary", "json-summary", "lcov"],
};
