#include "backends/cuda/kernels/fp8_gemm.h"

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernels/launch.h"

namespace qwen3::cuda {
namespace {

// A cuBLASLt descriptor that destroys itself: members of this type are destroyed when a
// later create in a constructor throws, so a failed Descs leaks nothing.
template <typename H, cublasStatus_t (*Destroy)(H)>
class LtHandle {
 public:
  LtHandle() = default;
  ~LtHandle() {
    if (h_) Destroy(h_);
  }
  LtHandle(const LtHandle&) = delete;
  LtHandle& operator=(const LtHandle&) = delete;
  H* out() { return &h_; }  // for the Create call (the handle is still null then)
  H get() const { return h_; }

 private:
  H h_ = nullptr;
};
using LtOp = LtHandle<cublasLtMatmulDesc_t, cublasLtMatmulDescDestroy>;
using LtLayout = LtHandle<cublasLtMatrixLayout_t, cublasLtMatrixLayoutDestroy>;

// One product's cuBLASLt descriptors. Column-major view, as the BF16 path's cublasGemmEx:
// Y^T [n_out, rows] = W [k, n_out]^T * X^T [k, rows], so cuBLASLt's A is W (transposed)
// and B is x; each operand's block scales follow it.
class Descs {
 public:
  Descs(int64_t n_out, int64_t k, int64_t rows, bool bf16_out) {
    QWEN3_CUBLAS_CHECK(cublasLtMatmulDescCreate(op_.out(), CUBLAS_COMPUTE_32F, CUDA_R_32F));
    const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    set(CUBLASLT_MATMUL_DESC_TRANSA, ta);
    set(CUBLASLT_MATMUL_DESC_TRANSB, tb);
    const int32_t vec128 = CUBLASLT_MATMUL_MATRIX_SCALE_VEC128_32F;
    set(CUBLASLT_MATMUL_DESC_A_SCALE_MODE, vec128);
    set(CUBLASLT_MATMUL_DESC_B_SCALE_MODE, vec128);
    const auto u = [](int64_t v) { return static_cast<uint64_t>(v); };
    QWEN3_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(a_.out(), CUDA_R_8F_E4M3, u(k), u(n_out), k));
    QWEN3_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(b_.out(), CUDA_R_8F_E4M3, u(k), u(rows), k));
    QWEN3_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(c_.out(), bf16_out ? CUDA_R_16BF : CUDA_R_32F,
                                                  u(n_out), u(rows), n_out));
  }

  template <typename T>
  void set(cublasLtMatmulDescAttributes_t attr, const T& v) {
    QWEN3_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op_.get(), attr, &v, sizeof v));
  }
  cublasLtMatmulDesc_t op() const { return op_.get(); }
  cublasLtMatrixLayout_t a() const { return a_.get(); }
  cublasLtMatrixLayout_t b() const { return b_.get(); }
  cublasLtMatrixLayout_t c() const { return c_.get(); }

 private:
  LtOp op_;
  LtLayout a_, b_, c_;
};

}  // namespace

Fp8BlockGemm::Fp8BlockGemm() {
  // cuBLASLt's 128-element block scaling of FP8 runs on compute capability 9.0 only.
  hopper_ = compute_capability() == 90 && cublasLtGetVersion() >= 120900;
  QWEN3_CUBLAS_CHECK(cublasLtCreate(&handle_));
}

Fp8BlockGemm::~Fp8BlockGemm() {
  if (handle_) cublasLtDestroy(handle_);
}

const Fp8BlockGemm::Plan& Fp8BlockGemm::plan(int64_t n_out, int64_t k, int64_t rows, bool bf16_out,
                                             void* workspace, size_t workspace_bytes) {
  const auto key = std::make_tuple(n_out, k, rows, bf16_out);
  if (auto it = plans_.find(key); it != plans_.end()) return it->second;
  Plan p;
  if (hopper_ && k % 128 == 0 && n_out % 16 == 0 && rows > 0 && rows % 16 == 0) {
    Descs d(n_out, k, rows, bf16_out);
    d.set(CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, workspace);  // any aligned device pointer
    d.set(CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, workspace);
    cublasLtMatmulPreference_t pref = nullptr;
    QWEN3_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
    const uint64_t ws = workspace_bytes;
    cublasStatus_t st = cublasLtMatmulPreferenceSetAttribute(
        pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws);
    cublasLtMatmulHeuristicResult_t result{};
    int found = 0;
    if (st == CUBLAS_STATUS_SUCCESS) {
      st = cublasLtMatmulAlgoGetHeuristic(handle_, d.op(), d.a(), d.b(), d.c(), d.c(), pref, 1,
                                          &result, &found);
    }
    cublasLtMatmulPreferenceDestroy(pref);
    // "Not supported" is an answer (the caller falls back), not an error.
    p.ok = st == CUBLAS_STATUS_SUCCESS && found > 0 && result.state == CUBLAS_STATUS_SUCCESS;
    if (p.ok) p.algo = result.algo;
  }
  return plans_.emplace(key, p).first->second;
}

bool Fp8BlockGemm::supported(int64_t n_out, int64_t k, int64_t rows, void* workspace,
                             size_t workspace_bytes, bool bf16_out) {
  return plan(n_out, k, rows, bf16_out, workspace, workspace_bytes).ok;
}

void Fp8BlockGemm::run(const Fp8GemmArgs& a, void* workspace, size_t workspace_bytes,
                       cudaStream_t stream) {
  const bool bf16_out = a.y_bf16 != nullptr;
  check_shape(!bf16_out || !a.accumulate, "fp8_block_gemm", "a BF16 output is stored, not added");
  const Plan& p = plan(a.n_out, a.k, a.rows, bf16_out, workspace, workspace_bytes);
  check_shape(p.ok, "fp8_block_gemm", "no cuBLASLt kernel for this shape (ask supported())", true);
  Descs d(a.n_out, a.k, a.rows, bf16_out);
  d.set(CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, a.w_scales);
  d.set(CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, a.x_scales);
  const float alpha = 1.0f, beta = a.accumulate ? 1.0f : 0.0f;
  void* y = bf16_out ? static_cast<void*>(a.y_bf16) : static_cast<void*>(a.y);
  QWEN3_CUBLAS_CHECK(cublasLtMatmul(handle_, d.op(), &alpha, a.w, d.a(), a.x, d.b(), &beta, y,
                                    d.c(), y, d.c(), &p.algo, workspace, workspace_bytes, stream));
}

}  // namespace qwen3::cuda
