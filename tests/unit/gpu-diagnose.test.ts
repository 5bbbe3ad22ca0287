import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { explainNoAdapter, probeSystem, type SystemProbe } from "../../node/gpu/diagnose.ts";

/** What a machine without a usable adapter is told, cause by cause, and what doctor prints here. */
const gpuBox: SystemProbe = {
  platform: "linux",
  vulkanLoader: "/usr/lib/x86_64-linux-gnu/libvulkan.so.1",
  icdFiles: ["/usr/share/vulkan/icd.d/nvidia_icd.json"],
  nvidiaDriver: true,
  nvidiaGlx: "/usr/lib/x86_64-linux-gnu/libGLX_nvidia.so.0",
  glvnd: true,
  nvidiaCapabilities: "all",
  inContainer: false,
};

describe("why there is no WebGPU adapter", () => {
  it("no Vulkan loader", () => {
    const why = explainNoAdapter({ ...gpuBox, vulkanLoader: null });
    assert.match(why[0], /no Vulkan loader \(libvulkan\.so\.1\).*libvulkan1/);
  });

  it("an NVIDIA driver without its Vulkan ICD, in a container: the graphics capability", () => {
    const why = explainNoAdapter({
      ...gpuBox,
      icdFiles: [],
      nvidiaGlx: null,
      inContainer: true,
      nvidiaCapabilities: "compute,utility",
    }).join("\n");
    assert.match(why, /no NVIDIA Vulkan ICD/);
    assert.match(why, /NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics \(now compute,utility\)/);
    assert.match(why, /libGLX_nvidia\.so\.0/);
  });

  it("an NVIDIA driver without its Vulkan ICD on a host: the driver's GL package", () => {
    const why = explainNoAdapter({ ...gpuBox, icdFiles: ["/usr/share/vulkan/icd.d/lvp_icd.json"] }).join("\n");
    assert.match(why, /no NVIDIA Vulkan ICD.*libnvidia-gl/);
    assert.doesNotMatch(why, /NVIDIA_DRIVER_CAPABILITIES/);
  });

  it("libglvnd missing", () => {
    assert.match(explainNoAdapter({ ...gpuBox, glvnd: false }).join("\n"), /libglvnd is missing/);
  });

  it("no GPU and no ICD: lavapipe from bookworm-backports for tests", () => {
    const why = explainNoAdapter({ ...gpuBox, nvidiaDriver: false, icdFiles: [], nvidiaGlx: null });
    assert.equal(why.length, 1);
    assert.match(why[0], /mesa-vulkan-drivers.*Mesa 22's lavapipe is rejected/);
  });

  it("only an old lavapipe", () => {
    const why = explainNoAdapter({
      ...gpuBox,
      nvidiaDriver: false,
      icdFiles: ["/usr/share/vulkan/icd.d/lvp_icd.json"],
    });
    assert.match(why.join("\n"), /dawn needs Mesa 25/);
  });

  it("everything present and still nothing: vulkaninfo", () => {
    assert.match(explainNoAdapter(gpuBox)[0], /vulkaninfo --summary/);
  });

  it("reads this machine", () => {
    const p = probeSystem({ ...process.env, VK_ICD_FILENAMES: "/nonexistent.json" });
    assert.deepEqual(p.icdFiles, [], "a named ICD that does not exist is not counted");
    assert.equal(p.platform, process.platform);
  });
});

describe("cotrain doctor --backend webgpu", { timeout: 240_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "cotrain-doctor-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("reports the adapter, a checked matmul and a training step", async () => {
    const res = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        join(process.cwd(), "node_modules/.bin/node"),
        [
          "--import",
          "tsx",
          "node/cli/main.ts",
          "doctor",
          "--backend",
          "webgpu",
          "--json",
          "--train-steps",
          "1",
          "--rpc",
          "http://127.0.0.1:1",
          "--data-dir",
          dir,
        ],
        { timeout: 200_000 },
        (err, stdout, stderr) => resolve({ code: err ? 1 : 0, stdout, stderr }),
      );
    });
    assert.equal(res.code, 1, "no chain at 127.0.0.1:1: the rpc check fails");
    const checks = JSON.parse(res.stdout) as Array<{ name: string; status: string; detail: string }>;
    const gpu = checks.find((c) => c.name === "webgpu")!;
    assert.ok(gpu.status === "ok" || gpu.status === "warn", gpu.detail);
    assert.match(gpu.detail, /features .*limits: \d+ KiB workgroup memory.*matmul 512³ .* GFLOP\/s \(max rel err/);
    const train = checks.find((c) => c.name === "backend")!;
    assert.equal(train.status, "ok", train.detail);
    assert.match(train.detail, /^webgpu: \d+ tokens\/s/);
  });
});
