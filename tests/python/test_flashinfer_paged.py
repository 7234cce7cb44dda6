"""Issue 14's FlashInfer proof: FlashInfer's paged prefill and decode wrappers, fed the Python
package's CSR tables after a real history (chunked prefill, window release, prefix hits, MTP
rollbacks, requests finishing and arriving), give pagedkv's own kernel's outputs and a float32
reference's (examples/python/flashinfer_paged.py). Needs torch with a CUDA device, flashinfer-python
and pagedkv's decode shim (PAGEDKV_DECODE_SHIM: the library bench/swa_decode_shim.cu builds; the
GPU script scripts/gpu_python_check.sh builds it); skipped, saying which is missing, everywhere else."""

import os

import pytest
from conftest import load_example

torch = pytest.importorskip("torch", reason="torch is not installed: the FlashInfer proof needs it")
pytest.importorskip("flashinfer", reason="flashinfer-python is not installed: the FlashInfer proof needs it")
if not torch.cuda.is_available():
    pytest.skip("no CUDA device: the FlashInfer proof runs on a GPU", allow_module_level=True)
SHIM = os.environ.get("PAGEDKV_DECODE_SHIM", "")
if not os.path.isfile(SHIM):
    pytest.skip("PAGEDKV_DECODE_SHIM names no library: build bench/swa_decode_shim.cu (its first lines say how)",
                allow_module_level=True)

flashinfer_paged = load_example("flashinfer_paged")


def test_flashinfer_and_pagedkv_kernels_read_the_history_pagedkv_tables_describe():
    s = flashinfer_paged.run(SHIM, steps=120, seed=11)
    # The history covered what it is meant to: every kind of step, rollbacks, reuse, turnover.
    assert s["prefill_chunks"] > 0 and s["decode_steps"] > 0 and s["mtp_steps"] > 0
    assert s["rolled_back"] > 0 and s["prefix_hit_tokens"] > 0 and s["finished"] > 0
    assert s["decode_wrapper_rows"] > 0
    # Every output matched the float32 reference and the two kernels agreed (run raises otherwise).
    assert s["worst"] < flashinfer_paged.TOLERANCE and s["worst_fi_vs_pkv"] < flashinfer_paged.TOLERANCE
