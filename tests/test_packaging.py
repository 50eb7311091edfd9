"""What `pip install .` (README's demo command) installs: every package of assess_xl, not only those an
editable install happens to find on disk."""
import configparser
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_every_package_on_disk_is_listed_for_installation():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    listed = {name.strip() for name in config["options"]["packages"].split(",")}
    on_disk = {".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "assess_xl").rglob("__init__.py")
               if "__pycache__" not in init.parts}
    assert on_disk and not on_disk - listed, sorted(on_disk - listed)  # `assess_xl.cli` was missing: no command ran
