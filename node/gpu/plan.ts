import type { GPTConfig } from "../model/options.ts";
import type { GpuOptimizer } from "./adamw.ts";
import type { AttentionKernels } from "./attention.ts";
import type { ClipKernels } from "./clip.ts";
import type { CrossEntropyKernels } from "./cross-entropy.ts";
import { BufferUsage } from "./device.ts";
import { type BatchLayout, batchLayout, type EmbeddingKernels } from "./embedding.ts";
import type { ParamLayout } from "./layout.ts";
import { type LayerNormKernels, lnChunking } from "./layernorm.ts";
import type { MatmulKernels } from "./matmul.ts";
import { Recorder } from "./recorder.ts";
import type { Dispatch, Runtime } from "./runtime.ts";

/** What a plan is built from: the engine's kernels and its shape-independent buffers. */
export interface PlanContext {
  readonly rt: Runtime;
  readonly config: GPTConfig;
  readonly layout: ParamLayout;
  readonly gradClip: number;
  readonly kernels: {
    readonly matmul: MatmulKernels;
    readonly ln: LayerNormKernels;
    readonly attn: AttentionKernels;
    readonly ce: CrossEntropyKernels;
    readonly emb: EmbeddingKernels;
    readonly clip: ClipKernels;
  };
  readonly optimizer: GpuOptimizer;
  /** Flat parameters and gradients (ParamLayout), [loss, norm, coef, 0], norm partials. */
  readonly params: GPUBuffer;
  readonly grads: GPUBuffer;
  readonly stats: GPUBuffer;
  readonly normPart: GPUBuffer;
}

/**
 * Everything one batch shape (B, T) needs, created once: activation buffers, uniform blocks, bind
 * groups, and three fixed dispatch lists a step replays. `evaluate` = forward + loss; `gradient` =
 * forward + backward + norm; `train` = gradient + optimizer. Nothing is read back inside a list.
 */
export class StepPlan {
  private constructor(
    readonly B: number,
    readonly T: number,
    readonly batch: GPUBuffer,
    readonly batchLayout: BatchLayout,
    readonly evaluate: readonly Dispatch[],
    readonly gradient: readonly Dispatch[],
    readonly train: readonly Dispatch[],
    private readonly owned: GPUBuffer[],
  ) {}

  get hasBackward(): boolean {
    return this.train.length > 0;
  }

  destroy(rt: Runtime): void {
    for (const b of this.owned) rt.destroyBuffer(b);
    this.owned.length = 0;
  }

