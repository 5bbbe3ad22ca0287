import { decodeMessage, encodeMessage, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface SparseTensorPb {
  name: string
  shape: number[]
  chunkGrid: number[]
  k: number
  indices: Uint8Array<ArrayBuffer>
  codes: Uint8Array<ArrayBuffer>
  table: number[]
}

export namespace SparseTensorPb {
  let _codec: Codec<SparseTensorPb>

  export const codec = (): Codec<SparseTensorPb> => {
    if (_codec == null) {
      _codec = message<SparseTensorPb>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.name != null && obj.name !== '')) {
          w.uint32(10)
          w.string(obj.name)
        }

        if (obj.shape != null && obj.shape.length > 0) {
          for (const value of obj.shape) {
            w.uint32(16)
            w.uint32(value)
          }
        }

        if (obj.chunkGrid != null && obj.chunkGrid.length > 0) {
          for (const value of obj.chunkGrid) {
            w.uint32(24)
            w.uint32(value)
          }
        }

        if ((obj.k != null && obj.k !== 0)) {
          w.uint32(32)
          w.uint32(obj.k)
        }

        if ((obj.indices != null && obj.indices.byteLength > 0)) {
          w.uint32(42)
          w.bytes(obj.indices)
        }

        if ((obj.codes != null && obj.codes.byteLength > 0)) {
          w.uint32(50)
          w.bytes(obj.codes)
        }

        if (obj.table != null && obj.table.length > 0) {
          for (const value of obj.table) {
            w.uint32(61)
            w.float(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          name: '',
          shape: [],
          chunkGrid: [],
          k: 0,
          indices: uint8ArrayAlloc(0),
          codes: uint8ArrayAlloc(0),
          table: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.name = reader.string()
              break
            }
            case 2: {
              if (opts.limits?.shape != null && obj.shape.length === opts.limits.shape) {
                throw new MaxLengthError('Decode error - repeated field "shape" had too many elements')
              }

              obj.shape.push(reader.uint32())
              break
            }
            case 3: {
              if (opts.limits?.chunkGrid != null && obj.chunkGrid.length === opts.limits.chunkGrid) {
                throw new MaxLengthError('Decode error - repeated field "chunkGrid" had too many elements')
              }

              obj.chunkGrid.push(reader.uint32())
              break
            }
            case 4: {
              obj.k = reader.uint32()
              break
            }
            case 5: {
              obj.indices = reader.bytes()
              break
            }
            case 6: {
              obj.codes = reader.bytes()
              break
            }
            case 7: {
              if (opts.limits?.table != null && obj.table.length === opts.limits.table) {
                throw new MaxLengthError('Decode error - repeated field "table" had too many elements')
              }

              obj.table.push(reader.float())
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          shape: 0,
          chunkGrid: 0,
          table: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.name`,
                value: reader.string()
              }
              break
            }
            case 2: {
              if (opts.limits?.shape != null && obj.shape === opts.limits.shape) {
                throw new MaxLengthError('Streaming decode error - repeated field "shape" had too many elements')
              }

              yield {
                field: `${prefix}.shape[]`,
                index: obj.shape,
                value: reader.uint32()
              }

              obj.shape++

              break
            }
            case 3: {
              if (opts.limits?.chunkGrid != null && obj.chunkGrid === opts.limits.chunkGrid) {
                throw new MaxLengthError('Streaming decode error - repeated field "chunkGrid" had too many elements')
              }

              yield {
                field: `${prefix}.chunkGrid[]`,
                index: obj.chunkGrid,
                value: reader.uint32()
              }

              obj.chunkGrid++

              break
            }
            case 4: {
              yield {
                field: `${prefix}.k`,
                value: reader.uint32()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.indices`,
                value: reader.bytes()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.codes`,
                value: reader.bytes()
              }
              break
            }
            case 7: {
              if (opts.limits?.table != null && obj.table === opts.limits.table) {
                throw new MaxLengthError('Streaming decode error - repeated field "table" had too many elements')
              }

              yield {
                field: `${prefix}.table[]`,
                index: obj.table,
                value: reader.float()
              }

              obj.table++

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface SparseTensorPbNameFieldEvent {
    field: '$.name'
    value: string
  }

  export interface SparseTensorPbShapeFieldEvent {
    field: '$.shape[]'
    index: number
    value: number
  }

  export interface SparseTensorPbChunkGridFieldEvent {
    field: '$.chunkGrid[]'
    index: number
    value: number
  }

  export interface SparseTensorPbKFieldEvent {
    field: '$.k'
    value: number
  }

  export interface SparseTensorPbIndicesFieldEvent {
    field: '$.indices'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SparseTensorPbCodesFieldEvent {
    field: '$.codes'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SparseTensorPbTableFieldEvent {
    field: '$.table[]'
    index: number
    value: number
  }

  export function encode (obj: Partial<SparseTensorPb>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, SparseTensorPb.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SparseTensorPb>): SparseTensorPb {
    return decodeMessage(buf, SparseTensorPb.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SparseTensorPb>): Generator<SparseTensorPbNameFieldEvent | SparseTensorPbShapeFieldEvent | SparseTensorPbChunkGridFieldEvent | SparseTensorPbKFieldEvent | SparseTensorPbIndicesFieldEvent | SparseTensorPbCodesFieldEvent | SparseTensorPbTableFieldEvent> {
    return streamMessage(buf, SparseTensorPb.codec(), opts)
  }
}

export interface SparseUpdatePb {
  version: number
  tensors: SparseTensorPb[]
}

export namespace SparseUpdatePb {
  let _codec: Codec<SparseUpdatePb>

  export const codec = (): Codec<SparseUpdatePb> => {
    if (_codec == null) {
      _codec = message<SparseUpdatePb>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.version != null && obj.version !== 0)) {
          w.uint32(8)
          w.uint32(obj.version)
        }

        if (obj.tensors != null && obj.tensors.length > 0) {
          for (const value of obj.tensors) {
            w.uint32(18)
            SparseTensorPb.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          version: 0,
          tensors: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.version = reader.uint32()
              break
            }
            case 2: {
              if (opts.limits?.tensors != null && obj.tensors.length === opts.limits.tensors) {
                throw new MaxLengthError('Decode error - repeated field "tensors" had too many elements')
              }

              obj.tensors.push(SparseTensorPb.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.tensors$
              }))
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          tensors: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.version`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              if (opts.limits?.tensors != null && obj.tensors === opts.limits.tensors) {
                throw new MaxLengthError('Streaming decode error - repeated field "tensors" had too many elements')
              }

              for (const evt of SparseTensorPb.codec().stream(reader, reader.uint32(), `${prefix}.tensors[]`, {
                limits: opts.limits?.tensors$
              })) {
                yield {
                  ...evt,
                  index: obj.tensors
                }
              }

              obj.tensors++

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface SparseUpdatePbVersionFieldEvent {
    field: '$.version'
    value: number
  }

  export interface SparseUpdatePbTensorsNameFieldEvent {
    field: '$.tensors[].name'
    value: string
    index: number
  }

  export interface SparseUpdatePbTensorsShapeFieldEvent {
    field: '$.tensors[].shape[]'
    index: number
    value: number
  }

  export interface SparseUpdatePbTensorsChunkGridFieldEvent {
    field: '$.tensors[].chunkGrid[]'
    index: number
    value: number
  }

  export interface SparseUpdatePbTensorsKFieldEvent {
    field: '$.tensors[].k'
    value: number
    index: number
  }

  export interface SparseUpdatePbTensorsIndicesFieldEvent {
    field: '$.tensors[].indices'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface SparseUpdatePbTensorsCodesFieldEvent {
    field: '$.tensors[].codes'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface SparseUpdatePbTensorsTableFieldEvent {
    field: '$.tensors[].table[]'
    index: number
    value: number
  }

  export function encode (obj: Partial<SparseUpdatePb>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, SparseUpdatePb.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SparseUpdatePb>): SparseUpdatePb {
    return decodeMessage(buf, SparseUpdatePb.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SparseUpdatePb>): Generator<SparseUpdatePbVersionFieldEvent | SparseUpdatePbTensorsNameFieldEvent | SparseUpdatePbTensorsShapeFieldEvent | SparseUpdatePbTensorsChunkGridFieldEvent | SparseUpdatePbTensorsKFieldEvent | SparseUpdatePbTensorsIndicesFieldEvent | SparseUpdatePbTensorsCodesFieldEvent | SparseUpdatePbTensorsTableFieldEvent> {
    return streamMessage(buf, SparseUpdatePb.codec(), opts)
  }
}

export interface DenseTensorPb {
  name: string
  values: Uint8Array<ArrayBuffer>
}

export namespace DenseTensorPb {
  let _codec: Codec<DenseTensorPb>

  export const codec = (): Codec<DenseTensorPb> => {
    if (_codec == null) {
      _codec = message<DenseTensorPb>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.name != null && obj.name !== '')) {
          w.uint32(10)
          w.string(obj.name)
        }

        if ((obj.values != null && obj.values.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.values)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          name: '',
          values: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.name = reader.string()
              break
            }
            case 2: {
              obj.values = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.name`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.values`,
                value: reader.bytes()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface DenseTensorPbNameFieldEvent {
    field: '$.name'
    value: string
  }

  export interface DenseTensorPbValuesFieldEvent {
    field: '$.values'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<DenseTensorPb>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, DenseTensorPb.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<DenseTensorPb>): DenseTensorPb {
    return decodeMessage(buf, DenseTensorPb.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<DenseTensorPb>): Generator<DenseTensorPbNameFieldEvent | DenseTensorPbValuesFieldEvent> {
    return streamMessage(buf, DenseTensorPb.codec(), opts)
  }
}

export interface DenseUpdatePb {
  version: number
  tensors: DenseTensorPb[]
}

export namespace DenseUpdatePb {
  let _codec: Codec<DenseUpdatePb>

  export const codec = (): Codec<DenseUpdatePb> => {
    if (_codec == null) {
      _codec = message<DenseUpdatePb>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.version != null && obj.version !== 0)) {
          w.uint32(8)
          w.uint32(obj.version)
        }

        if (obj.tensors != null && obj.tensors.length > 0) {
          for (const value of obj.tensors) {
            w.uint32(18)
            DenseTensorPb.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          version: 0,
          tensors: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.version = reader.uint32()
              break
            }
            case 2: {
              if (opts.limits?.tensors != null && obj.tensors.length === opts.limits.tensors) {
                throw new MaxLengthError('Decode error - repeated field "tensors" had too many elements')
              }

              obj.tensors.push(DenseTensorPb.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.tensors$
              }))
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          tensors: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.version`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              if (opts.limits?.tensors != null && obj.tensors === opts.limits.tensors) {
                throw new MaxLengthError('Streaming decode error - repeated field "tensors" had too many elements')
              }

              for (const evt of DenseTensorPb.codec().stream(reader, reader.uint32(), `${prefix}.tensors[]`, {
                limits: opts.limits?.tensors$
              })) {
                yield {
                  ...evt,
                  index: obj.tensors
                }
              }

              obj.tensors++

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface DenseUpdatePbVersionFieldEvent {
    field: '$.version'
    value: number
  }

  export interface DenseUpdatePbTensorsNameFieldEvent {
    field: '$.tensors[].name'
    value: string
    index: number
  }

  export interface DenseUpdatePbTensorsValuesFieldEvent {
    field: '$.tensors[].values'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export function encode (obj: Partial<DenseUpdatePb>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, DenseUpdatePb.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<DenseUpdatePb>): DenseUpdatePb {
    return decodeMessage(buf, DenseUpdatePb.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<DenseUpdatePb>): Generator<DenseUpdatePbVersionFieldEvent | DenseUpdatePbTensorsNameFieldEvent | DenseUpdatePbTensorsValuesFieldEvent> {
    return streamMessage(buf, DenseUpdatePb.codec(), opts)
  }
}
