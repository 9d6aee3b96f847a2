#!/usr/bin/env bash
# Evaluate LLaDA-8B-Instruct on GSM8K under several unmasking strategies (needs a GPU and the hub).
# Each run writes lm-eval's results plus mdlm_traces_<date>.jsonl (AFP, Kendall tau, NFE per sample).
set -euo pipefail
MODEL=pretrained=GSAI-ML/LLaDA-8B-Instruct,dtype=bfloat16
COMMON=(--tasks gsm8k --apply_chat_template --fewshot_as_multiturn --batch_size 8 --log_samples)

# LLaDA's reference decoding: one token per step, low-confidence remasking, blocks of 32
lm_eval --model mdlm --model_args "$MODEL,block_length=32" "${COMMON[@]}" --output_path out/llada_topk1
# two tokens per step
lm_eval --model mdlm --model_args "$MODEL,block_length=32,k=2" "${COMMON[@]}" --output_path out/llada_topk2
# Fast-dLLM confidence threshold
lm_eval --model mdlm --model_args "$MODEL,block_length=32,strategy=threshold,threshold=0.9" "${COMMON[@]}" \
  --output_path out/llada_threshold
# the same model, overriding the strategy per run with --gen_kwargs
lm_eval --model mdlm --model_args "$MODEL" "${COMMON[@]}" --gen_kwargs strategy=factor,factor=1.0,block_length=32 \
  --output_path out/llada_factor
