/**
 * Where the browser tests find Chromium: the first executable `chromium` on the PATH, as
 * `command -v chromium` finds it (what .ci/run checks before installing Debian's package). There is no
 * fallback and no skip: a browser test without a browser fails, saying how to install one.
 */
import { accessSync, constants, statSync } from "node:fs";
import path from "node:path";

/** The path of `chromium` on `searchPath` (a PATH string), or undefined. */
export function findChromium(searchPath: string = process.env.PATH ?? ""): string | undefined {
  for (const dir of searchPath.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, "chromium");
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not there, or not executable: keep looking, as the shell does
    }
  }
  return undefined;
}

/** findChromium, or an error that fails the suite with what to do. */
export function requireChromium(searchPath?: string): string {
  const found = findChromium(searchPath);
  if (!found) {
    throw new Error(
      "No chromium on the PATH (`command -v chromium` finds none): the dashboard's browser test needs Debian's Chromium. " +
        "Install it with `apt-get install -y chromium` (.ci/run does), or put a `chromium` executable on the PATH.",
    );
  }
  return found;
}
