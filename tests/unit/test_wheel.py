"""The wheel carries the templates (the app's and the point-of-care package's) and launch profiles: build
it, install it into a fresh venv, render a page.

Built offline from a copy of the sources (no build isolation, no dependencies); the fresh venv reaches the
dependencies through a path file to this venv's site-packages, and never sees the source checkout.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "billing_rules", "fhir_mappings", "smart_app", "sandbox_ehr",
           "templates", "launch_config")  # fmt: skip
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "instance")

PROBE = """
import json, smart_app
from smart_app import create_app
from smart_app.profiles import load_profiles
from smart_app.resources import launch_config_dir, templates_dir
from flask import render_template
app = create_app({"SMART_EDU_DATABASE_URL": "sqlite://"})
with app.test_request_context("/"):
    page = render_template("launch/problem.html", title="Wheel <check>", message="rendered from the wheel")
    poc = app.jinja_env.get_template("document/_layout.html").filename
refused = app.test_client().get("/launch", query_string={"iss": "https://unknown.test/fhir"})
print(json.dumps({
    "module": smart_app.__file__, "templates": str(templates_dir()),
    "launch_config": str(launch_config_dir()),
    "profiles": sorted(p.name for p in load_profiles(launch_config_dir())),
    "page": page, "refused": refused.status_code, "poc_template": poc,
}))
"""


def copy_sources(dest: Path) -> None:
    for name in SOURCES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=IGNORE)
        elif src.exists():
            shutil.copy2(src, dest / name)


def test_wheel_ships_templates_and_profiles_and_renders_from_a_fresh_venv(tmp_path: Path) -> None:
    src, dist, env_dir = tmp_path / "src", tmp_path / "dist", tmp_path / "venv"
    src.mkdir()
    copy_sources(src)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(src)],
                   check=True, cwd=tmp_path, capture_output=True)  # fmt: skip
    [wheel] = dist.glob("smart_edu_billing-*.whl")

    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    where = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(
        subprocess.run([str(python), "-c", where], check=True, capture_output=True, text=True).stdout.strip()
    )
    (site / "project_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([*pip, "install", "--no-deps", "--no-compile", "--target", str(site), str(wheel)],
                   check=True, cwd=tmp_path, capture_output=True)  # fmt: skip

    done = subprocess.run([str(python), "-c", PROBE], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    for key in ("module", "templates", "launch_config", "poc_template"):
        assert found[key].startswith(str(site)), (key, found[key])  # from the wheel, not the checkout
    assert found["profiles"] == ["epic-sandbox", "hapi-public", "oracle-health-sandbox", "smart-health-it"]
    assert (
        "<title>Wheel &lt;check&gt;</title>" in found["page"] and "rendered from the wheel" in found["page"]
    )
    assert found["refused"] == 400
