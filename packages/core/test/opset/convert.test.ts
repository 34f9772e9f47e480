import {
  attr,
  convertOpset,
  createBuilder,
  DataType,
  encodeModel,
  type Model,
  NEWEST_CONVERTIBLE_OPSET,
  OP_SCHEMAS,
  opsetConversionProblems,
  schemaHistory,
  tensorType,
} from "@lathe/core";
import { type ArrayFeed, randomFloats, runFloats, runOnOrt } from "@lathe/core/testing";
import { describe, expect, it } from "vitest";
import { catchLatheError } from "../fixtures/catch-lathe-error.js";

const INT64_MAX = 9223372036854775807n;

function feed(dims: number[], seed: number): ArrayFeed {
  return {
    data: randomFloats(
      dims.reduce((a, b) => a * b, 1),
      seed,
    ),
    dims,
  };
}

/**
 * Converts `build()`'s model to `to` and checks, on ONNX Runtime, that the converted model
 * computes what the original does (rtol 1e-5). Returns the conversion and the converted model.
 */
async function convertAndCompare(build: () => Model, to: number, feeds: Record<string, ArrayFeed>) {
  const original = build();
  const expected = await runFloats(encodeModel(original), feeds);
  const model = build();
  const conversion = convertOpset(model, to);
  expect(model.opset("")).toBe(to);
  const actual = await runFloats(encodeModel(model), feeds);
  expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
  for (const [name, values] of Object.entries(expected)) {
    const got = actual[name]!;
    expect(got.length, name).toBe(values.length);
    values.forEach((e, i) => {
      expect(Math.abs(got[i]! - e), `${name}[${i}]`).toBeLessThanOrEqual(1e-6 + 1e-5 * Math.abs(e));
    });
  }
  return { conversion, model };
}

function opTypes(model: Model): string[] {
  return [...model.allNodes()].map((n) => n.opType);
}

function adapterNames(conversion: ReturnType<typeof convertOpset>): string[] {
  return conversion.adapters.map((a) => `${a.adapter}@${a.version}: ${a.nodes} ${a.op}`).sort();
}

