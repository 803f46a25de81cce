"""Server CPU per request, A/B interleaved: quickscore servers of several source trees side by side.

    python bench/serve_cpu_ab.py --kind batch_os --requests 400 \\
        before=/tmp/before/src after=/work/main/src

Each ``label=SRC`` starts ``python -m quickscore.serve`` (1 worker, the W1 forest) with
``PYTHONPATH=SRC`` (a copy of ``src`` from another commit, e.g. ``git archive <commit> src | tar
-x -C /tmp/before``). One keep-alive connection per server sends the serve_load request body
(``--kind``: batch_os, batch_v2 or single) one request after another; the servers take turns in
blocks of 10 requests, and each block adds the server's process-tree CPU time (utime + stime from
/proc, all its threads and processes) to its total. On a shared, bimodal machine wall-clock
throughput of separate runs compares nothing; CPU per request measured in turns does. Prints the
CPU per request of each server and whether their last answers were identical bytes.
"""

from __future__ import annotations

import argparse
import http.client
import os
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
import serve_load

PATHS = {"batch_os": "/model/forest/batch", "batch_v2": "/v2/models/forest/infer", "single": "/v2/models/forest/infer"}


class Server(serve_load.QuickscoreServer):
    """A 1-worker ``quickscore serve`` running the code of ``src`` (its PYTHONPATH)."""

    def __init__(self, label: str, src: str, model_dir: Path, extra: list[str]):
        super().__init__(model_dir, 1, *extra, env={**os.environ, "PYTHONPATH": src})
        self.label = label
        self.cpu = 0.0
        self.n = 0
        self.answer = b""

    def tree_cpu(self) -> float:
        children = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout.split()
        total = 0
        for pid in [self.proc.pid, *map(int, children)]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("servers", nargs="+", help="label=SRC (PYTHONPATH of that server)")
    parser.add_argument("--kind", choices=sorted(PATHS), default="batch_os")
    parser.add_argument("--requests", type=int, default=400, help="per server (default 400)")
    parser.add_argument("--server-arg", action="append", default=[], help="an extra argument of quickscore serve")
    args = parser.parse_args()
    paths = serve_load.ensure_workloads()
    with tempfile.TemporaryDirectory(prefix="qs-cpu-ab-") as tmp:
        model_dir = Path(tmp) / "models"
        model_dir.mkdir()
        (model_dir / "forest.pmml").symlink_to(paths["forest"])
        body = serve_load.write_bodies(Path(tmp))[args.kind].read_bytes().split(b"\n", 1)[0]
        servers = [Server(*spec.split("=", 1), model_dir, args.server_arg) for spec in args.servers]
        try:
            for server in servers:
                server.wait_ready(900)
            connections = {s.label: http.client.HTTPConnection("127.0.0.1", s.port, timeout=120) for s in servers}

            def send(server: Server) -> bytes:
                connection = connections[server.label]
                connection.request("POST", PATHS[args.kind], body, {"Content-Type": "application/json"})
                response = connection.getresponse()
                data = response.read()
                if response.status != 200:
                    raise RuntimeError(f"server {server.label} answered {response.status}: {data[:200]!r}")
                return data

            for server in servers:  # warm-up
                for _ in range(20):
                    server.answer = send(server)
            for _ in range(max(1, args.requests // 10)):
                for server in servers:
                    before = server.tree_cpu()
                    for _ in range(10):
                        server.answer = send(server)
                    server.cpu += server.tree_cpu() - before
                    server.n += 10
        finally:
            for server in servers:
                server.stop()
    print(args.kind, " | ".join(f"{s.label}: {1e3 * s.cpu / s.n:.2f} ms CPU/request" for s in servers),
          "| answers identical:", len({s.answer for s in servers}) == 1)


if __name__ == "__main__":
    main()
