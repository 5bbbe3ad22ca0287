import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";

/**
 * Why WebGPU found no adapter, in words an operator can act on. Dawn reaches the GPU through Vulkan on
 * Linux: the Vulkan loader (libvulkan.so.1) reads driver manifests (ICDs) from icd.d folders; NVIDIA's
 * manifest points at libGLX_nvidia.so.0, which needs libglvnd. In containers the NVIDIA runtime mounts
 * those files only when the driver's `graphics` capability is requested.
 */
export interface SystemProbe {
  readonly platform: string;
  /** Path of libvulkan.so.1, or null. */
  readonly vulkanLoader: string | null;
  /** Vulkan driver manifests found (icd.d folders, or the files VK_ICD_FILENAMES / VK_DRIVER_FILES name). */
  readonly icdFiles: string[];
  /** An NVIDIA kernel driver is loaded (/proc/driver/nvidia/version or /dev/nvidia0). */
  readonly nvidiaDriver: boolean;
  /** libGLX_nvidia.so.0 (the library NVIDIA's Vulkan manifest names), or null. */
  readonly nvidiaGlx: string | null;
  /** libglvnd's libGLX.so.0 and libGLdispatch.so.0 are both present. */
  readonly glvnd: boolean;
  /** NVIDIA_DRIVER_CAPABILITIES of this process (set in NVIDIA containers). */
  readonly nvidiaCapabilities: string | undefined;
  readonly inContainer: boolean;
}

const LIB_DIRS = [
  "/usr/lib/x86_64-linux-gnu",
  "/usr/lib/aarch64-linux-gnu",
  "/lib/x86_64-linux-gnu",
  "/lib/aarch64-linux-gnu",
  "/usr/lib64",
  "/lib64",
  "/usr/lib",
  "/lib",
  "/usr/local/nvidia/lib64",
];
const ICD_DIRS = ["/etc/vulkan/icd.d", "/usr/share/vulkan/icd.d", "/usr/local/share/vulkan/icd.d"];

function findLib(name: string, env: NodeJS.ProcessEnv): string | null {
  const dirs = [...(env.LD_LIBRARY_PATH ?? "").split(":").filter(Boolean), ...LIB_DIRS];
  for (const d of dirs) {
    const p = path.join(d, name);
    if (existsSync(p)) return p;
  }
  return null;
}

function listJson(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith(".json"))
      .map((f) => path.join(dir, f));
  } catch {
    return [];
  }
}

/** Reads the facts above from this machine (no process is started). */
export function probeSystem(env: NodeJS.ProcessEnv = process.env): SystemProbe {
  const named = (env.VK_DRIVER_FILES ?? env.VK_ICD_FILENAMES ?? "").split(":").filter(Boolean);
  return {
    platform: process.platform,
    vulkanLoader: findLib("libvulkan.so.1", env),
    icdFiles: named.length ? named.filter((f) => existsSync(f)) : ICD_DIRS.flatMap(listJson),
    nvidiaDriver: existsSync("/proc/driver/nvidia/version") || existsSync("/dev/nvidia0"),
    nvidiaGlx: findLib("libGLX_nvidia.so.0", env),
    glvnd: findLib("libGLX.so.0", env) !== null && findLib("libGLdispatch.so.0", env) !== null,
    nvidiaCapabilities: env.NVIDIA_DRIVER_CAPABILITIES,
    inContainer: existsSync("/.dockerenv") || existsSync("/run/.containerenv") || readCgroupHint(),
  };
}

function readCgroupHint(): boolean {
  try {
    return /docker|containerd|kubepods|lxc/.test(readFileSync("/proc/1/cgroup", "utf8"));
  } catch {
    return false;
  }
}

const isNvidiaIcd = (f: string) => /nvidia/i.test(path.basename(f));
const isLavapipeIcd = (f: string) => /lvp/i.test(path.basename(f));

/** The likely causes, most fundamental first; each line names the missing piece and the fix. */
export function explainNoAdapter(p: SystemProbe): string[] {
  if (p.platform !== "linux")
    return [`no WebGPU adapter on ${p.platform}: check the GPU driver (dawn uses D3D12 on Windows, Metal on macOS)`];
  const out: string[] = [];
  if (!p.vulkanLoader)
    out.push(
      "no Vulkan loader (libvulkan.so.1) on the library path: install it (Debian/Ubuntu: apt-get install libvulkan1)",
    );
  const nvIcd = p.icdFiles.some(isNvidiaIcd);
  const capsHint = p.inContainer
    ? `in a container the NVIDIA runtime mounts the Vulkan driver only with the driver's graphics capability: start it with NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics (now ${p.nvidiaCapabilities ?? "unset"})`
    : "install the driver's Vulkan/GL part (Ubuntu: libnvidia-gl-<driver version>)";
  if (p.nvidiaDriver && !nvIcd)
    out.push(
      `an NVIDIA driver is loaded but there is no NVIDIA Vulkan ICD (nvidia_icd.json in ${ICD_DIRS.join(" or ")}): ${capsHint}`,
    );
  if (p.nvidiaDriver && !p.nvidiaGlx)
    out.push(`libGLX_nvidia.so.0 (the library NVIDIA's Vulkan ICD loads) is missing: ${capsHint}`);
  if (p.nvidiaDriver && !p.glvnd)
    out.push(
      "libglvnd is missing (libGLX.so.0, libGLdispatch.so.0), which libGLX_nvidia needs: apt-get install libglx0 libgldispatch0",
    );
  if (!p.nvidiaDriver && p.icdFiles.length === 0)
    out.push(
      "no GPU driver and no Vulkan ICD: on a machine without a GPU, Mesa 25's lavapipe gives a (slow) CPU adapter for tests (Debian 12: apt-get install -t bookworm-backports mesa-vulkan-drivers); Mesa 22's lavapipe is rejected by dawn",
    );
  else if (!p.nvidiaDriver && p.icdFiles.every(isLavapipeIcd))
    out.push(
      "only Mesa's lavapipe ICD is installed and it gave no adapter: dawn needs Mesa 25 or newer (Debian 12: mesa-vulkan-drivers from bookworm-backports)",
    );
  if (out.length === 0)
    out.push(
      `the Vulkan loader (${p.vulkanLoader}) and ${p.icdFiles.length} ICD(s) are present but no adapter was usable: run \`vulkaninfo --summary\` to see what the loader finds`,
    );
  return out;
}
