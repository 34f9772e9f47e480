/** Flags `lathe bench`, `lathe compare` and `lathe profile` share: where and on what the models run. */
import { LatheError, type Provider, type TargetSpec } from "@lathe/core";
import { Flags } from "@oclif/core";

export const targetFlags = {
  provider: Flags.string({
    description: "ONNX Runtime execution provider, in order of preference (repeatable).",
    options: ["cpu", "webgpu", "cuda", "tensorrt"],
    multiple: true,
    default: ["cpu"],
  }),
  fallback: Flags.boolean({
    description: "Use the next provider (and say so) when one is not available.",
  }),
  threads: Flags.integer({
    description: "Intra-op threads; 0 lets ONNX Runtime decide.",
    default: 0,
    min: 0,
  }),
  shape: Flags.string({
    description:
      "Shape for an input with symbolic dims, `name=1x128` (repeatable); other inputs sharing those dim names follow.",
    multiple: true,
  }),
};

export const timingFlags = {
  warmup: Flags.integer({ description: "Untimed runs first.", default: 3, min: 0 }),
  runs: Flags.integer({ description: "Timed runs at least.", default: 20, min: 1 }),
  "min-time": Flags.integer({
    description: "Keep timing until this many milliseconds have passed (and --runs are done).",
    default: 1000,
    min: 0,
  }),
};

/** The core/latency options that `timingFlags` set. */
export function latencyFrom(flags: { warmup: number; runs: number; "min-time": number }) {
  return { warmup: flags.warmup, runs: flags.runs, minTimeMs: flags["min-time"], maxRuns: 100_000 };
}

/** `input_ids=1x128` → { input_ids: [1, 128] }; a malformed one names the fix. */
function parseShapes(values: readonly string[] | undefined): Record<string, number[]> {
  const shapes: Record<string, number[]> = {};
  for (const text of values ?? []) {
    const match = /^([^=\s]+)=(\d+(?:x\d+)*)$/.exec(text.trim());
    const dims = match?.[2]?.split("x").map(Number);
    if (!match || !dims || dims.some((d) => d < 1)) {
      throw new LatheError(
        "FLAG_INVALID",
        `--shape ${text}: expected name=dims, e.g. input_ids=1x128`,
        {
          hint: "dims are positive integers joined by x; give --shape once per input",
        },
      );
    }
    shapes[match[1]!] = dims;
  }
  return shapes;
}

export function targetFrom(flags: {
  provider: string[];
  fallback: boolean;
  threads: number;
  shape?: string[] | undefined;
}): TargetSpec {
  return {
    providers: flags.provider as Provider[],
    fallback: flags.fallback,
    threads: flags.threads,
    shapes: parseShapes(flags.shape),
  };
}
