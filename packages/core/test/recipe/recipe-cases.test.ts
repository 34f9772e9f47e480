// biome-ignore-all lint/suspicious/noTemplateCurlyInString: recipes write ${…} references as text
import { rm } from "node:fs/promises";
import { basename, join, sep } from "node:path";
import {
  loadRecipe,
  type Recipe,
  type RecipeDiagnostic,
  RecipeError,
  readRecipe,
  validateRecipe,
} from "@lathe/core";
import { afterAll, describe, expect, it } from "vitest";
import { testRegistry, writeFiles, yaml } from "./test-registry.js";

/** One diagnostic a case expects; `message` and `hint` are fragments of the real text. */
interface Expected {
  path: string;
  line: number;
  column?: number;
  message: string;
  /** A fragment of the hint; `null` when there must be none. */
  hint?: string | null;
  /** The file's name, when it is not recipe.yaml. */
  file?: string;
}

interface Case {
  name: string;
  /** recipe.yaml's text, or path → text for several files (recipe.yaml is the one loaded). */
  files: string | Record<string, string>;
  env?: Record<string, string>;
  /** Checks on the loaded recipe, or every diagnostic expected, in the order reported. */
  expect: ((recipe: Recipe, dir: string) => void) | Expected[];
}

const DEFAULTS = {
  plugins: [],
  target: { providers: ["cpu"], fallback: false, threads: 0, shapes: {} },
  data: {},
  passes: {},
  evaluate: { metrics: {}, constraints: [] },
  select: { direction: "minimize" },
  output: { dir: "out", cache: ".lathe/cache", externalDataThreshold: 1024 },
  seed: 0,
  verify: "load",
};

/** `./a/b` as the loader writes a path relative to the recipe's folder. */
const relative = (...parts: string[]) => [".", ...parts].join(sep);

