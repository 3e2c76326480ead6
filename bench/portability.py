"""Which CPUs the bundled PostgreSQL + pgvector runs on, measured rather than assumed.

The installed `postgres` binary runs the start-up self-check's statements (resolver/dbcheck.py:
CREATE EXTENSION, an HNSW index, inserts, a cosine distance) in single-user mode under QEMU's
user-mode emulator, once per CPU model: x86-64-v2 (Nehalem), v3 without AVX-512 (Haswell; most
AMD Zen 2/3 and Intel client CPUs are like it), and natively on this machine. QEMU executes only
the instructions the named CPU has, so a build that needs more dies with SIGILL, exactly as on
such a machine. Linux x86-64 only; needs Debian's qemu-user (`apt-get install qemu-user`) and,
as root, a non-root user to run PostgreSQL as (the embedded server's helper user).

`cd bench && ../.venv/bin/python portability.py` → bench/results/portability.json.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _setup import ROOT, write_result

sys.path.insert(0, str(ROOT))

from resolver.dbcheck import VECTOR_CHECK, cpu_summary
from resolver.embedded import PG_SYSTEM_USER, _pg_commands

# QEMU's TCG has no AVX-512 at all, so models that have it are not emulated faithfully; the
# native run (this machine, whatever it has) stands for them when it has AVX-512.
CPU_MODELS = {
    "Nehalem": "x86-64-v2 (SSE4.2, no AVX)",
    "SandyBridge": "AVX, no AVX2",
    "Haswell-noTSX": "x86-64-v3 (AVX2, FMA), no AVX-512",
    "native": "this machine",
}


def as_user(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return [
        "setpriv",
        f"--reuid={PG_SYSTEM_USER}",
        f"--regid={PG_SYSTEM_USER}",
        "--init-groups",
        *argv,
    ]


def run_model(postgres: Path, data: Path, model: str) -> dict[str, object]:
    sql = "\n".join(VECTOR_CHECK) + "\n"
    emulate = [] if model == "native" else ["qemu-x86_64", "-cpu", model]
    argv = as_user([*emulate, str(postgres), "--single", "-D", str(data), "postgres"])
    done = subprocess.run(argv, input=sql, capture_output=True, text=True, timeout=600)
    output = done.stdout + done.stderr
    crashed = "Illegal instruction" in output or done.returncode in (-4, 132)
    distance_ok = "0.2857142857142857" in output
    return {
        "returncode": done.returncode,
        "sigill": crashed,
        "check_passed": distance_ok and not crashed and "ERROR" not in output,
    }


def main() -> None:
    if platform.machine() != "x86_64" or shutil.which("qemu-x86_64") is None:
        sys.exit("needs Linux x86-64 and qemu-x86_64 (apt-get install qemu-user)")
    commands = _pg_commands()
    postgres = Path(commands.POSTGRES_BIN_PATH) / "postgres"
    results = {}
    for model, level in CPU_MODELS.items():
        data = Path(tempfile.mkdtemp(prefix="resolver-portability-")) / "pg"
        data.parent.chmod(0o777)
        user = PG_SYSTEM_USER if os.geteuid() == 0 else None
        commands.initdb(["--auth=trust", "-U", "postgres"], pgdata=data, user=user, timeout=120)
        if model == "native":
            level = cpu_summary()
        results[model] = {"level": level, **run_model(postgres, data, model)}
        shutil.rmtree(data.parent, ignore_errors=True)
        print(model, results[model], flush=True)
    version = subprocess.run([str(postgres), "--version"], capture_output=True, text=True)
    write_result(
        "portability",
        {
            "postgres": version.stdout.strip(),
            "emulator": "qemu-x86_64 (user mode)",
            "cpus": results,
        },
    )


if __name__ == "__main__":
    main()
