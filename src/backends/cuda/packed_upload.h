// Several host arrays sent to the device as one piece: packed into a pinned buffer at
// 16-byte aligned offsets, then one cudaMemcpyAsync (one copy per step instead of one per
// array). The pinned source is reused by the next call: the caller makes sure the previous
// copy has finished first (a stream synchronisation it needs anyway).
#pragma once

#include <cuda_runtime_api.h>

#include <array>
#include <cstdint>
#include <cstring>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/device_buffer.h"

namespace qwen3::cuda {

template <size_t N>
struct PackedUpload {
  std::array<size_t, N> offsets{};  // array i starts at device.get() + offsets[i]
  bool moved = false;               // the device buffer was reallocated
};

// Each argument is a contiguous container (data(), size()) of trivially copyable values.
template <typename... Arrays>
PackedUpload<sizeof...(Arrays)> upload_packed(PinnedBuffer& host, DeviceBuffer& device,
                                              cudaStream_t stream, const char* host_what,
                                              const char* device_what, const Arrays&... arrays) {
  PackedUpload<sizeof...(Arrays)> up;
  size_t total = 0, i = 0;
  ((up.offsets[i++] = total, total += (arrays.size() * sizeof(*arrays.data()) + 15) / 16 * 16),
   ...);
  host.ensure(total, host_what);
  up.moved = device.ensure(total, device_what);
  auto* h = host.as<uint8_t>();
  i = 0;
  (
      [&](const auto& a) {
        if (!a.empty()) std::memcpy(h + up.offsets[i], a.data(), a.size() * sizeof(*a.data()));
        ++i;
      }(arrays),
      ...);
  QWEN3_CUDA_CHECK(cudaMemcpyAsync(device.get(), h, total, cudaMemcpyHostToDevice, stream));
  return up;
}

}  // namespace qwen3::cuda
