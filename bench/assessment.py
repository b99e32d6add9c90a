#!/usr/bin/env python
"""Assessment: staging and scoring a review that assesses nist-csf-2 and hipaa-security.

    .venv/bin/python bench/assessment.py [--reps 5] [--postgres [URL]] [--quick] [--profile] \\
        [--commit REV]

The target: a review assessing nist-csf-2 and hipaa-security (155 items) with the 2,000-device
evidence of bench/staging.py is staged and scored in under 2 s and 300 MB. Each repetition
prepares a new `bsrr` client (nist-csf-2) with hipaa-security added, whose first review was
staged on last quarter's files and fully answered (not timed); in a fresh subprocess it then
times `stage()` of the new review (this quarter's files read, validated, stored, assessed),
`confirm_carried()` (the first review's answers made this review's) and `report_data()` (the
questionnaire, the evidence's answers, the scorecard against the baseline and the previous
review). The anchor, in the same run and alternating with it: the same evidence staged for an
`xbr-sop` client, whose reviews assess no standard. Peak memory is the subprocess's peak RSS,
as bench/staging.py measures it. Results go to bench/results/assessment-<time>-<database>.json
and a table is printed. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# as bench/staging.py: this folder off sys.path (bench/calendar.py), the repository on it
sys.path[:] = [p for p in sys.path if Path(p or os.getcwd()).resolve() != HERE]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import staging  # noqa: E402

TARGET_SECONDS = 2.0
TARGET_MIB = 300.0
TEMPLATE = "bsrr"  # its reviews assess nist-csf-2
ADDED = "hipaa-security"
ACTOR = staging.ACTOR  # Sam: support and security engineer, responsible in bsrr's staging
KINDS = ("assessed", "anchor")
log = staging.log
# the first review's answers to the items its evidence did not answer (weights of a draw)
ANSWER_MIX = {"met": 70, "partial": 15, "not_met": 10, "not_applicable": 5}


# --- set-up (in this process, not timed) -----------------------------------------------------


def opened_in_staging(uow: Callable[[], Any], client: str, now: datetime) -> int:
    """A new review of `client` from its own template, started at `now` and walked to staging;
    its meeting six weeks from today."""
    from states.calendar.opening import start_review
    from states.templates.catalog import load_catalog
    from tests.team import walk

    meeting = (datetime.now(UTC) + timedelta(weeks=6)).strftime("%Y-%m-%dT10:00")
    review_id = start_review(uow(), client, load_catalog(), None, meeting, now=now)
    walk(uow, review_id, "staging")
    return review_id


def answer_all(uow: Callable[[], Any], review_id: int, seed: int, now: datetime) -> dict[str, int]:
    """A person answers every item the evidence did not, in one transaction: mostly met, some
    partial, not met or not applicable (with a note); returns how many of each."""
    from states.standards.answering import answer_items
    from states.standards.answers import review_questionnaire
    from states.standards.schema import Answer

    rng = random.Random(f"{seed}:answers")
    wanted = {}
    for state in review_questionnaire(uow(), review_id).items:
        if state.settled:
            continue
        answer = Answer(rng.choices(list(ANSWER_MIX), weights=list(ANSWER_MIX.values()))[0])
        note = "" if answer is Answer.MET else f"bench: {answer.value} at the first review"
        wanted[state.key] = (answer, note)
    answer_items(uow(), review_id, wanted, ACTOR, now)
    return {a: sum(given.value == a for given, _ in wanted.values()) for a in ANSWER_MIX}


class Clients(staging.Clients):
    """bench/staging.py's clients (the anchor: `prepare`), and clients whose reviews assess
    nist-csf-2 and hipaa-security (`prepare_assessed`)."""

    def prepare_assessed(self, seed: int) -> dict[str, Any]:
        """A new bsrr client with hipaa-security added: its first review staged on last
        quarter's files 91 days ago, fully answered, then cancelled; a new review in staging
        whose evidence folder holds this quarter's files."""
        from states.directory import add_client, set_standards
        from states.settings import Settings
        from states.staging.intake import evidence_folder, import_files
        from states.staging.record import assess
        from states.standards.pinning import shipped_standards
        from states.templates.catalog import load_catalog

        started = time.perf_counter()
        self.count += 1
        client = f"Bench Assessed {self.count:02d}"
        catalog = load_catalog()
        add_client(self.uow(), client, "semiannual", TEMPLATE, "America/New_York", catalog)
        _, assessed = set_standards(self.uow(), catalog, shipped_standards(), client, add=[ADDED])
        then = datetime.now(UTC) - timedelta(days=91)
        first = opened_in_staging(self.uow, client, then)
        import_files(self.uow(), first, sorted(self.evidence["previous"].iterdir()), ACTOR)
        assess(self.uow(), first, then)
        answered = answer_all(self.uow, first, seed, then)
        staging.cancel(self.uow, first, "next review")
        review_id = opened_in_staging(self.uow, client, datetime.now(UTC))
        folder = evidence_folder(Settings(home=self.home), client)
        shutil.copytree(self.evidence["current"], folder)
        staging.settle_database(self.engine)
        return {
            "client": client,
            "standards": assessed,
            "review_id": review_id,
            "previous_review_id": first,
            "previous_answers": answered,
            "setup_s": round(time.perf_counter() - started, 2),
        }


