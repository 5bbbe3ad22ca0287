#!/usr/bin/env bash
# Builds dist/gpu-device.tar.gz: everything `npm run bench:gpu` needs on a bare GPU machine with no Node
# (a stripped Node binary, the benchmark bundled into one file with esbuild, the WGSL kernels, dawn's
# linux-x64 binary, the PyTorch anchor, a Vulkan loader in case the box has none) and run.sh, which
# runs there. Must stay under the 64 MiB a device run can carry; prints its size.
# Usage: scripts/gpu-device/bundle.sh [out.tar.gz]
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-dist/gpu-device.tar.gz}
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
b="$stage/cotrain-gpu"
mkdir -p "$b/bin" "$b/lib" "$b/node_modules/webgpu/dist/linux-x64"

strip -o "$b/bin/node" node_modules/node/bin/node
node_modules/.bin/esbuild scripts/bench-gpu.ts --bundle --platform=node --format=esm --target=node22 \
  --outfile="$b/bench.mjs" --log-level=warning \
  --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);"
cp node/gpu/*.wgsl "$b/"
cp node_modules/webgpu/package.json node_modules/webgpu/LICENSE.md "$b/node_modules/webgpu/"
cp node_modules/webgpu/dist/linux-x64/dawn.node "$b/node_modules/webgpu/dist/linux-x64/"
torch=../shared/bench/torch_gpt.py
[ -f "$torch" ] || torch=/work/shared/bench/torch_gpt.py
cp "$torch" "$b/torch_gpt.py"
loader=$(ldconfig -p | awk '/libvulkan\.so\.1 .*x86-64/ {print $NF; exit}')
[ -n "$loader" ] && cp -L "$loader" "$b/lib/libvulkan.so.1"
cp scripts/gpu-device/run.sh "$b/run.sh"

mkdir -p "$(dirname "$out")"
tar -C "$stage" -czf "$out" cotrain-gpu
bytes=$(stat -c %s "$out")
echo "$out: $((bytes / 1048576)) MiB ($bytes bytes)"
if [ "$bytes" -gt $((64 * 1048576)) ]; then
  echo "too large for a device run (64 MiB)" >&2
  exit 1
fi
