#!/usr/bin/env python3
"""Writes small GGUF fixtures with gguf-py's GGUFWriter, and GGUFReader's view of each as JSON.

Usage: gguf-fixtures.py OUTDIR
       gguf-fixtures.py --corpus DIR   (the fuzzer's seed corpus, committed in Fuzz/corpus/gguf)

The Swift tests read the same files with vramd's reader and compare metadata and tensor tables
with the JSON, so the reference parser decides what "correct" means. The fixtures cover what
real files contain and the reader must not get wrong: per-layer head_count_kv arrays, a custom
alignment of 64, u32 and u64 scalars, every value type, a vocabulary-sized array, a tied output
(no output.weight), MoE expert tensors, sliding-window patterns, a big-endian file, and a
llama that llama-server loads, for comparing the estimator with llama.cpp on a second model.
"""
import json
import sys
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType as Q
from gguf import GGUFEndian, GGUFReader, GGUFValueType, GGUFWriter
from gguf.constants import GGML_QUANT_SIZES

RNG = np.random.default_rng(3)


def add(writer, name, ggml_type, ne):
    """Adds a tensor with ggml dims `ne` (innermost first) filled with random bytes."""
    shape = tuple(reversed(ne))
    if ggml_type == Q.F32:
        writer.add_tensor(name, RNG.standard_normal(shape).astype(np.float32))
    elif ggml_type == Q.F16:
        writer.add_tensor(name, RNG.standard_normal(shape).astype(np.float16))
    else:
        block, size = GGML_QUANT_SIZES[ggml_type]
        byte_shape = shape[:-1] + (shape[-1] // block * size,)
        data = RNG.integers(0, 256, size=byte_shape, dtype=np.uint8)
        writer.add_tensor(name, data, raw_dtype=ggml_type)


def finish(writer):
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def llama_gqa(path):
    """A small llama with a different KV head count per layer (0 = no KV cache)."""
    w = GGUFWriter(str(path), "llama")
    w.add_custom_alignment(64)
    w.add_name("fixture llama gqa")
    w.add_file_type(7)
    w.add_block_count(4)
    w.add_context_length(4096)
    w.add_embedding_length(256)
    w.add_feed_forward_length(512)
    w.add_head_count(8)
    w.add_head_count_kv([8, 2, 0, 4])
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(10000.0)
    # Every value type, under keys of their own.
    w.add_uint8("test.u8", 200)
    w.add_int8("test.i8", -100)
    w.add_uint16("test.u16", 60000)
    w.add_int16("test.i16", -30000)
    w.add_uint32("test.u32", 4_000_000_000)
    w.add_int32("test.i32", -2_000_000_000)
    w.add_float32("test.f32", 0.15625)
    w.add_bool("test.bool", True)
    w.add_string("test.string", "héllo, wörld")
    w.add_uint64("test.u64", 2**40 + 7)
    w.add_int64("test.i64", -(2**40))
    w.add_float64("test.f64", 2.718281828459045)
    w.add_array("test.ints", [1, 2, 3, 40000])
    w.add_array("test.strings", ["a", "", "ünïcode"])
    w.add_array("test.bools", [True, False, True])
    w.add_array("test.floats", [0.5, -1.25])
    # A vocabulary big enough to be read lazily.
    w.add_tokenizer_model("llama")
    w.add_token_list([f"tok{i}" for i in range(5000)])
    w.add_token_scores([float(i) / 8 for i in range(5000)])
    w.add_token_types([1] * 5000)
    add(w, "token_embd.weight", Q.Q8_0, [256, 5000])
    add(w, "output_norm.weight", Q.F32, [256])
    for layer, kv in enumerate([8, 2, 0, 4]):
        add(w, f"blk.{layer}.attn_norm.weight", Q.F32, [256])
        add(w, f"blk.{layer}.attn_q.weight", Q.Q4_K, [256, 256])
        if kv:
            add(w, f"blk.{layer}.attn_k.weight", Q.Q8_0, [256, 32 * kv])
            add(w, f"blk.{layer}.attn_v.weight", Q.Q8_0, [256, 32 * kv])
        add(w, f"blk.{layer}.attn_output.weight", Q.Q4_K, [256, 256])
        add(w, f"blk.{layer}.ffn_norm.weight", Q.F32, [256])
        add(w, f"blk.{layer}.ffn_gate.weight", Q.Q6_K, [256, 512])
        add(w, f"blk.{layer}.ffn_up.weight", Q.Q6_K, [256, 512])
        add(w, f"blk.{layer}.ffn_down.weight", Q.F16, [512, 256])
    finish(w)


def moe(path):
    """A small mixture-of-experts model with an untied output and 3-D expert tensors."""
    w = GGUFWriter(str(path), "qwen3moe")
    w.add_name("fixture moe")
    w.add_block_count(2)
    w.add_context_length(8192)
    w.add_embedding_length(128)
    w.add_feed_forward_length(256)
    w.add_expert_feed_forward_length(64)
    w.add_expert_count(8)
    w.add_expert_used_count(2)
    w.add_head_count(4)
    w.add_head_count_kv(2)
    w.add_key_length(64)
    w.add_value_length(64)
    w.add_uint64("qwen3moe.test_u64_scalar", 3)
    add(w, "token_embd.weight", Q.Q8_0, [128, 1000])
    add(w, "output_norm.weight", Q.F32, [128])
    add(w, "output.weight", Q.Q8_0, [128, 1000])
    for layer in range(2):
        add(w, f"blk.{layer}.attn_norm.weight", Q.F32, [128])
        add(w, f"blk.{layer}.attn_q.weight", Q.Q8_0, [128, 256])
        add(w, f"blk.{layer}.attn_k.weight", Q.Q8_0, [128, 128])
        add(w, f"blk.{layer}.attn_v.weight", Q.Q8_0, [128, 128])
        add(w, f"blk.{layer}.attn_output.weight", Q.Q8_0, [256, 128])
        add(w, f"blk.{layer}.ffn_gate_inp.weight", Q.F32, [128, 8])
        add(w, f"blk.{layer}.ffn_gate_exps.weight", Q.Q8_0, [128, 64, 8])
        add(w, f"blk.{layer}.ffn_up_exps.weight", Q.Q8_0, [128, 64, 8])
        add(w, f"blk.{layer}.ffn_down_exps.weight", Q.Q8_0, [64, 128, 8])
    finish(w)


def sliding(path):
    """A gemma3-like model whose sliding-window layers are given as a bool array."""
    w = GGUFWriter(str(path), "gemma3")
    w.add_name("fixture sliding")
    w.add_block_count(4)
    w.add_context_length(32768)
    w.add_embedding_length(128)
    w.add_feed_forward_length(256)
    w.add_head_count(2)
    w.add_head_count_kv(1)
    w.add_key_length(64)
    w.add_value_length(64)
    w.add_sliding_window(128)
    w.add_sliding_window_pattern([True, False, True, False])
    add(w, "token_embd.weight", Q.Q8_0, [128, 512])
    add(w, "output_norm.weight", Q.F32, [128])
    for layer in range(4):
        add(w, f"blk.{layer}.attn_q.weight", Q.Q8_0, [128, 128])
        add(w, f"blk.{layer}.attn_k.weight", Q.Q8_0, [128, 64])
        add(w, f"blk.{layer}.attn_v.weight", Q.Q8_0, [128, 64])
        add(w, f"blk.{layer}.ffn_up.weight", Q.Q8_0, [128, 256])
    finish(w)


def spm_vocabulary(w, size):
    """A SentencePiece vocabulary llama.cpp accepts: specials, the 256 byte tokens, words."""
    words = size - 259
    w.add_tokenizer_model("llama")
    w.add_token_list(["<unk>", "<s>", "</s>"] + [f"<0x{i:02X}>" for i in range(256)] + [f"w{i}" for i in range(words)])
    w.add_token_scores([0.0] * size)
    w.add_token_types([2, 3, 3] + [6] * 256 + [1] * words)  # unknown, control, byte, normal
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)


