"""Benchmark only: raises the district cap (layout.MAX_DISTRICTS) in every Python process of a run when
ASSESS_XL_BENCH_MAX_DISTRICTS is set, the fork server and its reader children included (they start as
fresh interpreters and inherit PYTHONPATH, which points here)."""
import os

if os.environ.get("ASSESS_XL_BENCH_MAX_DISTRICTS"):
    from assess_xl.xlsx import layout
    layout.MAX_DISTRICTS = int(os.environ["ASSESS_XL_BENCH_MAX_DISTRICTS"])
