import type { Recorder } from "./recorder.ts";
import { grid, type Runtime, u32 } from "./runtime.ts";

/**
 * The int32 batch buffer: [ids (B*T) | targets (B*T) | CSR offsets (V+1) | CSR rows (B*T)]. The CSR
 * lists, for each token id v, the rows that hold v (a counting sort, built on the host when the batch
 * is uploaded): the embedding backward then sums each table row without atomics.
 */
export interface BatchLayout {
  readonly ids: number;
  readonly targets: number;
  readonly csr: number;
  readonly csrRows: number;
  readonly length: number;
}

export function batchLayout(rows: number, V: number): BatchLayout {
  return { ids: 0, targets: rows, csr: 2 * rows, csrRows: 2 * rows + V + 1, length: 3 * rows + V + 1 };
}

/** Packs ids and targets with the CSR index of the ids (ids must already be in [0, V)). */
export function packBatch(
  inputs: Int32Array,
  targets: Int32Array,
  V: number,
  out?: Int32Array<ArrayBuffer>,
): Int32Array<ArrayBuffer> {
  const rows = inputs.length;
  const L = batchLayout(rows, V);
  const buf = out ?? new Int32Array(L.length);
  buf.set(inputs, L.ids);
  buf.set(targets, L.targets);
  const off = buf.subarray(L.csr, L.csr + V + 1);
  off.fill(0);
  for (let r = 0; r < rows; r++) off[inputs[r] + 1]++;
  for (let v = 0; v < V; v++) off[v + 1] += off[v];
  const cursor = off.slice(0, V);
  const list = buf.subarray(L.csrRows, L.csrRows + rows);
  for (let r = 0; r < rows; r++) list[cursor[inputs[r]]++] = r;
  return buf;
}

export interface EmbeddingOp {
  readonly B: number;
  readonly T: number;
  readonly batch: GPUBuffer;
  readonly layout: BatchLayout;
  readonly wteOff: number;
  readonly wpeOff: number;
  readonly label: string;
}

/** Embedding gather and its deterministic scatter-add (embedding.wgsl). */
export class EmbeddingKernels {
  private readonly wg: number;

  constructor(
    private readonly rt: Runtime,
    private readonly dims: { C: number; V: number; seqLen: number },
  ) {
    this.wg = Math.min(256, Math.max(32, 2 ** Math.ceil(Math.log2(Math.ceil(dims.C / 4)))));
  }

  private kernel(entry: string) {
    const { C, V, seqLen } = this.dims;
    return this.rt.kernel({
      key: `embedding/${entry}/C${C}/V${V}/T${seqLen}`,
      files: ["embedding.wgsl"],
      entry,
      consts: { C: u32(C), V: u32(V), SEQ: u32(seqLen), WG: u32(this.wg), CPT: u32(Math.ceil(C / this.wg)) },
      bindings: ["uniform", "read", entry === "forward" ? "read" : "rw", entry === "forward" ? "rw" : "read"],
    });
  }

  private uniform(rec: Recorder, op: EmbeddingOp) {
    const L = op.layout;
    return rec.uniform([op.B * op.T, op.T, op.B, L.ids, L.csr, L.csrRows, op.wteOff, op.wpeOff]);
  }

  async forward(rec: Recorder, op: EmbeddingOp & { params: GPUBuffer; x: GPUBuffer }): Promise<void> {
    const k = await this.kernel("forward");
    rec.add(k, [this.uniform(rec, op), op.batch, op.params, op.x], grid(op.B * op.T), op.label);
  }

  async backward(rec: Recorder, op: EmbeddingOp & { grads: GPUBuffer; dx: GPUBuffer }): Promise<void> {
    const k = await this.kernel("backward");
    rec.add(k, [this.uniform(rec, op), op.batch, op.grads, op.dx], grid(this.dims.V + this.dims.seqLen), op.label);
  }
}
