import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));

/** Every Markdown file of the documentation: docs/, the READMEs, bench/ and recipes/. */
function markdownFiles(): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === "node_modules" || entry.name === "dist" || entry.name.startsWith("."))
        continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".md")) files.push(path);
    }
  };
  for (const dir of ["docs", "packages", "bench", "recipes"]) walk(join(ROOT, dir));
  files.push(join(ROOT, "README.md"));
  return files;
}

/** `[text](target)` links outside code blocks and inline code, with their line. */
function links(text: string): { target: string; line: number }[] {
  const found: { target: string; line: number }[] = [];
  let inFence = false;
  text.split("\n").forEach((line, i) => {
    if (/^\s*```/.test(line)) inFence = !inFence;
    if (inFence) return;
    const prose = line.replace(/`[^`]*`/g, "");
    for (const match of prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      found.push({ target: match[1]!, line: i + 1 });
    }
  });
  return found;
}

describe("documentation links", () => {
  const files = markdownFiles();

  it("finds the documentation", () => {
    expect(files.length).toBeGreaterThan(15);
  });

  it("every relative link resolves to a file or folder of the repository", () => {
    const broken: string[] = [];
    let checked = 0;
    for (const file of files) {
      for (const { target, line } of links(readFileSync(file, "utf8"))) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("#")) continue;
        checked++;
        const path = resolve(dirname(file), decodeURIComponent(target.split("#")[0]!));
        const where = `${relative(ROOT, file)}:${line}`;
        if (!existsSync(path)) broken.push(`${where}: ${target} does not exist`);
        else if (relative(ROOT, path).startsWith(".."))
          broken.push(`${where}: ${target} leaves the repository`);
      }
    }
    expect(broken).toEqual([]);
    expect(checked).toBeGreaterThan(20);
  });
});
