import type { GPTConfig } from "../model/options.ts";
import { BufferUsage } from "./device.ts";
import { type BatchLayout, batchLayout } from "./embedding.ts";
import { lnChunking } from "./layernorm.ts";
import type { Epilogue } from "./matmul.ts";
import type { PlanContext } from "./plan.ts";
import type { Recorder } from "./recorder.ts";

/** Buffers of one block's forward that its backward reads again. */
interface BlockActs {
  readonly h1: GPUBuffer;
  readonly st1: GPUBuffer;
  readonly qkv: GPUBuffer;
  readonly y: GPUBuffer;
  readonly lse: GPUBuffer;
  readonly xm: GPUBuffer;
  readonly h2: GPUBuffer;
  readonly st2: GPUBuffer;
  /** Pre-GELU MLP activation; GELU itself is recomputed where it is read. */
  readonly u: GPUBuffer;
}

/** A shape's activations: the residual stream x[0..L], each block's saved tensors, the head's. */
export interface Activations {
  readonly B: number;
  readonly T: number;
  readonly batch: GPUBuffer;
  readonly batchLayout: BatchLayout;
  readonly x: GPUBuffer[];
  readonly blocks: BlockActs[];
  readonly hf: GPUBuffer;
  readonly stf: GPUBuffer;
  readonly logits: GPUBuffer;
  readonly lossRows: GPUBuffer;
}

/** Backward scratch: the residual gradient, reused per-op gradients, LayerNorm partials. */
export interface BackwardScratch {
  readonly dR: GPUBuffer;
  readonly dA: GPUBuffer;
  readonly du: GPUBuffer;
  readonly dqkv: GPUBuffer;
  readonly dsum: GPUBuffer;
  readonly lnPart: GPUBuffer;
  /** (partials offset, gradient offset) per LayerNorm: ln_1 of block l is 2l, ln_2 2l+1, ln_f 2L. */
  readonly lnTable: GPUBuffer;
}

type Alloc = (label: string, floats: number) => GPUBuffer;

export function allocateActivations(
  ctx: PlanContext,
  alloc: Alloc,
  own: (b: GPUBuffer) => void,
  B: number,
  T: number,
): Activations {
  const c = ctx.config;
  const M = B * T;
  const C = c.nEmbd;
  const bl = batchLayout(M, c.vocabSize);
  const batch = ctx.rt.buffer(`${B}x${T}/batch`, bl.length * 4, BufferUsage.STORAGE | BufferUsage.COPY_DST);
  own(batch);
  const x = [alloc("x0", M * C)];
  const blocks = Array.from({ length: c.nLayer }, (_, l) => ({
    h1: alloc(`h${l}/ln1`, M * C),
    st1: alloc(`h${l}/ln1-stats`, 2 * M),
    qkv: alloc(`h${l}/qkv`, 3 * M * C),
    y: alloc(`h${l}/attn`, M * C),
    lse: alloc(`h${l}/lse`, B * c.nHead * T),
    xm: alloc(`h${l}/xm`, M * C),
    h2: alloc(`h${l}/ln2`, M * C),
    st2: alloc(`h${l}/ln2-stats`, 2 * M),
    u: alloc(`h${l}/fc`, M * c.mlpRatio * C),
  }));
  for (let l = 0; l < c.nLayer; l++) x.push(alloc(`x${l + 1}`, M * C));
  return {
    B,
    T,
    batch,
    batchLayout: bl,
    x,
    blocks,
    hf: alloc("lnf", M * C),
    stf: alloc("lnf-stats", 2 * M),
    logits: alloc("logits", M * c.vocabSize),
    lossRows: alloc("loss-rows", M),
  };
}

const lnPartOff = (c: GPTConfig, rows: number, i: number) => i * lnChunking(rows).chunks * 2 * c.nEmbd;

export function allocateBackward(
  ctx: PlanContext,
  alloc: Alloc,
  own: (b: GPUBuffer) => void,
  B: number,
  T: number,
): BackwardScratch {
  const c = ctx.config;
  const M = B * T;
  const C = c.nEmbd;
  const L = c.nLayer;
  const table = new Uint32Array(2 * (2 * L + 1));
  const o = (name: string) => ctx.layout.offset(name);
  for (let l = 0; l < L; l++) {
    table.set([lnPartOff(c, M, 2 * l), o(`h.${l}.ln_1.weight`)], 4 * l);
    table.set([lnPartOff(c, M, 2 * l + 1), o(`h.${l}.ln_2.weight`)], 4 * l + 2);
  }
  table.set([lnPartOff(c, M, 2 * L), o("ln_f.weight")], 4 * L);
  const lnTable = ctx.rt.buffer(`${B}x${T}/ln-table`, table.byteLength, BufferUsage.STORAGE | BufferUsage.COPY_DST);
  own(lnTable);
  ctx.rt.device.queue.writeBuffer(lnTable, 0, table);
  return {
    dR: alloc("d-resid", M * C),
    dA: alloc("d-scratch", M * C),
    du: alloc("d-fc", M * c.mlpRatio * C),
    dqkv: alloc("d-qkv", 3 * M * C),
    dsum: alloc("d-attn-rowsum", B * c.nHead * T),
    lnPart: alloc("ln-partials", lnPartOff(c, M, 2 * L + 1)),
    lnTable,
  };
}

