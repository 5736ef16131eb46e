"""The README's testing section opens with a pytest example that works as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_pytest_example_passes(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Testing your application", 1)[1]
    example = re.search(r"```python\n(.*?)```", section, re.S)
    assert example is not None
    assert len(example.group(1).strip().splitlines()) == 5
    (tmp_path / "test_readme_example.py").write_text(example.group(1))
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          str(tmp_path)], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout
