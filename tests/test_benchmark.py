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
    for row in ("| read-back |", "| python-calamine in two fresh processes (floor), wall |", "| report writing |",
                "| xlsxwriter unformatted (floor) |", "| peak memory MB (scenario process) |", "read-back / calamine in two processes, wall, paired (target ≤ 2)",
                "| read-back, the process's first (starts the fork server) |",
                "## Where the targets stand", "| report writing within 1.3× of unformatted xlsxwriter | S |",
                "| `collect` ≤ 1 s CPU over all processes | S |", "| `collect` end to end ≤ 1.2 s wall | M |"):
        assert row in text
    assert "| files | 15 | 15 |" in text and "| districts | 10 | 100 |" in text
    cpu = next(line for line in text.splitlines() if line.startswith("| `assess-xl collect` CPU, every process |"))
    assert all(float(cell) > 0 for cell in cpu.strip(" |").split(" | ")[1:])  # every process's CPU was counted


def test_benchmark_against_an_earlier_release(tmp_path):
    """--vs runs `collect` by a given commit's package and by this checkout, each as pip's console script,
    and writes both figures with every process's CPU counted."""
    script = Path(__file__).parents[1] / "benchmarks" / "run.py"
    out = tmp_path / "RESULTS.md"
    out.write_text("# Benchmark results\n\n## Kept section\n\nkept\n", encoding="utf-8")
    done = subprocess.run([sys.executable, str(script), "--vs", "HEAD", "--scenarios", "S", "--repeat", "1",
                           "--output", str(out)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    text = out.read_text(encoding="utf-8")
    assert "## Kept section\n\nkept" in text and "## Against an earlier release" in text
    row = next(line for line in text.splitlines() if line.startswith("| S |")).strip(" |").split(" | ")
    old_wall, new_wall, old_cpu, new_cpu = map(float, row[1:5])
    assert min(old_wall, new_wall, old_cpu, new_cpu) > 0
    assert row[-1] == "0, 0"  # both versions scored the year