/**
 * The GPT of node/model (gpt.ts) as GPU dispatches: the same pre-LayerNorm blocks, fused QKV, causal
 * attention, tanh-GELU MLP, learned positions and untied head, with each parameter read from the flat
 * buffer by name. Records into `rec`; nothing runs until the plan is replayed.
 */
export class GptGraph {
  private readonly M: number;

  constructor(
    private readonly ctx: PlanContext,
    private readonly a: Activations,
    private readonly rec: Recorder,
  ) {
    this.M = a.B * a.T;
  }

  private o(name: string): number {
    return this.ctx.layout.offset(name);
  }

  /** out = x W + b (+ residual), W and b the model's `${name}.weight` / `.bias`, [K, N]. */
  private linear(
    name: string,
    x: GPUBuffer,
    K: number,
    N: number,
    out: GPUBuffer,
    epi: Epilogue,
    extra: { aux?: GPUBuffer; aGelu?: boolean } = {},
  ) {
    const { params } = this.ctx;
    return this.ctx.kernels.matmul.record(this.rec, {
      label: name,
      M: this.M,
      N,
      K,
      a: x,
      aGelu: extra.aGelu,
      b: params,
      bOff: this.o(`${name}.weight`),
      out,
      epilogue: epi,
      bias: params,
      biasOff: this.o(`${name}.bias`),
      aux: extra.aux,
    });
  }

  /** dW = x^T dy into the gradient buffer; with a bias, db as the row after it (biasRow). */
  private weightGrad(
    name: string,
    x: GPUBuffer,
    K: number,
    N: number,
    dy: GPUBuffer,
    opts: { bias: boolean; aGelu?: boolean },
  ) {
    return this.ctx.kernels.matmul.record(this.rec, {
      label: `${name}/dW`,
      M: K + (opts.bias ? 1 : 0),
      N,
      K: this.M,
      a: x,
      transA: true,
      aGelu: opts.aGelu,
      biasRow: opts.bias,
      b: dy,
      out: this.ctx.grads,
      outOff: this.o(`${name}.weight`),
    });
  }

  /** dx = dy W^T for W [K, N] (times GELU'(u) with the gelu_grad epilogue). */
  private inputGrad(name: string, dy: GPUBuffer, K: number, N: number, out: GPUBuffer, gelu?: GPUBuffer) {
    return this.ctx.kernels.matmul.record(this.rec, {
      label: `${name}/dx`,
      M: this.M,
      N: K,
      K: N,
      a: dy,
      b: this.ctx.params,
      bOff: this.o(`${name}.weight`),
      transB: true,
      out,
      epilogue: gelu ? "gelu_grad" : "none",
      aux: gelu,
    });
  }

  async forward(): Promise<void> {
    const { ctx, a, rec, M } = this;
    const c = ctx.config;
    const C = c.nEmbd;
    const F = c.mlpRatio * C;
    const { ln, attn } = ctx.kernels;
    const { params } = ctx;
    const embed = {
      B: a.B,
      T: a.T,
      batch: a.batch,
      layout: a.batchLayout,
      wteOff: this.o("wte.weight"),
      wpeOff: this.o("wpe.weight"),
    };
    await ctx.kernels.emb.forward(rec, { ...embed, params, x: a.x[0], label: "embed" });
    for (let l = 0; l < c.nLayer; l++) {
      const p = `h.${l}.`;
      const b = a.blocks[l];
      await ln.forward(rec, {
        label: `${p}ln_1`,
        rows: M,
        x: a.x[l],
        params,
        gOff: this.o(`${p}ln_1.weight`),
        y: b.h1,
        stats: b.st1,
      });
      await this.linear(`${p}attn.c_attn`, b.h1, C, 3 * C, b.qkv, "bias");
      await attn.forward(rec, { label: `${p}attn`, B: a.B, T: a.T, qkv: b.qkv, y: b.y, lse: b.lse });
      await this.linear(`${p}attn.c_proj`, b.y, C, C, b.xm, "bias_residual", { aux: a.x[l] });
      await ln.forward(rec, {
        label: `${p}ln_2`,
        rows: M,
        x: b.xm,
        params,
        gOff: this.o(`${p}ln_2.weight`),
        y: b.h2,
        stats: b.st2,
      });
      await this.linear(`${p}mlp.c_fc`, b.h2, C, F, b.u, "bias");
      // GELU is applied as c_proj loads u: the activation is never stored.
      await this.linear(`${p}mlp.c_proj`, b.u, F, C, a.x[l + 1], "bias_residual", { aux: b.xm, aGelu: true });
    }
    await ln.forward(rec, {
      label: "ln_f",
      rows: M,
      x: a.x[c.nLayer],
      params,
      gOff: this.o("ln_f.weight"),
      y: a.hf,
      stats: a.stf,
    });
    await ctx.kernels.matmul.record(rec, {
      label: "lm_head",
      M,
      N: c.vocabSize,
      K: C,
      a: a.hf,
      b: params,
      bOff: this.o("lm_head.weight"),
      out: a.logits,
    });
  }