const valid: Case[] = [
  {
    name: "a minimal recipe gets every default",
    files: "model: ./model.onnx\n",
    expect: (recipe, dir) => {
      expect(recipe).toEqual({
        file: join(dir, "recipe.yaml"),
        model: "./model.onnx",
        ...DEFAULTS,
      });
    },
  },
  {
    name: "a recipe may carry a name and a description",
    files: "name: gpt2-int8\ndescription: Smaller GPT-2 for the demo.\nmodel: ./model.onnx\n",
    expect: (recipe) => {
      expect(recipe.name).toBe("gpt2-int8");
      expect(recipe.description).toBe("Smaller GPT-2 for the demo.");
    },
  },
  {
    name: "a recipe with passes: {} is valid",
    files: "model: ./model.onnx\npasses: {}\n",
    expect: (recipe) => expect(recipe.passes).toEqual({}),
  },
  {
    name: "pass options get their defaults, steps are enabled",
    files: yaml`
      model: ./model.onnx
      passes:
        int4:
          use: quantize/weight-only
        fuse: { use: graph/fuse-attention }
    `,
    expect: (recipe) => {
      expect(recipe.passes.int4).toEqual({
        use: "quantize/weight-only",
        options: { bits: 4, blockSize: 32, symmetric: true },
        enabled: true,
        convertOpset: true,
      });
      expect(recipe.passes.fuse).toEqual({
        use: "graph/fuse-attention",
        options: {},
        enabled: true,
        convertOpset: true,
      });
    },
  },
  {
    name: "given options override defaults and steps keep file order",
    files: yaml`
      model: ./model.onnx
      passes:
        zeta: { use: quantize/dynamic-int8, options: { threshold: 0.25 } }
        alpha: { use: quantize/weight-only, options: { bits: 8, blockSize: 128 } }
        mid: { use: prune/magnitude, input: model, options: { sparsity: 0.5 }, enabled: false }
    `,
    expect: (recipe) => {
      expect(Object.keys(recipe.passes)).toEqual(["zeta", "alpha", "mid"]);
      expect(recipe.passes.zeta!.options).toEqual({ perChannel: false, threshold: 0.25 });
      expect(recipe.passes.alpha!.options).toEqual({ bits: 8, blockSize: 128, symmetric: true });
      expect(recipe.passes.mid).toEqual({
        use: "prune/magnitude",
        input: "model",
        options: { sparsity: 0.5 },
        enabled: false,
        convertOpset: true,
      });
    },
  },
  {
    name: "a model source, target, data, metrics, constraints and objective",
    files: yaml`
      model: zoo:gpt2?size=tiny
      target: { providers: [cuda, cpu], fallback: true, threads: 4, shapes: { input_ids: [1, 128] } }
      data:
        calib: { use: random }
        eval: { use: npz, options: { path: ./eval.npz } }
      passes:
        int4: { use: quantize/weight-only, options: { calibration: calib } }
      evaluate:
        metrics:
          perf/latency: { repeats: 20 }
          quality/fidelity: { data: eval }
        constraints: ["fidelity.top1 >= 0.98", "latency.p50 <= 0.5 * reference"]
      select: { objective: latency.p50 }
      output: { dir: ./dist, externalDataThreshold: 0 }
      seed: 7
    `,
    expect: (recipe) => {
      expect(recipe.model).toBe("zoo:gpt2?size=tiny");
      expect(recipe.target).toEqual({
        providers: ["cuda", "cpu"],
        fallback: true,
        threads: 4,
        shapes: { input_ids: [1, 128] },
      });
      expect(recipe.data).toEqual({
        calib: { use: "random", options: { count: 8 } },
        eval: { use: "npz", options: { path: "./eval.npz" } },
      });
      expect(recipe.evaluate.metrics).toEqual({
        "perf/latency": { warmup: 3, repeats: 20 },
        "quality/fidelity": { data: "eval" },
      });
      expect(recipe.select).toEqual({ objective: "latency.p50", direction: "minimize" });
      expect(recipe.output).toEqual({
        dir: "./dist",
        cache: ".lathe/cache",
        externalDataThreshold: 0,
      });
      expect(recipe.seed).toBe(7);
    },
  },
  {
    name: "a bundle names its components",
    files: yaml`
      bundle:
        unet: ./unet.onnx
        vae_decoder: zoo:gmm-diffusion
      select: { pareto: [latency.p50, fidelity.psnr] }
      evaluate:
        metrics: { perf/latency: {}, quality/fidelity: {} }
    `,
    expect: (recipe) => {
      expect(recipe.model).toBeUndefined();
      expect(recipe.bundle).toEqual({ unet: "./unet.onnx", vae_decoder: "zoo:gmm-diffusion" });
      expect(recipe.select.pareto).toEqual(["latency.p50", "fidelity.psnr"]);
    },
  },
  {
    name: "a var as a whole value keeps its type; inside text it is spliced in",
    files: yaml`
      vars:
        bs: 64
        name: tiny
        dir: ./models
      model: \${vars.dir}/gpt2-\${vars.name}.onnx
      passes:
        int4: { use: quantize/weight-only, options: { blockSize: "\${vars.bs}" } }
    `,
    expect: (recipe) => {
      expect(recipe.model).toBe("./models/gpt2-tiny.onnx");
      expect(recipe.passes.int4!.options.blockSize).toBe(64);
      expect(recipe).not.toHaveProperty("vars");
    },
  },
  {
    name: "vars may use other vars",
    files: yaml`
      vars:
        root: ./models
        file: \${vars.root}/m.onnx
      model: \${vars.file}
    `,
    expect: (recipe) => expect(recipe.model).toBe("./models/m.onnx"),
  },
  {
    name: "env values: typed when whole, defaults when unset or empty",
    env: { BITS: "8", RUN: "r1", EMPTY: "" },
    files: yaml`
      model: ./\${env:RUN}.onnx
      passes:
        q:
          use: quantize/weight-only
          options:
            bits: \${env:BITS}
            calibration: \${env:CALIB:-calib-set}
            symmetric: \${env:EMPTY:-false}
    `,
    expect: (recipe) => {
      expect(recipe.model).toBe("./r1.onnx");
      expect(recipe.passes.q!.options).toEqual({
        bits: 8,
        blockSize: 32,
        calibration: "calib-set",
        symmetric: false,
      });
    },
  },
  {
    name: "$${ writes a literal ${",
    files: "model: ./a-$${not-a-ref}.onnx\n",
    expect: (recipe) => expect(recipe.model).toBe("./a-${not-a-ref}.onnx"),
  },
  {
    name: "YAML anchors and aliases share options",
    files: yaml`
      model: ./model.onnx
      passes:
        a: { use: quantize/weight-only, options: &opts { bits: 8 } }
        b: { use: quantize/weight-only, input: model, options: *opts }
    `,
    expect: (recipe) => {
      expect(recipe.passes.b!.options).toEqual({ bits: 8, blockSize: 32, symmetric: true });
    },
  },
  {
    name: "extends: maps merge, lists replace, null removes, new steps come last",
    files: {
      "base.yaml": yaml`
        model: ./model.onnx
        target: { providers: [cuda, cpu], threads: 2 }
        passes:
          fuse: { use: graph/fuse-attention }
          int8: { use: quantize/dynamic-int8, options: { perChannel: true, threshold: 0.1 } }
          int4: { use: quantize/weight-only }
      `,
      "recipe.yaml": yaml`
        extends: ./base.yaml
        target: { providers: [cpu] }
        passes:
          int4: null
          prune: { use: prune/magnitude, options: { sparsity: 0.3 } }
          int8: { options: { threshold: 0.2 } }
      `,
    },
    expect: (recipe) => {
      expect(recipe.target).toEqual({
        providers: ["cpu"],
        fallback: false,
        threads: 2,
        shapes: {},
      });
      expect(Object.keys(recipe.passes)).toEqual(["fuse", "int8", "prune"]);
      expect(recipe.passes.int8!.options).toEqual({ perChannel: true, threshold: 0.2 });
    },
  },
  {
    name: "extends chains, and a var set by the extending file reaches the base",
    files: {
      "shared/grand.yaml": yaml`
        vars: { bits: 4 }
        model: ./grand.onnx
        passes:
          q: { use: quantize/weight-only, options: { bits: "\${vars.bits}" } }
      `,
      "shared/base.yaml": "extends: ./grand.yaml\nseed: 3\n",
      "recipe.yaml": "extends: ./shared/base.yaml\nvars: { bits: 8 }\n",
    },
    expect: (recipe) => {
      expect(recipe.passes.q!.options.bits).toBe(8);
      expect(recipe.seed).toBe(3);
      // Written in shared/grand.yaml, so relative to that folder.
      expect(recipe.model).toBe(relative("shared", "grand.onnx"));
    },
  },
  {
    name: "paths from an extended file in another folder are rebased; model sources are not",
    files: {
      "recipes/base/base.yaml": yaml`
        bundle: { unet: ../models/unet.onnx, vae: zoo:gmm-diffusion }
        output: { dir: out, cache: /tmp/lathe-cache }
      `,
      "recipe.yaml": "extends: ./recipes/base/base.yaml\n",
    },
    expect: (recipe) => {
      expect(recipe.bundle).toEqual({
        unet: relative("recipes", "models", "unet.onnx"),
        vae: "zoo:gmm-diffusion",
      });
      expect(recipe.output.dir).toBe(relative("recipes", "base", "out"));
      expect(recipe.output.cache).toBe("/tmp/lathe-cache");
    },
  },
  {
    name: "a plugin listed by name that is loaded, and a plugin path that exists",
    files: {
      "recipe.yaml": "model: ./m.onnx\nplugins: [lathe-plugin-test, ./plugins/mine]\n",
      "plugins/mine/index.js": "export default {};\n",
    },
    expect: (recipe) => expect(recipe.plugins).toEqual(["lathe-plugin-test", "./plugins/mine"]),
  },
  {
    name: "the loaded recipe is frozen",
    files: "model: ./m.onnx\npasses: { q: { use: quantize/weight-only } }\n",
    expect: (recipe) => {
      expect(Object.isFrozen(recipe)).toBe(true);
      expect(Object.isFrozen(recipe.passes.q!.options)).toBe(true);
      expect(() => {
        (recipe.passes.q!.options as Record<string, unknown>).bits = 8;
      }).toThrow(TypeError);
    },
  },
];