# --- the measured phase, in a fresh subprocess ----------------------------------------------


def phase_steps() -> dict[str, Callable[..., Any]]:
    """The phase's functions, imported before the clock starts (tasks.staging too, Prefect
    with it, as in the review's run)."""
    import tasks.staging  # noqa: F401  (the flow's task module: its imports are in the RSS)
    from states.read.scorecards import report_data
    from states.staging.intake import stage
    from states.standards.answering import confirm_carried

    return {"stage": stage, "confirm_carried": confirm_carried, "report_data": report_data}


def run_phase(
    steps: dict[str, Callable[..., Any]],
    kind: str,
    uow: Callable[[], Any],
    settings: Any,
    review_id: int,
) -> dict[str, Any]:
    """Staging, then scoring: the carried answers confirmed (an assessed review) and the
    report's data; each leg's seconds and what it produced."""
    clock = time.perf_counter
    legs: dict[str, float] = {}
    started = clock()
    result = steps["stage"](uow(), settings, review_id)
    legs["stage_s"] = clock() - started
    confirmed = 0
    if kind == "assessed":
        mark = clock()
        confirmed = steps["confirm_carried"](uow(), review_id, ACTOR)
        legs["confirm_carried_s"] = clock() - mark
    mark = clock()
    data = steps["report_data"](uow(), review_id)
    legs["report_data_s"] = clock() - mark
    total = clock() - started
    if not result.changed or not data["assessed"]:
        raise RuntimeError(f"review {review_id} was not staged: {result}")
    return {
        "time_s": total,
        "legs": legs,
        "findings": result.findings,
        "confirmed": confirmed,
        "questionnaire": data["questionnaire"],
        "frameworks": {name: len(groups) for name, groups in data["frameworks"].items()},
        "answer_findings": sum(f["check"].startswith("standard:") for f in data["findings"]),
        "previous": (data["previous"] or {}).get("review_id"),
        "risk": {row["category"]: row["risk"] for row in data["scorecard"]},
    }


def child(args: argparse.Namespace) -> int:
    """One measurement: imports and the database connection first, then the timed phase;
    the numbers go to --result as JSON."""
    import cProfile
    import tracemalloc

    from states.settings import Settings
    from states.store.db import UnitOfWork, make_engine

    settings = Settings()  # XBR_HOME and XBR_DATABASE_URL from the parent
    engine = make_engine(settings.url)
    with engine.connect():
        pass  # the pool's first connection is set-up, not staging

    def uow() -> UnitOfWork:
        return UnitOfWork(engine)

    steps = phase_steps()
    at_start = staging.proc_memory()
    profiler = cProfile.Profile() if args.profile_to else None
    if args.trace:
        tracemalloc.start()
    if profiler:
        profiler.enable()
    record = run_phase(steps, args.kind, uow, settings, args.review)
    if profiler:
        profiler.disable()
        profiler.dump_stats(args.profile_to)
    if args.trace:
        record["tracemalloc_peak_mib"] = tracemalloc.get_traced_memory()[1] / staging.MIB**2
        tracemalloc.stop()
    record |= staging.memory_record(at_start)
    engine.dispose()
    Path(args.result).write_text(json.dumps(record))
    return 0


# --- the parent: set-up, repetitions, summary ------------------------------------------------


