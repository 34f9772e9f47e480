import {
  createBuilder,
  DataType,
  definePass,
  isLatheError,
  Node,
  type PassContext,
  passOptionsWithDefaults,
  runPassStandalone,
  singleModelBundle,
  Tensor,
} from "@lathe/core";
import { describe, expect, it } from "vitest";

let seen: PassContext<Record<string, unknown>> | undefined;
const look = definePass<{ factor: number; nested: { depth: number }; read?: string }>({
  id: "inline/look",
  summary: "Record the context; read a data set when asked to.",
  options: {
    type: "object",
    additionalProperties: false,
    properties: {
      factor: { type: "number", default: 2, description: "A number." },
      nested: {
        type: "object",
        default: {},
        properties: { depth: { type: "integer", default: 3, description: "Deep default." } },
      },
      read: { type: "string", description: "A data set to read." },
    },
  },
  async run(bundle, context) {
    seen = context as PassContext<Record<string, unknown>>;
    context.logger.info("hello");
    context.logger.warn("careful");
    if (context.options.read) for await (const _ of context.data(context.options.read).records());
    return { bundle, modified: false };
  },
});

function model() {
  const b = createBuilder({ opset: 17 });
  b.output(b.Relu(b.input("x", DataType.FLOAT, [2])), "y");
  return singleModelBundle(b.build());
}

describe("runPassStandalone", () => {
  it("gives the pass what the engine would: validated options with nested defaults, frozen, and the target", async () => {
    const { logs } = await runPassStandalone(look, model(), {
      options: { factor: 5 },
      providers: ["webgpu"],
      data: { calib: [{ x: Tensor.fromArray(DataType.FLOAT, [2], [1, 2]) }] },
    });
    expect(seen!.options).toEqual({ factor: 5, nested: { depth: 3 } });
    expect(Object.isFrozen(seen!.options.nested)).toBe(true);
    expect(seen!.target).toEqual({ providers: ["webgpu"], shapes: {} });
    expect(seen!.explain).toBe(false);
    expect(logs).toEqual([
      { level: "info", message: "hello" },
      { level: "warn", message: "careful" },
    ]);
  });

  it("refuses options the schema refuses, naming the pass and the option", async () => {
    const error = await runPassStandalone(look, model(), {
      options: { factor: "big" } as never,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isLatheError(error) && error.code).toBe("PASS_OPTIONS_INVALID");
    expect(String((error as Error).message)).toMatch(/options\/factor must be number/);
    expect(() => passOptionsWithDefaults(look, { extra: 1 } as never)).toThrow(
      /must NOT have additional properties/,
    );
  });

  it("names a data set it was not given", async () => {
    const error = await runPassStandalone(look, model(), { options: { read: "calib" } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isLatheError(error) && error.code).toBe("DATA_UNKNOWN");
    expect(String((error as Error).message)).toMatch(/calib/);
  });

  it("runs the engine's checks after the pass: declared domains, then the checker and ONNX Runtime", async () => {
    const write = (opType: string, domain: string, inputs: 1 | 2) =>
      definePass({
        id: "inline/write",
        summary: "Adds a node after the Relu.",
        options: { type: "object", properties: {} },
        run(bundle) {
          const graph = bundle.components.get("model")!.graph;
          const relu = [...graph].find((n) => n.opType === "Relu")!;
          const x = relu.inputs[0]!;
          const args = inputs === 1 ? [x] : [x, x];
          graph.insertAfter(relu, new Node({ opType, domain, inputs: args }));
          return { bundle, modified: true };
        },
      });
    const codeOf = (run: Promise<unknown>) =>
      run.then(
        () => "returned",
        (e: unknown) => (isLatheError(e) ? e.code : String(e)),
      );
    expect(await codeOf(runPassStandalone(write("Gelu", "com.microsoft", 1), model()))).toBe(
      "PLUGIN_CONTRACT",
    );
    const invalid = write("Relu", "", 2);
    expect(await codeOf(runPassStandalone(invalid, model()))).toBe("PASS_OUTPUT_INVALID");
    expect(await codeOf(runPassStandalone(invalid, model(), { verify: "check" }))).toBe(
      "PASS_OUTPUT_INVALID",
    );
    expect(await codeOf(runPassStandalone(invalid, model(), { verify: "none" }))).toBe("returned");
  });
});
