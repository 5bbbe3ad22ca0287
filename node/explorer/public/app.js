// The explorer's single page: hash routes (#/, #/round/3, #/peers, #/peer/0x…), JSON from /api,
// charts with chart.js (served by the explorer itself from node_modules; no CDN).
import { h, homeView, makeLinks, peerView, peersView, roundView, stageCount } from "./views.js";

const app = document.getElementById("app");
const statusEl = document.getElementById("status");
const REFRESH_MS = 3000;
let charts = [];
let lastKey = "";
let links = makeLinks({});

async function api(path) {
  const res = await fetch(`/api/${path}`);
  if (res.status === 404) return null;
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.json();
}

function lineChart(id, labels, datasets, yTitle) {
  const el = document.getElementById(id);
  if (!el || !window.Chart) return;
  charts.push(
    new window.Chart(el, {
      type: "line",
      data: { labels, datasets },
      options: {
        animation: false,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { position: "bottom" } },
        scales: { x: { title: { display: true, text: "round" } }, y: { title: { display: true, text: yTitle } } },
      },
    }),
  );
}

const COLORS = ["#2f6fdf", "#1a8a4a", "#c77c02", "#8e44ad", "#c0392b", "#16a0a0", "#7f8c8d", "#d35400"];
const series = (label, data, i, extra = {}) => ({
  label,
  data,
  borderColor: COLORS[i % COLORS.length],
  backgroundColor: COLORS[i % COLORS.length],
  tension: 0.2,
  spanGaps: true,
  ...extra,
});

/** Route → {key: data fingerprint, render()}; the page is rebuilt only when its data changed. */
async function load(route, summary) {
  const [page, arg] = route;
  if (page === "round") {
    const r = await api(`rounds/${arg}`);
    return { key: JSON.stringify(r), render: () => (r ? roundView(r, links) : notFound(`round ${arg}`)) };
  }
  if (page === "peers") {
    const peers = await api("peers");
    return { key: JSON.stringify(peers), render: () => peersView(peers, links) };
  }
  if (page === "peer") {
    const p = await api(`peers/${arg}`);
    return {
      key: JSON.stringify(p),
      render: () => (p ? peerView(p, links) : notFound(`account ${arg}`)),
      after: () => {
        if (!p) return;
        const done = p.history.filter((x) => x.finalized);
        lineChart(
          "peer-chart",
          done.map((x) => x.round),
          [
            series(
              "median score (fraction of max)",
              done.map((x) => x.medianScoreFraction),
              0,
              { yAxisID: "y" },
            ),
            series(
              "reward (tokens)",
              done.map((x) => Number(x.reward.tokens)),
              1,
              { yAxisID: "y1" },
            ),
          ],
          "score",
        );
        const c = charts.at(-1);
        if (c) {
          c.options.scales.y.beginAtZero = true;
          c.options.scales.y1 = {
            position: "right",
            beginAtZero: true,
            title: { display: true, text: "tokens" },
            grid: { drawOnChartArea: false },
          };
          c.update();
        }
      },
    };
  }
  const rounds = await api("rounds");
  return {
    key: JSON.stringify([summary.series, rounds, summary.peers, summary.validators, summary.claimed]),
    render: () => homeView(summary, rounds, links),
    after: () => {
      const s = summary.series;
      lineChart(
        "loss-chart",
        s.map((x) => x.round),
        [
          series(
            "held-out loss of θ_r (median over validators)",
            s.map((x) => x.heldOutLoss),
            0,
          ),
        ],
        "loss (nats)",
      );
      // Held-out loss of θ_r on each data stage (issue 17): a rising earlier-stage line is forgetting.
      // Rounds before the first per-stage report had one stage, so stage 0's line starts with their
      // held-out loss and shows the whole history of the first corpus.
      const firstStaged = s.findIndex((x) => x.heldOutLossByStage.length > 0);
      const stageLoss = (x, k, i) => (k < firstStaged && i === 0 ? x.heldOutLoss : (x.heldOutLossByStage[i] ?? null));
      lineChart(
        "stage-loss-chart",
        s.map((x) => x.round),
        Array.from({ length: stageCount(s) }, (_, i) =>
          series(
            `stage ${i} held-out loss (median over validators)`,
            s.map((x, k) => stageLoss(x, k, i)),
            i,
          ),
        ),
        "loss (nats)",
      );
      lineChart(
        "reward-chart",
        s.map((x) => x.round),
        [
          series(
            "peer rewards",
            s.map((x) => x.peerRewards),
            1,
          ),
          series(
            "validator rewards",
            s.map((x) => x.validatorRewards),
            2,
          ),
        ],
        "tokens",
      );
      const rewards = charts.at(-1);
      if (rewards) {
        rewards.options.scales.y.beginAtZero = true;
        rewards.update();
      }
    },
  };
}

function notFound(what) {
  return h(
    "section",
    {},
    h("h1", {}, "Not found"),
    h("p", { class: "muted" }, `No ${what} in the indexed events (yet).`),
  );
}

function parseRoute() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  if (parts[0] === "round" && /^\d+$/.test(parts[1] ?? "")) return ["round", parts[1]];
  if (parts[0] === "peer" && /^0x[0-9a-fA-F]{40}$/.test(parts[1] ?? "")) return ["peer", parts[1]];
  if (parts[0] === "peers") return ["peers"];
  return ["home"];
}

let busy = false;
async function refresh(force = false) {
  if (busy) return;
  busy = true;
  try {
    const summary = await api("summary");
    links = makeLinks(summary.links);
    document.getElementById("contract").textContent = `Contract ${summary.contract} on chain ${summary.chainId}.`;
    const ix = summary.indexed;
    statusEl.textContent = `${summary.events} events · indexed block ${ix.block} of ${ix.head} · ${summary.roundsFinalized} rounds finalized`;
    statusEl.dataset.indexedBlock = String(ix.block);
    const route = parseRoute();
    const view = await load(route, summary);
    const key = `${route.join("/")}|${view.key}`;
    if (force || key !== lastKey) {
      lastKey = key;
      for (const c of charts) c.destroy();
      charts = [];
      app.replaceChildren(view.render());
      view.after?.();
      document.body.dataset.ready = route[0];
    }
  } catch (err) {
    statusEl.textContent = `offline: ${err.message}`;
  } finally {
    busy = false;
  }
}

window.addEventListener("hashchange", () => {
  lastKey = "";
  refresh(true);
});
refresh(true);
setInterval(refresh, REFRESH_MS);