describe("convertOpset", () => {
  it("moves attributes that became inputs (Clip, Pad, Slice, TopK, Squeeze, Unsqueeze, Split, ReduceMean) and keeps Softmax's 2-D meaning", async () => {
    const build = () => {
      const b = createBuilder({ opset: 9 });
      const x = b.input("x", DataType.FLOAT, [2, 3, 4]);
      const clipped = b.Clip(x, { min: attr.float("min", -0.5), max: attr.float("max", 0.6) });
      const padded = b.Pad(clipped, { pads: [0, 1, 0, 0, 1, 2], value: attr.float("value", 1.5) });
      // [2, 5, 6] → rows 1.. to the end (INT64_MAX, as exporters write it), columns 1..5
      const sliced = b.Slice(padded, { starts: [1, 1], ends: [INT64_MAX, 5], axes: [1, 2] });
      const soft = b.Softmax(sliced, { axis: 1 });
      const round = b.Squeeze(b.Unsqueeze(soft, { axes: [0] }), { axes: [0] });
      b.output(b.ReduceMean(round, { axes: [2], keepdims: 1 }), "mean");
      const top = b.node("TopK", [x], { k: 2, axis: -1 }, { outputs: 2 });
      b.output(top.outputs[0]!, "top");
      const split = b.node("Split", [x], { axis: 2, split: [1, 3] }, { outputs: 2 });
      b.output(split.outputs[1]!, "right");
      b.output(b.LogSoftmax(x, { axis: 2 }), "logsoftmax");
      return b.build();
    };
    const { conversion, model } = await convertAndCompare(build, 23, { x: feed([2, 3, 4], 1) });
    expect(adapterNames(conversion)).toEqual([
      "axes-attribute-to-input@13: 1 Squeeze",
      "axes-attribute-to-input@13: 1 Unsqueeze",
      "axes-attribute-to-input@18: 1 ReduceMean",
      "clip-min-max-to-inputs@11: 1 Clip",
      "pad-attributes-to-inputs@11: 1 Pad",
      "slice-attributes-to-inputs@10: 1 Slice",
      "softmax-coerced-2d-to-axis@13: 1 LogSoftmax",
      "softmax-coerced-2d-to-axis@13: 1 Softmax",
      "split-sizes-to-input@13: 1 Split",
      "topk-k-to-input@10: 1 TopK",
    ]);
    // Softmax on a middle axis keeps its flattening; LogSoftmax on the last axis needs none.
    expect(opTypes(model).filter((t) => t === "Flatten")).toHaveLength(1);
    expect(model.irVersion).toBe(11);
    for (const node of model.allNodes()) {
      for (const name of ["min", "max", "pads", "value", "starts", "ends", "k", "split"])
        expect(node.attributes.has(name), `${node.opType}.${name}`).toBe(false);
    }
  });

  it("turns Upsample into Resize with opset 10's rounding, removes BatchNormalization's spatial and moves Dropout's ratio", async () => {
    const build = () => {
      const b = createBuilder({ opset: 7 });
      const x = b.input("x", DataType.FLOAT, [1, 2, 3, 3]);
      const up = b.Upsample(x, { mode: "nearest", scales: attr.floats("scales", [1, 1, 2, 3]) });
      const scale = b.constant([1.5, 0.5], [2]);
      const bias = b.constant([0.1, -0.2], [2]);
      const mean = b.constant([0.05, 0.1], [2]);
      const variance = b.constant([1.2, 0.8], [2]);
      const bn = b.BatchNormalization(up, scale, bias, mean, variance, { spatial: 1 });
      b.output(b.Dropout(bn, { ratio: 0.3 }), "y");
      b.output(
        b.Upsample(x, { mode: "linear", scales: attr.floats("scales", [1, 1, 2, 2]) }),
        "bilinear",
      );
      return b.build();
    };
    const { conversion, model } = await convertAndCompare(build, 23, { x: feed([1, 2, 3, 3], 2) });
    expect(adapterNames(conversion)).toEqual([
      "batchnorm-remove-spatial@9: 1 BatchNormalization",
      "dropout-ratio-to-input@12: 1 Dropout",
      "resize-10-to-11@11: 2 Resize",
      "upsample-scales-to-input@9: 2 Upsample",
      "upsample-to-resize@10: 2 Upsample",
    ]);
    expect(opTypes(model)).not.toContain("Upsample");
    const nearest = [...model.allNodes()].find(
      (n) => n.opType === "Resize" && n.getString("mode") === "nearest",
    )!;
    expect(nearest.getString("coordinate_transformation_mode")).toBe("asymmetric");
    expect(nearest.getString("nearest_mode")).toBe("floor");
  });

  it("converts Resize-10 shrinking with nearest as ceil rounding, and refuses scales that grow one axis and shrink another", async () => {
    const build = (scales: number[]) => () => {
      const b = createBuilder({ opset: 10 });
      const x = b.input("x", DataType.FLOAT, [1, 1, 4, 6]);
      b.output(b.Resize(x, b.constant(scales, [4]), { mode: "nearest" }), "y");
      return b.build();
    };
    const { model } = await convertAndCompare(build([1, 1, 0.5, 0.6]), 13, {
      x: feed([1, 1, 4, 6], 3),
    });
    expect([...model.allNodes()][0]!.getString("nearest_mode")).toBe("ceil");

    const mixed = build([1, 1, 2, 0.5])();
    const before = encodeModel(mixed);
    const error = catchLatheError(() => convertOpset(mixed, 13));
    expect(error.code).toBe("OPSET_CONVERSION_REFUSED");
    expect(error.message).toContain("(Resize)");
    expect(error.message).toContain("grows some axes and shrinks others");
    // Refused means untouched.
    expect(Buffer.compare(encodeModel(mixed), before)).toBe(0);
  });

  it("converts nodes inside If branches and model-local functions", async () => {
    const build = () => {
      const b = createBuilder({ opset: 11 });
      const x = b.input("x", DataType.FLOAT, [2, 3]);
      const cond = b.input("cond", DataType.BOOL, []);
      const branch = (axis: number, name: string) => {
        const inner = createBuilder({ opset: 11 });
        const out = inner.Unsqueeze(x, { axes: [axis] });
        out.name = `${name}_out`;
        inner.output(out);
        inner.graph.name = name;
        return inner.graph;
      };
      const node = b.node("If", [cond], {
        then_branch: branch(0, "then"),
        else_branch: branch(0, "else"),
      });
      b.output(node.output, "y");
      return b.build();
    };
    const model = build();
    const conversion = convertOpset(model, 13);
    expect(adapterNames(conversion)).toEqual(["axes-attribute-to-input@13: 2 Unsqueeze"]);
    const unsqueezes = [...model.allNodes()].filter((n) => n.opType === "Unsqueeze");
    expect(unsqueezes.map((n) => [n.attributes.has("axes"), n.inputs.length])).toEqual([
      [false, 2],
      [false, 2],
    ]);
    // The axes constant lives in the branch that reads it.
    for (const n of unsqueezes) expect(n.graph?.initializers.has(n.inputs[1]!.name)).toBe(true);
  });

  it("says which nodes cannot follow and why, without changing the model", () => {
    const b = createBuilder({ opset: 8 });
    const x = b.input("x", DataType.FLOAT, [2, 3]);
    const bn = b.node(
      "BatchNormalization",
      [
        x,
        b.constant([1, 1, 1], [3]),
        b.constant([0, 0, 0], [3]),
        b.constant([0, 0, 0], [3]),
        b.constant([1, 1, 1], [3]),
      ],
      { spatial: 0 },
      { name: "bn" },
    );
    b.output(bn.output, "y");
    const model = b.build();
    const problems = opsetConversionProblems(model, 23);
    expect(problems).toEqual([
      {
        where: 'node "bn" (BatchNormalization)',
        op: "BatchNormalization",
        version: 9,
        reason:
          "spatial=0 (statistics per activation, not per channel) has no form from opset 9 on",
      },
    ]);
    expect(model.opset("")).toBe(8);
  });

  it("refuses versions it does not convert between, saying which", () => {
    const b = createBuilder({ opset: 13 });
    b.output(b.Relu(b.input("x", DataType.FLOAT, [1])), "y");
    const model = b.build();
    expect(catchLatheError(() => convertOpset(model, 24)).message).toContain(
      "between opsets 1 and 23",
    );
    expect(catchLatheError(() => convertOpset(model, 12)).message).toContain("only up-conversion");
  });

  it("refuses, by name, ops the schema table says changed without an adapter, and ops it does not know", () => {
    const b = createBuilder({ opset: 5 });
    const x = b.input("x", DataType.FLOAT, [2, 3]);
    // Tile-1 took (input, tiles, axis); Tile-6 takes (input, repeats).
    const tiled = b.node(
      "Tile",
      [x, b.constant([2], [1], DataType.INT64), b.constant([0], [1], DataType.INT64)],
      {},
      { name: "tile" },
    );
    b.output(b.node("Scale", [tiled.output], {}, { name: "experimental" }).output, "y");
    const problems = opsetConversionProblems(b.build(), 13).map(
      (p) => `${p.where}: ${p.version}: ${p.reason}`,
    );
    expect(problems).toEqual([
      'node "tile" (Tile): 6: Tile changed at opset 6 and Lathe has no adapter for it',
      'node "experimental" (Scale): 5: Scale is not an operator of the default domain (the op-schema table does not know it), so whether it changed cannot be told',
    ]);
  });

  it("raises opset-1 models: consumed_inputs, Concat's default axis, Reshape's shape, Cast's type name", async () => {
    const build = () => {
      const b = createBuilder({ opset: 1 });
      const x = b.input("x", DataType.FLOAT, [2, 3]);
      const relu = b.Relu(x, { consumed_inputs: [0] });
      const joined = b.Concat(relu, x);
      const reshaped = b.Reshape(joined, { shape: [3, 4] });
      b.output(b.Cast(reshaped, { to: "DOUBLE" }), "y");
      return b.build();
    };
    const model = build();
    const conversion = convertOpset(model, 23);
    expect(adapterNames(conversion)).toEqual([
      "cast-to-type-number@6: 1 Cast",
      "concat-explicit-axis@4: 1 Concat",
      "remove-consumed-inputs@6: 1 Relu",
      "reshape-shape-to-input@5: 1 Reshape",
    ]);
    // ORT does not run opset 1; the converted model runs and computes Concat on axis 1.
    const data = Float32Array.from([-1, 2, -3, 4, -5, 6]);
    const out = await runOnOrt(model, { x: { data, dims: [2, 3] } });
    expect(out.y?.dims).toEqual([3, 4]);
    expect(Array.from(out.y?.data as Float64Array)).toEqual([
      0, 2, 0, -1, 2, -3, 4, 0, 6, 4, -5, 6,
    ]);
  });

  it("repeats GroupNormalization-18's per-group scale and bias per channel at 21", async () => {
    const build = () => {
      const b = createBuilder({ opset: 18 });
      const x = b.input("x", DataType.FLOAT, [2, 4, 3]);
      const scale = b.constant([1.5, 0.5], [2]);
      const bias = b.constant([0.25, -1], [2]);
      b.output(b.GroupNormalization(x, scale, bias, { num_groups: 2, epsilon: 1e-5 }), "y");
      return b.build();
    };
    const { conversion } = await convertAndCompare(build, 21, { x: feed([2, 4, 3], 4) });
    expect(adapterNames(conversion)).toEqual([
      "groupnorm-scale-bias-per-channel@21: 1 GroupNormalization",
    ]);
  });

  it("carries ONNX Runtime's own default-domain norms (as its optimizer saves them) across opsets", async () => {
    const build = () => {
      const b = createBuilder({ opset: 14 });
      const x = b.input("x", DataType.FLOAT, [2, 4]);
      const scale = b.constant([1.5, 0.5, 2, 1], [4]);
      const bias = b.constant([0.25, -1, 0, 1], [4]);
      const norm = b.node("LayerNormalization", [x, scale, bias], { axis: -1, epsilon: 1e-5 });
      const rms = b.node("SimplifiedLayerNormalization", [norm.output, scale], { epsilon: 1e-6 });
      b.output(rms.output, "y");
      return b.build();
    };
    // ORT's LayerNormalization-1 (opsets 1–16) is the standard LayerNormalization-17
    const { model, conversion } = await convertAndCompare(build, 21, { x: feed([2, 4], 5) });
    expect(conversion.adapters).toEqual([]);
    expect(opTypes(model)).toEqual(["LayerNormalization", "SimplifiedLayerNormalization"]);
    await convertAndCompare(build, 16, { x: feed([2, 4], 6) });
  });

  it("keeps a value's declared type when a node is rewired through a Reshape", () => {
    const b = createBuilder({ opset: 12 });
    const x = b.input("x", DataType.FLOAT, [2, 3, 4]);
    b.output(b.Softmax(x, { axis: 1 }), "y", DataType.FLOAT, [2, 3, 4]);
    const model = b.build();
    convertOpset(model, 13);
    const y = model.graph.outputs[0]!;
    expect(y.name).toBe("y");
    expect(y.producer()?.opType).toBe("Reshape");
    expect(y.type).toEqual(tensorType(DataType.FLOAT, [2, 3, 4]));
  });

  it("has an adapter for every default-domain op the schema table says changed from opset 2 to 23, but a few old ones", () => {
    const ops = new Set(OP_SCHEMAS.filter((s) => s.domain === "").map((s) => s.name));
    const missing: string[] = [];
    for (let version = 2; version <= NEWEST_CONVERTIBLE_OPSET; version++)
      for (const op of [...ops].sort()) {
        const history = schemaHistory("", op);
        const changed =
          history.some((s) => s.sinceVersion === version) &&
          history.some((s) => s.sinceVersion < version);
        const problems = changed
          ? opsetConversionProblems(modelWith(op, version - 1), version)
          : [];
        // An adapter may refuse a bare node (no attributes); only a missing adapter counts here.
        if (problems.some((p) => p.reason.includes("has no adapter")))
          missing.push(`${op}@${version}`);
      }
    // Refused by name (docs/opset-conversion.md): forms exporters stopped writing before opset 7.
    expect(missing).toEqual(["GlobalLpPool@2", "LpPool@2", "Pad@2", "Split@2", "GRU@3", "Tile@6"]);
  });
});

/** A model at `opset` holding one bare node of `op` (no inputs): enough to ask about versions. */
function modelWith(op: string, opset: number): Model {
  const b = createBuilder({ opset });
  b.node(op, [], {}, { outputs: 1 });
  return b.build();
}
