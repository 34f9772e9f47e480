import { describe, it } from "node:test";
import { createBuilder, DataType, type Model } from "@lathe/core";
import { PassTester } from "@lathe/core/testing";
import { removeIdentity } from "../src/index.js";

/** x → Identity → MatMul → Dropout → Relu → y: two nodes to remove. */
function withIdentity(): Model {
  const b = createBuilder({ opset: 17 });
  const x = b.input("x", DataType.FLOAT, ["batch", 4]);
  const weights = Array.from({ length: 12 }, (_, i) => i / 10);
  const w = b.constant(weights, [4, 3]);
  const dropped = b.Dropout(b.MatMul(b.Identity(x), w));
  b.output(b.Relu(dropped), "y");
  return b.build();
}

/** y is an Identity's output: removing it would rename the graph's output, so it stays. */
function identityAsOutput(): Model {
  const b = createBuilder({ opset: 17 });
  const x = b.input("x", DataType.FLOAT, ["batch", 4]);
  b.output(b.Identity(b.Relu(x)), "y");
  return b.build();
}

new PassTester(removeIdentity, { describe, it }).run({
  valid: [{}, { dropout: false, keep: ["^attn"] }],
  invalid: [
    { options: { dropout: "yes" }, error: "must be boolean" },
    { options: { keep: "x" }, error: "must be array" },
  ],
  cases: [
    {
      name: "removes Identity and Dropout; the model computes the same",
      model: withIdentity,
      expect: {
        modified: true,
        opsAbsent: ["Identity", "Dropout"],
        opsPresent: { MatMul: 1, Relu: 1 },
        statistics: { removed: 2, "removed.Identity": 1, "removed.Dropout": 1 },
        equivalent: { tolerance: 0 },
      },
    },
    {
      name: "dropout: false keeps Dropout",
      model: withIdentity,
      options: { dropout: false },
      expect: { opsPresent: ["Dropout"], statistics: { removed: 1 } },
    },
    {
      name: "an Identity that names a graph output stays",
      model: identityAsOutput,
      settings: { explain: true },
      expect: { unchanged: true, statistics: { kept: 1 }, logs: [/its output is a graph output/] },
    },
  ],
});
