import { decodeMessage, encodeMessage, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface AnnouncementsRequest {
  runId: string
  fromRound: number
  toRound: number
  maxMessages: number
  maxBytes: number
}

export namespace AnnouncementsRequest {
  let _codec: Codec<AnnouncementsRequest>

  export const codec = (): Codec<AnnouncementsRequest> => {
    if (_codec == null) {
      _codec = message<AnnouncementsRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.runId != null && obj.runId !== '')) {
          w.uint32(10)
          w.string(obj.runId)
        }

        if ((obj.fromRound != null && obj.fromRound !== 0)) {
          w.uint32(16)
          w.uint32(obj.fromRound)
        }

        if ((obj.toRound != null && obj.toRound !== 0)) {
          w.uint32(24)
          w.uint32(obj.toRound)
        }

        if ((obj.maxMessages != null && obj.maxMessages !== 0)) {
          w.uint32(32)
          w.uint32(obj.maxMessages)
        }

        if ((obj.maxBytes != null && obj.maxBytes !== 0)) {
          w.uint32(40)
          w.uint64Number(obj.maxBytes)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          runId: '',
          fromRound: 0,
          toRound: 0,
          maxMessages: 0,
          maxBytes: 0
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
              obj.fromRound = reader.uint32()
              break
            }
            case 3: {
              obj.toRound = reader.uint32()
              break
            }
            case 4: {
              obj.maxMessages = reader.uint32()
              break
            }
            case 5: {
              obj.maxBytes = reader.uint64Number()
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
                field: `${prefix}.fromRound`,
                value: reader.uint32()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.toRound`,
                value: reader.uint32()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.maxMessages`,
                value: reader.uint32()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.maxBytes`,
                value: reader.uint64Number()
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

  export interface AnnouncementsRequestRunIdFieldEvent {
    field: '$.runId'
    value: string
  }

  export interface AnnouncementsRequestFromRoundFieldEvent {
    field: '$.fromRound'
    value: number
  }

  export interface AnnouncementsRequestToRoundFieldEvent {
    field: '$.toRound'
    value: number
  }

  export interface AnnouncementsRequestMaxMessagesFieldEvent {
    field: '$.maxMessages'
    value: number
  }

  export interface AnnouncementsRequestMaxBytesFieldEvent {
    field: '$.maxBytes'
    value: number
  }

  export function encode (obj: Partial<AnnouncementsRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, AnnouncementsRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AnnouncementsRequest>): AnnouncementsRequest {
    return decodeMessage(buf, AnnouncementsRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AnnouncementsRequest>): Generator<AnnouncementsRequestRunIdFieldEvent | AnnouncementsRequestFromRoundFieldEvent | AnnouncementsRequestToRoundFieldEvent | AnnouncementsRequestMaxMessagesFieldEvent | AnnouncementsRequestMaxBytesFieldEvent> {
    return streamMessage(buf, AnnouncementsRequest.codec(), opts)
  }
}

export interface SignedGossip {
  from: string
  data: Uint8Array<ArrayBuffer>
  seqno: Uint8Array<ArrayBuffer>
  topic: string
  signature: Uint8Array<ArrayBuffer>
}

export namespace SignedGossip {
  let _codec: Codec<SignedGossip>

  export const codec = (): Codec<SignedGossip> => {
    if (_codec == null) {
      _codec = message<SignedGossip>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.from != null && obj.from !== '')) {
          w.uint32(10)
          w.string(obj.from)
        }

        if ((obj.data != null && obj.data.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.data)
        }

        if ((obj.seqno != null && obj.seqno.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.seqno)
        }

        if ((obj.topic != null && obj.topic !== '')) {
          w.uint32(34)
          w.string(obj.topic)
        }

        if ((obj.signature != null && obj.signature.byteLength > 0)) {
          w.uint32(42)
          w.bytes(obj.signature)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          from: '',
          data: uint8ArrayAlloc(0),
          seqno: uint8ArrayAlloc(0),
          topic: '',
          signature: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.from = reader.string()
              break
            }
            case 2: {
              obj.data = reader.bytes()
              break
            }
            case 3: {
              obj.seqno = reader.bytes()
              break
            }
            case 4: {
              obj.topic = reader.string()
              break
            }
            case 5: {
              obj.signature = reader.bytes()
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
                field: `${prefix}.from`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.data`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.seqno`,
                value: reader.bytes()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.topic`,
                value: reader.string()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.signature`,
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

  export interface SignedGossipFromFieldEvent {
    field: '$.from'
    value: string
  }

  export interface SignedGossipDataFieldEvent {
    field: '$.data'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SignedGossipSeqnoFieldEvent {
    field: '$.seqno'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SignedGossipTopicFieldEvent {
    field: '$.topic'
    value: string
  }

  export interface SignedGossipSignatureFieldEvent {
    field: '$.signature'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<SignedGossip>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, SignedGossip.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SignedGossip>): SignedGossip {
    return decodeMessage(buf, SignedGossip.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SignedGossip>): Generator<SignedGossipFromFieldEvent | SignedGossipDataFieldEvent | SignedGossipSeqnoFieldEvent | SignedGossipTopicFieldEvent | SignedGossipSignatureFieldEvent> {
    return streamMessage(buf, SignedGossip.codec(), opts)
  }
}
