import type { AttributeType } from "../ir/attribute.js";

/**
 * How a formal input or output may be given: exactly once, possibly omitted (an empty name, or
 * left off the end), or repeated (only the last formal parameter is variadic).
 */
export type ParameterOption = "single" | "optional" | "variadic";

/** One formal input or output of an operator. */
export interface FormalParameter {
  readonly name: string;
  /** A type-constraint name (`T`) or a concrete type (`tensor(int64)`). */
  readonly type: string;
  readonly option: ParameterOption;
  /** Variadic parameters only: false when the values may have different types. */
  readonly homogeneous?: boolean;
}

/** An attribute default as ONNX's operator documentation states it. */
export type AttributeDefault = number | string | readonly number[] | readonly string[];

export interface AttributeSchema {
  readonly name: string;
  readonly type: AttributeType;
  readonly required: boolean;
  readonly default?: AttributeDefault;
}

export interface TypeConstraint {
  readonly name: string;
  /** ONNX type strings: `tensor(float)`, `seq(tensor(int64))`, `map(string, tensor(float))`. */
  readonly types: readonly string[];
}

/** One version of one operator: what a node of that op may look like in a given opset. */
export interface OpSchema {
  /** `""` for the default ONNX domain (`ai.onnx`). */
  readonly domain: string;
  readonly name: string;
  /** The first opset version of `domain` this signature belongs to. */
  readonly sinceVersion: number;
  /** From `sinceVersion` on, the operator no longer exists in the domain. */
  readonly deprecated?: boolean;
  readonly inputs: readonly FormalParameter[];
  readonly outputs: readonly FormalParameter[];
  readonly minInputs: number;
  /** `null`: unbounded (a variadic input). */
  readonly maxInputs: number | null;
  readonly minOutputs: number;
  readonly maxOutputs: number | null;
  readonly attributes: readonly AttributeSchema[];
  readonly typeConstraints: readonly TypeConstraint[];
}