const invalid: Case[] = [
  {
    name: "unknown top-level key",
    files: "model: ./m.onnx\npassses: {}\n",
    expect: [
      { path: "passses", line: 2, column: 1, message: 'unknown key "passses"', hint: '"passes"' },
    ],
  },
  {
    name: "unknown key beside name and description",
    files: "name: x\ndescription: y\ntitle: z\nmodel: ./m.onnx\n",
    expect: [{ path: "title", line: 3, column: 1, message: 'unknown key "title"' }],
  },
  {
    name: "misspelled pass option",
    files: yaml`
      model: ./m.onnx
      passes:
        int4:
          use: quantize/weight-only
          options:
            blokSize: 64
    `,
    expect: [
      {
        path: "passes.int4.options.blokSize",
        line: 6,
        column: 7,
        message: 'unknown key "blokSize"',
        hint: 'did you mean "blockSize"?',
      },
    ],
  },
  {
    name: "an option of the wrong type is reported once, as a type error",
    files: yaml`
      model: ./m.onnx
      passes:
        q: { use: quantize/weight-only, options: { bits: "x", symmetric: 1 } }
    `,
    expect: [
      { path: "passes.q.options.bits", line: 3, message: 'expected an integer, got "x"' },
      { path: "passes.q.options.symmetric", line: 3, message: "expected true or false, got 1" },
    ],
  },
  {
    name: "an option outside its enum",
    files: yaml`
      model: ./m.onnx
      passes:
        int4:
          use: quantize/weight-only
          options:
            blockSize: 100
    `,
    expect: [
      {
        path: "passes.int4.options.blockSize",
        line: 6,
        column: 7,
        message: "must be one of 16, 32, 64, 128, 256 (got 100)",
        hint: null,
      },
    ],
  },
  {
    name: "minimum, maximum and exclusive bounds",
    files: yaml`
      model: ./m.onnx
      target: { threads: -1 }
      passes:
        p: { use: prune/magnitude, options: { sparsity: 1 } }
        d: { use: quantize/dynamic-int8, options: { threshold: 1.5 } }
    `,
    expect: [
      { path: "target.threads", line: 2, column: 11, message: "must be at least 0 (got -1)" },
      { path: "passes.p.options.sparsity", line: 4, message: "must be less than 1 (got 1)" },
      { path: "passes.d.options.threshold", line: 5, message: "must be at most 1 (got 1.5)" },
    ],
  },
  {
    name: "a required option is missing",
    files: yaml`
      model: ./m.onnx
      passes:
        p:
          use: prune/magnitude
          options: {}
    `,
    expect: [
      {
        path: "passes.p.options",
        line: 5,
        column: 5,
        message: 'missing the required key "sparsity"',
        hint: "The share of weights to zero",
      },
    ],
  },
  {
    name: "a step without use:",
    files: "model: ./m.onnx\npasses:\n  q:\n    options: {}\n",
    expect: [
      {
        path: "passes.q",
        line: 3,
        column: 3,
        message: 'missing the required key "use"',
        hint: "use: The pass to run",
      },
    ],
  },
  {
    name: "unknown pass, with the closest id",
    files: "model: ./m.onnx\npasses:\n  q:\n    use: quantize/weight-onyl\n",
    expect: [
      {
        path: "passes.q.use",
        line: 4,
        column: 5,
        message: 'unknown pass "quantize/weight-onyl"',
        hint: 'did you mean "quantize/weight-only"?',
      },
    ],
  },
  {
    name: "unknown pass given without its namespace",
    files: "model: ./m.onnx\npasses:\n  q: { use: weight-only }\n",
    expect: [
      {
        path: "passes.q.use",
        line: 3,
        message: 'unknown pass "weight-only"',
        hint: 'did you mean "quantize/weight-only"?',
      },
    ],
  },
  {
    name: "unknown pass with nothing close lists what is loaded",
    files: "model: ./m.onnx\npasses:\n  q: { use: distill/steps }\n",
    expect: [
      {
        path: "passes.q.use",
        line: 3,
        message: 'unknown pass "distill/steps"',
        hint: "known passes: graph/fuse-attention, prune/magnitude, quantize/dynamic-int8, quantize/weight-only",
      },
    ],
  },
  {
    name: "dangling input, with the closest step id",
    files: yaml`
      model: ./m.onnx
      passes:
        int8: { use: quantize/dynamic-int8 }
        int4: { use: quantize/weight-only, input: int88 }
    `,
    expect: [
      {
        path: "passes.int4.input",
        line: 4,
        column: 38,
        message: 'no step "int88" to read from',
        hint: 'did you mean "int8"?',
      },
    ],
  },
  {
    name: "steps that read each other in a cycle",
    files: yaml`
      model: ./m.onnx
      passes:
        a: { use: graph/fuse-attention, input: b }
        b: { use: quantize/weight-only }
    `,
    expect: [
      {
        path: "passes.a.input",
        line: 3,
        message: "steps read each other in a cycle: a reads b, b reads a",
        hint: 'or at "model"',
      },
    ],
  },
  {
    name: "a step that reads itself",
    files: "model: ./m.onnx\npasses:\n  a: { use: graph/fuse-attention, input: a }\n",
    expect: [{ path: "passes.a.input", line: 3, message: "a step cannot read its own output" }],
  },
  {
    name: "a step may not be called model",
    files: "model: ./m.onnx\npasses:\n  model: { use: graph/fuse-attention }\n",
    expect: [{ path: "passes.model", line: 3, column: 3, message: '"model" cannot be a step id' }],
  },
  {
    name: "a step id with a space",
    files: "model: ./m.onnx\npasses:\n  my step: { use: graph/fuse-attention }\n",
    expect: [
      {
        path: 'passes["my step"]',
        line: 3,
        column: 3,
        message: '"my step" is not a valid id',
        hint: "letters, digits",
      },
    ],
  },
  {
    name: "a step id must start with a letter (a number would change the step order)",
    files:
      "model: ./m.onnx\npasses:\n  b: { use: graph/fuse-attention }\n  2: { use: graph/fuse-attention }\n",
    expect: [
      {
        path: "passes.2",
        line: 4,
        column: 3,
        message: '"2" is not a valid id',
        hint: "starting with a letter",
      },
    ],
  },
  {
    name: "a plugin the registry lacks",
    files: "model: ./m.onnx\nplugins:\n  - lathe-plugin-tset\n  - lathe-plugin-quantize-extra\n",
    expect: [
      {
        path: "plugins[0]",
        line: 3,
        column: 5,
        message: 'the plugin "lathe-plugin-tset" is not loaded',
        hint: 'did you mean "lathe-plugin-test"?',
      },
      {
        path: "plugins[1]",
        line: 4,
        message: 'the plugin "lathe-plugin-quantize-extra" is not loaded',
        hint: "npm install lathe-plugin-quantize-extra",
      },
    ],
  },
  {
    name: "a plugin path that does not exist",
    files: "model: ./m.onnx\nplugins: [./plugins/missing]\n",
    expect: [
      {
        path: "plugins[0]",
        line: 2,
        column: 11,
        message: "no plugin at ./plugins/missing",
        hint: "relative to the recipe file",
      },
    ],
  },
  {
    name: "the same plugin twice",
    files: "model: ./m.onnx\nplugins: [lathe-plugin-test, lathe-plugin-test]\n",
    expect: [{ path: "plugins", line: 2, message: 'lists "lathe-plugin-test" twice' }],
  },
  {
    name: "unknown data source and data options",
    files: yaml`
      model: ./m.onnx
      data:
        calib: { use: rnadom }
        eval: { use: npz, options: {} }
    `,
    expect: [
      {
        path: "data.calib.use",
        line: 3,
        message: 'unknown data source "rnadom"',
        hint: '"random"',
      },
      { path: "data.eval.options", line: 4, message: 'missing the required key "path"' },
    ],
  },
  {
    name: "unknown metric and a misspelled metric option",
    files: yaml`
      model: ./m.onnx
      evaluate:
        metrics:
          perf/latncy: {}
          quality/fidelity: { dta: x }
    `,
    expect: [
      {
        path: "evaluate.metrics.perf/latncy",
        line: 4,
        column: 5,
        message: 'unknown metric "perf/latncy"',
        hint: 'did you mean "perf/latency"?',
      },
      {
        path: "evaluate.metrics.quality/fidelity.dta",
        line: 5,
        message: 'unknown key "dta"',
        hint: '"data"',
      },
    ],
  },
  {
    name: "constraints and objectives name listed metrics, in the documented syntax",
    files: yaml`
      model: ./m.onnx
      evaluate:
        metrics: { perf/latency: {} }
        constraints:
          - latncy.p50 <= 0.5 * reference
          - latency.p50 is small
      select: { objective: size.bytes }
    `,
    expect: [
      {
        path: "evaluate.constraints[0]",
        line: 5,
        column: 7,
        message: 'refers to the metric "latncy", which evaluate.metrics does not list',
        hint: 'did you mean "latency"?',
      },
      {
        path: "evaluate.constraints[1]",
        line: 6,
        message:
          'constraint "latency.p50 is small": expected a comparison (<, <=, > or >=) after latency.p50 (at character 13)',
        hint: "`latency.p50 <= 0.5 * reference`",
      },
      {
        path: "select.objective",
        line: 7,
        message: 'refers to the metric "size"',
        hint: "listed: perf/latency",
      },
    ],
  },
  {
    name: "objective and pareto together",
    files: yaml`
      model: ./m.onnx
      evaluate: { metrics: { perf/latency: {}, quality/fidelity: {} } }
      select:
        objective: latency.p50
        pareto: [latency.p50, fidelity.top1]
    `,
    expect: [
      { path: "select.pareto", line: 5, message: "give either objective: or pareto:, not both" },
    ],
  },
  {
    name: "model and bundle together",
    files: "model: ./m.onnx\nbundle:\n  unet: ./unet.onnx\n",
    expect: [
      {
        path: "bundle",
        line: 2,
        column: 1,
        message: "give either model: or bundle:, not both",
        hint: "several components",
      },
    ],
  },
  {
    name: "neither model nor bundle",
    files: "# a comment first\npasses: {}\n",
    expect: [
      {
        path: "",
        line: 2,
        column: 1,
        message: "the recipe names no model to optimize",
        hint: "add model:",
      },
    ],
  },
  {
    name: "an empty file is a recipe without a model",
    files: "",
    expect: [{ path: "", line: 1, column: 1, message: "names no model" }],
  },
  {
    name: "unknown model source, with the closest scheme",
    files: "model: zo:gpt2\n",
    expect: [
      {
        path: "model",
        line: 1,
        column: 1,
        message: 'unknown model source "zo:" in "zo:gpt2"',
        hint: 'did you mean "zoo"?',
      },
    ],
  },
  {
    name: "a misspelled provider",
    files: "model: ./m.onnx\ntarget:\n  providers: [cuad, cpu]\n",
    expect: [
      {
        path: "target.providers[0]",
        line: 3,
        column: 15,
        message: 'must be one of "cpu", "webgpu", "cuda", "tensorrt" (got "cuad")',
        hint: 'did you mean "cuda"?',
      },
    ],
  },
  {
    name: "a list where a map belongs, and an empty value",
    files: "model: ./m.onnx\npasses:\n  - use: quantize/weight-only\noutput:\n",
    expect: [
      { path: "passes", line: 2, column: 1, message: "expected a map, got a list" },
      { path: "output", line: 4, column: 1, message: "expected a map, got an empty value" },
    ],
  },
  {
    name: "unknown variable, and the value is not checked further",
    files: yaml`
      vars: { bs: 64 }
      model: ./m.onnx
      passes:
        q: { use: quantize/weight-only, options: { blockSize: "\${vars.bz}" } }
    `,
    expect: [
      {
        path: "passes.q.options.blockSize",
        line: 4,
        column: 57,
        message: 'unknown variable "bz"',
        hint: 'did you mean "bs"?',
      },
    ],
  },
  {
    name: "unknown variable without vars:",
    files: "model: ./${vars.name}.onnx\n",
    expect: [
      { path: "model", line: 1, column: 8, message: 'unknown variable "name"', hint: "vars:" },
    ],
  },
  {
    name: "unset environment variable",
    files: "model: ${env:LATHE_TEST_MODEL}\n",
    expect: [
      {
        path: "model",
        line: 1,
        column: 8,
        message: "environment variable LATHE_TEST_MODEL is not set",
        hint: "${env:LATHE_TEST_MODEL:-value}",
      },
    ],
  },
  {
    name: "a default that holds another reference",
    files: "vars: { size: tiny }\nmodel: ${env:MODEL:-./gpt2-${vars.size}.onnx}\n",
    expect: [
      {
        path: "model",
        line: 2,
        column: 8,
        message: "a default cannot hold another reference",
        hint: "a default is plain text",
      },
    ],
  },
  {
    name: "misspelled reference kinds",
    files: "model: ./m.onnx\noutput:\n  dir: ${var.out}\n  cache: ${env.CACHE}\n",
    expect: [
      {
        path: "output.dir",
        line: 3,
        column: 8,
        message: "unknown reference ${var.out}",
        hint: "did you mean ${vars.out}?",
      },
      {
        path: "output.cache",
        line: 4,
        message: "unknown reference ${env.CACHE}",
        hint: "did you mean ${env:CACHE}?",
      },
    ],
  },
  {
    name: "variables in a cycle are reported once, at the definition",
    files: yaml`
      vars:
        a: \${vars.b}
        b: x-\${vars.a}
      model: \${vars.a}
    `,
    expect: [
      {
        path: "vars.a",
        line: 2,
        column: 3,
        message: "variables refer to each other in a cycle: a → b → a",
      },
    ],
  },
  {
    name: "a map var inside text, and an unclosed reference",
    files: yaml`
      vars: { shape: { x: 1 } }
      model: ./m-\${vars.shape}.onnx
      output: { dir: "\${vars.shape" }
    `,
    expect: [
      {
        path: "model",
        line: 2,
        message: "${vars.shape} is a map, which cannot be part of a text",
        hint: "alone as the whole value",
      },
      { path: "output.dir", line: 3, message: '"${" is not closed with "}"' },
    ],
  },
  {
    name: "a YAML syntax error with its line and column",
    files: "model: ./m.onnx\npasses:\n  q: { use: [quantize/weight-only }\n",
    expect: [
      {
        path: "",
        line: 3,
        column: 35,
        message:
          "YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]",
        hint: "indentation and quoting",
      },
      { path: "", line: 3, column: 36, message: "YAML syntax error: Flow map" },
    ],
  },
  {
    name: "an unquoted reference inside { } is a syntax error with a hint to quote it",
    files:
      "vars: { bs: 64 }\nmodel: ./m.onnx\npasses:\n  q: { use: quantize/weight-only, options: { blockSize: ${vars.bs} } }\n",
    expect: [
      { path: "", line: 4, message: "YAML syntax error", hint: "quote values that hold ${…}" },
      { path: "", line: 4, message: "YAML syntax error", hint: "quote values that hold ${…}" },
      { path: "", line: 4, message: "YAML syntax error", hint: "quote values that hold ${…}" },
    ],
  },
  {
    name: "a key written twice",
    files: "model: ./m.onnx\nseed: 1\nseed: 2\n",
    expect: [
      {
        path: "",
        line: 3,
        column: 1,
        message: "YAML syntax error: Map keys must be unique",
        hint: "each key may appear once",
      },
    ],
  },
  {
    name: "tabs for indentation",
    files: "model: ./m.onnx\ntarget:\n\tthreads: 2\n",
    expect: [{ path: "", line: 3, message: "YAML syntax error", hint: "indent with spaces" }],
  },
  {
    name: "a list instead of a recipe",
    files: "- model: ./m.onnx\n",
    expect: [{ path: "", line: 1, column: 1, message: "a recipe is a map of keys" }],
  },
  {
    name: "extends loop",
    files: {
      "recipe.yaml": "extends: ./a.yaml\n",
      "a.yaml": "extends: ./b.yaml\nmodel: ./m.onnx\n",
      "b.yaml": "seed: 1\nextends: ./a.yaml\n",
    },
    expect: [
      {
        path: "extends",
        line: 2,
        column: 1,
        file: "b.yaml",
        message: "extends makes a cycle: a.yaml → b.yaml → a.yaml",
      },
    ],
  },
  {
    name: "a recipe that extends itself",
    files: "extends: ./recipe.yaml\n",
    expect: [{ path: "extends", line: 1, message: "recipe.yaml → recipe.yaml" }],
  },
  {
    name: "extends a file that does not exist",
    files: "model: ./m.onnx\nextends: ./bsae.yaml\n",
    expect: [
      {
        path: "extends",
        line: 2,
        column: 1,
        message: "no such file: bsae.yaml",
        hint: "relative to the file that names it",
      },
    ],
  },
  {
    name: "extends a folder",
    files: { "recipe.yaml": "extends: ./shared\n", "shared/base.yaml": "seed: 1\n" },
    expect: [{ path: "extends", line: 1, message: "shared is a folder, not a recipe file" }],
  },
  {
    name: "extends needs a path",
    files: "extends: [./a.yaml]\n",
    expect: [{ path: "extends", line: 1, message: "expected the path of a recipe file" }],
  },
  {
    name: "null removes only keys the base has",
    files: {
      "base.yaml": "model: ./m.onnx\npasses:\n  int4: { use: quantize/weight-only }\n",
      "recipe.yaml": "extends: ./base.yaml\npasses:\n  int: null\n",
    },
    expect: [
      {
        path: "passes.int",
        line: 3,
        column: 3,
        message: 'null removes an inherited key, but the extended recipe has no "int" here',
        hint: 'did you mean "int4"?',
      },
    ],
  },
  {
    name: "a problem in an extended file points into that file",
    files: {
      "base.yaml":
        "model: ./m.onnx\npasses:\n  q:\n    use: quantize/weight-only\n    options: { bist: 8 }\n",
      "recipe.yaml": "extends: ./base.yaml\nseed: -2\n",
    },
    expect: [
      { path: "seed", line: 2, column: 1, message: "must be at least 0 (got -2)" },
      {
        path: "passes.q.options.bist",
        line: 5,
        column: 16,
        file: "base.yaml",
        message: 'unknown key "bist"',
        hint: '"bits"',
      },
    ],
  },
  {
    name: "an option changed by the extending file is reported there",
    files: {
      "base.yaml": "model: ./m.onnx\npasses:\n  q: { use: quantize/weight-only }\n",
      "recipe.yaml": "extends: ./base.yaml\npasses:\n  q:\n    options: { bits: 3 }\n",
    },
    expect: [
      {
        path: "passes.q.options.bits",
        line: 4,
        column: 16,
        message: "must be one of 4, 8 (got 3)",
      },
    ],
  },
  {
    name: "three mistakes give three diagnostics, in line order",
    files: yaml`
      model: ./m.onnx
      target:
        threads: many
      passes:
        int4:
          use: quantize/weight-only
          options: { blokSize: 64 }
        int8:
          use: quantize/dynamic-int9
    `,
    expect: [
      { path: "target.threads", line: 3, column: 3, message: 'expected an integer, got "many"' },
      {
        path: "passes.int4.options.blokSize",
        line: 7,
        column: 16,
        message: 'unknown key "blokSize"',
        hint: '"blockSize"',
      },
      {
        path: "passes.int8.use",
        line: 9,
        column: 5,
        message: 'unknown pass "quantize/dynamic-int9"',
        hint: '"quantize/dynamic-int8"',
      },
    ],
  },
  {
    name: "a pass without options rejects any",
    files: "model: ./m.onnx\npasses:\n  f: { use: graph/fuse-attention, options: { heads: 8 } }\n",
    expect: [
      {
        path: "passes.f.options.heads",
        line: 3,
        message: 'unknown key "heads"',
        hint: "nothing may be set here",
      },
    ],
  },
  {
    name: "an unknown key in a core section lists the allowed ones",
    files: "model: ./m.onnx\noutput: { folder: ./x }\n",
    expect: [
      {
        path: "output.folder",
        line: 2,
        column: 11,
        message: 'unknown key "folder"',
        hint: "allowed keys: dir, cache, externalDataThreshold",
      },
    ],
  },
];

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function run(c: Case): Promise<{ dir: string; recipe?: Recipe; error?: unknown }> {
  const files = typeof c.files === "string" ? { "recipe.yaml": c.files } : c.files;
  const dir = await writeFiles(files);
  dirs.push(dir);
  try {
    const recipe = await loadRecipe(join(dir, "recipe.yaml"), testRegistry, { env: c.env ?? {} });
    return { dir, recipe };
  } catch (error) {
    return { dir, error };
  }
}

