// biome-ignore-all lint/suspicious/noTemplateCurlyInString: recipes write ${…} references as text
/**
 * The recipe keys Lathe itself defines, as JSON Schema (draft-07, which editors' YAML support
 * understands). `recipeSchema` adds what the loaded plugins define. Every key has a description
 * (editors show it on hover) and docs/recipes.md explains each one at length.
 */

export const PROVIDERS = ["cpu", "webgpu", "cuda", "tensorrt"] as const;

/**
 * Step and data ids: they appear in paths, reports and file names, and start with a letter
 * because JavaScript objects put integer-like keys first, which would reorder the steps.
 */
export const ID_PATTERN = "^[A-Za-z][A-Za-z0-9_-]*$";
export const VAR_PATTERN = "^[A-Za-z_][A-Za-z0-9_-]*$";
/** `<metric>.<value>`, e.g. `latency.p50`. */
export const METRIC_VALUE_PATTERN = "^[A-Za-z_][\\w-]*\\.[\\w.-]+$";
export const DEFAULT_OUTPUT_DIR = "out";
export const DEFAULT_CACHE_DIR = ".lathe/cache";
export const DEFAULT_EXTERNAL_DATA_THRESHOLD = 1024;

const MODEL_VALUE =
  "A path to an .onnx file (relative to this recipe) or a model source such as `zoo:gpt2?size=tiny`.";

