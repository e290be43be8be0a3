/**
 * The documentation as the docs tests read it: README.md, SECURITY.md and docs/*.md, their fenced
 * blocks with the marker that says how each shell block is checked, their headings' anchors and links.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");

/** Every Markdown file of the documentation, relative to the repository root. */
export function docFiles(): string[] {
  const docs = readdirSync(path.join(REPO_ROOT, "docs"))
    .filter((name) => name.endsWith(".md"))
    .sort()
    .map((name) => `docs/${name}`);
  return ["README.md", "SECURITY.md", ...docs];
}

export interface FencedBlock {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  language: string;
  body: string;
  /** The `<!-- docs-command: ... -->` marker on the line right above the fence, without the comment. */
  marker: string | undefined;
  /** The `<!-- docs-typescript: ... -->` marker on the line right above the fence (TypeScript blocks). */
  typescriptMarker: string | undefined;
}

/** The shell languages whose blocks must carry a marker. */
export const SHELL_LANGUAGES = new Set(["bash", "sh", "shell", "console", "zsh"]);

const MARKER = /^<!--\s*docs-command:\s*(.+?)\s*-->\s*$/;
const TYPESCRIPT_MARKER = /^<!--\s*docs-typescript:\s*(.+?)\s*-->\s*$/;

export function fencedBlocks(file: string): FencedBlock[] {
  const lines = readFileSync(path.join(REPO_ROOT, file), "utf8").split("\n");
  const blocks: FencedBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w+-]*)/.exec(lines[i]);
    if (!open) continue;
    const fence = open[2];
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !lines[j].trimStart().startsWith(fence)) body.push(lines[j++]);
    const above = i > 0 ? MARKER.exec(lines[i - 1].trim()) : null;
    const typescriptAbove = i > 0 ? TYPESCRIPT_MARKER.exec(lines[i - 1].trim()) : null;
    blocks.push({
      file,
      line: i + 1,
      language: open[3].toLowerCase(),
      body: body.join("\n"),
      marker: above?.[1],
      typescriptMarker: typescriptAbove?.[1],
    });
    i = j;
  }
  return blocks;
}

/** The lines outside fenced blocks (links and headings inside code are not links or headings). */
export function proseLines(file: string): { line: number; text: string }[] {
  const lines = readFileSync(path.join(REPO_ROOT, file), "utf8").split("\n");
  const out: { line: number; text: string }[] = [];
  let fence: string | undefined;
  lines.forEach((text, i) => {
    const open = /^\s*(`{3,}|~{3,})/.exec(text);
    if (fence === undefined && open) fence = open[1];
    else if (fence !== undefined && text.trimStart().startsWith(fence)) fence = undefined;
    else if (fence === undefined) out.push({ line: i + 1, text });
  });
  return out;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens, -1, -2 for repeats. */
export function anchors(file: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const { text } of proseLines(file)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(text);
    if (!heading) continue;
    const base = heading[1]
      .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/ /g, "-");
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  }
  return result;
}

export interface Link {
  file: string;
  line: number;
  target: string;
}

/** Inline links and images `[text](target)` in the prose, code spans removed first. */
export function links(file: string): Link[] {
  const out: Link[] = [];
  for (const { line, text } of proseLines(file)) {
    const prose = text.replace(/`[^`]*`/g, "");
    for (const match of prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) out.push({ file, line, target: match[1] });
  }
  return out;
}