  /** The mean cross-entropy, into lossRows; with `grad` the logits become dLoss/dlogits. */
  loss(grad: boolean): Promise<void> {
    const { a } = this;
    const rows = this.M;
    return this.ctx.kernels.ce.record(this.rec, {
      label: grad ? "loss+grad" : "loss",
      rows,
      batch: a.batch,
      targetsOff: a.batchLayout.targets,
      logits: a.logits,
      lossRows: a.lossRows,
      writeGrad: grad,
    });
  }

  /** Every parameter's gradient into the flat gradient buffer (after loss(true)). */
  async backward(s: BackwardScratch): Promise<void> {
    const { ctx, a, rec, M } = this;
    const c = ctx.config;
    const C = c.nEmbd;
    const F = c.mlpRatio * C;
    const L = c.nLayer;
    const { ln, attn } = ctx.kernels;
    const { params, grads } = ctx;
    const lnBwd = (label: string, x: GPUBuffer, gName: string, stats: GPUBuffer, accumulate: boolean, i: number) =>
      ln.backward(rec, {
        label,
        rows: M,
        x,
        params,
        gOff: this.o(gName),
        dy: s.dA,
        stats,
        dres: s.dR,
        accumulate,
        part: s.lnPart,
        partOff: lnPartOff(c, M, i),
      });

    await this.weightGrad("lm_head", a.hf, C, c.vocabSize, a.logits, { bias: false });
    await this.inputGrad("lm_head", a.logits, C, c.vocabSize, s.dA);
    await lnBwd("ln_f/bwd", a.x[L], "ln_f.weight", a.stf, false, 2 * L);
    for (let l = L - 1; l >= 0; l--) {
      const p = `h.${l}.`;
      const b = a.blocks[l];
      // MLP; dR holds dLoss/d(block output).
      await this.weightGrad(`${p}mlp.c_proj`, b.u, F, C, s.dR, { bias: true, aGelu: true });
      await this.inputGrad(`${p}mlp.c_proj`, s.dR, F, C, s.du, b.u);
      await this.weightGrad(`${p}mlp.c_fc`, b.h2, C, F, s.du, { bias: true });
      await this.inputGrad(`${p}mlp.c_fc`, s.du, C, F, s.dA);
      await lnBwd(`${p}ln_2/bwd`, b.xm, `${p}ln_2.weight`, b.st2, true, 2 * l + 1);
      // Attention; dR now holds dLoss/d(xm).
      await this.weightGrad(`${p}attn.c_proj`, b.y, C, C, s.dR, { bias: true });
      await this.inputGrad(`${p}attn.c_proj`, s.dR, C, C, s.dA);
      await attn.backward(rec, {
        label: `${p}attn/bwd`,
        B: a.B,
        T: a.T,
        qkv: b.qkv,
        y: b.y,
        lse: b.lse,
        dy: s.dA,
        dqkv: s.dqkv,
        dsum: s.dsum,
      });
      await this.weightGrad(`${p}attn.c_attn`, b.h1, C, 3 * C, s.dqkv, { bias: true });
      await this.inputGrad(`${p}attn.c_attn`, s.dqkv, C, 3 * C, s.dA);
      await lnBwd(`${p}ln_1/bwd`, a.x[l], `${p}ln_1.weight`, b.st1, true, 2 * l);
    }
    const embed = {
      B: a.B,
      T: a.T,
      batch: a.batch,
      layout: a.batchLayout,
      wteOff: this.o("wte.weight"),
      wpeOff: this.o("wpe.weight"),
    };
    await ctx.kernels.emb.backward(rec, { ...embed, grads, dx: s.dR, label: "embed/bwd" });
    await ln.reduce(rec, { rows: M, part: s.lnPart, table: s.lnTable, grads, count: 2 * L + 1 });
  }
}
