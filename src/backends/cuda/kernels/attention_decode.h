// The decode half of launch_paged_attention (attention_decode.cu): rows with one new
// token, split over their context, merged by the last CTA of each row.
#pragma once

#include <cuda_runtime_api.h>

#include "backends/cuda/kernels/attention.h"

namespace qwen3::cuda {

void launch_decode_attention(const PagedAttentionParams& p, cudaStream_t stream);
// The tensor-core kernel (attention_decode_mma.cu) over launch_decode_attention's grid
// (p.num_decode_items x kv_heads x decode_attention_quads); when decode_attention_uses_mma(p).
void launch_decode_attention_mma(const PagedAttentionParams& p, dim3 grid, cudaStream_t stream);

}  // namespace qwen3::cuda
