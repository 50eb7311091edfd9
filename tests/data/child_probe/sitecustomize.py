"""Tests only: Python imports this at start-up when its folder is on PYTHONPATH. When
ASSESS_XL_TEST_CHILD_LOG names a file, the child that assess_xl.xlsx.childsheets forks to write some of a
workbook's sheets appends its pid to that file as it starts, and then kills itself (SIGKILL) when
ASSESS_XL_TEST_CHILD_DIES is set; a core is taken to be idle for it. The module is wrapped as soon as it is
imported."""
import importlib.abc
import importlib.machinery
import os
import signal
import sys

WATCHED = "assess_xl.xlsx.childsheets"


class _Watch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != WATCHED:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        original = spec.loader.exec_module

        def exec_module(module):
            original(module)
            _wrap(module)

        spec.loader.exec_module = exec_module
        return spec


def _wrap(module) -> None:
    child = module._child

    def logged(*args):
        with open(os.environ["ASSESS_XL_TEST_CHILD_LOG"], "a", encoding="ascii") as log:
            log.write(f"{os.getpid()}\n")
        if os.environ.get("ASSESS_XL_TEST_CHILD_DIES"):
            os.kill(os.getpid(), signal.SIGKILL)
        child(*args)

    module._child = logged
    module.other_core_idle = lambda: True  # the child is forked whatever else the machine is running


if os.environ.get("ASSESS_XL_TEST_CHILD_LOG"):
    sys.meta_path.insert(0, _Watch())