def measure(url: str, home: Path, review: dict[str, Any], kind: str, mode: str) -> dict[str, Any]:
    """Stage and score one prepared review in a fresh subprocess ("timed", "traced" with
    tracemalloc, or "profiled" with cProfile, its statistics under `home`)."""
    result = home / f"result-{review['review_id']}.json"
    command = [sys.executable, str(Path(__file__).resolve()), "--child", "--kind", kind]
    command += ["--review", str(review["review_id"]), "--result", str(result)]
    if mode == "traced":
        command.append("--trace")
    if mode == "profiled":
        command += ["--profile-to", str(home / f"{kind}.prof")]
    load = os.getloadavg()[0]
    subprocess.run(command, env=staging.child_env(url, home), check=True, timeout=900)
    record = json.loads(result.read_text())
    return {"kind": kind, "mode": mode, **review, "loadavg_1m": load,
            "code_digest": staging.source_digest(), **record}  # fmt: skip


def schedule(reps: int, traced: int, profile: bool) -> list[tuple[str, str]]:
    """(kind, mode) of every measurement: timed pairs in ABBA order, so that drift hits both
    kinds alike, then the traced pairs, then the profiled runs."""
    timed = [KINDS if n % 2 == 0 else KINDS[::-1] for n in range(reps)]
    order = [(kind, "timed") for pair in timed for kind in pair]
    order += [(kind, "traced") for _ in range(traced) for kind in KINDS]
    return order + ([(kind, "profiled") for kind in KINDS] if profile else [])


def run_all(args: argparse.Namespace, home: Path, sizes: staging.Sizes) -> dict[str, Any]:
    """Generate the evidence, then per measurement a client prepared and measured in its own
    subprocess."""
    evidence = staging.generate(home, sizes, args.seed)
    code = staging.code_info(args.from_commit)
    measured: list[dict[str, Any]] = []
    with staging.database(args.postgres, home) as url:
        info = staging.machine(url)
        info["cpu_check_s_at_start"] = cpu_check()
        clients = Clients(url, home, evidence["folders"])
        order = schedule(args.reps, args.traced, args.profile)
        for n, (kind, mode) in enumerate(order, start=1):
            assessed = kind == "assessed"
            review = clients.prepare_assessed(args.seed) if assessed else clients.prepare()
            record = measure(url, home, review, kind, mode)
            clients.done(review)
            measured.append(record)
            if record["code_digest"] != code["digest"]:
                log(f"warning: xbr's code changed on disk during the run ({record['code_digest']})")
            log(f"{kind} {mode} {n}/{len(order)}: {record['time_s']:.3f} s, peak RSS "
                f"{record['peak_rss_mib']:.0f} MiB (set-up {review['setup_s']:.1f} s)")  # fmt: skip
        clients.close()
        info["loadavg_at_end"] = list(os.getloadavg())
        info["cpu_check_s_at_end"] = cpu_check()
    code["changed_during_run"] = any(r["code_digest"] != code["digest"] for r in measured)
    profiles = {
        kind: staging.profile_summary(home / f"{kind}.prof") for kind in KINDS if args.profile
    }
    return {"machine": info, "code": code, "evidence": evidence, "measured": measured,
            "profile": profiles or None}  # fmt: skip


def cpu_check() -> float:
    """Seconds of a fixed pure-Python loop: how fast this machine is right now."""
    started = time.perf_counter()
    total = 0
    for n in range(3_000_000):
        total += n % 7
    return round(time.perf_counter() - started, 3)


def legs_median(runs: list[dict[str, Any]]) -> dict[str, float]:
    return {
        leg: round(statistics.median(r["legs"][leg] for r in runs), 4) for leg in runs[0]["legs"]
    }


def paired_ratios(measured: list[dict[str, Any]]) -> list[float]:
    """Each timed assessed run over the anchor's staging beside it (ABBA: adjacent pairs)."""
    timed = [r for r in measured if r["mode"] == "timed"]
    ratios = []
    for first, second in zip(timed[0::2], timed[1::2], strict=True):
        mine, anchor = (first, second) if first["kind"] == "assessed" else (second, first)
        ratios.append(mine["time_s"] / anchor["legs"]["stage_s"])
    return ratios


