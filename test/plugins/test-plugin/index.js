// A real plugin module, loaded by path the way a recipe loads a local plugin. Plain JavaScript,
// so the CLI (plain Node, no TypeScript loader) can import it as well as the tests.
import { setTimeout as sleep } from "node:timers/promises";
import { createBuilder, DataType, definePlugin, PLUGIN_API_VERSION, Tensor } from "@lathe/core";

/** @param {import("@lathe/core").ModelBundle} bundle */
function withMetadata(bundle, extra) {
  return { components: bundle.components, metadata: { ...bundle.metadata, ...extra } };
}

/** The float32 outputs of a graph, with their positions. */
function floatOutputs(graph) {
  return graph.outputs
    .map((value, index) => ({ value, index }))
    .filter(({ value }) => value.type?.kind === "tensor" && value.type.elemType === DataType.FLOAT);
}

/**
 * Appends `op` after every float output: the new node's output takes the output's name and
 * place, so the model keeps its interface.
 */
function appendAfterOutputs(model, op, { domain = "", constant } = {}) {
  const b = createBuilder({ graph: model.graph });
  let added = 0;
  for (const { value, index } of floatOutputs(model.graph)) {
    const name = value.name;
    const inputs =
      constant === undefined
        ? [value]
        : [value, b.scalar(constant, DataType.FLOAT, `${name}/${op}/constant`)];
    const node = b.node(
      op,
      inputs,
      {},
      { domain, name: `${name}/${op}`, outputs: [`${name}/${op}/output`] },
    );
    value.name = `${name}/before-${op}`;
    node.output.name = name;
    node.output.type = value.type;
    model.graph.outputs[index] = node.output;
    added++;
  }
  return added;
}

const renameNodes = {
  id: "test/rename-nodes",
  summary: "Prefix every node name.",
  description: "Renames every node of every component to `<prefix><old name>`. Changes no numbers.",
  options: {
    type: "object",
    properties: {
      prefix: {
        type: "string",
        default: "renamed/",
        description: "Text put before each node name.",
      },
    },
    additionalProperties: false,
  },
  run(bundle, ctx) {
    let renamed = 0;
    for (const model of bundle.components.values()) {
      for (const node of model.graph) {
        node.name = `${ctx.options.prefix}${node.name}`;
        renamed++;
      }
    }
    ctx.logger.info(`renamed ${renamed} nodes`);
    return { bundle, modified: renamed > 0, statistics: { "nodes-renamed": renamed } };
  },
};

const scaleOutput = {
  id: "test/scale-output",
  summary: "Multiply every float output by a factor.",
  options: {
    type: "object",
    properties: {
      factor: {
        type: "number",
        default: 2,
        description: "What each float output is multiplied by.",
      },
    },
    additionalProperties: false,
  },
  run(bundle, ctx) {
    let added = 0;
    for (const model of bundle.components.values()) {
      added += appendAfterOutputs(model, "Mul", { constant: ctx.options.factor });
    }
    return { bundle, modified: added > 0, statistics: { "nodes-added": added } };
  },
};

const addContribGelu = {
  id: "test/add-contrib-gelu",
  summary: "Apply com.microsoft Gelu to every float output (declares the domain).",
  options: { type: "object", properties: {}, additionalProperties: false },
  introduces: [{ domain: "com.microsoft", version: 1 }],
  run(bundle) {
    let added = 0;
    for (const model of bundle.components.values()) {
      added += appendAfterOutputs(model, "Gelu", { domain: "com.microsoft" });
    }
    return { bundle, modified: added > 0, statistics: { "nodes-added": added } };
  },
};

const emitUndeclaredDomain = {
  id: "test/emit-undeclared-domain",
  summary: "Add a node of a domain the pass does not declare (breaks the contract).",
  options: { type: "object", properties: {}, additionalProperties: false },
  run(bundle) {
    for (const model of bundle.components.values()) {
      appendAfterOutputs(model, "Relu", { domain: "com.example.undeclared" });
    }
    return { bundle, modified: true };
  },
};

