import { errors } from "../diagnostics.js";
import type { Provider } from "../recipe/types.js";

/** ONNX Runtime's names: the option `executionProviders` takes, and the one a profile trace reports. */
export const PROVIDERS: Readonly<
  Record<Provider, { readonly ort: string; readonly trace: string }>
> = {
  cpu: { ort: "cpu", trace: "CPUExecutionProvider" },
  webgpu: { ort: "webgpu", trace: "WebGpuExecutionProvider" },
  cuda: { ort: "cuda", trace: "CUDAExecutionProvider" },
  tensorrt: { ort: "tensorrt", trace: "TensorrtExecutionProvider" },
};

/** What to do so that a provider loads, for the error and the fallback note. */
export function providerFix(provider: Provider): string {
  switch (provider) {
    case "cuda":
    case "tensorrt":
      return (
        "onnxruntime-node ships its CPU build only; reinstall it with the CUDA 12 build: " +
        "set ONNXRUNTIME_NODE_INSTALL=cuda12, allow the onnxruntime-node build script in " +
        "pnpm-workspace.yaml (onlyBuiltDependencies), and run `pnpm install --force`" +
        (provider === "tensorrt" ? "; TensorRT also needs its libraries on LD_LIBRARY_PATH" : "")
      );
    case "webgpu":
      return "WebGPU needs a GPU with Vulkan drivers (libvulkan.so.1) on Linux";
    case "cpu":
      return "the CPU provider is always built in; the model may use an op it does not implement";
  }
}

/**
 * Whether ORT's message says the provider itself could not start (missing shared library, no
 * adapter), as opposed to a model the provider rejects: only the former falls back.
 */
export function isProviderUnavailable(provider: Provider, message: string): boolean {
  if (provider === "cpu") return false;
  return /Failed to load shared library|cannot open shared object|backend not found|no available backend|adapter|libvulkan|not (?:enabled|available|supported)/i.test(
    message,
  );
}

export function providerUnavailable(provider: Provider, where: string, cause: unknown) {
  const detail = cause instanceof Error ? cause.message.split("\n")[0] : String(cause);
  return errors.providerUnavailable(where, provider, detail ?? "", providerFix(provider));
}
