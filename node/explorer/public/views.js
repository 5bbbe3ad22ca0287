// Rendering helpers and page views of the explorer. Everything from the chain (addresses, peer
// metadata, checkpoint URIs) goes into the DOM as text nodes, never as HTML.

/** h("td", {class: "num"}, "12") → element; children may be strings, numbers, nodes, arrays or null. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  const add = (c) => {
    if (c === null || c === undefined || c === false) return;
    if (Array.isArray(c)) c.forEach(add);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  };
  children.forEach(add);
  return el;
}

const short = (hex, n = 6) => (hex && hex.length > 2 * n + 2 ? `${hex.slice(0, n + 2)}…${hex.slice(-n)}` : (hex ?? ""));

export function fmtTime(t) {
  if (!t) return "—";
  return new Date(t * 1000)
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d+Z$/, " UTC");
}

export function fmtTokens(a, digits = 4) {
  if (!a) return "—";
  const n = Number(a.tokens);
  return n.toLocaleString("en-US", { maximumFractionDigits: digits });
}

const num = (x, digits = 3) => (x === null || x === undefined ? "—" : Number(x).toFixed(digits));
const pct = (x, digits = 2) => (x === null || x === undefined ? "—" : `${(x * 100).toFixed(digits)} %`);

export function makeLinks(templates) {
  const tx = (hash) => {
    if (!hash) return "—";
    if (templates.tx) {
      return h(
        "a",
        { class: "hash", href: templates.tx.replace("{hash}", hash), target: "_blank", rel: "noopener", title: hash },
        short(hash),
      );
    }
    return h("span", { class: "hash", title: hash }, short(hash));
  };
  const address = (addr) => {
    if (!addr) return "—";
    const inner = h("a", { class: "hash", href: `#/peer/${addr}`, title: addr }, short(addr, 4));
    if (!templates.address) return inner;
    const ext = h(
      "a",
      {
        href: templates.address.replace("{address}", addr),
        target: "_blank",
        rel: "noopener",
        title: "open in block explorer",
      },
      " ↗",
    );
    return h("span", {}, inner, ext);
  };
  return { tx, address };
}

function table(id, headers, rows) {
  return h(
    "div",
    { class: "scroll" },
    h(
      "table",
      { id },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          headers.map(([label, cls]) => h("th", { class: cls }, label)),
        ),
      ),
      h(
        "tbody",
        {},
        rows.length ? rows : h("tr", {}, h("td", { colspan: headers.length, class: "muted" }, "nothing yet")),
      ),
    ),
  );
}

const card = (label, value, title, cls = "") =>
  h("div", { class: "card" }, h("div", { class: "label" }, label), h("div", { class: `value ${cls}`, title }, value));

function flagPills(c) {
  if (!c) return h("span", { class: "muted" }, "not scored");
  const pills = [];
  pills.push(h("span", { class: `pill ${c.valid ? "ok" : "bad"}` }, c.valid ? "valid" : "invalid"));
  if (c.missing) pills.push(h("span", { class: "pill bad" }, "missing"));
  if (!c.missing)
    pills.push(h("span", { class: `pill ${c.inSync ? "ok" : "bad"}` }, c.inSync ? "in sync" : "out of sync"));
  if (c.copy) pills.push(h("span", { class: "pill bad" }, "copy"));
  if (!c.missing)
    pills.push(
      h("span", { class: `pill ${c.proofPositive ? "ok" : "warn"}` }, c.proofPositive ? "trained" : "no proof"),
    );
  return h(
    "span",
    {},
    pills.flatMap((p) => [p, " "]),
  );
}

/** Number of stages with a held-out loss in any finalized round (0: a one-stage run, no per-stage chart). */
export function stageCount(series) {
  return Math.max(0, ...series.map((x) => x.heldOutLossByStage?.length ?? 0));
}

const STATUS_CLASS = { finalized: "ok", scoring: "", skipped: "warn", "not finalized": "bad" };
const SKIP_TITLE = {
  "no quorum": "RoundSkipped: no (model hash, payload root) had more than half of the snapshot stake; θ_r+1 = θ_r",
  "no submissions": "no validator submitted scores; nothing was settled on chain for this round",
  "not finalized": "scores were submitted but nobody finalized the round yet (anyone may)",
};

/** The round's status pill; a skipped round says why in its text and tooltip. */
function statusPill(r) {
  const text = r.status === "skipped" && r.skipReason ? `skipped (${r.skipReason})` : r.status;
  return h(
    "span",
    { class: `pill round-status ${STATUS_CLASS[r.status] ?? "warn"}`, title: SKIP_TITLE[r.skipReason] ?? "" },
    text,
  );
}

