"""The console script's own settings for the process it runs in."""
import os

from assess_xl import launch


def test_openblas_starts_no_threads_unless_the_user_chose_a_number(monkeypatch):
    monkeypatch.delenv(launch.BLAS_THREADS, raising=False)
    launch.one_blas_thread()
    assert os.environ[launch.BLAS_THREADS] == "1"
    monkeypatch.setenv(launch.BLAS_THREADS, "4")
    launch.one_blas_thread()
    assert os.environ[launch.BLAS_THREADS] == "4"
