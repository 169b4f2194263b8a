"""Run the sandbox EHR on its own: ``python -m sandbox_ehr [--config FILE] [--open] [--port N]``.

Without ``--config`` it registers no app (use ``--open`` for a token-free FHIR server, e.g. for
``smart-edu sandbox-test``). The EHR is served as ``http://localhost:PORT``; the file's ``base_url`` is
replaced by that. Ctrl-C stops it. ``smart-edu demo`` is the way to run it together with the app.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from sandbox_ehr.app import create_sandbox_app
from sandbox_ehr.config import SandboxConfig, load_config
from sandbox_ehr.server import ServerThread, install_stop_handlers, wait_for_stop


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox_ehr", description=__doc__)
    parser.add_argument("--config", help="sandbox TOML file (docs/sandbox.md)")
    parser.add_argument("--open", action="store_true", help="FHIR API without tokens")
    parser.add_argument("--port", type=int, default=0, help="0 = a free port")
    args = parser.parse_args(argv)
    server = ServerThread("127.0.0.1", args.port)
    base_url = f"http://localhost:{server.port}"
    config = (
        load_config(args.config, base_url=base_url)
        if args.config
        else SandboxConfig(base_url=base_url, seed_month=True)
    )
    config.open_fhir = config.open_fhir or args.open
    stop = install_stop_handlers()  # before the lines a user (or a test) waits for
    server.serve(create_sandbox_app(config))
    print(f"Sandbox EHR launcher: {config.base_url}/", flush=True)
    note = "   (open: no token needed)" if config.open_fhir else ""
    print(f"FHIR base:            {config.fhir_base}{note}", flush=True)
    wait_for_stop(stop)
    server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
