/**
 * Every relative link of README.md, SECURITY.md and docs/*.md reaches an existing file, and every
 * #anchor an existing heading of its file, so moving a section cannot leave a dead link behind.
 */
import { existsSync } from "node:fs";
import path from "node:path";

import { expect } from "chai";

import { REPO_ROOT, anchors, docFiles, links } from "./markdown";

describe("the documentation's relative links", function () {
  for (const file of docFiles()) {
    it(`${file}: every relative link reaches an existing file and heading`, function () {
      const broken: string[] = [];
      for (const link of links(file)) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(link.target)) continue; // https:, mailto: and the like
        const [target, anchor] = link.target.split("#", 2);
        const resolved =
          target === "" ? path.join(REPO_ROOT, file) : path.resolve(REPO_ROOT, path.dirname(file), target);
        const where = `${file}:${link.line} (${link.target})`;
        if (!existsSync(resolved)) {
          broken.push(`${where}: no file ${path.relative(REPO_ROOT, resolved)}`);
          continue;
        }
        if (anchor !== undefined && resolved.endsWith(".md")) {
          const relative = path.relative(REPO_ROOT, resolved);
          if (!anchors(relative).has(decodeURIComponent(anchor)))
            broken.push(`${where}: no heading #${anchor} in ${relative}`);
        }
      }
      expect(broken).to.deep.equal([]);
    });
  }
});
