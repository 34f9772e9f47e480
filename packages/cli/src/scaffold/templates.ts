/**
 * The files `lathe plugin new` writes: a plugin package whose one pass removes Identity (and
 * Dropout) nodes, with its options as a typed interface, a PassTester test on node:test, and
 * the schema build step. Its `npm test` passes as written.
 */
export interface ScaffoldNames {
  /** npm package name: `lathe-plugin-strip` or `@me/lathe-plugin-strip`. */
  readonly packageName: string;
  /** The pass ids' namespace: `strip`. */
  readonly namespace: string;
  /** Versions to depend on: this Lathe's, and the TypeScript and Node types it is built with. */
  readonly latheVersion: string;
  readonly typescriptVersion: string;
  readonly nodeTypesVersion: string;
}

export function scaffoldFiles(names: ScaffoldNames): Record<string, string> {
  return {
    // As formatters write them: package.json lists expanded, other JSON's short lists inline.
    "package.json": `${JSON.stringify(packageJson(names), null, 2)}\n`,
    "tsconfig.json": json(TSCONFIG),
    ".gitignore": "node_modules\ndist\n*.tgz\n",
    "src/index.ts": indexSource(names),
    "src/remove-identity.ts": passSource(names),
    "test/remove-identity.test.ts": testSource(),
    "README.md": readme(names),
  };
}

/** JSON with short lists of strings on one line. */
function json(value: unknown): string {
  const text = JSON.stringify(value, null, 2).replace(
    /\[\n\s+("[^"\n]*"(?:,\n\s+"[^"\n]*")*)\n\s+\]/g,
    (_, items: string) => `[${items.replace(/,\n\s+/g, ", ")}]`,
  );
  return `${text}\n`;
}

function packageJson(names: ScaffoldNames) {
  return {
    name: names.packageName,
    version: "0.1.0",
    description: `Lathe passes: ${names.namespace}/remove-identity.`,
    type: "module",
    license: "MIT",
    keywords: ["lathe-plugin", "onnx"],
    main: "./dist/src/index.js",
    types: "./dist/src/index.d.ts",
    exports: { ".": { types: "./dist/src/index.d.ts", default: "./dist/src/index.js" } },
    files: ["dist/src"],
    scripts: {
      schema: "lathe plugin schema",
      build: "lathe plugin schema && tsc -p tsconfig.json",
      test: "npm run build && node --test dist/test/",
      prepack: "npm run build",
    },
    peerDependencies: { "@lathe/core": `^${names.latheVersion}` },
    devDependencies: {
      "@lathe/cli": names.latheVersion,
      "@lathe/core": names.latheVersion,
      "@types/node": names.nodeTypesVersion,
      typescript: names.typescriptVersion,
    },
  };
}

const TSCONFIG = {
  compilerOptions: {
    target: "ES2022",
    lib: ["ES2023"],
    module: "NodeNext",
    moduleResolution: "NodeNext",
    strict: true,
    declaration: true,
    sourceMap: true,
    skipLibCheck: true,
    rootDir: ".",
    outDir: "dist",
    types: ["node"],
  },
  include: ["src", "test"],
};

function indexSource(names: ScaffoldNames): string {
  return `import { createRequire } from "node:module";
import { definePlugin, PLUGIN_API_VERSION } from "@lathe/core";
import { removeIdentity } from "./remove-identity.js";

const { name, version } = createRequire(import.meta.url)("../../package.json") as {
  name: string;
  version: string;
};

export { type RemoveIdentityOptions, removeIdentity } from "./remove-identity.js";

/** ${names.namespace}/remove-identity: Identity and Dropout nodes removed, consumers rewired. */
export default definePlugin({
  meta: { name, version, apiVersion: PLUGIN_API_VERSION },
  passes: [removeIdentity],
});
`;
}

