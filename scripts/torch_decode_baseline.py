#!/usr/bin/env python3
"""PyTorch / transformers baseline for bench_cuda: LlamaForCausalLM (eager attention) in bf16 with
random weights from a Llama-2-7B config, on one CUDA device. Prints one JSON object:

  prefill: N tokens in one forward pass (tokens/s, TFLOP/s with the harness's FLOP accounting)
  decode:  one token at a time after an N-token context with the KV cache (tokens/s, ms/token)

Same shapes and FLOP accounting as bench/bench_cuda.cpp, for the side-by-side comparison:
    python3 scripts/torch_decode_baseline.py [--tokens 2048] [--layers 32] [--decode-steps 64]
Without CUDA it prints {"error": ...} and exits 0.
"""
import argparse
import json
import sys
import time


def flops_per_token(cfg, attended):
    """2 x multiply-adds of one block for one token over `attended` positions (backends/counting.cpp)."""
    d, h = cfg["dim"], cfg["hidden"]
    q = cfg["heads"] * cfg["head_dim"]
    kv = cfg["kv_heads"] * cfg["head_dim"]
    proj = d * q + 2 * d * kv + q * d + 3 * d * h
    return 2 * (proj + 2 * q * attended)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=2048)
    ap.add_argument("--layers", type=int, default=32)
    ap.add_argument("--decode-steps", type=int, default=64)
    ap.add_argument("--prefill-reps", type=int, default=5)
    args = ap.parse_args()
    out = {"baseline": "transformers LlamaForCausalLM, eager attention, bf16, random weights"}
    try:
        import torch
        import transformers
        from transformers import LlamaConfig, LlamaForCausalLM
    except Exception as e:  # noqa: BLE001
        return {**out, "error": f"import failed: {e}"}
    if not torch.cuda.is_available():
        return {**out, "error": "no CUDA device"}
    cfg = dict(dim=4096, hidden=11008, heads=32, kv_heads=32, head_dim=128, layers=args.layers,
               vocab=32000)
    config = LlamaConfig(hidden_size=cfg["dim"], intermediate_size=cfg["hidden"],
                         num_attention_heads=cfg["heads"], num_key_value_heads=cfg["kv_heads"],
                         num_hidden_layers=cfg["layers"], vocab_size=cfg["vocab"],
                         max_position_embeddings=4096, rms_norm_eps=1e-5, rope_theta=10000.0,
                         tie_word_embeddings=False, attn_implementation="eager")
    try:
        config._attn_implementation = "eager"
    except Exception:  # noqa: BLE001 (read-only in some versions; the keyword above did it)
        pass
    dev = torch.device("cuda")
    torch.manual_seed(0)
    with torch.device(dev):
        torch.set_default_dtype(torch.bfloat16)
        model = LlamaForCausalLM(config)
        torch.set_default_dtype(torch.float32)
    model.eval()
    n = args.tokens
    ids = (torch.arange(n + 1, device=dev) * 7919 + 13) % cfg["vocab"]
    prompt, nxt = ids[:n].unsqueeze(0), ids[n:].unsqueeze(0)

    def timed(fn):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        r = fn()
        torch.cuda.synchronize()
        return time.perf_counter() - t0, r

    with torch.inference_mode():
        # Prefill: logits of the last row only (as bench_cuda's BM_prefill).
        def prefill():
            return model(prompt, use_cache=True, logits_to_keep=1)
        timed(prefill)  # warm-up
        best = min(timed(prefill)[0] for _ in range(args.prefill_reps))
        flops = sum(flops_per_token(cfg, r + 1) for r in range(n)) * cfg["layers"] + \
            2.0 * cfg["vocab"] * cfg["dim"]
        out["prefill"] = {"tokens": n, "seconds": best, "tokens_per_s": n / best,
                          "tflops": flops / best * 1e-12}

        # Decode: one token after the n-token context; the cache is cropped back after each step.
        _, res = timed(prefill)
        cache = res.past_key_values

        def step():
            r = model(nxt, past_key_values=cache, use_cache=True)
            tok = r.logits[0, -1].argmax().item()  # the token crosses to the host, as in a decode loop
            cache.crop(n)
            return tok
        for _ in range(3):
            timed(step)
        times = sorted(timed(step)[0] for _ in range(args.decode_steps))
        best = times[0]
        median = times[len(times) // 2]
        d, h, q = cfg["dim"], cfg["hidden"], cfg["heads"] * cfg["head_dim"]
        kv = cfg["kv_heads"] * cfg["head_dim"]
        weight_bytes = 2.0 * (cfg["layers"] * (d * (q + 2 * kv) + q * d + 3 * d * h) + cfg["vocab"] * d)
        out["decode"] = {"context": n, "best_ms": best * 1e3, "median_ms": median * 1e3,
                         "tokens_per_s": 1 / best, "weight_gb_per_s": weight_bytes / best * 1e-9}
    out["device"] = torch.cuda.get_device_name(0)
    out["torch"] = torch.__version__
    out["transformers"] = transformers.__version__
    out["config"] = cfg
    return out


def run():
    try:
        out = main()
    except Exception as e:  # noqa: BLE001 - report, don't crash the GPU check
        out = {"error": f"{type(e).__name__}: {e}"}
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(run())
