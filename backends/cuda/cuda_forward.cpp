// The CUDA backend's forward pass, one layer at a time over a block of rows, every step on the
// context's one stream; the logits and their statistics; hidden-state plumbing.
#include <cmath>
#include <cstring>
#include <vector>

#include "backends/cuda/cuda_backend_impl.h"

namespace eeb::cuda {

// Y[n, out] (f32, row stride ldy) = X[n, in] (weight type, row stride ldx) · W[out, in]ᵀ + beta·Y.
// cuBLAS is column-major, and a row-major [r, c] matrix with row stride ld is the column-major
// [c, r] matrix with leading dimension ld. So W's buffer is column-major Wᵀ [in, out] (lda = in), X's
// is Xᵀ [in, n] (ldb = ldx), Y's is Yᵀ [out, n] (ldc = ldy), and Y = X·Wᵀ  ⇔  Yᵀ = W·Xᵀ:
//   m = out, n = n, k = in, op(A) = T on W's buffer (giving W [out, in]), op(B) = N on X's buffer.
// FP32 accumulation (CUBLAS_COMPUTE_32F); f32 weights give a plain SGEMM (no TF32).
void CudaBackend::gemm(const void* W, int out, int in, const void* X, int ldx, int n, float* Y,
                       int ldy, float beta) {
  if (n == 0) return;
  const cudaDataType_t t =
      wt_ == WType::F32 ? CUDA_R_32F : (wt_ == WType::F16 ? CUDA_R_16F : CUDA_R_16BF);
  const float alpha = 1.0f;
  EEB_CUBLAS_CHECK(cublasGemmEx(ctx_->blas(), CUBLAS_OP_T, CUBLAS_OP_N, out, n, in, &alpha, W, t,
                                in, X, t, ldx, &beta, Y, CUDA_R_32F, ldy, CUBLAS_COMPUTE_32F,
                                CUBLAS_GEMM_DEFAULT));
}

std::unique_ptr<Hidden> CudaBackend::do_embed(std::span<const int32_t> tokens, int pos0) {
  const int n = static_cast<int>(tokens.size());
  ctx_->activate();
  auto h = new_hidden(n, pos0);
  if (n == 0) return h;
  ids_.ensure(ctx_, sizeof(int32_t) * n);
  EEB_CUDA_CHECK(cudaMemcpyAsync(ids_.get(), tokens.data(), sizeof(int32_t) * n,
                                 cudaMemcpyHostToDevice, stream()));
  cuda::embed_rows(embed_.get(), wt_, ids_.as<int32_t>(), n, c_.dim, h->row(0), stream());
  ctx_->sync();  // `tokens` may be freed on return
  return h;
}

void CudaBackend::do_run_layer(int layer, Hidden& hid, KVCache& kvc) {
  const auto& h = as_cuda(hid);
  auto* kvp = dynamic_cast<CudaCache*>(&kvc);
  if (!kvp || kvp->owner() != ctx_.get() || kvp->kv_dim() != kv_dim_)
    fail("KV cache does not come from this CUDA backend");
  auto& kv = *kvp;
  const int n = h.n_tokens(), pos0 = h.pos0();
  ctx_->activate();
  ensure_rope(pos0 + n);
  const LayerWeights& w = layers_[layer];
  const int D = c_.dim, H = c_.hidden_dim, hd = c_.head_dim;
  const size_t rows = static_cast<size_t>(n);
  xin_.ensure(ctx_, rows * std::max(D, q_dim_) * esz_);
  qkv_.ensure(ctx_, rows * qkv_dim_ * sizeof(float));
  att_.ensure(ctx_, rows * q_dim_ * sizeof(float));
  gu_.ensure(ctx_, rows * 2 * H * sizeof(float));
  act_.ensure(ctx_, rows * H * esz_);
  float* x = h.row(0);
  float* qkv = qkv_.as<float>();
  float* K = kv.k(layer);
  float* V = kv.v(layer);
  const cudaStream_t s = stream();

  // Attention: x += o_proj(attention(rope(qkv(rmsnorm(x)))))
  cuda::rmsnorm(x, n, D, w.attn_norm.as<float>(), c_.norm_eps, xin_.get(), wt_, s);
  gemm(w.wqkv.get(), qkv_dim_, D, xin_.get(), D, n, qkv, qkv_dim_, 0.0f);
  if (w.bqkv.get()) cuda::add_bias_rows(qkv, n, qkv_dim_, w.bqkv.as<float>(), s);
  if (w.q_norm.get()) {  // q and k heads: RMSNorm over head_dim each, before RoPE (Qwen3)
    cuda::head_rmsnorm(qkv, n, qkv_dim_, c_.n_heads, hd, w.q_norm.as<float>(), c_.norm_eps, s);
    cuda::head_rmsnorm(qkv + q_dim_, n, qkv_dim_, c_.n_kv_heads, hd, w.k_norm.as<float>(),
                       c_.norm_eps, s);
  }
  cuda::rope(qkv, n, qkv_dim_, c_.n_heads + c_.n_kv_heads, hd, pos0, cos_.as<float>(),
             sin_.as<float>(), s);  // q and k heads are adjacent in a qkv row
  const size_t kvb = sizeof(float) * kv_dim_, qkvb = sizeof(float) * qkv_dim_;
  EEB_CUDA_CHECK(cudaMemcpy2DAsync(K + static_cast<size_t>(pos0) * kv_dim_, kvb, qkv + q_dim_, qkvb,
                                   kvb, rows, cudaMemcpyDeviceToDevice, s));
  EEB_CUDA_CHECK(cudaMemcpy2DAsync(V + static_cast<size_t>(pos0) * kv_dim_, kvb,
                                   qkv + q_dim_ + kv_dim_, qkvb, kvb, rows,
                                   cudaMemcpyDeviceToDevice, s));
  const cuda::AttentionArgs a{qkv, qkv_dim_, K, V, kv_dim_, att_.as<float>(), q_dim_,
                              n, pos0, c_.n_heads, c_.n_kv_heads, hd, c_.sliding_window};
  if (n <= kDecodeRows) {
    const int splits = cuda::attention_decode_splits(a, ctx_->sm_count());
    partial_.ensure(ctx_, sizeof(float) * cuda::attention_decode_partial_floats(a, splits));
    cuda::attention_decode(a, splits, partial_.as<float>(), s);
  } else {
    cuda::attention_prefill(a, s);
  }
  const void* att_in = att_.get();
  if (wt_ != WType::F32) {
    cuda::convert_f32(att_.as<float>(), xin_.get(), wt_, rows * q_dim_, s);
    att_in = xin_.get();
  }
  gemm(w.wo.get(), D, q_dim_, att_in, q_dim_, n, x, D, 1.0f);

  // MLP: x += down(silu(gate(x')) · up(x')), x' = rmsnorm(x)
  cuda::rmsnorm(x, n, D, w.ffn_norm.as<float>(), c_.norm_eps, xin_.get(), wt_, s);
  gemm(w.wgu.get(), 2 * H, D, xin_.get(), D, n, gu_.as<float>(), 2 * H, 0.0f);
  cuda::swiglu(gu_.as<float>(), n, H, act_.get(), wt_, s);
  gemm(w.wd.get(), D, H, act_.get(), H, n, x, D, 1.0f);
}

// Final norm + LM head of rows [row0, row0 + n) into logits_ (n × vocab float32 on the device).
void CudaBackend::head(const CudaHidden& h, int row0, int n) {
  const size_t rows = static_cast<size_t>(n);
  xin_.ensure(ctx_, rows * std::max(c_.dim, q_dim_) * esz_);
  logits_.ensure(ctx_, rows * c_.vocab_size * sizeof(float));
  cuda::rmsnorm(h.row(row0), n, c_.dim, final_norm_.as<float>(), c_.norm_eps, xin_.get(), wt_,
                stream());
  const void* W = c_.tied_embeddings ? embed_.get() : lm_head_.get();
  gemm(W, c_.vocab_size, c_.dim, xin_.get(), c_.dim, n, logits_.as<float>(), c_.vocab_size, 0.0f);
}

void CudaBackend::do_logits(const Hidden& hid, int row0, int n, float* out) {
  const auto& h = as_cuda(hid);
  ctx_->activate();
  const size_t V = c_.vocab_size;
  for (int i0 = 0; i0 < n; i0 += head_rows()) {
    const int m = std::min(head_rows(), n - i0);
    head(h, row0 + i0, m);
    EEB_CUDA_CHECK(cudaMemcpyAsync(out + static_cast<size_t>(i0) * V, logits_.get(),
                                   sizeof(float) * m * V, cudaMemcpyDeviceToHost, stream()));
    ctx_->sync();
  }
}

void CudaBackend::do_token_logprobs(const Hidden& hid, int row0, std::span<const int32_t> targets,
                                    double* out, int32_t* argmax) {
  const auto& h = as_cuda(hid);
  const int n = static_cast<int>(targets.size());
  ctx_->activate();
  ids_.ensure(ctx_, sizeof(int32_t) * n);
  EEB_CUDA_CHECK(cudaMemcpyAsync(ids_.get(), targets.data(), sizeof(int32_t) * n,
                                 cudaMemcpyHostToDevice, stream()));
  const int chunk = head_rows();
  stats_.ensure(ctx_, sizeof(cuda::RowStats) * std::min(n, chunk));
  std::vector<cuda::RowStats> st(std::min(n, chunk));
  for (int i0 = 0; i0 < n; i0 += chunk) {
    const int m = std::min(chunk, n - i0);
    head(h, row0 + i0, m);
    cuda::row_stats(logits_.as<float>(), m, c_.vocab_size, ids_.as<int32_t>() + i0,
                    stats_.as<cuda::RowStats>(), stream());
    EEB_CUDA_CHECK(cudaMemcpyAsync(st.data(), stats_.get(), sizeof(cuda::RowStats) * m,
                                   cudaMemcpyDeviceToHost, stream()));
    ctx_->sync();
    for (int i = 0; i < m; ++i) {
      out[i0 + i] = st[i].target - st[i].lse;
      if (argmax) argmax[i0 + i] = st[i].top1;
    }
  }
}

ExitFeatures CudaBackend::do_exit_features(const Hidden& hid, int row) {
  const auto& h = as_cuda(hid);
  ctx_->activate();
  head(h, row, 1);
  stats_.ensure(ctx_, sizeof(cuda::RowStats));
  cuda::row_stats(logits_.as<float>(), 1, c_.vocab_size, nullptr, stats_.as<cuda::RowStats>(),
                  stream());
  cuda::RowStats st{};
  EEB_CUDA_CHECK(cudaMemcpyAsync(&st, stats_.get(), sizeof st, cudaMemcpyDeviceToHost, stream()));
  ctx_->sync();
  ExitFeatures f;
  f.top1 = st.top1;
  f.top2 = st.top2;
  f.p1 = static_cast<float>(std::exp(static_cast<double>(st.x1) - st.lse));
  if (st.top2 >= 0) f.p2 = static_cast<float>(std::exp(static_cast<double>(st.x2) - st.lse));
  return f;
}

void CudaBackend::do_read_hidden(const Hidden& hid, int row0, int n, float* out) {
  const auto& h = as_cuda(hid);
  ctx_->activate();
  EEB_CUDA_CHECK(cudaMemcpyAsync(out, h.row(row0), sizeof(float) * n * c_.dim,
                                 cudaMemcpyDeviceToHost, stream()));
  ctx_->sync();
}

std::unique_ptr<Hidden> CudaBackend::do_slice(const Hidden& hid, int row0, int n) {
  const auto& h = as_cuda(hid);
  ctx_->activate();
  auto out = new_hidden(n, h.pos0() + row0);
  if (n > 0)
    EEB_CUDA_CHECK(cudaMemcpyAsync(out->row(0), h.row(row0), sizeof(float) * n * c_.dim,
                                   cudaMemcpyDeviceToDevice, stream()));
  return out;
}

std::unique_ptr<Hidden> CudaBackend::do_concat(std::span<const Hidden* const> parts, int rows) {
  for (const Hidden* p : parts) as_cuda(*p);
  ctx_->activate();
  auto out = new_hidden(rows, parts[0]->pos0());
  int r = 0;
  for (const Hidden* p : parts) {
    const auto& x = as_cuda(*p);
    if (x.n_tokens() > 0)
      EEB_CUDA_CHECK(cudaMemcpyAsync(out->row(r), x.row(0), sizeof(float) * x.n_tokens() * c_.dim,
                                     cudaMemcpyDeviceToDevice, stream()));
    r += x.n_tokens();
  }
  return out;
}

}  // namespace eeb::cuda
