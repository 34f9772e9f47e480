import { spawn } from "node:child_process";
import { tempDirs } from "@lathe/core/testing";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { bin, isBuilt, type Ran } from "./cli-helpers.js";

// The tiny preset widened so that matrix products, not per-node overhead, take the time.
const GPT2 = "zoo:gpt2?size=tiny&hidden=256&vocab=2000&positions=256";
const cwd = tempDirs(afterAll)("lathe-profile-cli-");

/** `lathe` without blocking, so the cases start together: most of each is process start-up. */
function latheAsync(args: readonly string[]): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

const CASES = {
  json: ["profile", GPT2, "--shape", "input_ids=1x128", "--threads", "1", "--runs", "3", "--json"],
  table: [
    "profile",
    "zoo:gpt2?size=tiny",
    "--shape",
    "input_ids=1x8",
    "--provider",
    "cuda",
    "--provider",
    "cpu",
    "--fallback",
    "--top",
    "3",
    "--runs",
    "1",
  ],
  noComponent: ["profile", "zoo:vae?size=tiny"],
  noShape: ["profile", "zoo:vae?size=tiny", "--component", "vae_decoder"],
} as const;
const results: Partial<Record<keyof typeof CASES, Ran>> = {};

describe.skipIf(!isBuilt("profile"))("lathe profile", () => {
  beforeAll(async () => {
    const ran = await Promise.all(Object.values(CASES).map((args) => latheAsync(args)));
    Object.keys(CASES).forEach((key, i) => {
      results[key as keyof typeof CASES] = ran[i]!;
    });
  });

  test("--json: time by op type and node, the provider that ran them, suggestions", () => {
    const ran = results.json!;
    expect(ran.stderr).toBe("");
    expect(ran.status).toBe(0);
    const json = JSON.parse(ran.stdout);
    expect(json.provider).toBe("cpu");
    expect(json.placement).toMatch(/^all \d+ nodes ran on CPUExecutionProvider$/);
    expect(json.summary.runs).toBe(3);
    const family = json.summary.ops
      .filter((o: { opType: string }) => /MatMul|Gemm|Softmax/.test(o.opType))
      .reduce((sum: number, o: { share: number }) => sum + o.share, 0);
    expect(family).toBeGreaterThan(0.5);
    const total = json.summary.nodes.reduce(
      (sum: number, n: { share: number }) => sum + n.share,
      0,
    );
    expect(total).toBeCloseTo(1, 6);
    expect(json.suggestions.map((s: { pass: string }) => s.pass)).toContain(
      "quantize/dynamic-int8",
    );
  });

  test("the table, after a logged fallback from cuda (not installed here) to the CPU", () => {
    const ran = results.table!;
    expect(ran.status).toBe(0);
    expect(ran.stderr).toMatch(/cuda unavailable/);
    expect(ran.stdout).toMatch(/^provider: cpu \(all \d+ nodes ran on CPUExecutionProvider\)\n/);
    expect(ran.stdout).toMatch(
      /\nnote: cuda unavailable .*fell back to cpu; to use cuda: .*ONNXRUNTIME_NODE_INSTALL=cuda12/,
    );
    expect(ran.stdout).toContain("inputs: input_ids=1x8 attention_mask=1x8 position_ids=1x8");
    const opTable = ran.stdout.split("by op type:\n")[1]!.split("\n\n")[0]!.split("\n");
    expect(opTable[0]).toMatch(/^\s+op\s+share\s+per run\s+nodes\s+calls$/);
    expect(opTable).toHaveLength(4);
    expect(ran.stdout).toContain("by node:\n");
  });

  test("a bundle with several components asks for --component", () => {
    const ran = results.noComponent!;
    expect(ran.status).toBe(1);
    expect(ran.stderr).toContain("pick one with --component: vae_encoder, vae_decoder");
  });

  test("a symbolic dim without --shape names the input, the dim and the flag", () => {
    const ran = results.noShape!;
    expect(ran.status).toBe(1);
    expect(ran.stderr).toContain(
      '--shape: input "latent_sample" has the symbolic dim "batch_size"',
    );
    expect(ran.stderr).toContain("--shape latent_sample=1x4x16x16");
  });
});
