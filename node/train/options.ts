import type { MuonHyper } from "./muon.ts";
import { type LrSchedule, warmupCosine } from "./schedules.ts";

/** The inner optimizer: AdamW everywhere, or Muon for hidden matrices and AdamW for the rest (MuLoCo). */
export const innerOptimizers = ["adamw", "muon"] as const;
export type InnerOptimizer = (typeof innerOptimizers)[number];

export interface MuonOptions extends Omit<MuonHyper, "weightDecay"> {
  /** Muon's lr as a function of the global inner step (Muon's default peak: 0.02). */
  readonly lr: LrSchedule;
}

/** Inner-loop optimizer settings; defaults are Covenant-72B's (covenant-facts.md section 1) except the lr. */
export interface EngineOptions {
  readonly optimizer: InnerOptimizer;
  /** AdamW lr as a function of the global inner step (stepOffset + i). */
  readonly lr: LrSchedule;
  /** Decoupled weight decay, applied to 2-D parameters only: not to biases or LayerNorm gains. */
  readonly weightDecay: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  /** Global gradient-norm clip (torch clip_grad_norm_ semantics); 0 disables. */
  readonly gradClip: number;
  /** Used when optimizer is "muon", for the matrices `usesMuon` selects. */
  readonly muon: MuonOptions;
}

export const defaultEngineOptions: EngineOptions = {
  optimizer: "adamw",
  // Small models tolerate far larger rates than the 72B's 1.17e-4.
  lr: warmupCosine({ peakLr: 3e-3, warmupSteps: 20, totalSteps: 10_000, minRatio: 0.1 }),
  weightDecay: 0.1,
  beta1: 0.9,
  beta2: 0.95,
  eps: 1e-8,
  gradClip: 1.0,
  // Muon's defaults (github.com/KellerJordan/Muon): lr 0.02, momentum 0.95, Nesterov, 5 NS steps.
  muon: {
    lr: warmupCosine({ peakLr: 0.02, warmupSteps: 20, totalSteps: 10_000, minRatio: 0.1 }),
    momentum: 0.95,
    nesterov: true,
    nsSteps: 5,
  },
};
