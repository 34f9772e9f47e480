import {
  createBuilder,
  DataType,
  definePass,
  LatheError,
  type Model,
  type ModelBundle,
  Node,
  Tensor,
} from "@lathe/core";
import { ExpectationFailure, type PassCase, PassTester } from "@lathe/core/testing";
import { describe, expect, it } from "vitest";

interface DropIdentityOptions {
  /** Also drop Dropout. */
  dropout: boolean;
  /** Multiply every weight by this (a deliberate bug when not 1). */
  corrupt: number;
}

const dropIdentityOptionsSchema = {
  type: "object" as const,
  additionalProperties: false as const,
  properties: {
    dropout: { type: "boolean", default: false, description: "Also drop Dropout." },
    corrupt: { type: "number", minimum: 0, default: 1, description: "Weight factor (a bug)." },
  },
};

/** Removes Identity (and Dropout) nodes, rewiring their consumers; optionally corrupts weights. */
const dropIdentity = definePass<DropIdentityOptions>({
  id: "test/drop-identity",
  summary: "Remove Identity nodes.",
  options: dropIdentityOptionsSchema,
  run(bundle: ModelBundle, ctx) {
    let removed = 0;
    for (const model of bundle.components.values()) {
      for (const node of [...model.graph]) {
        const drop =
          node.opType === "Identity" || (ctx.options.dropout && node.opType === "Dropout");
        const output = node.outputs[0];
        const input = node.inputs[0];
        // An Identity that is a graph output stays: removing it would rename the output.
        if (!drop || !output || !input || model.graph.outputs.includes(output)) continue;
        output.replaceAllUsesWith(input);
        model.graph.remove(node);
        removed++;
      }
      if (ctx.options.corrupt !== 1) {
        for (const value of model.graph.initializers.values()) {
          const tensor = value.constValue as Tensor;
          const data = Array.from(tensor.toArray() as Float32Array, (x) => x * ctx.options.corrupt);
          value.constValue = Tensor.fromArray(tensor.dataType, tensor.dims, data, {
            name: tensor.name,
          });
        }
      }
    }
    ctx.logger.info(`removed ${removed}`);
    return { bundle, modified: removed > 0, statistics: { removed } };
  },
});

function withIdentities(): Model {
  const b = createBuilder({ opset: 17 });
  const x = b.input("x", DataType.FLOAT, ["batch", 4]);
  const w = b.constant(
    new Float32Array(12).map((_, i) => i / 10),
    [4, 3],
    DataType.FLOAT,
    "w",
  );
  const y = b.Identity(b.MatMul(b.Identity(x), w));
  b.output(b.Relu(y), "y");
  return b.build();
}

function plain(): Model {
  const b = createBuilder({ opset: 17 });
  const x = b.input("x", DataType.FLOAT, ["batch", 4]);
  b.output(b.Relu(b.Mul(x, b.constant([0.5], [1]))), "y");
  return b.build();
}

const tester = new PassTester(dropIdentity, { describe, it });

tester.run({
  valid: [{}, { dropout: true }],
  invalid: [
    { options: { dropout: "yes" }, error: "must be boolean" },
    { options: { nope: 1 }, error: "must NOT have additional properties" },
  ],
  cases: [
    {
      name: "removes both Identity nodes; the model computes the same",
      model: withIdentities,
      expect: {
        modified: true,
        opsAbsent: ["Identity"],
        opsPresent: { MatMul: 1, Relu: 1 },
        statistics: { removed: 2 },
        logs: [/removed 2/],
        equivalent: { tolerance: 0, dims: { batch: 3 } },
      },
    },
    { name: "a model without Identity is unchanged", model: plain(), expect: { unchanged: true } },
  ],
});

/** Runs a case that must fail, and returns what the tester said. */
async function failureOf(row: PassCase<DropIdentityOptions>): Promise<string> {
  const error = await tester.runCase(row).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ExpectationFailure);
  return (error as Error).message;
}

