from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg  # noqa: F401  (its own OpenBLAS, as a draft loads it)
import sklearn.linear_model  # noqa: F401
import torch  # noqa: F401  (its OpenMP)
from threadpoolctl import ThreadpoolController

from agents import runner


def test_a_warm_worker_runs_its_setting_of_native_threads_per_pool(settings: Any) -> None:
    # A worker's threads run drafts side by side: a BLAS or OpenMP pool per core under each
    # of them spins beside the others (agents/runner.py:_native_threads).
    np.ones((64, 64)) @ np.ones((64, 64))  # numpy's OpenBLAS loaded and used
    assert settings.WORKER_TORCH_THREADS == 1
    limiter: Any = runner._native_threads()
    try:
        pools = ThreadpoolController().info()
        assert pools, "no native thread pool found"
        assert {pool["num_threads"] for pool in pools} == {1}
    finally:
        limiter.restore_original_limits()