const forgetAttribute = {
  id: "test/forget-attribute",
  summary: "Append a Cast without its required `to` to every float output (an invalid model).",
  options: { type: "object", properties: {}, additionalProperties: false },
  run(bundle) {
    let added = 0;
    for (const model of bundle.components.values()) added += appendAfterOutputs(model, "Cast");
    return { bundle, modified: added > 0, statistics: { "nodes-added": added } };
  },
};

const fail = {
  id: "test/fail",
  summary: "Throw an error.",
  options: {
    type: "object",
    properties: {
      message: {
        type: "string",
        default: "the test pass failed on purpose",
        description: "The error's message.",
      },
    },
    additionalProperties: false,
  },
  run(_bundle, ctx) {
    throw new Error(ctx.options.message);
  },
};

const slow = {
  id: "test/slow",
  summary: "Work through units with a pause each, reporting progress; stops when aborted.",
  options: {
    type: "object",
    properties: {
      units: { type: "integer", minimum: 1, default: 10, description: "Units of work." },
      delayMs: {
        type: "integer",
        minimum: 0,
        default: 50,
        description: "Pause per unit, in milliseconds.",
      },
    },
    additionalProperties: false,
  },
  async run(bundle, ctx) {
    const { units, delayMs } = ctx.options;
    ctx.progress.start(units, "working");
    for (let unit = 1; unit <= units; unit++) {
      await sleep(delayMs, undefined, { signal: ctx.signal });
      ctx.progress.advance(1, `unit ${unit}`);
    }
    return {
      bundle: withMetadata(bundle, { [`${ctx.stepId}/units`]: units }),
      modified: true,
      statistics: { units },
    };
  },
};

const probeOutput = {
  id: "test/probe-output",
  summary: "Run the model once on ONNX Runtime and report its first output's sum.",
  options: { type: "object", properties: {}, additionalProperties: false },
  async run(bundle, ctx) {
    const model = bundle.components.values().next().value;
    const [outputs] = await ctx.sessions.run(model, [onesFor(model)]);
    const first = outputs[model.graph.outputs[0].name];
    const sum = Array.from(first.toArray(), Number).reduce((a, b) => a + b, 0);
    return {
      bundle,
      modified: false,
      statistics: { "output-sum": sum, "random-draw": ctx.random.uniform() },
    };
  },
};

/**
 * One record for every graph input, symbolic dims set to 2: ones, except integer inputs named
 * like positions, which count 0, 1, 2, … along their last axis (what a language model expects).
 */
function onesFor(model) {
  return Object.fromEntries(
    model.graph.inputs
      .filter((v) => !v.isConstant)
      .map((v) => {
        const dims = v.type.shape.dims.map((d) => (typeof d === "number" ? d : 2));
        const count = dims.reduce((a, b) => a * b, 1);
        const last = dims.at(-1) ?? 1;
        const int = v.type.elemType === DataType.INT64;
        const values = Array.from({ length: count }, (_, i) => {
          const value = v.name.includes("position") ? i % last : 1;
          return int ? BigInt(value) : value;
        });
        return [v.name, Tensor.fromArray(v.type.elemType, dims, values)];
      }),
  );
}

const badResult = {
  id: "test/bad-result",
  summary: "Return something that is not a pass result (breaks the contract).",
  options: { type: "object", properties: {}, additionalProperties: false },
  run(bundle) {
    return { model: bundle };
  },
};

export default definePlugin({
  meta: { name: "lathe-plugin-test", version: "1.0.0", apiVersion: PLUGIN_API_VERSION },
  passes: [
    renameNodes,
    scaleOutput,
    addContribGelu,
    emitUndeclaredDomain,
    forgetAttribute,
    fail,
    slow,
    probeOutput,
    badResult,
  ],
});
