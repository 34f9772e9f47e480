/**
 * `lathe bench` and `lathe compare` without `--shape`: an input whose only symbolic dims are
 * named like a batch (`batch_size`, `batch`) is measured at batch 1, and the command says so.
 * Inputs with other symbolic dims (a sequence length) still need `--shape`, with its hint.
 */
import { artifactComponents, loadModel } from "@lathe/core";

const BATCH = /batch/i;

export interface BatchDefaults {
  /** `--shape` values plus the defaulted inputs' shapes. */
  readonly shapes: Record<string, readonly number[]>;
  /** One line per defaulted input, for the output: `input_ids: batch_size = 1`. */
  readonly said: readonly string[];
}

export async function withBatchDefaults(
  models: readonly string[],
  given: Readonly<Record<string, readonly number[]>>,
): Promise<BatchDefaults> {
  const shapes: Record<string, readonly number[]> = { ...given };
  const said: string[] = [];
  for (const path of models) {
    for (const file of (await artifactComponents(path)).values()) {
      const model = await loadModel(file);
      for (const input of model.graph.inputs) {
        if (shapes[input.name] || model.graph.initializers.has(input.name)) continue;
        const dims = input.type?.kind === "tensor" ? input.type.shape?.dims : undefined;
        if (!dims) continue;
        const symbolic = dims.filter((d) => typeof d !== "number");
        if (symbolic.length === 0 || !symbolic.every((d) => BATCH.test(String(d)))) continue;
        shapes[input.name] = dims.map((d) => (typeof d === "number" ? d : 1));
        said.push(`${input.name}: ${symbolic.join(", ")} = 1`);
      }
    }
  }
  return { shapes, said };
}