  static async build(ctx: PlanContext, B: number, T: number, withBackward: boolean): Promise<StepPlan> {
    const { rt, config: c, layout, kernels: k, params, grads } = ctx;
    const C = c.nEmbd;
    const F = c.mlpRatio * C;
    const V = c.vocabSize;
    const L = c.nLayer;
    const M = B * T;
    const statRows = B * c.nHead * T;
    const owned: GPUBuffer[] = [];
    try {
      const buf = (label: string, floats: number) => {
        const b = rt.storage(`${B}x${T}/${label}`, floats);
        owned.push(b);
        return b;
      };
      const o = (name: string) => layout.offset(name);
      const bl = batchLayout(M, V);
      const batch = rt.buffer(`${B}x${T}/batch`, bl.length * 4, BufferUsage.STORAGE | BufferUsage.COPY_DST);
      owned.push(batch);

      // ---- activations kept for the backward ----
      const x = [buf("x0", M * C)];
      const layers = Array.from({ length: L }, (_, l) => ({
        h1: buf(`h${l}/ln1`, M * C),
        st1: buf(`h${l}/ln1-stats`, 2 * M),
        qkv: buf(`h${l}/qkv`, 3 * M * C),
        y: buf(`h${l}/attn`, M * C),
        lse: buf(`h${l}/lse`, statRows),
        xm: buf(`h${l}/xm`, M * C),
        h2: buf(`h${l}/ln2`, M * C),
        st2: buf(`h${l}/ln2-stats`, 2 * M),
        u: buf(`h${l}/fc`, M * F),
      }));
      for (let l = 0; l < L; l++) x.push(buf(`x${l + 1}`, M * C));
      const hf = buf("lnf", M * C);
      const stf = buf("lnf-stats", 2 * M);
      const logits = buf("logits", M * V);
      const lossRows = buf("loss-rows", M);

      const rec = new Recorder(rt, `plan ${B}x${T}`);
      const { matmul: mm, ln, attn } = k;
      await k.emb.forward(rec, {
        B,
        T,
        batch,
        layout: bl,
        wteOff: o("wte.weight"),
        wpeOff: o("wpe.weight"),
        params,
        x: x[0],
        label: "embed",
      });
      for (let l = 0; l < L; l++) {
        const p = `h.${l}.`;
        const a = layers[l];
        await ln.forward(rec, {
          label: `${p}ln_1`,
          rows: M,
          x: x[l],
          params,
          gOff: o(`${p}ln_1.weight`),
          y: a.h1,
          stats: a.st1,
        });
        await mm.record(rec, {
          label: `${p}c_attn`,
          M,
          N: 3 * C,
          K: C,
          a: a.h1,
          b: params,
          bOff: o(`${p}attn.c_attn.weight`),
          out: a.qkv,
          epilogue: "bias",
          bias: params,
          biasOff: o(`${p}attn.c_attn.bias`),
        });
        await attn.forward(rec, { label: `${p}attn`, B, T, qkv: a.qkv, y: a.y, lse: a.lse });
        await mm.record(rec, {
          label: `${p}attn.c_proj`,
          M,
          N: C,
          K: C,
          a: a.y,
          b: params,
          bOff: o(`${p}attn.c_proj.weight`),
          out: a.xm,
          epilogue: "bias_residual",
          bias: params,
          biasOff: o(`${p}attn.c_proj.bias`),
          aux: x[l],
        });
        await ln.forward(rec, {
          label: `${p}ln_2`,
          rows: M,
          x: a.xm,
          params,
          gOff: o(`${p}ln_2.weight`),
          y: a.h2,
          stats: a.st2,
        });
        await mm.record(rec, {
          label: `${p}c_fc`,
          M,
          N: F,
          K: C,
          a: a.h2,
          b: params,
          bOff: o(`${p}mlp.c_fc.weight`),
          out: a.u,
          epilogue: "bias",
          bias: params,
          biasOff: o(`${p}mlp.c_fc.bias`),
        });
        // GELU is applied as c_proj loads u: the activation is never stored.
        await mm.record(rec, {
          label: `${p}mlp.c_proj`,
          M,
          N: C,
          K: F,
          a: a.u,
          aGelu: true,
          b: params,
          bOff: o(`${p}mlp.c_proj.weight`),
          out: x[l + 1],
          epilogue: "bias_residual",
          bias: params,
          biasOff: o(`${p}mlp.c_proj.bias`),
          aux: a.xm,
        });
      }
      await ln.forward(rec, { label: "ln_f", rows: M, x: x[L], params, gOff: o("ln_f.weight"), y: hf, stats: stf });
      await mm.record(rec, {
        label: "lm_head",
        M,
        N: V,
        K: C,
        a: hf,
        b: params,
        bOff: o("lm_head.weight"),
        out: logits,
      });
      const nForward = rec.size;
      const loss = { rows: M, clip: ctx.gradClip, lossRows, part: ctx.normPart, stats: ctx.stats };
      await k.ce.record(rec, {
        label: "loss",
        rows: M,
        batch,
        targetsOff: bl.targets,
        logits,
        lossRows,
        writeGrad: false,
      });
      await k.clip.finalize(rec, { ...loss, n: 0 });
      const nEval = rec.size;
      let nGrad = nEval;

      if (withBackward) {
        const dR = buf("d-resid", M * C);
        const dA = buf("d-scratch", M * C);
        const du = buf("d-fc", M * F);
        const dqkv = buf("d-qkv", 3 * M * C);
        const dsum = buf("d-attn-rowsum", statRows);
        const { chunks } = lnChunking(M);
        const lnPart = buf("ln-partials", (2 * L + 1) * chunks * 2 * C);
        const partOff = (i: number) => i * chunks * 2 * C;
        const lnTable = new Uint32Array(2 * (2 * L + 1));
        const lnIndex = (name: string, i: number) => {
          lnTable.set([partOff(i), o(name)], 2 * i);
          return partOff(i);
        };

        await k.ce.record(rec, {
          label: "loss+grad",
          rows: M,
          batch,
          targetsOff: bl.targets,
          logits,
          lossRows,
          writeGrad: true,
        });
        // logits now hold dLoss/dlogits.
        await mm.record(rec, {
          label: "lm_head/dW",
          M: C,
          N: V,
          K: M,
          a: hf,
          transA: true,
          b: logits,
          out: grads,
          outOff: o("lm_head.weight"),
        });
        await mm.record(rec, {
          label: "lm_head/dx",
          M,
          N: C,
          K: V,
          a: logits,
          b: params,
          bOff: o("lm_head.weight"),
          transB: true,
          out: dA,
        });
        await ln.backward(rec, {
          label: "ln_f/bwd",
          rows: M,
          x: x[L],
          params,
          gOff: o("ln_f.weight"),
          dy: dA,
          stats: stf,
          dres: dR,
          accumulate: false,
          part: lnPart,
          partOff: lnIndex("ln_f.weight", 2 * L),
        });
        for (let l = L - 1; l >= 0; l--) {
          const p = `h.${l}.`;
          const a = layers[l];
          // MLP: dR is dLoss/d(block output).
          await mm.record(rec, {
            label: `${p}mlp.c_proj/dW`,
            M: F + 1,
            N: C,
            K: M,
            a: a.u,
            transA: true,
            aGelu: true,
            biasRow: true,
            b: dR,
            out: grads,
            outOff: o(`${p}mlp.c_proj.weight`),
          });
          await mm.record(rec, {
            label: `${p}mlp.c_proj/dx`,
            M,
            N: F,
            K: C,
            a: dR,
            b: params,
            bOff: o(`${p}mlp.c_proj.weight`),
            transB: true,
            out: du,
            epilogue: "gelu_grad",
            aux: a.u,
          });
          await mm.record(rec, {
            label: `${p}c_fc/dW`,
            M: C + 1,
            N: F,
            K: M,
            a: a.h2,
            transA: true,
            biasRow: true,
            b: du,
            out: grads,
            outOff: o(`${p}mlp.c_fc.weight`),
          });
          await mm.record(rec, {
            label: `${p}c_fc/dx`,
            M,
            N: C,
            K: F,
            a: du,
            b: params,
            bOff: o(`${p}mlp.c_fc.weight`),
            transB: true,
            out: dA,
          });
          await ln.backward(rec, {
            label: `${p}ln_2/bwd`,
            rows: M,
            x: a.xm,
            params,
            gOff: o(`${p}ln_2.weight`),
            dy: dA,
            stats: a.st2,
            dres: dR,
            accumulate: true,
            part: lnPart,
            partOff: lnIndex(`${p}ln_2.weight`, 2 * l + 1),
          });
          // Attention: dR is now dLoss/d(xm).
          await mm.record(rec, {
            label: `${p}attn.c_proj/dW`,
            M: C + 1,
            N: C,
            K: M,
            a: a.y,
            transA: true,
            biasRow: true,
            b: dR,
            out: grads,
            outOff: o(`${p}attn.c_proj.weight`),
          });
          await mm.record(rec, {
            label: `${p}attn.c_proj/dx`,
            M,
            N: C,
            K: C,
            a: dR,
            b: params,
            bOff: o(`${p}attn.c_proj.weight`),
            transB: true,
            out: dA,
          });
          await attn.backward(rec, { label: `${p}attn/bwd`, B, T, qkv: a.qkv, y: a.y, lse: a.lse, dy: dA, dqkv, dsum });
          await mm.record(rec, {
            label: `${p}c_attn/dW`,
            M: C + 1,
            N: 3 * C,
            K: M,
            a: a.h1,
            transA: true,
            biasRow: true,
            b: dqkv,
            out: grads,
            outOff: o(`${p}attn.c_attn.weight`),
          });
          await mm.record(rec, {
            label: `${p}c_attn/dx`,
            M,
            N: C,
            K: 3 * C,
            a: dqkv,
            b: params,
            bOff: o(`${p}attn.c_attn.weight`),
            transB: true,
            out: dA,
          });
          await ln.backward(rec, {
            label: `${p}ln_1/bwd`,
            rows: M,
            x: x[l],
            params,
            gOff: o(`${p}ln_1.weight`),
            dy: dA,
            stats: a.st1,
            dres: dR,
            accumulate: true,
            part: lnPart,
            partOff: lnIndex(`${p}ln_1.weight`, 2 * l),
          });
        }
        await k.emb.backward(rec, {
          B,
          T,
          batch,
          layout: bl,
          wteOff: o("wte.weight"),
          wpeOff: o("wpe.weight"),
          grads,
          dx: dR,
          label: "embed/bwd",
        });
        const table = rt.buffer(`${B}x${T}/ln-table`, lnTable.byteLength, BufferUsage.STORAGE | BufferUsage.COPY_DST);
        owned.push(table);
        rt.device.queue.writeBuffer(table, 0, lnTable);
        await ln.reduce(rec, { rows: M, part: lnPart, table, grads, count: 2 * L + 1 });
        await k.clip.partials(rec, { n: layout.total, grads, part: ctx.normPart });
        await k.clip.finalize(rec, { ...loss, n: layout.total });
        nGrad = rec.size;
        await ctx.optimizer.record(rec, { params, grads, stats: ctx.stats });
      }
      const all = rec.finish((b) => owned.push(b));
      const fwd = all.slice(0, nForward);
      const gradient = withBackward ? [...fwd, ...all.slice(nEval, nGrad)] : [];
      return new StepPlan(
        B,
        T,
        batch,
        bl,
        [...fwd, ...all.slice(nForward, nEval)],
        gradient,
        withBackward ? [...gradient, ...all.slice(nGrad)] : [],
        owned,
      );
    } catch (e) {
      for (const b of owned) rt.destroyBuffer(b);
      throw e;
    }
  }
}