function passSource(names: ScaffoldNames): string {
  return `import { definePass, type Node } from "@lathe/core";
import { removeIdentityOptionsSchema } from "./generated/options.js";

/** The options, written once: \`npm run schema\` turns this interface into the JSON Schema. */
export interface RemoveIdentityOptions {
  /**
   * Also remove Dropout nodes whose mask output is unused (at inference Dropout passes its input
   * through).
   * @default true
   */
  dropout: boolean;
  /**
   * Regular expressions on node names: matching nodes are kept.
   * @default []
   */
  keep: string[];
}

export const removeIdentity = definePass<RemoveIdentityOptions>({
  id: "${names.namespace}/remove-identity",
  summary: "Remove Identity (and inference Dropout) nodes, rewiring their consumers.",
  options: removeIdentityOptionsSchema,
  run(bundle, ctx) {
    const keep = ctx.options.keep.map((pattern) => new RegExp(pattern));
    const statistics = { removed: 0, "removed.Identity": 0, "removed.Dropout": 0, kept: 0 };
    for (const [component, model] of bundle.components) {
      const graphOutputs = new Set(model.graph.outputs);
      const nodes = [...model.graph];
      ctx.progress.start(nodes.length, component);
      for (const node of nodes) {
        ctx.progress.advance();
        const why = notRemovable(node, ctx.options.dropout);
        if (why === "other op") continue;
        const output = node.outputs[0]!;
        const input = node.inputs[0];
        const reason =
          why ??
          (keep.some((r) => r.test(node.name)) ? "name matches keep" : undefined) ??
          (graphOutputs.has(output) ? "its output is a graph output" : undefined) ??
          (input === undefined ? "no input" : undefined);
        if (reason) {
          statistics.kept++;
          if (ctx.explain) ctx.logger.info(\`kept \${node.name || node.opType}: \${reason}\`);
          continue;
        }
        output.replaceAllUsesWith(input!, model.graph);
        model.graph.remove(node);
        statistics.removed++;
        statistics[node.opType === "Identity" ? "removed.Identity" : "removed.Dropout"]++;
      }
    }
    ctx.logger.info(\`removed \${statistics.removed} nodes\`);
    return { bundle, modified: statistics.removed > 0, statistics };
  },
});

/** Why a node cannot go, "other op" when it is not one this pass removes. */
function notRemovable(node: Node, dropout: boolean): string | undefined {
  if (node.domain !== "") return "other op";
  if (node.opType === "Identity") return undefined;
  if (node.opType !== "Dropout" || !dropout) return "other op";
  const mask = node.outputs[1];
  return mask && mask.uses().length > 0 ? "its mask output is used" : undefined;
}
`;
}

function testSource(): string {
  return `import { describe, it } from "node:test";
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
`;
}

function readme(names: ScaffoldNames): string {
  return `# ${names.packageName}

A [Lathe](https://www.npmjs.com/package/@lathe/cli) plugin. Its pass \`${names.namespace}/remove-identity\`
removes Identity nodes and inference-time Dropout, rewiring their consumers, and reports how many
it removed.

## Use it in a recipe

\`\`\`sh
npm install --save-dev ${names.packageName}
\`\`\`

\`\`\`yaml
model: model.onnx
plugins: [${names.packageName}]
passes:
  clean:
    use: ${names.namespace}/remove-identity
    options: { dropout: true }
\`\`\`

\`\`\`sh
npx lathe plugins describe ${names.namespace}/remove-identity --plugin ${names.packageName}
npx lathe run recipe.yaml
\`\`\`

## Develop

\`\`\`sh
npm install
npm test          # lathe plugin schema, tsc, then the PassTester tables on node:test
\`\`\`

The options are the \`RemoveIdentityOptions\` interface in \`src/remove-identity.ts\`: its JSDoc
(\`@default\`, \`@minimum\`, \`@integer\`, …) becomes the JSON Schema in
\`src/generated/options.ts\` when \`npm run schema\` (part of \`npm run build\`) runs. Commit the
generated file. \`npm pack\` builds first and packs \`dist/src\`.
`;
}