describe("PassTester fails a case that does not hold, saying what differed", () => {
  it("ops, statistics and logs", async () => {
    expect(
      await failureOf({ name: "", model: withIdentities, expect: { opsPresent: ["Identity"] } }),
    ).toBe("the output should have Identity\n  but: it has MatMul ×1, Relu ×1");
    expect(
      await failureOf({ name: "", model: withIdentities, expect: { statistics: { removed: 3 } } }),
    ).toContain('statistic "removed" should be 3\n  but: the statistics are {"removed":2}');
    expect(await failureOf({ name: "", model: plain, expect: { logs: ["removed 1"] } })).toContain(
      "the pass should log removed 1\n  but: info: removed 0",
    );
  });

  it("numbers on ONNX Runtime that moved", async () => {
    const message = await failureOf({
      name: "",
      model: withIdentities,
      options: { corrupt: 1.5 },
      expect: { equivalent: true },
    });
    expect(message).toMatch(/component "model" should compute the same outputs within 0.0001/);
    expect(message).toMatch(/largest absolute difference [\d.]+ \(y: [\d.]+\)/);
  });

  it("a model changed behind modified: false", async () => {
    const message = await failureOf({
      name: "",
      model: plain,
      options: { corrupt: 2 },
      expect: { unchanged: true },
    });
    expect(message).toBe(
      "the model should be unchanged\n  but: modified is false, but the output's bytes differ from the input's: a pass that changes the model must say modified: true",
    );
  });

  it("an expected error that did not come, or came with another code", async () => {
    expect(await failureOf({ name: "", model: plain, expect: { throws: "SOME_CODE" } })).toBe(
      "the pass should throw SOME_CODE\n  but: it returned",
    );
  });

  it("runs the engine's checks: an op domain the pass did not declare is the plugin's bug", async () => {
    const sneaky = definePass({
      id: "test/sneaky",
      summary: "Adds a contrib op without declaring the domain.",
      options: { type: "object", properties: {} },
      run(bundle) {
        const model = bundle.components.get("model")!;
        const relu = [...model.graph].find((n) => n.opType === "Relu")!;
        const node = new Node({ opType: "Gelu", domain: "com.microsoft", inputs: [relu.output] });
        model.graph.insertAfter(relu, node);
        return { bundle, modified: true };
      },
    });
    const checked = new PassTester(sneaky, { describe, it });
    const error = await checked.runCase({ name: "", model: plain, expect: {} }).catch((e) => e);
    expect(error).toBeInstanceOf(LatheError);
    expect((error as LatheError).code).toBe("PLUGIN_CONTRACT");
    expect((error as LatheError).message).toContain(
      'emitted domain "com.microsoft" it did not declare',
    );
    await checked.runCase({ name: "", model: plain, expect: { throws: "PLUGIN_CONTRACT" } });
  });

  it("runs the engine's checks: an output that is not a valid model fails the case", async () => {
    const breaking = definePass({
      id: "test/breaking",
      summary: "Writes a Relu with two inputs, which no opset allows.",
      options: { type: "object", properties: {} },
      run(bundle) {
        const model = bundle.components.get("model")!;
        const relu = [...model.graph].find((n) => n.opType === "Relu")!;
        const x = relu.inputs[0]!;
        model.graph.insertAfter(relu, new Node({ opType: "Relu", inputs: [x, x] }));
        return { bundle, modified: true };
      },
    });
    const checked = new PassTester(breaking, { describe, it });
    const error = await checked.runCase({ name: "", model: plain, expect: {} }).catch((e) => e);
    expect(error).toBeInstanceOf(LatheError);
    expect((error as LatheError).code).toBe("PASS_OUTPUT_INVALID");
    expect((error as LatheError).message).toMatch(/test\/breaking.*component "model"/s);
    expect((error as LatheError).message).toMatch(/Relu/);
    // The same at `verify: check`; only `verify: none` lets it through, as in a recipe.
    await checked.runCase({
      name: "",
      model: plain,
      expect: { verify: "check", throws: "PASS_OUTPUT_INVALID" },
    });
    await checked.runCase({ name: "", model: plain, expect: { verify: "none", modified: true } });
  });
});
