"""phasekit benchmark: how capture, apply, update and check grow with the number of services.

    python benchmarks/run.py [--sizes 1,10,50,200,1000] [--steps capture,apply,update,update-add,check] [--repeat 3]

Each step runs `phasekit` in its own process (as a user would) and reports wall time, CPU time, peak
memory (max RSS of the process and the children it waited for) and files written. Two floors: the Jinja2
floor renders every blueprint file with Jinja2 alone, in-process, with the filters copier gives templates
(what any generator of these files must spend); the kubernetes-validate floor is one call over every
distinct Kubernetes document `check` validates (also reported as `check` makes that call: kubernetes-validate
with its schema reads memoized, "kv-floor-fast"). apply and the Jinja2 floor, and check and the
kubernetes-validate floors, run interleaved --repeat times (both sides see the same load; the median run is
reported, the peak memory of check is the largest of its runs). Prints Markdown tables, the growth ratio (time at the
largest size / time at 10 services) and the ratios the targets are set in: update / apply, update-add /
apply, check / kubernetes-validate floor, apply / Jinja2 floor, in wall and in CPU seconds (CPU seconds
hardly move when other work shares the machine). A benchmark, not a test: nothing fails on a slow machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jinja2
import jinja2.sandbox
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "generator"))

from phasekit import blueprints as catalogue  # noqa: E402
from phasekit import model  # noqa: E402


def synthetic_compose(n: int) -> dict:
    """n services: http apps in a dependency chain on postgres, every fifth a worker on redis.

    Each worker is fed by the app before it (a depends_on edge), so the events blueprint sees n/5
    producer -> consumer edges. Had every app and every worker shared redis, the shared-queue rule
    would pair each app with each worker: n^2/25 topics, an output that grows with edges, not services.
    """
    services: dict[str, dict] = {
        "postgres": {"image": "postgres:16", "volumes": ["pg:/var/lib/postgresql/data"]},
        "redis": {"image": "redis:7.4"},
    }
    for i in range(n):
        name = f"svc_{i:04d}"
        svc: dict = {"image": f"registry.example.com/{name}:1.0.{i}", "environment": {"LOG_LEVEL": "info"},
                     "depends_on": ["postgres"]}
        if i % 5 == 4:
            svc["command"] = ["python", "-m", "worker"]
            svc["depends_on"] = ["redis"]
        else:
            svc["ports"] = [f"{8000 + i % 1000}"]
            if i:
                svc["depends_on"].append(f"svc_{i - 1:04d}")
        services[name] = svc
    return {"name": f"bench{n}", "services": services, "volumes": {"pg": {}}}


def run(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, int, int, float]:
    """(seconds, peak RSS in MiB, exit code, CPU seconds) of one command and the children it waited for.
    CPU seconds (user + system) hardly move when other work shares the machine; wall time does."""
    with tempfile.TemporaryFile() as errors:  # a file, not a pipe: a chatty command must never block on it
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            errors.seek(0)
            message = errors.read().decode(errors="replace").strip()[-300:]
            print(f"  ! {' '.join(argv[-4:])}: exit {code}: {message}", file=sys.stderr)
    return seconds, usage.ru_maxrss // 1024, code, usage.ru_utime + usage.ru_stime


def count_files(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if p.is_file() and ".git" not in p.parts)


YIELD = __import__("re").compile(r"{%\s*yield\s+(\w+)\s+from\s+(.+?)\s*%}")


def jinja_floor(arch: dict, names: list[str]) -> tuple[float, int, float]:
    """Render every blueprint file with Jinja2 alone (copier.yml's options, the filters copier gives
    templates, phasekit's C-backed to_nice_yaml), in memory: what any generator of these files spends.
    Every template renders (an error stops the benchmark: a floor that skips files is no floor); a path
    that renders empty is skipped, as copier skips it."""
    from phasekit import copier_runtime

    root = REPO / "blueprints"
    env = jinja2.sandbox.SandboxedEnvironment(keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
                                              loader=jinja2.FileSystemLoader(str(REPO)),
                                              extensions=["jinja2_ansible_filters.AnsibleCoreFiltersExtension"])
    env.filters["to_nice_yaml"] = copier_runtime._fast_to_nice_yaml(env.filters["to_nice_yaml"])
    base = {"architecture": arch, "_copier_answers": {"architecture": arch}, "_copier_conf": {"answers_file": "a.yml"}}
    context = base
    cache: dict[str, jinja2.Template] = {}

    def compiled(source: str) -> jinja2.Template:  # each template compiles once, as in copier
        if source not in cache:
            cache[source] = env.from_string(source)
        return cache[source]

    questions = {k: v for k, v in yaml.safe_load((REPO / "copier.yml").read_text()).items()
                 if not k.startswith("_") and k not in ("blueprint", "architecture")}

    def answers(blueprint: str) -> dict:
        """copier.yml's other questions at their defaults and its computed (`when: false`) values, rendered
        in file order with the answers before them, cast to their type as copier casts them."""
        values: dict = {"blueprint": blueprint, **context}
        for key, spec in questions.items():
            when = spec.get("when", True)
            if isinstance(when, str):
                when = yaml.safe_load(compiled(when).render(**values).strip() or "false")
            default = spec.get("default")
            if isinstance(default, str):
                default = compiled(default).render(**values).strip()
                if spec.get("type") in ("bool", "yaml", "int"):
                    default = yaml.safe_load(default) if default else None
            if when is False and "when" in spec and spec["when"] is not False:
                continue  # a question this blueprint is never asked
            values[key] = default
        values.pop("blueprint")
        return values

    start, cpu = time.perf_counter(), time.process_time()
    files = 0
    for name in names:
        context = {**base, **answers(name)}
        for path in sorted((root / name).rglob("*")):
            if not path.is_file():
                continue
            rel = str(path.relative_to(root))
            # copier's `{% yield item from items %}` in a file name writes one file per item
            loop = YIELD.search(rel)
            items = env.compile_expression(loop.group(2))(blueprint=name, **context) if loop else [None]
            for item in items:
                extra = {loop.group(1): item} if loop else {}
                target = compiled(YIELD.sub("", rel).replace("{% endyield %}", "")).render(blueprint=name, **context, **extra)
                if any(not part for part in target.split("/")):
                    continue  # copier writes nothing for a path with an empty part
                if path.suffix == ".jinja":
                    try:
                        compiled(path.read_text()).render(blueprint=name, **context, **extra)
                    except jinja2.TemplateError as exc:
                        raise SystemExit(f"the Jinja2 floor cannot render {rel}: {exc}") from None
                files += 1
    return time.perf_counter() - start, files, time.process_time() - cpu


def kubernetes_documents(work: Path, env: dict[str, str]) -> dict[str, str]:
    """key -> text of every distinct Kubernetes document `check` validates: the plain manifests and the chart
    rendered for each values file, split and keyed as `check` keys them."""
    from phasekit.check._inventory import Inventory
    from phasekit.check.validators import helm, kubernetes

    inventory = Inventory(work)
    texts = [a.path.read_text(encoding="utf-8") for a in kubernetes.KubernetesValidate().discover(inventory)]
    for variant in helm.chart_variants(inventory):
        values = variant.get("values")
        rendered = subprocess.run(["helm", "template", helm.RELEASE, str(variant.path),
                                   *(["--values", str(variant.path / values)] if values else [])],
                                  env=env, capture_output=True, text=True, check=True)
        texts.append(rendered.stdout)
    return {key: text for t in texts for key, text in kubernetes._pieces(t)}


def kubernetes_floor(work: Path, pieces: dict[str, str], env: dict[str, str], fast: bool = False) -> tuple[float, int, float]:
    """(seconds, documents, CPU seconds) of one `kubernetes-validate --strict` call over every distinct
    Kubernetes document `check` validates (helm's rendering is not timed): what any check of these manifests
    against the API schemas spends. fast: the call as `check` makes it (kubernetes-validate under its own
    interpreter with its schema reads memoized and its YAML read in C; the same verdicts, line for line)."""
    from phasekit.check import _core, _runner
    from phasekit.check.validators import kubernetes

    with tempfile.TemporaryDirectory(prefix="phasekit-kv-floor-") as folder:
        for key, text in pieces.items():
            Path(folder, f"{key}.yaml").write_text(text, encoding="utf-8")
        command = ["kubernetes-validate"]
        if fast:
            command = kubernetes.python_command(_core.Context(root=work, env=env), "kubernetes-validate", kubernetes.FAST)
        argv = [*command, "--strict", "-k", _runner.default_kube_version(work), *[f"{k}.yaml" for k in pieces]]
        seconds, _, _, cpu = run(argv, Path(folder), env)
    return seconds, len(pieces), cpu


def median_of(runs: list[tuple]) -> tuple:
    """The run with the median wall time (its own memory, count and CPU seconds kept with it)."""
    return sorted(runs, key=lambda r: r[0])[len(runs) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,50,200,1000")
    parser.add_argument("--steps", default="capture,apply,update,update-add,check")
    parser.add_argument("--repeat", type=int, default=3, help="runs of apply, check and their floors, interleaved; "
                        "the median is reported")
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    steps = args.steps.split(",")
    phasekit = [sys.executable, "-m", "phasekit.cli"]
    results: dict[int, dict[str, tuple[float, int, int]]] = {}
    names = [b.name for b in catalogue.available() if b.phase]
    loads = [os.getloadavg()[0]]
    paired: dict[tuple[int, str, str], list[tuple[tuple, tuple]]] = {}  # (size, a, b) -> each run's (a, b)
    with tempfile.TemporaryDirectory(prefix="phasekit-bench-") as tmp_name:
        tmp = Path(tmp_name)
        env = {**os.environ, "PHASEKIT_TEMPLATE_CACHE": str(tmp / "cache"), "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b",
               "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b", "PYTHONPATH": str(REPO / "generator")}
        # phasekit's bytecode compiled once, as pip compiles an installed package: a source tree run with
        # PYTHONDONTWRITEBYTECODE=1 would compile every module again in each command (0.04 s at one service).
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "generator" / "phasekit")], check=True)
        subprocess.run([*phasekit, "blueprints"], env=env, check=True, capture_output=True)  # warm the template cache
        # A first apply after installing compiles every blueprint into the cache beside the template (once per
        # phasekit version); measure that once, then every size runs warm, as a user's second command does.
        warm = tmp / "warm"
        warm.mkdir()
        (warm / "docker-compose.yml").write_text(yaml.safe_dump(synthetic_compose(1)))
        run([*phasekit, "capture", "--from-compose", "docker-compose.yml", "--non-interactive"], warm, env)
        cold, _, _, _ = run([*phasekit, "apply", "--all", "--dest", "cold"], warm, env)
        print(f"-- first apply --all with empty caches (1 service): {cold:.2f} s", file=sys.stderr)
        print(f"First `apply --all` with empty caches (1 service): {cold:.2f} s\n")
        # What every apply process pays before it renders anything, and the in-memory floor never pays:
        # the interpreter, phasekit's apply command and copier imported.
        starts = [run([sys.executable, "-c", "import phasekit.commands.apply, copier"], warm, env) for _ in range(args.repeat)]
        startup = median_of([(t, mem, 0, cpu) for t, mem, _, cpu in starts])
        print(f"Start-up of an apply process (Python, phasekit's apply command and copier imported, nothing "
              f"rendered): {startup[0]:.2f} s / {startup[3]:.2f} CPU-s\n")
        for n in sizes:
            work = tmp / f"n{n}"
            work.mkdir()
            (work / "docker-compose.yml").write_text(yaml.safe_dump(synthetic_compose(n)))
            row: dict[str, tuple[float, int, int]] = {}
            print(f"-- {n} services", file=sys.stderr)
            # capture always runs: every later step reads the architecture it writes
            t, mem, _, cpu = run([*phasekit, "capture", "--from-compose", "docker-compose.yml", "--non-interactive"], work, env)
            row["capture"] = (t, mem, 1, cpu)
            arch = model.load(work / "architecture.yaml")
            floors, applies = [], []
            for i in range(args.repeat):  # floor and apply interleaved: both see the same load
                floor_seconds, floor_files, floor_cpu = jinja_floor(arch, names)
                floors.append((floor_seconds, 0, floor_files, floor_cpu))
                if "apply" not in steps and not ({"update", "update-add", "check"} & set(steps) and i == 0):
                    continue
                if i == 0:  # into the project itself (update and check go on from it), later runs into fresh folders
                    subprocess.run(["git", "init", "-q"], cwd=work, check=True)
                    t, mem, _, cpu = run([*phasekit, "apply", "--all"], work, env)
                    applies.append((t, mem, count_files(work) - 2, cpu))
                elif "apply" in steps:
                    dest = tmp / f"apply-{n}-{i}"
                    t, mem, _, cpu = run([*phasekit, "apply", "--all", "--dest", str(dest)], work, env)
                    applies.append((t, mem, count_files(dest), cpu))
                    shutil.rmtree(dest, ignore_errors=True)
                print(f"   run {i + 1}: Jinja2 floor {floors[-1][0]:.2f} s / {floors[-1][3]:.2f} CPU-s"
                      + (f", apply {applies[-1][0]:.2f} s / {applies[-1][3]:.2f} CPU-s" if len(applies) > i else ""),
                      file=sys.stderr, flush=True)
            row["floor"] = median_of(floors)
            if applies:
                row["apply"] = median_of(applies)
                paired[(n, "apply", "floor")] = list(zip(applies, floors, strict=True))
            if {"apply", "update", "update-add", "check"} & set(steps):
                subprocess.run(["git", "add", "-A"], cwd=work, check=True, env=env)
                subprocess.run(["git", "commit", "-qm", "apply"], cwd=work, check=True, env=env)
            if "update" in steps:
                t, mem, _, cpu = run([*phasekit, "update"], work, env)
                changed = subprocess.run(["git", "status", "--porcelain"], cwd=work, capture_output=True, text=True).stdout
                row["update"] = (t, mem, len(changed.splitlines()), cpu)
            if "update-add" in steps:
                subprocess.run(["git", "checkout", "-q", "."], cwd=work, check=True)
                arch["services"].append({"name": "added", "ports": [{"port": 9999}], "depends_on": ["postgres"]})
                (work / "architecture.yaml").write_text(model.dump(model.validate(arch)))
                subprocess.run(["git", "commit", "-qam", "add a service"], cwd=work, check=True, env=env)
                t, mem, _, cpu = run([*phasekit, "update"], work, env)
                changed = subprocess.run(["git", "status", "--porcelain"], cwd=work, capture_output=True, text=True).stdout
                row["update-add"] = (t, mem, len(changed.splitlines()), cpu)
            if "check" in steps:
                pieces = kubernetes_documents(work, env)
                checks, kv, kv_fast = [], [], []
                for i in range(args.repeat):  # check and the floors interleaved: all see the same load
                    t, mem, code, cpu = run([*phasekit, "check", "."], work, env)
                    checks.append((t, mem, code, cpu))
                    t, documents, cpu = kubernetes_floor(work, pieces, env)
                    kv.append((t, 0, documents, cpu))
                    t, documents, cpu = kubernetes_floor(work, pieces, env, fast=True)
                    kv_fast.append((t, 0, documents, cpu))
                    print(f"   run {i + 1}: check {checks[-1][0]:.2f} s / {checks[-1][3]:.2f} CPU-s / {checks[-1][1]} MiB, "
                          f"kv floor {kv[-1][0]:.2f} s / {kv[-1][3]:.2f} CPU-s, same call as check makes it "
                          f"{t:.2f} s / {cpu:.2f} CPU-s ({documents} documents); load {os.getloadavg()[0]:.1f}",
                          file=sys.stderr, flush=True)
                row["check"] = median_of(checks)
                row["check"] = (*row["check"][:2], 0, row["check"][3])
                row["check-peak"] = (0, max(c[1] for c in checks), 0, 0)
                row["kv-floor"] = median_of(kv)
                row["kv-floor-fast"] = median_of(kv_fast)
                paired[(n, "check", "kv-floor")] = list(zip(checks, kv, strict=True))
                paired[(n, "check", "kv-floor-fast")] = list(zip(checks, kv_fast, strict=True))
            results[n] = row
            loads.append(os.getloadavg()[0])
            # each size as soon as it is measured: a long run cut short still leaves its numbers
            print(f"   {n} services: " + ", ".join(f"{k} {v[0]:.2f}s" for k, v in row.items()), file=sys.stderr, flush=True)
            shutil.rmtree(work, ignore_errors=True)
    report(results, sizes, steps)
    if "apply" in steps:
        print(f"\napply less the start-up ({startup[3]:.2f} CPU-s) / Jinja2 floor, CPU (median runs): "
              + ", ".join(f"{n} services {(results[n]['apply'][3] - startup[3]) / results[n]['floor'][3]:.2f}x"
                          for n in sizes if "apply" in results[n]))
    if paired:
        print("\nThe same ratios run by run (numerator and floor measured back to back), and their median:\n")
        for (n, a, b), runs in paired.items():
            wall = [x[0] / y[0] for x, y in runs if y[0] > 0]
            cpu = [x[3] / y[3] for x, y in runs if y[3] > 0]
            print(f"- {n} services: {a} / {b}: wall " + ", ".join(f"{r:.2f}" for r in wall)
                  + f" (median {sorted(wall)[len(wall) // 2]:.2f}x); CPU " + ", ".join(f"{r:.2f}" for r in cpu)
                  + f" (median {sorted(cpu)[len(cpu) // 2]:.2f}x)")
    print(f"\nLoad average (1 min) seen during the run: {min(loads):.1f} to {max(loads):.1f} on {os.cpu_count()} CPUs.")
    if args.json:
        args.json.write_text(json.dumps({str(k): v for k, v in results.items()}, indent=1))


RATIOS = (("update", "apply"), ("update-add", "apply"), ("check", "kv-floor"), ("check", "kv-floor-fast"), ("apply", "floor"))


def report(results: dict, sizes: list[int], steps: list[str]) -> None:
    columns = [s for s in ["capture", "apply", "update", "update-add", "check", "floor", "kv-floor", "kv-floor-fast"]
               if s in steps or s == "floor" or (s.startswith("kv-floor") and "check" in steps)]
    print("| services | " + " | ".join(f"{c} s" for c in columns) + " | apply peak MiB | check peak MiB | files written |")
    print("|---" * (len(columns) + 4) + "|")
    for n in sizes:
        row = results[n]
        cells = [f"{row[c][0]:.2f}" if c in row else "-" for c in columns]
        apply, checked = row.get("apply", (0, 0, 0)), row.get("check-peak", (0, 0, 0))
        print(f"| {n} | " + " | ".join(cells) + f" | {apply[1]} | {checked[1] or '-'} | {apply[2]} |")
    print("\nCPU seconds (user + system of the command and its children; the Jinja2 floor's own process time):\n")
    print("| services | " + " | ".join(f"{c} CPU s" for c in columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for n in sizes:
        row = results[n]
        print(f"| {n} | " + " | ".join(f"{row[c][3]:.2f}" if c in row else "-" for c in columns) + " |")
    base = 10 if 10 in results else sizes[0]
    top = sizes[-1]
    print()
    for c in columns:
        if c in results[top] and c in results[base] and results[base][c][0] > 0:
            growth = results[top][c][0] / results[base][c][0]
            print(f"- {c}: time at {top} services / time at {base} = {growth:.1f}x (services grew {top / base:.0f}x)")
    print()
    for n in sizes:
        row = results[n]
        for a, b in RATIOS:
            if a in row and b in row and row[b][0] > 0 and row[b][3] > 0:
                print(f"- {n} services: {a} / {b} = {row[a][0] / row[b][0]:.2f}x wall, {row[a][3] / row[b][3]:.2f}x CPU "
                      f"({row[a][0]:.2f} s / {row[b][0]:.2f} s)")


if __name__ == "__main__":
    main()
