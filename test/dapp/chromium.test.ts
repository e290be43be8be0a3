/**
 * How the browser tests find Chromium (test/helpers/chromium.ts): as the shell's `command -v chromium`
 * does, wherever the PATH puts it, and failing (never skipping) when there is none.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { expect } from "chai";

import { findChromium, requireChromium } from "../helpers/chromium";

describe("finding Chromium for the browser tests", function () {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "consent-chromium-path-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("finds the chromium `command -v chromium` finds", function () {
    const shell = execFileSync("bash", ["-c", "command -v chromium"], { encoding: "utf8" }).trim();
    expect(shell, "this machine has chromium on its PATH (CI installs it)").to.not.equal("");
    expect(findChromium()).to.equal(shell);
  });

  it("finds it in any directory of the PATH, the first executable one, like the shell", function () {
    const first = path.join(dir, "first");
    const second = path.join(dir, "second");
    for (const d of [first, second]) execFileSync("mkdir", ["-p", d]);
    writeFileSync(path.join(first, "chromium"), "not executable");
    writeFileSync(path.join(second, "chromium"), "#!/bin/sh\n");
    chmodSync(path.join(second, "chromium"), 0o755);
    const searchPath = ["/nonexistent", first, second].join(path.delimiter);
    expect(findChromium(searchPath)).to.equal(path.join(second, "chromium"));
    expect(
      execFileSync("/bin/bash", ["-c", "command -v chromium"], { encoding: "utf8", env: { PATH: searchPath } }).trim(),
    ).to.equal(path.join(second, "chromium"));
  });

  it("fails, saying how to install it, when the PATH has none", function () {
    expect(findChromium(dir)).to.equal(undefined);
    expect(() => requireChromium(dir)).to.throw(/No chromium on the PATH.*apt-get install -y chromium/);
  });
});