export function homeView(summary, rounds, links) {
  const finalized = rounds.filter((r) => r.status === "finalized");
  return h(
    "section",
    {},
    h("h1", {}, "Training run"),
    h(
      "div",
      { class: "cards" },
      card("finalized rounds", summary.roundsFinalized),
      card("peers", summary.peers),
      card("validators", summary.validators),
      card("latest model hash", short(summary.latestModelHash, 8), summary.latestModelHash ?? "", "hash"),
      card("rewards credited", fmtTokens(summary.rewarded, 2)),
      card("rewards claimed", fmtTokens(summary.claimed, 2)),
    ),
    h(
      "div",
      { class: "charts" },
      h("div", { class: "chart" }, h("canvas", { id: "loss-chart", "aria-label": "held-out loss per round" })),
      h("div", { class: "chart" }, h("canvas", { id: "reward-chart", "aria-label": "rewards per round" })),
      stageCount(summary.series) > 0
        ? h(
            "div",
            { class: "chart" },
            h("canvas", { id: "stage-loss-chart", "aria-label": "held-out loss per data stage per round" }),
          )
        : null,
    ),
    h(
      "h2",
      {},
      `Rounds (${finalized.length} finalized, ${rounds.filter((r) => r.status === "skipped").length} skipped)`,
    ),
    table(
      "rounds-table",
      [
        ["round"],
        ["status"],
        ["time"],
        ["model hash"],
        ["updates", "num"],
        ["validators", "num"],
        ["held-out loss", "num"],
        ["rewards", "num"],
        ["tx"],
      ],
      rounds.map((r) =>
        h(
          "tr",
          { "data-round": r.round },
          h("td", {}, h("a", { href: `#/round/${r.round}` }, `#${r.round}`)),
          h("td", {}, statusPill(r)),
          h("td", {}, fmtTime(r.time)),
          h("td", { class: "hash model-hash", title: r.modelHash ?? "" }, r.modelHash ? short(r.modelHash, 10) : "—"),
          h("td", { class: "num" }, r.updates ?? "—"),
          h("td", { class: "num" }, r.validators),
          h("td", { class: "num" }, num(r.heldOutLoss)),
          h(
            "td",
            { class: "num" },
            r.peerRewards
              ? fmtTokens({ tokens: String(Number(r.peerRewards.tokens) + Number(r.validatorRewards.tokens)) }, 2)
              : "—",
          ),
          h("td", {}, links.tx(r.tx)),
        ),
      ),
    ),
  );
}

