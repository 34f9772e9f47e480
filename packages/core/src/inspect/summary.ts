/**
 * The JSON shape of `lathe inspect --json` and `inspectModel`. It is a public, versioned
 * format (documented in docs/inspect.md): fields are only added within a schema version;
 * renaming or removing one bumps `schemaVersion`.
 */

/** Version of the ModelSummary format. */
export const SUMMARY_SCHEMA_VERSION = 1;

/** Domain name used in summaries for the default ONNX domain (stored as "" in the IR). */
export const DEFAULT_DOMAIN_NAME = "ai.onnx";

export interface ModelSummary {
  schemaVersion: typeof SUMMARY_SCHEMA_VERSION;
  /** Where the model lives on disk; null when the summary was made from a model in memory. */
  file: FileSummary | null;
  irVersion: number;
  producer: { name: string; version: string };
  domain: string;
  modelVersion: number;
  /** First line of the model's doc string ("" when it has none). */
  docString: string;
  graphName: string;
  /** Imported opsets: domain → version; the default domain is "ai.onnx". */
  opsetImports: Record<string, number>;
  /** The model's metadata_props, in file order. */
  metadata: Record<string, string>;
  /** Graph inputs the caller feeds (initializers listed as inputs, an IR < 4 habit, are left out). */
  inputs: ValueSummary[];
  outputs: ValueSummary[];
  nodes: NodeCounts;
  /**
   * Operator histogram of the main graph and its subgraphs: domain → op type → count. Domains
   * are ordered by their node count, op types by count (ties by name), largest first.
   */
  ops: Record<string, Record<string, number>>;
  /** Number of model-local functions. */
  functions: number;
  parameters: ParameterSummary;
  /** External-data files, in order of first use. */
  externalData: ExternalDataFileSummary[];
  /** The largest initializers by bytes (ties by name), at most `top` of them. */
  largestInitializers: InitializerSummary[];
}

export interface FileSummary {
  /** Absolute path of the .onnx file. */
  path: string;
  /** Size of the .onnx file. */
  modelBytes: number;
  /** Summed on-disk sizes of the external-data files the model uses. */
  externalBytes: number;
  /** modelBytes + externalBytes. */
  totalBytes: number;
}

/** One graph input or output. */
export interface ValueSummary {
  name: string;
  /** The kind of type; null when the model does not say. */
  kind: "tensor" | "sparse_tensor" | "sequence" | "map" | "optional" | null;
  /** Element type name (`float32`, …) for tensors and sparse tensors; null for other kinds or an UNDEFINED element type. */
  dtype: string | null;
  /** Dims: a number, a symbolic name (`"batch"`), or null when unknown. Null when the rank is unknown. */
  shape: (number | string | null)[] | null;
}

export interface NodeCounts {
  /** Nodes of the main graph plus every subgraph (If/Loop/Scan bodies), at any depth. */
  total: number;
  /** Nodes of the main graph alone. */
  mainGraph: number;
  /** Nodes inside subgraphs (total − mainGraph). */
  subgraphs: number;
  /** Nodes in model-local function bodies (not part of `total` or `ops`). */
  functionBodies: number;
}

/**
 * Stored weights. Initializers (of every graph and subgraph) and the tensors of Constant nodes
 * (anywhere, function bodies included) are counted separately; `total` is their sum. A tensor is
 * counted once however many graphs share it.
 */
export interface ParameterSummary {
  total: ParameterTotals;
  initializers: ParameterTotals;
  constants: ParameterTotals;
}

export interface ParameterTotals {
  /** Number of tensors. */
  tensors: number;
  /** Number of elements (a sparse tensor counts its stored values). */
  count: number;
  /** Bytes of the data (a sparse tensor: values plus indices; strings: their UTF-8 bytes). */
  bytes: number;
  /** The same, per element type name, largest `bytes` first. */
  byDtype: Record<string, DtypeTotals>;
}

export interface DtypeTotals {
  tensors: number;
  count: number;
  bytes: number;
}

export interface ExternalDataFileSummary {
  /** The location as the model writes it (relative to the model's folder). */
  location: string;
  /** Tensors read from this file. */
  tensors: number;
  /** Bytes those tensors take. */
  bytes: number;
  /** Size of the file on disk (alignment padding makes it larger than `bytes`); null without a file. */
  fileBytes: number | null;
}

export interface InitializerSummary {
  name: string;
  dtype: string;
  dims: number[];
  bytes: number;
  storage: "inline" | "external";
  /** The external-data file, for external storage; otherwise null. */
  location: string | null;
}
