// Saves a model as ONNX Runtime's graph optimizer leaves it (level "extended": com.microsoft
// fusions such as FusedMatMul, BiasGelu, FastGelu, QuickGelu), for the corpus's `ort-fused`
// models. Usage: node ort-optimize.mjs IN.onnx OUT.onnx
import * as ort from "onnxruntime-node";

const [input, output] = process.argv.slice(2);
const session = await ort.InferenceSession.create(input, {
  graphOptimizationLevel: "extended",
  optimizedModelFilePath: output,
  logSeverityLevel: 3,
});
await session.release();