export function roundView(r, links) {
  const kv = (k, v) => [h("dt", {}, k), h("dd", {}, v)];
  const peerRows = r.peers.map((p) =>
    h(
      "tr",
      { "data-peer": p.address },
      h("td", { class: "num" }, p.index),
      h("td", {}, links.address(p.address)),
      h("td", { class: "num" }, p.medianScore ?? "—"),
      h("td", { class: "num" }, pct(p.medianScoreFraction)),
      h("td", { class: "num" }, fmtTokens(p.reward)),
      h("td", {}, p.included === null ? "—" : p.included ? "yes" : "no"),
      h("td", {}, p.inNextGatherSet === null ? "—" : p.inNextGatherSet ? "yes" : "no"),
      h(
        "td",
        { class: "hash", title: p.updateHash ?? "" },
        p.updateHash ? short(p.updateHash, 8) : h("span", { class: "muted" }, "n/a"),
      ),
    ),
  );
  const compRows = r.peers.flatMap((p) =>
    p.scores.map((s) => {
      const c = s.components;
      return h(
        "tr",
        {},
        h("td", {}, links.address(p.address)),
        h("td", {}, links.address(s.validator)),
        h("td", { class: "num" }, s.score),
        h("td", { class: "num" }, num(c?.heldOutLossBefore)),
        h("td", { class: "num" }, num(c?.heldOutLossAfter)),
        h("td", { class: "num" }, pct(c?.heldOutGain)),
        h("td", { class: "num" }, pct(c?.ownGain)),
        h("td", {}, flagPills(c)),
        h("td", {}, c ? c.reason : "—"),
      );
    }),
  );
  const subRows = r.submissions.map((s) =>
    h(
      "tr",
      {},
      h("td", {}, links.address(s.validator)),
      h("td", { class: "num" }, fmtTokens(s.weight)),
      h("td", { class: "hash", title: s.modelHash }, short(s.modelHash, 8)),
      h(
        "td",
        {},
        s.agrees === null
          ? "—"
          : h("span", { class: `pill ${s.agrees ? "ok" : "bad"}` }, s.agrees ? "agrees" : "differs"),
      ),
      h("td", { class: "num" }, s.includedCount),
      h("td", { class: "num" }, fmtTokens(s.reward)),
      h("td", {}, links.tx(s.tx)),
    ),
  );
  return h(
    "section",
    {},
    h("h1", {}, `Round ${r.round} `, statusPill(r)),
    r.skipReason ? h("p", { class: "muted", id: "round-skip-reason" }, SKIP_TITLE[r.skipReason]) : null,
    h(
      "dl",
      { class: "kv" },
      kv("finalized at", fmtTime(r.time)),
      kv("model hash H(θ_r+1)", h("span", { class: "hash", id: "round-model-hash" }, r.modelHash ?? "—")),
      kv("finalize tx", links.tx(r.tx)),
      kv("updates included", r.updates ?? "—"),
      kv("stake agreeing on the hash", pct(r.agreement, 1)),
      kv("held-out loss of θ_r (median)", num(r.heldOutLoss)),
      r.heldOutLossByStage.length > 0
        ? kv(
            "held-out loss per stage (median)",
            h(
              "span",
              { id: "round-stage-losses" },
              r.heldOutLossByStage.map((l, i) => `stage ${i}: ${num(l)}`).join(" · "),
            ),
          )
        : null,
      kv("peer / validator rewards", `${fmtTokens(r.peerRewards)} / ${fmtTokens(r.validatorRewards)}`),
      r.checkpoint ? kv("checkpoint", r.checkpoint.uri) : null,
    ),
    h("h2", {}, "Peers"),
    table(
      "round-peers",
      [
        ["#", "num"],
        ["peer"],
        ["median score", "num"],
        ["of max", "num"],
        ["reward", "num"],
        ["included"],
        ["next gather set"],
        ["update hash"],
      ],
      peerRows,
    ),
    h("h2", {}, "Score components (per validator)"),
    table(
      "round-components",
      [
        ["peer"],
        ["validator"],
        ["score", "num"],
        ["loss before", "num"],
        ["loss after", "num"],
        ["held-out gain", "num"],
        ["own gain", "num"],
        ["checks"],
        ["reason"],
      ],
      compRows,
    ),
    h("h2", {}, "Validator submissions"),
    table(
      "round-submissions",
      [["validator"], ["stake", "num"], ["model hash"], ["hash"], ["included", "num"], ["reward", "num"], ["tx"]],
      subRows,
    ),
  );
}

export function peersView(peers, links) {
  return h(
    "section",
    {},
    h("h1", {}, `Peers (${peers.length})`),
    table(
      "peers-table",
      [
        ["#", "num"],
        ["address"],
        ["rounds scored", "num"],
        ["included", "num"],
        ["last median", "num"],
        ["earned", "num"],
        ["claimed", "num"],
        ["pending", "num"],
        ["claim status"],
      ],
      peers.map((p) =>
        h(
          "tr",
          { "data-peer": p.address },
          h("td", { class: "num" }, p.index),
          h("td", {}, links.address(p.address)),
          h("td", { class: "num" }, p.roundsScored),
          h("td", { class: "num" }, p.roundsIncluded),
          h("td", { class: "num" }, p.lastMedianScore ?? "—"),
          h("td", { class: "num" }, fmtTokens(p.earned)),
          h("td", { class: "num" }, fmtTokens(p.claimed)),
          h("td", { class: "num" }, fmtTokens(p.pending)),
          h("td", {}, claimPill(p.status)),
        ),
      ),
    ),
  );
}

function claimPill(status) {
  const cls = status === "claimed" ? "ok" : status === "none" ? "" : "warn";
  return h("span", { class: `pill ${cls} claim-status` }, status);
}

function metadataText(hex) {
  if (!hex || hex === "0x") return "—";
  try {
    const bytes = new Uint8Array(
      hex
        .slice(2)
        .match(/../g)
        .map((b) => Number.parseInt(b, 16)),
    );
    const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return /^[\x20-\x7e]*$/.test(text) ? text : hex;
  } catch {
    return hex;
  }
}

