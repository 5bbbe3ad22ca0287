import { type LrSchedule, warmupCosine } from "./schedules.ts";

/** Inner-loop optimizer settings; defaults are Covenant-72B's (covenant-facts.md section 1) except the lr. */
export interface EngineOptions {
  /** lr as a function of the global inner step (stepOffset + i). */
  readonly lr: LrSchedule;
  /** Decoupled weight decay (AdamW), applied to 2-D parameters only: not to biases or LayerNorm gains. */
  readonly weightDecay: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  /** Global gradient-norm clip (torch clip_grad_norm_ semantics); 0 disables. */
  readonly gradClip: number;
}

export const defaultEngineOptions: EngineOptions = {
  // Small models tolerate far larger rates than the 72B's 1.17e-4.
  lr: warmupCosine({ peakLr: 3e-3, warmupSteps: 20, totalSteps: 10_000, minRatio: 0.1 }),
  weightDecay: 0.1,
  beta1: 0.9,
  beta2: 0.95,
  eps: 1e-8,
  gradClip: 1.0,
};
