"""The benchmark script must not rot: run its quick mode (S only) and check what it wrote.
Timings are recorded by the script, never asserted here."""
import subprocess
import sys
from pathlib import Path


def test_benchmark_quick_mode(tmp_path):
    script = Path(__file__).parents[1] / "benchmarks" / "run.py"
    out = tmp_path / "RESULTS.md"
    done = subprocess.run([sys.executable, str(script), "--quick", "--output", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    text = out.read_text(encoding="utf-8")
    for row in ("| read-back |", "| python-calamine alone (floor) |", "| report writing |",
                "| xlsxwriter unformatted (floor) |", "| peak memory MB (scenario process) |", "read-back / calamine floor",
                "## Where the targets stand", "| report writing within 1.3× of unformatted xlsxwriter | S |",
                "| `collect` ≤ 1 s CPU over all processes | S |", "| `collect` end to end ≤ 1.2 s wall | M |"):
        assert row in text
    assert "| files | 15 | 15 |" in text and "| districts | 10 | 100 |" in text
    cpu = next(line for line in text.splitlines() if line.startswith("| `assess-xl collect` CPU, every process |"))
    assert all(float(cell) > 0 for cell in cpu.strip(" |").split(" | ")[1:])  # every process's CPU was counted