function expectDiagnostics(actual: readonly RecipeDiagnostic[], expected: readonly Expected[]) {
  const shown = actual.map(
    (d) => `${basename(d.file)}:${d.line}:${d.column} ${d.path}: ${d.message}`,
  );
  expect(actual, shown.join("\n")).toHaveLength(expected.length);
  expected.forEach((want, i) => {
    const got = actual[i]!;
    expect(basename(got.file)).toBe(want.file ?? "recipe.yaml");
    expect(got.path).toBe(want.path);
    expect(got.line).toBe(want.line);
    if (want.column !== undefined) expect(got.column).toBe(want.column);
    expect(got.message).toContain(want.message);
    if (want.hint === null) expect(got.hint).toBeUndefined();
    else if (want.hint !== undefined) expect(got.hint).toContain(want.hint);
  });
}

describe("valid recipes", () => {
  it.each(valid.map((c) => [c.name, c] as const))("%s", async (_, c) => {
    const { dir, recipe, error } = await run(c);
    if (error instanceof RecipeError) throw new Error(error.format(dir));
    if (error) throw error;
    (c.expect as (recipe: Recipe, dir: string) => void)(recipe!, dir);
  });
});

describe("invalid recipes", () => {
  it.each(invalid.map((c) => [c.name, c] as const))("%s", async (_, c) => {
    const { error } = await run(c);
    expect(error).toBeInstanceOf(RecipeError);
    expect((error as RecipeError).code).toBe("RECIPE_INVALID");
    expectDiagnostics((error as RecipeError).diagnostics, c.expect as Expected[]);
  });
});

