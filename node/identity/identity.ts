import { privateKeyFromRaw } from "@libp2p/crypto/keys";
import type { PeerId, Secp256k1PrivateKey } from "@libp2p/interface";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { SigningKey, Wallet, computeAddress, getBytes } from "ethers";

/**
 * One participant, one secp256k1 key: the same 32 bytes give the Ethereum account (keccak of the
 * uncompressed public key) and the libp2p PeerId (identity multihash of the compressed public key), so a
 * gossipsub StrictSign signature already proves which registered address sent a message.
 */
export interface Identity {
  /** 0x-prefixed checksummed Ethereum address. */
  readonly address: string;
  readonly peerId: PeerId;
  /** libp2p private key, for `createLibp2p({privateKey})`. */
  readonly libp2pKey: Secp256k1PrivateKey;
  /** ethers wallet (not connected to a provider). */
  readonly wallet: Wallet;
}

export function identityFromPrivateKey(privateKeyHex: string): Identity {
  const wallet = new Wallet(privateKeyHex);
  const libp2pKey = privateKeyFromRaw(getBytes(wallet.privateKey)) as Secp256k1PrivateKey;
  if (libp2pKey.type !== "secp256k1") throw new Error(`expected a secp256k1 key, got ${libp2pKey.type}`);
  return { address: wallet.address, peerId: peerIdFromPrivateKey(libp2pKey), libp2pKey, wallet };
}

export function randomIdentity(): Identity {
  return identityFromPrivateKey(Wallet.createRandom().privateKey);
}

/** The Ethereum address a libp2p secp256k1 PeerId stands for (null for other key types). */
export function addressFromPeerId(peerId: PeerId): string | null {
  if (peerId.type !== "secp256k1" || !peerId.publicKey) return null;
  // PeerId carries the 33-byte compressed point; ethers expands it before hashing.
  return computeAddress(SigningKey.computePublicKey(peerId.publicKey.raw, false));
}
