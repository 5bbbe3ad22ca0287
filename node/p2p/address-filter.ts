import { peerIdFromString } from "@libp2p/peer-id";
import { isLinkLocal, isLoopback, isPrivate, tryGetNetConfig } from "@libp2p/utils";
import { type Multiaddr, multiaddr } from "@multiformats/multiaddr";
import { addressFromPeerId } from "../identity/index.ts";

export interface AddressFilterOptions {
  /** Accept loopback, private (RFC 1918, CGNAT, ULA, …) and link-local hosts: dev chains only. */
  allowPrivateAddresses: boolean;
}

/** Why an address is not dialled (for logs and the `dial` refusal metric). */
export type AddressRefusal = "malformed" | "no_peer_id" | "peer_id_mismatch" | "private_address" | "no_host";

/**
 * Whether a host is one we may dial: a public IP or a DNS name (other than localhost). Loopback,
 * private and link-local ranges (libp2p's own range lists, @libp2p/utils) only when `allowPrivateAddresses`.
 * Without a host (e.g. a bare /p2p/ address) there is nothing to dial.
 */
export function checkHost(ma: Multiaddr, opts: AddressFilterOptions): AddressRefusal | null {
  if (tryGetNetConfig(ma) === null) return "no_host";
  if (opts.allowPrivateAddresses) return null;
  return isPrivate(ma) || isLoopback(ma) || isLinkLocal(ma) ? "private_address" : null;
}

/**
 * Checks one address from a participant's registration metadata: it must parse, end in /p2p/<PeerId>,
 * that PeerId must be the key of `registrant` (the Ethereum address that registered it, so nobody can
 * make the network dial a third party under its name), and its host must pass `checkHost`.
 */
export function checkRegisteredAddr(
  addr: string,
  registrant: string,
  opts: AddressFilterOptions,
): AddressRefusal | null {
  let ma: Multiaddr;
  try {
    ma = multiaddr(addr);
  } catch {
    return "malformed";
  }
  const id = ownerPeerId(ma);
  if (id === undefined) return "no_peer_id";
  let owner: string | null;
  try {
    owner = addressFromPeerId(peerIdFromString(id));
  } catch {
    return "malformed";
  }
  if (owner === null || owner.toLowerCase() !== registrant.toLowerCase()) return "peer_id_mismatch";
  return checkHost(ma, opts);
}

/**
 * The PeerId an address reaches: its last /p2p/ component. A relayed address is
 * /…/p2p/<relay>/p2p-circuit/p2p/<node>, so the first /p2p/ names the relay, not the node.
 */
export function ownerPeerId(ma: Multiaddr): string | undefined {
  return ma.getComponents().findLast((c) => c.name === "p2p")?.value;
}

/** The addresses of a registration that pass `checkRegisteredAddr`, in their order. */
export function dialableAddrs(addrs: readonly string[], registrant: string, opts: AddressFilterOptions): string[] {
  return addrs.filter((a) => checkRegisteredAddr(a, registrant, opts) === null);
}

/**
 * The addresses a node publishes about itself (its on-chain registration, announcements): public ones
 * and relayed ones (/p2p-circuit through a relay with a public address), never private, loopback or
 * link-local ones unless `allowPrivateAddresses` (dev chains). libp2p lists an observed address only once
 * AutoNAT has confirmed that peers can dial it, so a node behind NAT is left with its relayed addresses.
 * For a relayed address `checkHost` judges the relay's host, the first one in it.
 */
export function advertisableAddrs(addrs: readonly Multiaddr[], opts: AddressFilterOptions): Multiaddr[] {
  return addrs.filter((ma) => checkHost(ma, opts) === null);
}