def results(measured: list[dict[str, Any]]) -> dict[str, Any]:
    """Per kind the summaries; the ratios of the medians; the verdict on the assessed runs."""
    runs = {k: [r for r in measured if r["kind"] == k and r["mode"] == "timed"] for k in KINDS}
    traced = {k: [r for r in measured if r["kind"] == k and r["mode"] == "traced"] for k in KINDS}
    per_kind = {
        kind: {
            "time_s": staging.summary([r["time_s"] for r in runs[kind]]),
            "peak_rss_mib": staging.summary([r["peak_rss_mib"] for r in runs[kind]]),
            "rss_at_start_mib": staging.summary([r["rss_at_start_mib"] for r in runs[kind]]),
            "phase_rss_growth_mib": staging.summary(
                [r["phase_rss_growth_mib"] for r in runs[kind]]
            ),
            "legs_median_s": legs_median(runs[kind]),
            "tracemalloc_peak_mib": staging.summary(
                [r["tracemalloc_peak_mib"] for r in traced[kind]]
            ),
        }
        for kind in KINDS
    }
    mine, anchor = per_kind["assessed"], per_kind["anchor"]
    time_s, rss = mine["time_s"]["median"], mine["peak_rss_mib"]["median"]
    staging_alone = anchor["legs_median_s"]["stage_s"]
    return {
        **per_kind,
        "ratio_over_anchor_staging": round(time_s / staging_alone, 3),
        "paired_ratio_over_anchor_staging": staging.summary(paired_ratios(measured)),
        "ratio_over_anchor_staging_and_report": round(time_s / anchor["time_s"]["median"], 3),
        "ratio_stage_legs": round(mine["legs_median_s"]["stage_s"] / staging_alone, 3),
        "ratio_peak_rss": round(rss / anchor["peak_rss_mib"]["median"], 3),
        "targets": {"time_s": TARGET_SECONDS, "peak_rss_mib": TARGET_MIB},
        "meets_time": time_s < TARGET_SECONDS,
        "meets_memory": rss < TARGET_MIB,
        "meets_target": time_s < TARGET_SECONDS and rss < TARGET_MIB,
        "every_run_meets_target": (
            mine["time_s"]["max"] < TARGET_SECONDS and mine["peak_rss_mib"]["max"] < TARGET_MIB
        ),
    }


def print_tables(report: dict[str, Any]) -> None:
    """The runs and the verdict as Rich tables."""
    from rich.console import Console
    from rich.table import Table

    runs = Table(title=f"staging and scoring on {report['machine']['database']}: s, RSS MiB")
    for column in ("kind", "s", "stage", "confirm", "data", "peak", "start", "items", "load"):
        runs.add_column(column, justify="right")
    for r in report["runs"]:
        legs = r["legs"]
        confirm = f"{legs['confirm_carried_s']:.3f}" if "confirm_carried_s" in legs else "—"
        runs.add_row(r["kind"], f"{r['time_s']:.3f}", f"{legs['stage_s']:.3f}", confirm,
                     f"{legs['report_data_s']:.3f}", f"{r['peak_rss_mib']:.0f}",
                     f"{r['rss_at_start_mib']:.0f}", str(r["questionnaire"]["items"]),
                     f"{r['loadavg_1m']:.2f}")  # fmt: skip
    res = report["results"]
    verdict = Table(title="medians")
    for column in ("", "assessed", "anchor", "ratio", "target", "met"):
        verdict.add_column(column, justify="right")
    mine, anchor = res["assessed"], res["anchor"]
    met = {True: "yes", False: "[red]NO[/]"}
    verdict.add_row("time s (anchor: staging alone)", f"{mine['time_s']['median']:.3f}",
                    f"{anchor['legs_median_s']['stage_s']:.3f}",
                    f"{res['ratio_over_anchor_staging']:.2f}", f"< {TARGET_SECONDS:g}",
                    met[res["meets_time"]])  # fmt: skip
    verdict.add_row("peak RSS MiB", f"{mine['peak_rss_mib']['median']:.0f}",
                    f"{anchor['peak_rss_mib']['median']:.0f}", f"{res['ratio_peak_rss']:.2f}",
                    f"< {TARGET_MIB:g}", met[res["meets_memory"]])  # fmt: skip
    console = Console()
    console.print(runs, verdict)
    console.print(f"legs (median s): assessed {mine['legs_median_s']}, anchor "
                  f"{anchor['legs_median_s']}")  # fmt: skip
    console.print(f"written to {report['out']}")


METHOD = {
    "assessed": "a bsrr client (nist-csf-2) with hipaa-security added: 155 items. Its first "
    "review was staged on last quarter's files 91 days ago, every item its evidence did not "
    "answer answered by a person (ANSWER_MIX, seeded), then cancelled. Timed: stage() of the new "
    "review + confirm_carried() + report_data()",
    "anchor": "an xbr-sop client (no standard), prepared as bench/staging.py does, the same "
    "evidence. Timed: stage() (the anchor, 'staging alone') + report_data()",
    "order": "assessed and anchor alternate in ABBA order; each in a fresh subprocess, timed "
    "with perf_counter after its imports (tasks.staging with Prefect) and first connection",
    "peak_rss": "VmHWM of the subprocess, as bench/staging.py",
    "tracemalloc": "separate runs (traced_runs)",
    "cpu_check": "seconds of a fixed pure-Python loop, at the start and the end",
    "mib": "1 MiB = 1,048,576 bytes",
}


