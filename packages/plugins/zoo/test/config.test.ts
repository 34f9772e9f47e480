import { createBuilder, DataType, isLatheError, singleModelBundle } from "@lathe/core";
import { describe, expect, it } from "vitest";
import { buildZooModel, buildZooSource } from "../src/build.js";
import { parseAssignments, parseZooSource } from "../src/config.js";
import { defineZooModel } from "../src/zoo-model.js";

/** A stand-in model: y = x * scale, with `width` features. */
const scaler = defineZooModel({
  name: "scaler",
  summary: "test model",
  exporter: "none",
  configKeys: {
    width: { type: "integer", description: "features", minimum: 1 },
    scale: { type: "number", description: "factor" },
    relu: { type: "boolean", description: "apply relu" },
    mode: { type: "string", description: "mode", enum: ["a", "b"] },
  },
  presets: {
    tiny: { width: 2, scale: 1, relu: false, mode: "a" },
    big: { width: 64, scale: 2, relu: true, mode: "b" },
  },
  defaultPreset: "tiny",
  build(config, { seed }) {
    const b = createBuilder();
    const x = b.input("x", DataType.FLOAT, [1, config.width]);
    b.output(b.Mul(x, b.scalar(config.scale + seed)), "y");
    return singleModelBundle(b.build());
  },
});

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isLatheError(error) ? error.code : `not a LatheError: ${String(error)}`;
  }
  return undefined;
}

describe("zoo configuration", () => {
  it("picks the default preset, a named size, and typed overrides", () => {
    expect(buildZooModel([scaler], "scaler").config).toEqual(scaler.presets.tiny);
    const built = buildZooModel([scaler], "scaler", {
      size: "big",
      width: "8",
      relu: "false",
      mode: "a",
    });
    expect(built.preset).toBe("big");
    expect(built.config).toEqual({ width: 8, scale: 2, relu: false, mode: "a" });
    expect(built.bundle.components.get("model")?.graph.inputs[0]?.type).toMatchObject({
      shape: { dims: [1, 8] },
    });
  });

  it("rejects unknown models, sizes, keys and bad values with hints", () => {
    expect(codeOf(() => buildZooModel([scaler], "scalar"))).toBe("ZOO_MODEL_UNKNOWN");
    expect(() => buildZooModel([scaler], "scaler", { widht: "3" })).toThrow(
      expect.objectContaining({ hint: expect.stringContaining('did you mean "width"') }),
    );
    const bad: Record<string, string>[] = [
      { size: "huge" },
      { width: "1.5" },
      { width: "0" },
      { scale: "x" },
      { relu: "yes" },
      { mode: "c" },
    ];
    for (const overrides of bad) {
      expect(codeOf(() => buildZooModel([scaler], "scaler", overrides))).toBe("ZOO_CONFIG_INVALID");
    }
  });

  it("parses key=value flags and zoo: sources", () => {
    expect(parseAssignments(["size=big", "width = 3"])).toEqual({ size: "big", width: "3" });
    expect(codeOf(() => parseAssignments(["size"]))).toBe("ZOO_CONFIG_INVALID");
    expect(parseZooSource("zoo:scaler?size=big&relu=true")).toEqual({
      name: "scaler",
      overrides: { size: "big", relu: "true" },
    });
    expect(parseZooSource("zoo:gmm-diffusion")).toEqual({ name: "gmm-diffusion", overrides: {} });
    expect(codeOf(() => parseZooSource("hub:gpt2"))).toBe("ZOO_SOURCE_INVALID");
    const seeded = buildZooSource([scaler], "zoo:scaler?seed=3");
    const scale = seeded.bundle.components.get("model")!.graph.initializers.values().next()
      .value!.constValue;
    expect(scale && "scalar" in scale && scale.scalar()).toBe(4);
    expect(codeOf(() => buildZooSource([scaler], "zoo:scaler?seed=-1"))).toBe("ZOO_SOURCE_INVALID");
  });
});
