"""Start a real Triton Inference Server on this machine from the project's environment.

The ``nvidia-pytriton`` wheel ships ``tritonserver`` with the python backend and one backend
stub per Python version. Serving our repository needs three things the wheel leaves to its
user: a backend folder holding the backend and the stub for this interpreter, this
environment's ``bin/`` first on ``PATH`` (the stub runs our models with its packages), and
the interpreter's ``LIBDIR`` first on ``LD_LIBRARY_PATH`` (else model loading fails inside
the stub's threading module).

    python -m pipelines.triton_server [--http-port 8000] [--grpc-port 8001]
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import httpx

from pipelines.settings import REPOSITORY_ROOT

logger = logging.getLogger(__name__)


def _wheel() -> tuple[Path, Path]:
    import pytriton

    root = Path(pytriton.__file__).resolve().parent
    return root / "tritonserver", root.parent / "nvidia_pytriton.libs"


class TritonServer:
    """One ``tritonserver`` process serving ``repository`` on loopback."""

    def __init__(
        self, repository: Path = REPOSITORY_ROOT / "model_repository", *, http_port: int = 8000,
        grpc_port: int = 8001, metrics_port: int = 8002, host: str = "127.0.0.1",
        log_path: Path | None = None, instance_kind: str = "cpu",
    ) -> None:  # fmt: skip
        if instance_kind not in ("cpu", "gpu"):
            raise ValueError(f"instance kind must be cpu or gpu, got {instance_kind!r}")
        self.instance_kind = instance_kind
        self.repository = Path(repository)
        self.host, self.http_port, self.grpc_port = host, http_port, grpc_port
        self.metrics_port = metrics_port
        self.log_path = log_path
        self.process: subprocess.Popen | None = None
        self._workdir: tempfile.TemporaryDirectory | None = None

    @property
    def grpc_url(self) -> str:
        return f"grpc://{self.host}:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    def _backends(self, root: Path) -> Path:
        server, _ = _wheel()
        folder = root / "backends" / "python"
        folder.mkdir(parents=True)
        for item in (server / "backends" / "python").iterdir():
            if item.is_file():
                shutil.copy2(item, folder / item.name)
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        stub = server / "python_backend_stubs" / version / "triton_python_backend_stub"
        if not stub.is_file():
            raise RuntimeError(f"nvidia-pytriton ships no python backend stub for {version}")
        shutil.copy2(stub, folder / stub.name)
        return folder.parent

    def served_repository(self, root: Path) -> Path:
        """The repository as Triton should load it: ours as it is on CPUs; on GPU nodes the
        same model files, with each ``instance_group`` asking for ``KIND_GPU``."""
        if self.instance_kind == "cpu":
            return self.repository
        served = root / "model_repository"
        for model in sorted(p for p in self.repository.iterdir() if (p / "config.pbtxt").is_file()):
            (served / model.name).mkdir(parents=True)
            config = (model / "config.pbtxt").read_text()
            (served / model.name / "config.pbtxt").write_text(
                config.replace("KIND_CPU", "KIND_GPU")
            )
            for version in (p for p in model.iterdir() if p.is_dir() and p.name.isdigit()):
                (served / model.name / version.name).symlink_to(version.resolve())
        return served

    def command(self, backends: Path) -> list[str]:
        server, _ = _wheel()
        return [
            str(server / "bin" / "tritonserver"),
            f"--model-repository={self.served_repository(backends.parent)}",
            f"--backend-directory={backends}",
            f"--http-address={self.host}", f"--http-port={self.http_port}",
            f"--grpc-address={self.host}", f"--grpc-port={self.grpc_port}",
            f"--metrics-address={self.host}", f"--metrics-port={self.metrics_port}",
            "--exit-timeout-secs=5",
        ]  # fmt: skip

    def environment(self) -> dict[str, str]:
        _, libs = _wheel()
        env = dict(os.environ)
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        libdir = sysconfig.get_config_var("LIBDIR") or ""
        env["LD_LIBRARY_PATH"] = os.pathsep.join(
            p for p in (libdir, str(libs), env.get("LD_LIBRARY_PATH", "")) if p
        )
        return env

    def start(self, timeout_s: float = 180.0) -> TritonServer:
        self.stop()  # a killed server's process and folder go first
        self._workdir = tempfile.TemporaryDirectory(prefix="clipzy-triton-")
        backends = self._backends(Path(self._workdir.name))
        if self.log_path:
            with open(self.log_path, "ab") as log:  # the child keeps its own descriptor
                self.process = subprocess.Popen(
                    self.command(backends), env=self.environment(), stdout=log, stderr=log
                )
        else:
            self.process = subprocess.Popen(
                self.command(backends), env=self.environment(),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"tritonserver exited with {self.process.returncode}")
            if self.ready():
                logger.info("triton ready at %s and %s", self.grpc_url, self.http_url)
                return self
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"tritonserver was not ready within {timeout_s:.0f} s")

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.http_url}/v2/health/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None

    def kill(self) -> None:
        """Stop it the hard way, as a crash would."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> TritonServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="serve model_repository/ on Triton")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--http-port", type=int, default=8000)
    parser.add_argument("--grpc-port", type=int, default=8001)
    parser.add_argument("--metrics-port", type=int, default=8002)
    parser.add_argument(
        "--instance-kind", choices=["cpu", "gpu"],
        default=os.environ.get("CLIPZY_TRITON_INSTANCE_KIND", "cpu"),
        help="where model instances run (default: CLIPZY_TRITON_INSTANCE_KIND or cpu)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    server = TritonServer(
        host=args.host, http_port=args.http_port, grpc_port=args.grpc_port,
        metrics_port=args.metrics_port, instance_kind=args.instance_kind,
    )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="clipzy-triton-") as tmp:
        backends = server._backends(Path(tmp))
        # In the foreground, Triton's own log on the terminal, until Ctrl-C.
        return subprocess.call(server.command(backends), env=server.environment())


if __name__ == "__main__":
    sys.exit(main())