/** The schema of everything but plugin-defined options; `use:` enums are filled in per registry. */
export function coreSchema(): Record<string, unknown> {
  return {
    $schema: "http://json-schema.org/draft-07/schema#",
    title: "Lathe recipe",
    description:
      "A Lathe recipe: the model to optimize, the passes to run on it, how to measure the candidates and which one to keep. See docs/recipes.md.",
    type: "object",
    additionalProperties: false,
    properties: {
      name: {
        type: "string",
        minLength: 1,
        description:
          "A short name for the recipe, shown by `lathe run` and recorded in report.json (recipe.name).",
        examples: ["gpt2-int8"],
      },
      description: {
        type: "string",
        description:
          "What the recipe is for, in a sentence or two; shown by `lathe run` and recorded in report.json (recipe.description).",
      },
      extends: {
        type: "string",
        minLength: 1,
        description:
          "A recipe file this one builds on, relative to this file. Maps merge key by key (this file wins), lists and values replace, `key: null` removes an inherited key; new passes run after the inherited ones.",
        examples: ["./base.yaml"],
      },
      vars: {
        type: "object",
        description:
          "Values to reuse as `${vars.name}` anywhere in the recipe (after `extends` is merged). Environment variables are `${env:NAME}` or `${env:NAME:-default}`.",
        propertyNames: { pattern: VAR_PATTERN },
      },
      model: {
        type: "string",
        minLength: 1,
        description: `The model to optimize. ${MODEL_VALUE} Give either model or bundle.`,
        examples: ["./model.onnx", "zoo:gpt2?size=tiny"],
      },
      bundle: {
        type: "object",
        minProperties: 1,
        description:
          "A model made of several components (a diffusion pipeline: unet, vae_decoder, …): component name → path or model source. Give either model or bundle.",
        additionalProperties: { type: "string", minLength: 1, description: MODEL_VALUE },
      },
      plugins: {
        type: "array",
        default: [],
        uniqueItems: true,
        description:
          "Plugins to load besides the built-in ones: npm package names (`lathe-plugin-foo`, `@scope/lathe-plugin-bar`) or paths relative to this recipe (`./plugins/mine`).",
        items: { type: "string", minLength: 1, description: "An npm package name or a path." },
      },
      target: {
        type: "object",
        default: {},
        additionalProperties: false,
        description: "Where the model will run: measurements and runtime-aware passes use it.",
        properties: {
          providers: {
            type: "array",
            default: ["cpu"],
            minItems: 1,
            uniqueItems: true,
            description: "ONNX Runtime execution providers, in order of preference.",
            items: { type: "string", enum: [...PROVIDERS] },
          },
          fallback: {
            type: "boolean",
            default: false,
            description:
              "When a provider is not available, use the next one (and log it) instead of failing.",
          },
          threads: {
            type: "integer",
            minimum: 0,
            default: 0,
            description: "Intra-op threads for ONNX Runtime; 0 lets ONNX Runtime decide.",
          },
          shapes: {
            type: "object",
            default: {},
            description:
              "Values for the model's symbolic input dimensions: input name → shape, e.g. `input_ids: [1, 128]`.",
            additionalProperties: {
              type: "array",
              items: { type: "integer", minimum: 1 },
              description: "The input's shape, every dimension a positive integer.",
            },
          },
        },
      },
      data: {
        type: "object",
        default: {},
        description:
          "Named data sets for calibration and evaluation; passes and metrics refer to them by name.",
        propertyNames: { pattern: ID_PATTERN },
        additionalProperties: { $ref: "#/definitions/dataSource" },
      },
      passes: {
        type: "object",
        default: {},
        description:
          "The steps, in order: step id → the pass it runs. A step reads the previous step's output unless it names `input:`; steps that read the same input are candidates to compare.",
        propertyNames: { pattern: ID_PATTERN },
        additionalProperties: { $ref: "#/definitions/step" },
      },
      evaluate: {
        type: "object",
        default: {},
        additionalProperties: false,
        description:
          "How candidates are measured against the input model, and what they must meet.",
        properties: {
          metrics: {
            type: "object",
            default: {},
            description: "Metric id → its options (`{}` for the defaults). Empty: no evaluation.",
            additionalProperties: false,
            properties: {},
          },
          constraints: {
            type: "array",
            default: [],
            description:
              "Conditions every accepted candidate meets: `<metric>.<value> <op> <bound>`, where `<op>` is <, <=, > or >= and the bound is a number, `reference` (the input model's value) or `<number> * reference`. See docs/evaluate.md.",
            // The grammar is checked by recipe/checks.ts, whose errors say what is wrong where.
            items: {
              type: "string",
              minLength: 1,
              examples: ["fidelity.top1 >= 0.98", "latency.p50 <= 0.5 * reference"],
            },
          },
        },
      },
      select: {
        type: "object",
        default: {},
        additionalProperties: false,
        description: "Which accepted candidate to keep.",
        properties: {
          objective: {
            type: "string",
            pattern: METRIC_VALUE_PATTERN,
            description: "The metric value to optimize, `<metric>.<value>`.",
            examples: ["latency.p50", "size.bytes"],
          },
          direction: {
            type: "string",
            enum: ["minimize", "maximize"],
            default: "minimize",
            description: "Whether the objective should be small or large.",
          },
          pareto: {
            type: "array",
            minItems: 2,
            maxItems: 2,
            description:
              "Keep the Pareto front of two metric values instead of one winner (instead of objective).",
            items: { type: "string", pattern: METRIC_VALUE_PATTERN, examples: ["latency.p50"] },
          },
        },
      },
      output: {
        type: "object",
        default: {},
        additionalProperties: false,
        description: "Where results go.",
        properties: {
          dir: {
            type: "string",
            minLength: 1,
            default: DEFAULT_OUTPUT_DIR,
            description:
              "The folder for the selected model(s) and report.json, relative to the recipe.",
          },
          cache: {
            type: "string",
            minLength: 1,
            default: DEFAULT_CACHE_DIR,
            description:
              "The artifact cache, relative to the recipe; finished steps are reused from it.",
          },
          externalDataThreshold: {
            type: "integer",
            minimum: 0,
            default: DEFAULT_EXTERNAL_DATA_THRESHOLD,
            description:
              "Store tensors of at least this many bytes in a separate .data file (0: never). Models over 2 GiB need it.",
          },
        },
      },
      seed: {
        type: "integer",
        minimum: 0,
        default: 0,
        description: "The seed every pass's random source derives from.",
      },
      verify: {
        enum: ["load", "check", "none"],
        default: "load",
        description:
          "How every step's output is verified before it is stored: `load` runs the model checker and opens the model in an ONNX Runtime session (skipped, and logged, above 1 GiB of tensors), `check` only runs the checker, `none` trusts the pass. A step's own `verify:` overrides it.",
      },
    },
    // Editors flag a recipe without an input; validation words this itself.
    oneOf: [{ required: ["model"] }, { required: ["bundle"] }],
    definitions: {
      step: {
        type: "object",
        additionalProperties: false,
        required: ["use"],
        description: "A step: one pass run on one input.",
        properties: {
          use: {
            type: "string",
            description: "The pass to run, `namespace/name` (`lathe plugins` lists them).",
          },
          input: {
            type: "string",
            minLength: 1,
            description:
              "The step whose output this step reads, or `model` for the recipe's model. Default: the previous step (the model for the first).",
          },
          options: {
            type: "object",
            default: {},
            description: "The pass's options (`lathe plugins describe <pass>` lists them).",
          },
          enabled: {
            type: "boolean",
            default: true,
            description:
              "false skips the step: it passes its input through, so steps after it still run.",
          },
          convertOpset: {
            type: "boolean",
            default: true,
            description:
              "When the pass needs a newer default-domain opset than its input imports (`requires.minOpset`), convert the input first where the conversion is exact (`lathe convert`); false fails the step instead.",
          },
          verify: {
            enum: ["load", "check", "none"],
            description:
              "How this step's output is verified (`load`, `check` or `none`); default: the recipe's `verify:`.",
          },
          timeout: {
            type: "number",
            exclusiveMinimum: 0,
            description:
              "Seconds the pass may run. Past them the pass is told to stop (its abort signal), the step fails naming the plugin, and nothing is stored in the cache. A pass that never yields to the event loop cannot be stopped this way.",
          },
        },
      },
      dataSource: {
        type: "object",
        additionalProperties: false,
        required: ["use"],
        description: "A data set: which data source reads it, and its options.",
        properties: {
          use: {
            type: "string",
            description: "The data source, e.g. `npz` or `random` (`lathe plugins` lists them).",
          },
          options: {
            type: "object",
            default: {},
            description: "The data source's options (a file path, a count, …).",
          },
          split: {
            type: "object",
            additionalProperties: false,
            required: ["parts"],
            description:
              "Cut the data set into disjoint named parts (calibration, evaluation), each usable as a data set name: a seeded shuffle of the records, cut in the order the parts are written (docs/data.md).",
            properties: {
              seed: {
                type: "integer",
                default: 0,
                description: "The shuffle's seed: the same seed and records give the same parts.",
              },
              parts: {
                type: "object",
                minProperties: 1,
                propertyNames: { pattern: ID_PATTERN },
                description:
                  "Part name → how many records: a count (16), a fraction of the data set (0.25), or `rest` (what the other parts leave).",
                additionalProperties: {
                  description:
                    "How many records the part holds: a count, a fraction below 1, or `rest`.",
                  anyOf: [
                    { type: "integer", minimum: 1 },
                    { type: "number", exclusiveMinimum: 0, exclusiveMaximum: 1 },
                    { const: "rest" },
                  ],
                },
              },
            },
          },
        },
      },
    },
  };
}
