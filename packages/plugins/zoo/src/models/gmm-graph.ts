import { createBuilder, DataType, type Model, Tensor, type Value } from "@lathe/core";
import { TorchScriptWriter } from "../torchscript.js";
import type { GaussianMixture } from "./gmm-mixture.js";
import type { NoiseSchedule } from "./gmm-schedule.js";

/** The exporter this graph follows, op for op. */
export const GMM_EXPORTER =
  "torch.onnx.export (TorchScript), torch 2.0.1, opset 14, do_constant_folding=True, of a PyTorch module computing the exact Gaussian-mixture ε-prediction (docs/zoo/gmm-diffusion.md); inputs and output named as diffusers' and Optimum's UNet exports name them";

/** Dynamic axes: `timestep` has one entry per row or a single one for the whole batch. */
const BATCH = "batch_size";
const STEPS = "steps";

/**
 * The graph torch.onnx.export writes for this module (buffers keep their names):
 *
 *   def forward(self, sample, timestep):
 *       alpha_prod = self.alphas_cumprod[timestep.long()].unsqueeze(-1)        # [S, 1]
 *       sigma = (1 - alpha_prod).sqrt()
 *       a = alpha_prod.unsqueeze(-1)                                           # [S, 1, 1]
 *       variance = a * self.variances + (1 - a)                                # [S, K, d]
 *       diff = sample.unsqueeze(1) - alpha_prod.sqrt().unsqueeze(-1) * self.means  # [B, K, d]
 *       scaled = diff / variance
 *       logits = self.log_weights - 0.5 * (diff * scaled + variance.log()).sum(-1)  # [B, K]
 *       weights = logits.softmax(-1)
 *       return sigma * (weights.unsqueeze(-1) * scaled).sum(1)                 # [B, d]
 *
 * A mixture with `axes` (data on a subspace, `subspace=r`) adds an input and an output layer,
 * two `torch.nn.Linear(d, d, bias=False)` holding the rotation A (`proj_in.weight` = A,
 * `proj_out.weight` = Aᵀ): the module denoises h = proj_in(sample) with the buffers in A's
 * coordinates and returns proj_out(ε̂_h), so ε̂(x) = Aᵀ·ε̂_h(A·x). The exporter writes each as
 * MatMul by the folded `W.T` (`onnx::MatMul_<id>`). These are the layers a basis folds into
 * (`latent/pca-channels` with `denoiser`), as a UNet's conv_in and conv_out.
 */
export function buildGmmDenoiser(mixture: GaussianMixture, schedule: NoiseSchedule): Model {
  const { dim, weights, means, variances } = mixture;
  const components = weights.length;
  const b = createBuilder({ opset: 14 });
  b.graph.name = "torch_jit"; // torch renamed it main_graph in 2.1
  const input = b.input("sample", DataType.FLOAT, [BATCH, dim]);
  const timestep = b.input("timestep", DataType.FLOAT, [STEPS]);
  const t = new TorchScriptWriter(b, b.graph.inputs.length);
  const axes = mixture.axes;
  const linear = (scope: string, x: Value, transposedWeight: readonly number[]) =>
    t.in(scope, () =>
      t.op("MatMul", [
        x,
        t.folded(Tensor.fromArray(DataType.FLOAT, [dim, dim], transposedWeight), "MatMul"),
      ]),
    );
  // proj_in.weight = A, folded W.T = Aᵀ: row-major [j][i] = A[i][j].
  const sample = axes
    ? linear(
        "/proj_in",
        input,
        Array.from({ length: dim * dim }, (_, n) => axes[n % dim]?.[Math.floor(n / dim)] ?? 0),
      )
    : input;
  const buffer = (name: string, dims: number[], values: readonly number[]) =>
    t.parameter(Tensor.fromArray(DataType.FLOAT, dims, values, { name }));
  const alphasCumprod = buffer(
    "alphas_cumprod",
    [schedule.numTrainTimesteps],
    schedule.alphasCumprod,
  );
  const logWeights = buffer(
    "log_weights",
    [components],
    weights.map((w) => Math.log(w)),
  );
  const meanTable = buffer("means", [components, dim], means.flat());
  const varianceTable = buffer("variances", [components, dim], variances.flat());

  const oneMinus = (x: Value) => t.op("Sub", [t.floatScalar(1), x]);
  const index = t.op("Cast", [timestep], { to: DataType.INT64 });
  const alphaProd = t.unsqueeze(t.op("Gather", [alphasCumprod, index], { axis: 0 }), -1);
  const sigma = t.op("Sqrt", [oneMinus(alphaProd)]);
  const a = t.unsqueeze(alphaProd, -1);
  const variance = t.op("Add", [t.op("Mul", [a, varianceTable]), oneMinus(a)]);
  const rows = t.unsqueeze(sample, 1);
  const shift = t.op("Mul", [t.unsqueeze(t.op("Sqrt", [alphaProd]), -1), meanTable]);
  const diff = t.op("Sub", [rows, shift]);
  const scaled = t.op("Div", [diff, variance]);
  const energy = t.op("Add", [t.op("Mul", [diff, scaled]), t.op("Log", [variance])]);
  const halfEnergy = t.op("Mul", [sum(t, energy, -1), t.floatScalar(0.5)]);
  const logits = t.op("Sub", [logWeights, halfEnergy]);
  const posterior = t.op("Softmax", [logits], { axis: -1 });
  const score = sum(t, t.op("Mul", [t.unsqueeze(posterior, -1), scaled]), 1);
  const noisePred = t.op("Mul", [sigma, score]);
  // proj_out.weight = Aᵀ, folded W.T = A.
  const output = axes ? linear("/proj_out", noisePred, axes.flat()) : noisePred;

  b.output(output, "out_sample", DataType.FLOAT, [BATCH, dim]);
  const model = b.build({ producerName: "pytorch", producerVersion: "2.0.1", irVersion: 8 });
  model.metadataProps.set("alphas_cumprod", JSON.stringify(schedule.alphasCumprod));
  model.metadataProps.set("scheduler_config", JSON.stringify(schedulerConfig(schedule)));
  return model;
}

/** `x.sum(dim)`: the opset-13 symbolic takes the axes as a Constant input. */
function sum(t: TorchScriptWriter, x: Value, axis: number): Value {
  return t.op("ReduceSum", [x, t.ints([axis])], { keepdims: 0 });
}

/** The schedule as diffusers' `scheduler_config.json` spells it. */
export function schedulerConfig(schedule: NoiseSchedule): Record<string, unknown> {
  return {
    _class_name: "DDIMScheduler",
    num_train_timesteps: schedule.numTrainTimesteps,
    beta_schedule: schedule.betaSchedule,
    ...(schedule.betaStart === undefined ? {} : { beta_start: schedule.betaStart }),
    ...(schedule.betaEnd === undefined ? {} : { beta_end: schedule.betaEnd }),
    prediction_type: schedule.predictionType,
    clip_sample: false,
    set_alpha_to_one: true,
    steps_offset: 0,
    timestep_spacing: "trailing",
  };
}