describe("the two loading phases", () => {
  it("readRecipe names the plugins to load before validation", async () => {
    const dir = await writeFiles({
      "recipe.yaml": yaml`
        vars: { p: lathe-plugin-test }
        model: ./m.onnx
        plugins:
          - \${vars.p}
          - \${env:NOPE}
      `,
    });
    dirs.push(dir);
    const doc = await readRecipe(join(dir, "recipe.yaml"), { env: {} });
    // The entry whose interpolation failed is not one to load; validation reports it.
    expect(doc.plugins).toEqual(["lathe-plugin-test"]);
    expect(doc.files).toEqual([join(dir, "recipe.yaml")]);
    const error = (() => {
      try {
        validateRecipe(doc, testRegistry);
      } catch (e) {
        return e as RecipeError;
      }
    })();
    expectDiagnostics(error!.diagnostics, [
      { path: "plugins[1]", line: 5, message: "environment variable NOPE is not set" },
    ]);
  });

  it("a missing recipe file is FILE_NOT_FOUND, not a recipe diagnostic", async () => {
    await expect(readRecipe("/nonexistent/recipe.yaml")).rejects.toMatchObject({
      code: "FILE_NOT_FOUND",
    });
  });
});

it("has at least 40 cases", () => {
  expect(valid.length + invalid.length).toBeGreaterThanOrEqual(40);
});
