"""Run the real CLI (`robustmsa.cli.main`) in fresh child processes, fast.

A fresh ``python -m robustmsa`` costs 2-4 s of imports (torch), too slow for a catalogue of
~100 cases. `CLIServer` starts **one** Python process that imports robustmsa, torch and the
libraries the commands use, sets torch to one thread *before any computation* (so forking is
safe), and then, per request, forks a child that redirects its stdin/stdout/stderr to files,
changes directory, applies the requested limits (file-size cap, another uid), runs
``robustmsa.cli.main(argv)`` and exits with its return code. Each case is thus its own
process — exit status, stderr, crash and kill behave as for the installed command — at the
cost of a fork.

A child that raises anything but `SystemExit` prints the traceback and exits with 99; a child
that runs past its time limit is killed by SIGALRM (exit status -14).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

SERVER = r'''
import json, os, resource, signal, sys, traceback
import torch
torch.set_num_threads(1)
torch.set_num_interop_threads(1)
torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])  # its first use imports torch._dynamo (~4 s)
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot  # noqa: F401  (plots of `evaluate`)
import sklearn.metrics  # noqa: F401
import robustmsa.cli, robustmsa.engine.trainer, robustmsa.evaluation.api  # noqa: F401
import robustmsa.evaluation.report, robustmsa.evaluation.predictions  # noqa: F401
import robustmsa.commands.data, robustmsa.commands.score, robustmsa.commands.extract  # noqa: F401
try:
    import robustmsa.media.predict, robustmsa.media.audio  # noqa: F401
except Exception:
    pass
detached = set()
out = sys.stdout
sys.stdout = open(os.devnull, "w")

def child(req):
    try:
        os.setsid()
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        for fd, path in ((1, req["stdout"]), (2, req["stderr"])):
            f = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(f, fd)
            os.close(f)
        sys.stdout = open(1, "w", closefd=False)
        sys.stderr = open(2, "w", closefd=False, errors="backslashreplace")
        os.chdir(req["cwd"])
        os.environ.update(req.get("env") or {})
        if req.get("fsize") is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (req["fsize"], req["fsize"]))
        if req.get("uid") is not None:
            os.setgroups([])
            os.setgid(req["uid"])
            os.setuid(req["uid"])
        signal.alarm(int(req.get("timeout", 120)))
        rc = robustmsa.cli.main(req["argv"])  # str, as sys.argv (undecodable bytes: surrogates)
    except SystemExit as e:
        rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:
        traceback.print_exc()
        rc = 99
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(int(rc or 0))

for line in sys.stdin:
    req = json.loads(line)
    if "wait" in req:
        _, status = os.waitpid(req["wait"], 0)
        detached.discard(req["wait"])
        out.write(json.dumps({"rc": os.waitstatus_to_exitcode(status)}) + "\n")
        out.flush()
        continue
    pid = os.fork()
    if pid == 0:
        child(req)
    if req.get("detach"):
        detached.add(pid)
        out.write(json.dumps({"pid": pid}) + "\n")
    else:
        _, status = os.waitpid(pid, 0)
        out.write(json.dumps({"rc": os.waitstatus_to_exitcode(status)}) + "\n")
    out.flush()
'''


@dataclass
class Result:
    rc: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [ln for ln in self.err.splitlines() if ln.strip()]


class CLIServer:
    """The warm parent process (module docstring). Use as a context manager."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.n = 0
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MPLBACKEND="Agg")
        self.proc = subprocess.Popen([sys.executable, "-c", SERVER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env)

    def _ask(self, req: dict) -> dict:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the CLI server died")
        return json.loads(line)

    def _files(self) -> tuple[Path, Path]:
        self.n += 1
        return self.workdir / f"{self.n}.out", self.workdir / f"{self.n}.err"

    def run(self, argv: list[str], *, cwd: Path, timeout: int = 120, fsize: int | None = None,
            uid: int | None = None, env: dict | None = None) -> Result:
        """Run ``robustmsa ARGV`` in a forked child and wait for it."""
        o, e = self._files()
        rc = self._ask({"argv": argv, "cwd": str(cwd), "stdout": str(o), "stderr": str(e),
                        "timeout": timeout, "fsize": fsize, "uid": uid, "env": env})["rc"]
        return Result(rc, o.read_text(errors="replace"), e.read_text(errors="replace"))

    def start(self, argv: list[str], *, cwd: Path, timeout: int = 120) -> tuple[int, Path, Path]:
        """Start ``robustmsa ARGV`` without waiting; returns (pid, stdout file, stderr file)."""
        o, e = self._files()
        pid = self._ask({"argv": argv, "cwd": str(cwd), "stdout": str(o), "stderr": str(e),
                         "timeout": timeout, "detach": True})["pid"]
        return pid, o, e

    def wait(self, pid: int) -> int:
        return self._ask({"wait": pid})["rc"]

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def __enter__(self) -> CLIServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def wait_for(pred, timeout: float = 60.0, every: float = 0.02) -> bool:
    """Poll ``pred()`` until it is true (True) or ``timeout`` seconds pass (False)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if pred():
            return True
        time.sleep(every)
    return False