def assemble(
    args: argparse.Namespace,
    sizes: staging.Sizes,
    started_at: datetime,
    measured: dict[str, Any],
    out: Path,
) -> dict[str, Any]:
    """The JSON of a benchmark run."""
    runs = measured["measured"]
    config = {
        "reps": args.reps,
        "traced_reps": args.traced,
        "seed": args.seed,
        "template": TEMPLATE,
        "added": ADDED,
        "answer_mix": ANSWER_MIX,
        "quick": args.quick,
    }
    return {
        "benchmark": "assessment",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "started_at": started_at.isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": measured["machine"],
        "code": measured["code"],
        "sizes": {"devices": sizes.devices, "users": sizes.users, "tickets": sizes.tickets},
        "evidence_rows": measured["evidence"]["rows"],
        "config": config | METHOD,
        "results": results(runs),
        "runs": [r for r in runs if r["mode"] == "timed"],
        "traced_runs": [r for r in runs if r["mode"] == "traced"],
        "profiled_runs": [r for r in runs if r["mode"] == "profiled"],
        "profile": measured["profile"],
        "out": str(out),
    }


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--reps", type=int, help="measured runs of each kind (default 5/2)")
    parser.add_argument("--traced", type=int, help="extra runs of each under tracemalloc (1)")
    parser.add_argument("--profile", action="store_true", help="one more run of each, cProfile")
    parser.add_argument("--kind", choices=KINDS, help=argparse.SUPPRESS)
    staging.shared_options(parser, "assessment")
    args = parser.parse_args(argv)
    if not args.child:
        args.reps = args.reps or (2 if args.quick else 5)
        args.traced = 1 if args.traced is None else args.traced
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.child:
        return child(args)
    if args.commit:
        return from_commit(args)
    started_at = datetime.now(UTC)
    sizes = staging.QUICK if args.quick else staging.FULL
    staging.byte_compile()
    home = Path(tempfile.mkdtemp(prefix="xbr-bench-assessment-"))
    log(f"throw-away XBR_HOME {home}; {sizes}, {args.reps} runs of each kind")
    try:
        measured = run_all(args, home, sizes)
    finally:
        if args.keep_home:
            log(f"kept {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)
    kind = measured["machine"]["database"]
    stamp = f"{started_at:%Y%m%dT%H%MZ}{'-quick' if args.quick else ''}"
    out = args.out or args.results_dir / f"assessment-{stamp}-{kind}.json"
    report = assemble(args, sizes, started_at, measured, out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print_tables(report)
    return 0


def from_commit(args: argparse.Namespace) -> int:
    """This benchmark on the code of a commit: `git archive` into a temporary folder with the
    benchmark's scripts copied in, run from there; the JSON goes to this checkout's results."""
    git = ["git", "-C", str(REPO)]
    found = subprocess.run([*git, "rev-parse", "--verify", f"{args.commit}^{{commit}}"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    sha = found.stdout.strip()
    tree = Path(tempfile.mkdtemp(prefix="xbr-bench-code-"))
    try:
        archive = subprocess.run([*git, "archive", sha], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
        (tree / "bench").mkdir(exist_ok=True)
        for script in ("assessment.py", "staging.py", "databases.py"):
            shutil.copy2(HERE / script, tree / "bench" / script)
        command = [sys.executable, str(tree / "bench" / "assessment.py"), "--from-commit", sha,
                   "--results-dir", str(args.results_dir.resolve()), "--seed", str(args.seed),
                   "--reps", str(args.reps), "--traced", str(args.traced)]  # fmt: skip
        flags = {"--quick": args.quick, "--profile": args.profile, "--keep-home": args.keep_home}
        command += [flag for flag, on in flags.items() if on]
        command += ["--postgres", args.postgres] if args.postgres else []
        command += ["--out", str(args.out.resolve())] if args.out else []
        log(f"measuring commit {sha[:10]} (git archive in {tree})")
        return subprocess.run(command, check=False).returncode
    finally:
        shutil.rmtree(tree, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
