#!/usr/bin/env bash
# Runs on a bare GPU machine (no Node, no npm): unpacks dist/gpu-device.tar.gz (scripts/gpu-device/
# bundle.sh), makes dawn find the NVIDIA Vulkan driver, then runs the WebGPU engine benchmark on small and
# base with the PyTorch CUDA fp32 anchor on the same shapes, printing one JSON line each (also written to
# $OUT/bench-gpu.jsonl when $OUT is set).
# Usage: bash scripts/gpu-device/run.sh [dist/gpu-device.tar.gz] [presets...]   (default: small base)
# Env: BENCH_ARGS (default "--batch 16 --steps 20 --warmup 3"), ANCHOR (cuda | cpu | none).
set -uo pipefail
tarball=${1:-dist/gpu-device.tar.gz}
shift || true
presets=${*:-small base}
work=$(mktemp -d)
tar -C "$work" -xzf "$tarball"
b="$work/cotrain-gpu"
log() { echo "[gpu-device] $*" >&2; }
ldconfig=$(command -v ldconfig || echo /sbin/ldconfig)

command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >&2

# Vulkan loader: the system's, else the bundled one.
if ! "$ldconfig" -p 2>/dev/null | grep -q 'libvulkan\.so\.1 '; then
  log "no system Vulkan loader: using the bundled libvulkan.so.1"
  export LD_LIBRARY_PATH="$b/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
# NVIDIA's Vulkan ICD: containers started without the driver's graphics capability lack the manifest; if
# the library it names is present, point the loader at a manifest of our own.
if ! ls /usr/share/vulkan/icd.d/nvidia_icd*.json /etc/vulkan/icd.d/nvidia_icd*.json >/dev/null 2>&1; then
  glx=$("$ldconfig" -p 2>/dev/null | awk '/libGLX_nvidia\.so\.0/ {print $NF; exit}')
  if [ -n "$glx" ]; then
    api=$(nvidia-smi -q 2>/dev/null | awk -F: '/Vulkan/ {gsub(/ /,"",$2); print $2; exit}')
    printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"%s"}}\n' "$glx" "${api:-1.3.0}" >"$work/nvidia_icd.json"
    export VK_ICD_FILENAMES="$work/nvidia_icd.json"
    log "no nvidia_icd.json installed: using one for $glx"
  else
    log "no NVIDIA Vulkan ICD and no libGLX_nvidia.so.0: in a container, NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics"
  fi
fi

status=0
for p in $presets; do
  log "preset $p"
  # shellcheck disable=SC2086 # BENCH_ARGS is a list of flags
  if line=$("$b/bin/node" "$b/bench.mjs" --preset "$p" ${BENCH_ARGS:---batch 16 --steps 20 --warmup 3} \
    --anchor "${ANCHOR:-cuda}" --torch "$b/torch_gpt.py"); then
    echo "$line"
    [ -n "${OUT:-}" ] && echo "$line" >>"$OUT/bench-gpu.jsonl"
  else
    status=1
  fi
done
rm -rf "$work"
exit $status
