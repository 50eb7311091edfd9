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


def test_numpy_finds_openblas_main_free_set_unless_the_user_set_it(monkeypatch):
    monkeypatch.delenv(launch.BLAS_MAIN_FREE, raising=False)
    launch.numpy_leaves_the_environment_alone()
    assert os.environ[launch.BLAS_MAIN_FREE] == "1"
    monkeypatch.setenv(launch.BLAS_MAIN_FREE, "0")
    launch.numpy_leaves_the_environment_alone()
    assert os.environ[launch.BLAS_MAIN_FREE] == "0"
