import { gmmDiffusion } from "./models/gmm-diffusion.js";
import { gpt2 } from "./models/gpt2.js";
import { llama } from "./models/llama.js";
import { unet } from "./models/unet.js";
import { vae } from "./models/vae.js";
import type { ZooModel } from "./zoo-model.js";

/** Every model of the zoo, in the order `lathe zoo list` shows them. */
export const zooModels: readonly ZooModel[] = [gpt2, llama, unet, vae, gmmDiffusion];
