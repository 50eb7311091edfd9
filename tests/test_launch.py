"""The console script's own settings for the process it runs in."""
import os

import pytest

from assess_xl import launch


@pytest.mark.parametrize("variable, set_it, user_value", [
    (launch.BLAS_THREADS, launch.one_blas_thread, "4"),  # OpenBLAS starts no threads of its own
    (launch.BLAS_MAIN_FREE, launch.numpy_leaves_the_environment_alone, "0"),  # numpy's import changes nothing
])
def test_openblas_setting_made_unless_the_user_set_it(monkeypatch, variable, set_it, user_value):
    monkeypatch.delenv(variable, raising=False)
    set_it()
    assert os.environ[variable] == "1"
    monkeypatch.setenv(variable, user_value)
    set_it()
    assert os.environ[variable] == user_value
