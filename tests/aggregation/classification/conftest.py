"""Every categorical estimator test runs on both code paths: the numpy reference and the numba
kernels (numba is in the test extra; without it the numba runs fail, naming the install)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, params=["numpy", "numba"])
def kernel_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("CROWDNB_KERNELS", request.param)
    return request.param
