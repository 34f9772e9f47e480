import { statSync } from "node:fs";
import { resolve } from "node:path";
import { errors } from "../diagnostics.js";
import { DataType, dataTypeInfo } from "../ir/dtype.js";
import type { Model } from "../ir/model.js";
import type { Value } from "../ir/value.js";
import { loadModel } from "../onnx/model-file.js";
import { compareText, countNodes, opHistogram } from "./graph-stats.js";
import {
  type ExternalDataUse,
  externalDataUses,
  largestInitializers,
  parameterSummary,
} from "./parameters.js";
import { storedTensors } from "./stored-tensors.js";
import {
  DEFAULT_DOMAIN_NAME,
  type ExternalDataFileSummary,
  type FileSummary,
  type ModelSummary,
  SUMMARY_SCHEMA_VERSION,
  type ValueSummary,
} from "./summary.js";

/** How many of the largest initializers a summary lists unless told otherwise. */
export const DEFAULT_TOP = 10;

export interface InspectOptions {
  /** The model's .onnx path: adds file sizes (the model and its external data) to the summary. */
  file?: string;
  /** How many of the largest initializers to list (default 10). */
  top?: number;
}

/**
 * Describes a model as plain JSON data (see `ModelSummary` and docs/inspect.md). Sizes come from
 * dims, data types and external-data references: no external tensor is read.
 */
export function inspectModel(model: Model, options: InspectOptions = {}): ModelSummary {
  const top = options.top ?? DEFAULT_TOP;
  if (!Number.isSafeInteger(top) || top < 0) {
    throw errors.irMisuse(`inspectModel: "top" must be a whole number >= 0, got ${top}`);
  }
  const stored = storedTensors(model);
  const uses = externalDataUses(stored);
  const disk = options.file === undefined ? undefined : measureOnDisk(options.file, uses);
  return {
    schemaVersion: SUMMARY_SCHEMA_VERSION,
    file: disk?.file ?? null,
    irVersion: model.irVersion,
    producer: { name: model.producerName, version: model.producerVersion },
    domain: model.domain,
    modelVersion: model.modelVersion,
    docString: firstLine(model.docString),
    graphName: model.graph.name,
    opsetImports: opsetImports(model),
    metadata: Object.fromEntries(model.metadataProps),
    inputs: model.graph.inputs.filter((v) => !v.isConstant).map(valueSummary),
    outputs: model.graph.outputs.map(valueSummary),
    nodes: countNodes(model),
    ops: opHistogram(model),
    functions: model.functions.size,
    parameters: parameterSummary(stored),
    externalData: uses.map(
      ({ location, tensors, bytes }): ExternalDataFileSummary => ({
        location,
        tensors,
        bytes,
        fileBytes: disk?.fileBytes.get(location) ?? null,
      }),
    ),
    largestInitializers: largestInitializers(stored, top),
  };
}

/** Loads a model (external tensors stay unread) and summarizes it with its sizes on disk. */
export async function inspectFile(
  path: string,
  options: Omit<InspectOptions, "file"> = {},
): Promise<ModelSummary> {
  const model = await loadModel(path);
  return inspectModel(model, { ...options, file: path });
}

function measureOnDisk(
  file: string,
  uses: readonly ExternalDataUse[],
): { file: FileSummary; fileBytes: Map<string, number> } {
  const path = resolve(file);
  const modelBytes = sizeOf(path, () => errors.fileNotFound(file));
  const fileBytes = new Map<string, number>();
  for (const use of uses) {
    fileBytes.set(
      use.location,
      sizeOf(use.path, () => errors.externalDataMissing(file, use.firstTensor, use.location)),
    );
  }
  const externalBytes = [...fileBytes.values()].reduce((a, b) => a + b, 0);
  return {
    file: { path, modelBytes, externalBytes, totalBytes: modelBytes + externalBytes },
    fileBytes,
  };
}

function sizeOf(path: string, missing: () => Error): number {
  try {
    return statSync(path).size;
  } catch {
    throw missing();
  }
}

function firstLine(text: string): string {
  return (text.split(/\r?\n/, 1)[0] ?? "").trim();
}

/** Default domain first, then the others by name. */
function opsetImports(model: Model): Record<string, number> {
  const entries = [...model.opsetImports].map(([domain, version]): [string, number] => [
    domain === "" ? DEFAULT_DOMAIN_NAME : domain,
    version,
  ]);
  entries.sort(([a], [b]) =>
    a === DEFAULT_DOMAIN_NAME ? -1 : b === DEFAULT_DOMAIN_NAME ? 1 : compareText(a, b),
  );
  return Object.fromEntries(entries);
}

function valueSummary(value: Value): ValueSummary {
  const type = value.type;
  if (!type) return { name: value.name, kind: null, dtype: null, shape: null };
  if (type.kind !== "tensor" && type.kind !== "sparse_tensor") {
    return { name: value.name, kind: type.kind, dtype: null, shape: null };
  }
  return {
    name: value.name,
    kind: type.kind,
    // Exporters write UNDEFINED (0) for values whose element type they did not know.
    dtype: type.elemType === DataType.UNDEFINED ? null : dataTypeInfo(type.elemType).name,
    shape: type.shape ? [...type.shape.dims] : null,
  };
}
