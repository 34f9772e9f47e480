/**
 * Dense float64 linear algebra for second-order weight updates (GPTQ, SparseGPT, least-squares
 * repair): Cholesky factors, the layer Hessian 2XᵀX/n collected on ONNX Runtime, and the
 * quadratic output error it measures.
 */

export {
  BLOCKED_BASE,
  inverseCholeskyFactor,
  upperCholeskyOfInverseBlocked,
} from "./blocked.js";
export { cholesky, invertLower, solveCholesky, upperCholeskyOfInverse } from "./cholesky.js";
export { type ActivationGram, collectGrams, type GramSetup } from "./grams.js";
export {
  dampedInverseCholesky,
  dampedInverseCholeskyBlocked,
  layerHessian,
  pinDeadInputs,
  quadraticError,
} from "./hessian.js";
export {
  type MatrixProducts,
  type MatrixProductsOptions,
  ortMatrixProducts,
  type ProductSpec,
} from "./products.js";
