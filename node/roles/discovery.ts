import { toUtf8String } from "ethers";
import type { Logger } from "pino";
import { type Deployment, type TrainingRunClient, decodeRunEvent } from "../chain/index.ts";
import { multiaddr } from "@multiformats/multiaddr";
import { dialableAddrs, type P2PNode, ownerPeerId } from "../p2p/index.ts";

/**
 * Peer discovery through the chain (issue 9, "kill the bootstrap node"): every peer registers with its
 * multiaddrs as metadata (PeerRegistered), so any node can dial every registered peer directly. Without
 * this the network is a star around the bootstrap node — libp2p's bootstrap module dials only the list
 * it is given and gossipsub's peer exchange is off — and losing that node partitions it.
 *
 * Best effort: a failed RPC call or dial is retried on the next tick; nothing here can stop a role.
 */
export function startChainDiscovery(
  ctx: { client: TrainingRunClient; deployment: Deployment; p2p: P2PNode; logger: Logger },
  opts: { everyMs: number } = { everyMs: 5_000 },
): { stop(): void } {
  const known = new Map<string, string[]>(); // peerId → multiaddrs
  let fromBlock = ctx.deployment.block;
  let busy = false;
  const self = ctx.p2p.peerId.toString();

  const tick = async () => {
    if (busy) return;
    busy = true;
    try {
      const c = ctx.client.contract;
      const head = await ctx.client.provider.getBlockNumber();
      if (head >= fromBlock) {
        for (const log of await c.queryFilter(c.filters.PeerRegistered(), fromBlock, head)) {
          const e = decodeRunEvent(c.interface, log);
          if (e?.name !== "PeerRegistered") continue;
          const addrs = dialableAddrs(parseMetadata(e.args.metadata), e.args.peer, ctx.p2p.opts);
          // the node's own id (a relayed address names its relay first)
          const id = addrs[0] === undefined ? undefined : ownerPeerId(multiaddr(addrs[0]));
          if (id && id !== self) known.set(id, addrs);
        }
        fromBlock = head + 1;
      }
      const connected = new Set(ctx.p2p.libp2p.getPeers().map(String));
      for (const [id, addrs] of known) {
        if (connected.has(id)) continue;
        for (const a of addrs) {
          try {
            await ctx.p2p.dial(a);
            ctx.logger.debug({ peer: id, addr: a }, "dialled a registered peer");
            break;
          } catch {
            // offline or restarted on another port; the next tick tries again
          }
        }
      }
    } catch (err) {
      ctx.logger.debug({ err: (err as Error).message }, "chain discovery tick failed; retrying");
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void tick(), opts.everyMs);
  timer.unref();
  void tick();
  return { stop: () => clearInterval(timer) };
}

/** The `multiaddrs` of a peer's registration metadata (JSON `{multiaddrs: [...]}`), or [] if unreadable. */
export function parseMetadata(hex: string): string[] {
  try {
    const m = JSON.parse(toUtf8String(hex)) as { multiaddrs?: unknown };
    return Array.isArray(m.multiaddrs)
      ? m.multiaddrs.filter((a): a is string => typeof a === "string" && a.includes("/p2p/"))
      : [];
  } catch {
    return [];
  }
}
