import {
  type PeerScoreParams,
  type PeerScoreThresholds,
  type TopicScoreParams,
  createTopicScoreParams,
} from "@libp2p/gossipsub/score";
import { TOPIC_KINDS, topicName } from "./constants.ts";

/** Per-interval decay factor that brings a counter to `1/2` after `halfLifeMs` (scores decay every second). */
function decayFor(halfLifeMs: number, intervalMs = 1000): number {
  return 0.5 ** (intervalMs / halfLifeMs);
}

/**
 * Topic score for every cotrain topic. Only non-defaults are listed, each with its reason
 * (gossipsub v1.1 spec, "Topic Parameter Calculation and Decay"; Lodestar's gossip scoring).
 */
export function cotrainTopicScoreParams(): Partial<TopicScoreParams> {
  return {
    // all three topics matter equally; with weight 1 the P4 numbers below read directly as score points
    topicWeight: 1,
    // P1: modest reward for staying in the mesh, capped at 10 points after ~5 min, so good behaviour
    // cannot buy enough credit to hide a handful of invalid messages
    timeInMeshWeight: 10 / 300,
    timeInMeshQuantum: 1000,
    timeInMeshCap: 300,
    // P2: a peer that first delivers announcements earns a little (cap 10 deliveries ≈ 10 points)
    firstMessageDeliveriesWeight: 1,
    firstMessageDeliveriesDecay: decayFor(10 * 60_000),
    firstMessageDeliveriesCap: 10,
    // P3/P3b off: one announcement per peer per round (minutes apart) is far below any useful delivery
    // threshold, so a mesh-delivery deficit would punish honest peers in quiet topics
    meshMessageDeliveriesWeight: 0,
    meshFailurePenaltyWeight: 0,
    // P4: a registered participant has no honest reason to send an invalid announcement. Penalty is
    // counter² × weight: one reject = -10 (below gossipThreshold), three = -90 (graylisted); half-life
    // 10 min so a misconfigured but honest node recovers within a round or two
    invalidMessageDeliveriesWeight: -10,
    invalidMessageDeliveriesDecay: decayFor(10 * 60_000),
  };
}

/**
 * Peer score with the application-specific term (P5) wired to the node's own penalties: invalid
 * payloads found after the gossip message was accepted (hash mismatch on a blob, undecodable update).
 */
export function cotrainPeerScoreParams(
  runId: string,
  appSpecificScore: (peerId: string) => number,
): Partial<PeerScoreParams> {
  const topics: Record<string, TopicScoreParams> = {};
  for (const kind of TOPIC_KINDS) topics[topicName(runId, kind)] = createTopicScoreParams(cotrainTopicScoreParams());
  return {
    topics,
    appSpecificScore,
    // P5 weight 1: penalties are given in score points directly (see P2PNode.penalize)
    appSpecificWeight: 1,
    // P6 (IP colocation) off. Its default (-5 × (peers on one IP − 10)²) graylists every peer of an IP with
    // more than 10 connections, honest ones included: home peers behind one NAT, every peer reached through
    // one relay (a relayed connection shows the relay's IP), everyone on a loopback or namespace testnet.
    // Measured (tests/e2e/hostile.test.ts): 20 silent unregistered connections from the honest peers' IP
    // made the validator receive no honest announcement by gossip from the third round on. The sybil
    // bound here is registration (stake), which gossip validation checks before anything is relayed.
    IPColocationFactorWeight: 0,
  };
}

/** Thresholds are gossipsub's defaults; stated here so the P4 arithmetic above can be checked against them. */
export const cotrainScoreThresholds: Partial<PeerScoreThresholds> = {
  gossipThreshold: -10,
  publishThreshold: -50,
  graylistThreshold: -80,
};
