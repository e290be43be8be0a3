// Fails unless contracts/ have 100% line and at least 95% branch coverage (issue #2's bar).
const summary = require("../coverage/coverage-summary.json").total;
const lines = summary.lines.pct;
const branches = summary.branches.pct;
console.log(`contracts coverage: lines ${lines}%, branches ${branches}%`);
if (lines < 100 || branches < 95) {
  console.error("coverage below the bar (lines 100%, branches 95%): add tests for the uncovered paths above");
  process.exit(1);
}
