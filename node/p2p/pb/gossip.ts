import { decodeMessage, encodeMessage, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface UpdateAnnouncement {
  runId: string
  round: number
  baseModelHash: Uint8Array<ArrayBuffer>
  payloadHash: Uint8Array<ArrayBuffer>
  payloadBytes: number
  dataDigest: Uint8Array<ArrayBuffer>
  inlinePayload?: Uint8Array<ArrayBuffer>
  multiaddrs: Uint8Array<ArrayBuffer>[]
  samples?: number
}

export namespace UpdateAnnouncement {
  let _codec: Codec<UpdateAnnouncement>

  export const codec = (): Codec<UpdateAnnouncement> => {
    if (_codec == null) {
      _codec = message<UpdateAnnouncement>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.runId != null && obj.runId !== '')) {
          w.uint32(10)
          w.string(obj.runId)
        }

        if ((obj.round != null && obj.round !== 0)) {
          w.uint32(16)
          w.uint32(obj.round)
        }

        if ((obj.baseModelHash != null && obj.baseModelHash.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.baseModelHash)
        }

        if ((obj.payloadHash != null && obj.payloadHash.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.payloadHash)
        }

        if ((obj.payloadBytes != null && obj.payloadBytes !== 0)) {
          w.uint32(40)
          w.uint64Number(obj.payloadBytes)
        }

        if ((obj.dataDigest != null && obj.dataDigest.byteLength > 0)) {
          w.uint32(50)
          w.bytes(obj.dataDigest)
        }

        if (obj.inlinePayload != null) {
          w.uint32(58)
          w.bytes(obj.inlinePayload)
        }

        if (obj.multiaddrs != null && obj.multiaddrs.length > 0) {
          for (const value of obj.multiaddrs) {
            w.uint32(66)
            w.bytes(value)
          }
        }

        if (obj.samples != null) {
          w.uint32(72)
          w.uint32(obj.samples)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          runId: '',
          round: 0,
          baseModelHash: uint8ArrayAlloc(0),
          payloadHash: uint8ArrayAlloc(0),
          payloadBytes: 0,
          dataDigest: uint8ArrayAlloc(0),
          multiaddrs: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.runId = reader.string()
              break
            }
            case 2: {
              obj.round = reader.uint32()
              break
            }
            case 3: {
              obj.baseModelHash = reader.bytes()
              break
            }
            case 4: {
              obj.payloadHash = reader.bytes()
              break
            }
            case 5: {
              obj.payloadBytes = reader.uint64Number()
              break
            }
            case 6: {
              obj.dataDigest = reader.bytes()
              break
            }
            case 7: {
              obj.inlinePayload = reader.bytes()
              break
            }
            case 8: {
              if (opts.limits?.multiaddrs != null && obj.multiaddrs.length === opts.limits.multiaddrs) {
                throw new MaxLengthError('Decode error - repeated field "multiaddrs" had too many elements')
              }

              obj.multiaddrs.push(reader.bytes())
              break
            }
            case 9: {
              obj.samples = reader.uint32()
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
          multiaddrs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.runId`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.round`,
                value: reader.uint32()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.baseModelHash`,
                value: reader.bytes()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.payloadHash`,
                value: reader.bytes()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.payloadBytes`,
                value: reader.uint64Number()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.dataDigest`,
                value: reader.bytes()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.inlinePayload`,
                value: reader.bytes()
              }
              break
            }
            case 8: {
              if (opts.limits?.multiaddrs != null && obj.multiaddrs === opts.limits.multiaddrs) {
                throw new MaxLengthError('Streaming decode error - repeated field "multiaddrs" had too many elements')
              }

              yield {
                field: `${prefix}.multiaddrs[]`,
                index: obj.multiaddrs,
                value: reader.bytes()
              }

              obj.multiaddrs++

              break
            }
            case 9: {
              yield {
                field: `${prefix}.samples`,
                value: reader.uint32()
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

  export interface UpdateAnnouncementRunIdFieldEvent {
    field: '$.runId'
    value: string
  }

  export interface UpdateAnnouncementRoundFieldEvent {
    field: '$.round'
    value: number
  }

  export interface UpdateAnnouncementBaseModelHashFieldEvent {
    field: '$.baseModelHash'
    value: Uint8Array<ArrayBuffer>
  }

  export interface UpdateAnnouncementPayloadHashFieldEvent {
    field: '$.payloadHash'
    value: Uint8Array<ArrayBuffer>
  }

  export interface UpdateAnnouncementPayloadBytesFieldEvent {
    field: '$.payloadBytes'
    value: number
  }

  export interface UpdateAnnouncementDataDigestFieldEvent {
    field: '$.dataDigest'
    value: Uint8Array<ArrayBuffer>
  }

  export interface UpdateAnnouncementInlinePayloadFieldEvent {
    field: '$.inlinePayload'
    value: Uint8Array<ArrayBuffer>
  }

  export interface UpdateAnnouncementMultiaddrsFieldEvent {
    field: '$.multiaddrs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface UpdateAnnouncementSamplesFieldEvent {
    field: '$.samples'
    value: number
  }

  export function encode (obj: Partial<UpdateAnnouncement>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, UpdateAnnouncement.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<UpdateAnnouncement>): UpdateAnnouncement {
    return decodeMessage(buf, UpdateAnnouncement.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<UpdateAnnouncement>): Generator<UpdateAnnouncementRunIdFieldEvent | UpdateAnnouncementRoundFieldEvent | UpdateAnnouncementBaseModelHashFieldEvent | UpdateAnnouncementPayloadHashFieldEvent | UpdateAnnouncementPayloadBytesFieldEvent | UpdateAnnouncementDataDigestFieldEvent | UpdateAnnouncementInlinePayloadFieldEvent | UpdateAnnouncementMultiaddrsFieldEvent | UpdateAnnouncementSamplesFieldEvent> {
    return streamMessage(buf, UpdateAnnouncement.codec(), opts)
  }
}

export interface CheckpointAnnouncement {
  runId: string
  round: number
  modelHash: Uint8Array<ArrayBuffer>
  payloadHash: Uint8Array<ArrayBuffer>
  payloadBytes: number
  uri?: string
  multiaddrs: Uint8Array<ArrayBuffer>[]
}

export namespace CheckpointAnnouncement {
  let _codec: Codec<CheckpointAnnouncement>

  export const codec = (): Codec<CheckpointAnnouncement> => {
    if (_codec == null) {
      _codec = message<CheckpointAnnouncement>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.runId != null && obj.runId !== '')) {
          w.uint32(10)
          w.string(obj.runId)
        }

        if ((obj.round != null && obj.round !== 0)) {
          w.uint32(16)
          w.uint32(obj.round)
        }

        if ((obj.modelHash != null && obj.modelHash.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.modelHash)
        }

        if ((obj.payloadHash != null && obj.payloadHash.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.payloadHash)
        }

        if ((obj.payloadBytes != null && obj.payloadBytes !== 0)) {
          w.uint32(40)
          w.uint64Number(obj.payloadBytes)
        }

        if (obj.uri != null) {
          w.uint32(50)
          w.string(obj.uri)
        }

        if (obj.multiaddrs != null && obj.multiaddrs.length > 0) {
          for (const value of obj.multiaddrs) {
            w.uint32(58)
            w.bytes(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          runId: '',
          round: 0,
          modelHash: uint8ArrayAlloc(0),
          payloadHash: uint8ArrayAlloc(0),
          payloadBytes: 0,
          multiaddrs: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.runId = reader.string()
              break
            }
            case 2: {
              obj.round = reader.uint32()
              break
            }
            case 3: {
              obj.modelHash = reader.bytes()
              break
            }
            case 4: {
              obj.payloadHash = reader.bytes()
              break
            }
            case 5: {
              obj.payloadBytes = reader.uint64Number()
              break
            }
            case 6: {
              obj.uri = reader.string()
              break
            }
            case 7: {
              if (opts.limits?.multiaddrs != null && obj.multiaddrs.length === opts.limits.multiaddrs) {
                throw new MaxLengthError('Decode error - repeated field "multiaddrs" had too many elements')
              }

              obj.multiaddrs.push(reader.bytes())
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
          multiaddrs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.runId`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.round`,
                value: reader.uint32()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.modelHash`,
                value: reader.bytes()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.payloadHash`,
                value: reader.bytes()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.payloadBytes`,
                value: reader.uint64Number()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.uri`,
                value: reader.string()
              }
              break
            }
            case 7: {
              if (opts.limits?.multiaddrs != null && obj.multiaddrs === opts.limits.multiaddrs) {
                throw new MaxLengthError('Streaming decode error - repeated field "multiaddrs" had too many elements')
              }

              yield {
                field: `${prefix}.multiaddrs[]`,
                index: obj.multiaddrs,
                value: reader.bytes()
              }

              obj.multiaddrs++

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

  export interface CheckpointAnnouncementRunIdFieldEvent {
    field: '$.runId'
    value: string
  }

  export interface CheckpointAnnouncementRoundFieldEvent {
    field: '$.round'
    value: number
  }

  export interface CheckpointAnnouncementModelHashFieldEvent {
    field: '$.modelHash'
    value: Uint8Array<ArrayBuffer>
  }

  export interface CheckpointAnnouncementPayloadHashFieldEvent {
    field: '$.payloadHash'
    value: Uint8Array<ArrayBuffer>
  }

  export interface CheckpointAnnouncementPayloadBytesFieldEvent {
    field: '$.payloadBytes'
    value: number
  }

  export interface CheckpointAnnouncementUriFieldEvent {
    field: '$.uri'
    value: string
  }

  export interface CheckpointAnnouncementMultiaddrsFieldEvent {
    field: '$.multiaddrs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<CheckpointAnnouncement>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, CheckpointAnnouncement.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<CheckpointAnnouncement>): CheckpointAnnouncement {
    return decodeMessage(buf, CheckpointAnnouncement.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<CheckpointAnnouncement>): Generator<CheckpointAnnouncementRunIdFieldEvent | CheckpointAnnouncementRoundFieldEvent | CheckpointAnnouncementModelHashFieldEvent | CheckpointAnnouncementPayloadHashFieldEvent | CheckpointAnnouncementPayloadBytesFieldEvent | CheckpointAnnouncementUriFieldEvent | CheckpointAnnouncementMultiaddrsFieldEvent> {
    return streamMessage(buf, CheckpointAnnouncement.codec(), opts)
  }
}

export interface StatusHeartbeat {
  runId: string
  role: string
  round: number
  modelHash: Uint8Array<ArrayBuffer>
  backend: string
  tokensPerS: number
  loss?: number
  timestamp: number
  version: string
}

export namespace StatusHeartbeat {
  let _codec: Codec<StatusHeartbeat>

  export const codec = (): Codec<StatusHeartbeat> => {
    if (_codec == null) {
      _codec = message<StatusHeartbeat>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.runId != null && obj.runId !== '')) {
          w.uint32(10)
          w.string(obj.runId)
        }

        if ((obj.role != null && obj.role !== '')) {
          w.uint32(18)
          w.string(obj.role)
        }

        if ((obj.round != null && obj.round !== 0)) {
          w.uint32(24)
          w.uint32(obj.round)
        }

        if ((obj.modelHash != null && obj.modelHash.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.modelHash)
        }

        if ((obj.backend != null && obj.backend !== '')) {
          w.uint32(42)
          w.string(obj.backend)
        }

        if ((obj.tokensPerS != null && obj.tokensPerS !== 0)) {
          w.uint32(49)
          w.double(obj.tokensPerS)
        }

        if (obj.loss != null) {
          w.uint32(57)
          w.double(obj.loss)
        }

        if ((obj.timestamp != null && obj.timestamp !== 0)) {
          w.uint32(64)
          w.uint64Number(obj.timestamp)
        }

        if ((obj.version != null && obj.version !== '')) {
          w.uint32(74)
          w.string(obj.version)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          runId: '',
          role: '',
          round: 0,
          modelHash: uint8ArrayAlloc(0),
          backend: '',
          tokensPerS: 0,
          timestamp: 0,
          version: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.runId = reader.string()
              break
            }
            case 2: {
              obj.role = reader.string()
              break
            }
            case 3: {
              obj.round = reader.uint32()
              break
            }
            case 4: {
              obj.modelHash = reader.bytes()
              break
            }
            case 5: {
              obj.backend = reader.string()
              break
            }
            case 6: {
              obj.tokensPerS = reader.double()
              break
            }
            case 7: {
              obj.loss = reader.double()
              break
            }
            case 8: {
              obj.timestamp = reader.uint64Number()
              break
            }
            case 9: {
              obj.version = reader.string()
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
                field: `${prefix}.runId`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.role`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.round`,
                value: reader.uint32()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.modelHash`,
                value: reader.bytes()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.backend`,
                value: reader.string()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.tokensPerS`,
                value: reader.double()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.loss`,
                value: reader.double()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.timestamp`,
                value: reader.uint64Number()
              }
              break
            }
            case 9: {
              yield {
                field: `${prefix}.version`,
                value: reader.string()
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

  export interface StatusHeartbeatRunIdFieldEvent {
    field: '$.runId'
    value: string
  }

  export interface StatusHeartbeatRoleFieldEvent {
    field: '$.role'
    value: string
  }

  export interface StatusHeartbeatRoundFieldEvent {
    field: '$.round'
    value: number
  }

  export interface StatusHeartbeatModelHashFieldEvent {
    field: '$.modelHash'
    value: Uint8Array<ArrayBuffer>
  }

  export interface StatusHeartbeatBackendFieldEvent {
    field: '$.backend'
    value: string
  }

  export interface StatusHeartbeatTokensPerSFieldEvent {
    field: '$.tokensPerS'
    value: number
  }

  export interface StatusHeartbeatLossFieldEvent {
    field: '$.loss'
    value: number
  }

  export interface StatusHeartbeatTimestampFieldEvent {
    field: '$.timestamp'
    value: number
  }

  export interface StatusHeartbeatVersionFieldEvent {
    field: '$.version'
    value: string
  }

  export function encode (obj: Partial<StatusHeartbeat>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, StatusHeartbeat.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<StatusHeartbeat>): StatusHeartbeat {
    return decodeMessage(buf, StatusHeartbeat.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<StatusHeartbeat>): Generator<StatusHeartbeatRunIdFieldEvent | StatusHeartbeatRoleFieldEvent | StatusHeartbeatRoundFieldEvent | StatusHeartbeatModelHashFieldEvent | StatusHeartbeatBackendFieldEvent | StatusHeartbeatTokensPerSFieldEvent | StatusHeartbeatLossFieldEvent | StatusHeartbeatTimestampFieldEvent | StatusHeartbeatVersionFieldEvent> {
    return streamMessage(buf, StatusHeartbeat.codec(), opts)
  }
}
