// Tile sizes of the tiled GEMM (gemm_tiled.cuh), shared with the host-side planning code.
#pragma once

namespace nasnet::cuda {
constexpr int kTileM = 64, kTileN = 64, kTileK = 16;
}  // namespace nasnet::cuda
