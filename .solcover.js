// Coverage instruments contracts/ only: test doubles and the EAS build for the benchmark are not ours.
module.exports = {
  skipFiles: ["test/", "bench/"],
  configureYulOptimizer: true,
  istanbulReporter: ["text-summary", "json-summary", "lcov"],
};
