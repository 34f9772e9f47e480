import { evaluateDim, graphScopes, inferShapes, loadModel, type Model } from "@lathe/core";
import { runOnOrt } from "@lathe/core/testing";
import { describe, expect, it } from "vitest";
import { type CorpusModel, corpusFeeds, loadCorpus } from "./corpus.js";

const corpus = loadCorpus();
const models = typeof corpus === "string" ? [] : corpus.models;
/** Sizes the exporter did not trace with, so a dim inferred from the trace would show. */
const SIZES = { batch: 3, sequence: 7, past: 2, context: 6, height: 2, width: 5 };

function stripTypes(model: Model): void {
  for (const { graph } of graphScopes(model))
    for (const node of graph) for (const out of node.outputs) out.type = undefined;
  for (const out of model.graph.outputs) out.type = undefined;
}

/**
 * inferShapes on what PyTorch's exporter really writes: with every node type stripped, the
 * inferred output dims (symbols such as `past + sequence` included) evaluate, for sizes the
 * exporter did not trace with, to the dims ONNX Runtime computes; with the exporter's own
 * value_info kept, inference contradicts none of it. Where an output's rank depends on run-time
 * data (`outputRankUnknown`), inference gives what onnx's gives: the element type alone.
 */
describe.skipIf(typeof corpus === "string")("shape inference on real exports", () => {
  it.each(models.map((m) => [m.name, m] as const))(
    "%s: inferred output dims are the real ones",
    async (_name, entry: CorpusModel) => {
      const declared = await loadModel(entry.path);
      const withDeclared = inferShapes(declared);
      expect(withDeclared.conflicts).toEqual([]);
      expect(withDeclared.failures).toEqual([]);

      const model = await loadModel(entry.path);
      stripTypes(model);
      const report = inferShapes(model);
      expect(report.failures).toEqual([]);
      expect(report.unknownOps).toEqual({});
      const feeds = corpusFeeds(entry, SIZES);
      const bindings: Record<string, number> = {};
      for (const input of model.graph.inputs) {
        const dims = input.type?.kind === "tensor" ? input.type.shape?.dims : undefined;
        dims?.forEach((d, i) => {
          if (typeof d === "string") bindings[d] = feeds[input.name]!.dims[i]!;
        });
      }
      const results = await runOnOrt(entry.path, feeds, { logSeverityLevel: 3 });
      if (entry.outputRankUnknown) {
        // as onnx's infer_shapes (1.12) leaves them: the element type, no rank
        for (const out of model.graph.outputs) {
          expect(out.type?.kind, out.name).toBe("tensor");
          expect(out.type?.kind === "tensor" && out.type.shape, out.name).toBeFalsy();
        }
        return;
      }
      let known = 0;
      let total = 0;
      for (const out of model.graph.outputs) {
        const real = results[out.name]!.dims;
        const dims = out.type?.kind === "tensor" ? out.type.shape?.dims : undefined;
        expect(dims, `${out.name} has a rank`).toBeDefined();
        expect(dims!.length, out.name).toBe(real.length);
        dims!.forEach((d, i) => {
          total++;
          const value =
            typeof d === "number" ? d : d === null ? undefined : evaluateDim(d, bindings);
          if (value === undefined) return;
          known++;
          expect(value, `${out.name} dim ${i} (${d})`).toBe(real[i]);
        });
      }
      // every output dim follows from the inputs' dims
      expect(known).toBe(total);
    },
    60_000,
  );
});