def served_llama(path):
    """A llama llama-server can load (SentencePiece vocabulary with byte tokens), with grouped
    KV heads and no sliding window: the second model the estimator is checked against."""
    embd, ffn, heads, kv_heads, layers = 512, 1408, 8, 2, 4
    w = GGUFWriter(str(path), "llama")
    w.add_name("fixture served llama")
    w.add_block_count(layers)
    w.add_context_length(8192)
    w.add_embedding_length(embd)
    w.add_feed_forward_length(ffn)
    w.add_head_count(heads)
    w.add_head_count_kv(kv_heads)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(embd // heads)
    spm_vocabulary(w, 2000)
    add(w, "token_embd.weight", Q.Q8_0, [embd, 2000])
    add(w, "output_norm.weight", Q.F32, [embd])
    add(w, "output.weight", Q.Q8_0, [embd, 2000])
    for i in range(layers):
        add(w, f"blk.{i}.attn_norm.weight", Q.F32, [embd])
        add(w, f"blk.{i}.attn_q.weight", Q.Q8_0, [embd, embd])
        add(w, f"blk.{i}.attn_k.weight", Q.Q8_0, [embd, embd // heads * kv_heads])
        add(w, f"blk.{i}.attn_v.weight", Q.Q8_0, [embd, embd // heads * kv_heads])
        add(w, f"blk.{i}.attn_output.weight", Q.Q8_0, [embd, embd])
        add(w, f"blk.{i}.ffn_norm.weight", Q.F32, [embd])
        add(w, f"blk.{i}.ffn_gate.weight", Q.Q8_0, [embd, ffn])
        add(w, f"blk.{i}.ffn_up.weight", Q.Q8_0, [embd, ffn])
        add(w, f"blk.{i}.ffn_down.weight", Q.Q8_0, [ffn, embd])
    finish(w)


def served_moe(path):
    """A qwen3moe llama-server can load: 4 of 16 experts per token, untied output."""
    embd, expert_ffn, heads, kv_heads, head, layers, experts = 512, 384, 8, 2, 64, 2, 16
    w = GGUFWriter(str(path), "qwen3moe")
    w.add_name("fixture served moe")
    w.add_block_count(layers)
    w.add_context_length(8192)
    w.add_embedding_length(embd)
    w.add_feed_forward_length(512)
    w.add_head_count(heads)
    w.add_head_count_kv(kv_heads)
    w.add_key_length(head)
    w.add_value_length(head)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_expert_count(experts)
    w.add_expert_used_count(4)
    w.add_expert_feed_forward_length(expert_ffn)
    spm_vocabulary(w, 2000)
    add(w, "token_embd.weight", Q.Q8_0, [embd, 2000])
    add(w, "output_norm.weight", Q.F32, [embd])
    add(w, "output.weight", Q.Q8_0, [embd, 2000])
    for i in range(layers):
        add(w, f"blk.{i}.attn_norm.weight", Q.F32, [embd])
        add(w, f"blk.{i}.attn_q.weight", Q.Q8_0, [embd, heads * head])
        add(w, f"blk.{i}.attn_k.weight", Q.Q8_0, [embd, kv_heads * head])
        add(w, f"blk.{i}.attn_v.weight", Q.Q8_0, [embd, kv_heads * head])
        add(w, f"blk.{i}.attn_output.weight", Q.Q8_0, [heads * head, embd])
        add(w, f"blk.{i}.attn_q_norm.weight", Q.F32, [head])
        add(w, f"blk.{i}.attn_k_norm.weight", Q.F32, [head])
        add(w, f"blk.{i}.ffn_norm.weight", Q.F32, [embd])
        add(w, f"blk.{i}.ffn_gate_inp.weight", Q.F32, [embd, experts])
        add(w, f"blk.{i}.ffn_gate_exps.weight", Q.Q8_0, [embd, expert_ffn, experts])
        add(w, f"blk.{i}.ffn_up_exps.weight", Q.Q8_0, [embd, expert_ffn, experts])
        add(w, f"blk.{i}.ffn_down_exps.weight", Q.Q8_0, [expert_ffn, embd, experts])
    finish(w)


def big_endian(path):
    w = GGUFWriter(str(path), "llama", endianess=GGUFEndian.BIG)
    w.add_block_count(1)
    add(w, "token_embd.weight", Q.F32, [8, 4])
    finish(w)


def tiny(path, arch, extra):
    """A model of a few hundred bytes, for the fuzzer's seed corpus."""
    w = GGUFWriter(str(path), arch)
    w.add_block_count(2)
    w.add_context_length(1024)
    w.add_embedding_length(32)
    w.add_feed_forward_length(64)
    w.add_head_count(2)
    extra(w)
    w.add_token_list(["a", "b", "c"])
    add(w, "token_embd.weight", Q.Q8_0, [32, 3])
    add(w, "blk.0.attn_k.weight", Q.F16, [32, 2])
    add(w, "blk.1.ffn_up.weight", Q.F32, [4, 2])
    finish(w)


def corpus(out):
    tiny(out / "llama.gguf", "llama", lambda w: w.add_head_count_kv([2, 0]))
    tiny(out / "gemma3.gguf", "gemma3", lambda w: (w.add_sliding_window(16), w.add_sliding_window_pattern([True, False])))
    tiny(out / "gemma2.gguf", "gemma2", lambda w: (w.add_sliding_window(16), w.add_key_length(16), w.add_value_length(16)))
    tiny(out / "moe.gguf", "qwen3moe", lambda w: (w.add_expert_count(4), w.add_expert_used_count(2),
                                                  w.add_expert_feed_forward_length(16), w.add_custom_alignment(64)))
    tiny(out / "types.gguf", "llama", lambda w: (w.add_uint64("t.u64", 5), w.add_int8("t.i8", -1), w.add_float64("t.f64", 0.5),
                                                 w.add_bool("t.b", False), w.add_array("t.a", [1, 2]), w.add_int16("t.i16", 3),
                                                 w.add_uint16("t.u16", 3), w.add_int64("t.i64", -3), w.add_uint8("t.u8", 1)))


def reader_view(path):
    """GGUFReader's metadata and tensor table, in plain JSON types."""
    reader = GGUFReader(str(path))
    fields = {}
    for name, field in reader.fields.items():
        if name.startswith("GGUF."):
            continue  # the reader's pseudo-fields for the header counts
        fields[name] = {"types": [t.name for t in field.types], "value": field.contents()}
    tensors = [
        {
            "name": t.name,
            "type": int(t.tensor_type),
            "dims": [int(d) for d in t.shape],
            "offset": int(t.data_offset) - reader.data_offset,
            "bytes": int(t.n_bytes),
            "elements": int(t.n_elements),
        }
        for t in reader.tensors
    ]
    return {"alignment": int(reader.alignment), "data_offset": int(reader.data_offset), "fields": fields, "tensors": tensors}


def main():
    if sys.argv[1] == "--corpus":
        out = Path(sys.argv[2])
        out.mkdir(parents=True, exist_ok=True)
        corpus(out)
        return
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for name, make in [("llama-gqa", llama_gqa), ("moe", moe), ("sliding", sliding), ("served-llama", served_llama),
                       ("served-moe", served_moe)]:
        make(out / f"{name}.gguf")
        (out / f"{name}.json").write_text(json.dumps(reader_view(out / f"{name}.gguf"), default=lambda o: o.item()))
    big_endian(out / "big-endian.gguf")


if __name__ == "__main__":
    main()