/** A validator's submissions, newest first: the hash it voted for, whether it won, what it earned. */
function validatorSubmissions(v, links) {
  return [
    h("h2", {}, "Validator submissions"),
    table(
      "validator-submissions",
      [
        ["round"],
        ["round status"],
        ["stake", "num"],
        ["model hash"],
        ["hash"],
        ["included", "num"],
        ["reward", "num"],
        ["tx"],
      ],
      v.submissions.map((s) =>
        h(
          "tr",
          { "data-round": s.round },
          h("td", {}, h("a", { href: `#/round/${s.round}` }, `#${s.round}`)),
          h("td", {}, statusPill(s)),
          h("td", { class: "num" }, fmtTokens(s.weight)),
          h("td", { class: "hash model-hash", title: s.modelHash }, short(s.modelHash, 8)),
          h(
            "td",
            {},
            s.agrees === null
              ? "—"
              : h("span", { class: `pill ${s.agrees ? "ok" : "bad"}` }, s.agrees ? "agrees" : "differs"),
          ),
          h("td", { class: "num" }, s.includedCount),
          h("td", { class: "num" }, fmtTokens(s.reward)),
          h("td", {}, links.tx(s.tx)),
        ),
      ),
    ),
  ];
}

export function peerView(p, links) {
  const kv = (k, v) => [h("dt", {}, k), h("dd", {}, v)];
  return h(
    "section",
    {},
    h("h1", {}, p.index === null ? "Account " : `Peer #${p.index} `, h("span", { class: "hash" }, p.address)),
    h(
      "dl",
      { class: "kv", id: "peer-summary" },
      kv("address", links.address(p.address)),
      kv("registered", p.registeredAt ? [fmtTime(p.registeredAt), " ", links.tx(p.registrationTx)] : "—"),
      kv("metadata", metadataText(p.metadata)),
      p.validator
        ? kv(
            "validator stake",
            h(
              "span",
              { id: "validator-stake" },
              `${fmtTokens(p.validator.stake)}${p.validator.unstaking ? " (unstaking)" : ""}`,
            ),
          )
        : null,
      p.validator
        ? kv("validator rewards", h("span", { id: "validator-rewarded" }, fmtTokens(p.validator.rewarded)))
        : null,
      p.validator
        ? kv("rounds submitted / agreed", `${p.validator.roundsSubmitted} / ${p.validator.roundsAgreed}`)
        : null,
      kv("rewards earned", h("span", { id: "peer-earned" }, fmtTokens(p.earned))),
      kv("claimed", fmtTokens(p.claimed)),
      kv("pending (claimable)", h("span", { id: "peer-pending" }, fmtTokens(p.pending))),
      kv("claim status", claimPill(p.status)),
    ),
    p.index === null
      ? null
      : h(
          "div",
          { class: "charts" },
          h("div", { class: "chart" }, h("canvas", { id: "peer-chart", "aria-label": "score and reward per round" })),
        ),
    p.validator ? validatorSubmissions(p.validator, links) : null,
    p.index === null ? null : h("h2", {}, "History"),
    p.index === null
      ? null
      : table(
          "peer-history",
          [
            ["round"],
            ["median score", "num"],
            ["of max", "num"],
            ["reward", "num"],
            ["loss before", "num"],
            ["loss after", "num"],
            ["held-out gain", "num"],
            ["own gain", "num"],
            ["included"],
            ["reason"],
          ],
          p.history.map((r) =>
            h(
              "tr",
              { "data-round": r.round },
              h("td", {}, h("a", { href: `#/round/${r.round}` }, `#${r.round}`)),
              h("td", { class: "num" }, r.medianScore ?? "—"),
              h("td", { class: "num" }, pct(r.medianScoreFraction)),
              h("td", { class: "num" }, fmtTokens(r.reward)),
              h("td", { class: "num" }, num(r.heldOutLossBefore)),
              h("td", { class: "num" }, num(r.heldOutLossAfter)),
              h("td", { class: "num" }, pct(r.heldOutGain)),
              h("td", { class: "num" }, pct(r.ownGain)),
              h("td", {}, r.included === null ? "—" : r.included ? "yes" : "no"),
              h("td", {}, r.reasons.join(", ")),
            ),
          ),
        ),
    h("h2", {}, "Claims"),
    table(
      "peer-claims",
      [["time"], ["amount", "num"], ["tx"]],
      p.claims.map((c) =>
        h(
          "tr",
          {},
          h("td", {}, fmtTime(c.time)),
          h("td", { class: "num" }, fmtTokens(c.amount)),
          h("td", {}, links.tx(c.tx)),
        ),
      ),
    ),
  );
}
