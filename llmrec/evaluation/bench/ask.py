"""How fast a person gets an answer: ``ask`` through the Python API, the CLI standalone and the CLI through a running
service, and the service's throughput under concurrent clients, in one run.

    python eval/bench_ask.py [--quick] [--workspace demo-workspace] [--ml-workspace ml-workspace] [--n 20]
        [--cli-n 5] [--clients 1 4 16] [--per-client 4] [--out eval/results]

Per workspace (the demo workspace, built when missing; an ml-latest-small workspace when ``--ml-workspace`` names
an ingested one: ``llmrec ingest ../shared/data/ml-latest-small --workspace ml-workspace``), with the workspace's
own (default) configuration:

- Python API: ``Recommender.ask`` in a warm process, p50/p95 of retrieve, rank, justify and total (its timings).
  Demo requests alternate the shared ``QUERIES`` anonymously and as known users; ml-latest-small requests are known
  users (history only, no text).
- The ranking pass (the model call, ``timings.rank_pass_s``; prompt building is the rest of ``rank_s``): prompt
  tokens, and achieved GFLOP/s against the matmul peaks measured in the same run, counted two ways: the weights
  alone (2 x non-embedding parameters x computed tokens) and the model's FLOPs (weights plus causal attention, 4 x
  layers x attention width x keys each new token sees, the convention of PaLM's model FLOPs utilisation). A model
  whose parts run in different dtypes (bfloat16 MLP and attention, float32 elsewhere) is held to the peak of its mix:
  the share is the time its FLOPs would take with each at its own dtype's peak, over the time the pass took: as the
  asks ran it, and as the fastest of each prompt's runs (the ask's and ``REPLAYS`` more), since the peak too is the
  fastest of its runs and one run on a shared machine measures its neighbours. Then the same prompts replayed,
  interleaved, through a backend without the fused CPU paths (``ranker.fused_cpu_ops = false``): the pass-time
  ratio fused / stock.
- CLI standalone: ``llmrec ask --standalone --json`` as a subprocess (imports and model load included).
- ``llmrec serve`` started for the workspace (load + warm-up time recorded), then ``llmrec ask`` through it (wall
  time, and that the service answered), then throughput at each ``--clients`` level: requests/s, statuses, 5xx,
  client latency and one audit record per answer.

Writes ``bench-ask.json`` and ``bench-ask.md`` under ``--out``. ``--quick`` is a smoke run (few requests, 1 and 4
clients, demo workspace only). The machine is shared: load averages are recorded with the figures.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path

from llmrec.evaluation.bench import QUERIES
from llmrec.evaluation.bench.service_runs import ServeProcess, cli_ask, summary, throughput
from llmrec.evaluation.options import RESULTS, add_workspace_argument, script_parser
from llmrec.evaluation.provenance import command_line, versions, write_report
from llmrec.ranking.dtype_probe import PEAK_SHAPES, peak_gflops

STAGES = ("retrieve_s", "rank_s", "justify_s", "total_s")
# Runs of each ranking prompt after its ask, for the fastest-run share (``replay_fastest``).
REPLAYS = 2
# The option letters a replayed pass scores: a full set of 20 candidates.
LETTERS = [f" {chr(65 + i)}" for i in range(20)]


def matmul_peak(dtype: str) -> tuple[float, str]:
    """The machine's matmul peak in ``dtype`` with torch's current thread count (the best over a few shapes: one
    shape can show bfloat16 at half its peak) and the shape that reached it, as "M×K×N"."""
    gflops, shape = peak_gflops(dtype)
    return gflops, _shape_name(shape)


def _shape_name(shape: tuple[int, int, int]) -> str:
    return "×".join(str(n) for n in shape)


def _requests(rec, n: int, kind: str) -> list[dict]:
    """``n`` request bodies: demo = queries, every other one as a known user; ml = known users, history only."""
    users = sorted(rec.workspace.interaction_log().present_users())
    if kind == "ml":
        return [{"query": "", "user_id": users[(i * 7) % len(users)], "k": 10} for i in range(n)]
    return [{"query": QUERIES[i % len(QUERIES)], "user_id": users[i % len(users)] if i % 2 and users else None,
             "k": 5} for i in range(n)]


def _model_facts(rec) -> dict:
    """The ranking model's dtype, non-embedding parameters and tokenizer (transformers backend; else None)."""
    backend = rec.backend
    backend = getattr(backend, "backend", backend)  # the service's batcher wraps it; the API's does not
    model = getattr(backend, "model", None)
    if model is None:
        return {"dtype": None, "params": None, "tokenizer": getattr(backend, "tokenizer", None), "backend": backend}
    def name(p) -> str:
        return str(p.dtype).removeprefix("torch.")

    # Non-embedding weights by the dtype their matmuls run in (a bfloat16 MLP stores its weights in bfloat16).
    by_dtype: dict[str, int] = {}
    for param_name, p in model.named_parameters():
        if "embed" not in param_name:
            by_dtype[name(p)] = by_dtype.get(name(p), 0) + p.numel()
    config = model.config
    heads = config.num_attention_heads
    width = heads * (getattr(config, "head_dim", None) or config.hidden_size // heads)
    attention = "bfloat16" if "bfloat16_attention" in getattr(backend, "fused_ops", ()) \
        else name(next(model.parameters()))
    return {"dtype": getattr(backend, "dtype", None), "params": sum(by_dtype.values()), "params_by_dtype": by_dtype,
            "attention_dtype": attention, "tokenizer": backend.tokenizer, "backend": backend,
            "layers": config.num_hidden_layers, "attention_width": width}


def dtypes_used(api: dict) -> set[str]:
    """The dtypes a pass's matmuls ran in: its weights' and its attention's."""
    return set(api.get("params_by_dtype") or {}) | {f["attention_dtype"] for f in api.get("pass_flops", [])}


def ideal_seconds(flops_by_dtype: dict[str, float], peak: dict[str, float]) -> float:
    """The time this mix of FLOPs takes with every matmul at its dtype's measured peak: what the hardware allows."""
    return sum(flops / (peak[dtype] * 1e9) for dtype, flops in flops_by_dtype.items() if flops)


def remeasure_peaks(report: dict, measure=matmul_peak) -> None:
    """Each dtype's peak measured again (at the end of a run) and the better of the two kept, both recorded: a
    neighbour's load during one measurement would otherwise make the machine look slower than it is, and every pass
    look closer to its peak than it is."""
    peaks, shapes = report["matmul_peak_gflops"], report["matmul_peak_shape"]
    report["matmul_peak_runs"] = {dtype: [gflops] for dtype, gflops in peaks.items()}
    for dtype in list(peaks):
        again, shape = measure(dtype)
        report["matmul_peak_runs"][dtype].append(again)
        if again > peaks[dtype]:
            peaks[dtype], shapes[dtype] = again, shape


def peak_shares(api: dict, peak: dict[str, float]) -> dict:
    """p50 over the passes of ideal time / pass time, counting the weights alone and weights plus attention; and
    weights plus attention again with each prompt's fastest run (``fastest_s``, where replays recorded one)."""
    import numpy as np

    def p50(values):
        return round(float(np.median(values)), 3) if values else None

    weights, model, fastest = [], [], []
    for flops in api.get("pass_flops", []):
        weights.append(ideal_seconds(flops["weights"], peak) / flops["s"])
        both = dict(flops["weights"])
        both[flops["attention_dtype"]] = both.get(flops["attention_dtype"], 0) + flops["attention"]
        model.append(ideal_seconds(both, peak) / flops["s"])
        if flops.get("fastest_s"):
            fastest.append(ideal_seconds(both, peak) / flops["fastest_s"])
    return {"weights": p50(weights), "model": p50(model), "model_fastest": p50(fastest)}


def _known_prefix(backend, text: str) -> str:
    """The cached static head ``text`` starts with ("" for none): a replay computes what the ask computed."""
    return next((p for p in backend._prefixes if text.startswith(p)), "")


def replay_fastest(backend, prompts: list[str], passes: list[dict], rounds: int = REPLAYS) -> None:
    """Each ranking prompt's pass run ``rounds`` more times, every prompt once per round; its fastest time (the ask's
    included) recorded as ``fastest_s``. The peak it is held to is the fastest of its runs too: on a shared machine
    a single run measures the neighbours as much as the pass."""
    for _ in range(rounds):
        for text, flops in zip(prompts, passes):
            t0 = time.perf_counter()
            backend.option_logprobs([text], LETTERS, prefix=_known_prefix(backend, text))
            flops["fastest_s"] = min(flops.get("fastest_s", flops["s"]), time.perf_counter() - t0)


def attention_flops(layers: int, width: int, cached: int, computed: int) -> int:
    """Causal attention FLOPs of ``computed`` new tokens after ``cached`` ones: each new token's query meets every
    key up to its own (QK^T, then the weighted sum of values: 2 x 2 x width per key), in every layer."""
    keys = computed * cached + computed * (computed + 1) // 2
    return 4 * layers * width * keys


def pass_ratio(rec, backend, prompts: list[str], rounds: int = 2) -> dict | None:
    """The same ranking prompts through this backend and through one without the fused CPU paths (same model,
    adapter and dtype), interleaved: median pass-time ratio fused / stock, and the largest letter-score difference."""
    import numpy as np

    from llmrec.llm.adapters import resolve_adapter
    from llmrec.ranking.backends import open_backend

    if not getattr(backend, "fused_ops", None) or not prompts:
        return None
    config = rec.config.ranker
    stock = open_backend(config.model_copy(update={"fused_cpu_ops": False}), resolve_adapter(config.adapter))
    ratios, diff = [], 0.0
    for text in prompts * rounds:
        prefix = _known_prefix(backend, text)
        times = {}
        for name, b in (("fused", backend), ("stock", stock)) if len(ratios) % 2 else (("stock", stock),
                                                                                          ("fused", backend)):
            t0 = time.perf_counter()
            times[name] = (b.option_logprobs([text], LETTERS, prefix=prefix)[0], time.perf_counter() - t0)
        ratios.append(times["fused"][1] / times["stock"][1])
        diff = max(diff, float(np.max(np.abs(np.subtract(times["fused"][0], times["stock"][0])))))
    return {"passes": len(ratios), "fused_over_stock": round(float(np.median(ratios)), 3),
            "max_abs_logprob_diff": diff, "ops": list(backend.fused_ops)}


def _cached_prefix_tokens(backend, prompt_ids: list[int]) -> int:
    """How many of a prompt's first tokens the backend took from its prefix cache (not computed by the pass)."""
    known = [ids for ids, _ in getattr(backend, "_prefixes", {}).values()]
    return max((len(ids) for ids in known if prompt_ids[:len(ids)] == ids), default=0)


def python_api(workspace: Path, n: int, kind: str) -> dict:
    """Warm ``Recommender.ask`` latencies by stage, and the ranking pass's tokens and GFLOP/s."""
    from llmrec.api import AskRequest
    from llmrec.recommender import Recommender

    rec = Recommender(workspace)
    bodies = _requests(rec, n, kind)
    t0 = time.perf_counter()
    rec.ask_request(AskRequest(**bodies[0]))  # models load: not request latency
    load_s = time.perf_counter() - t0
    facts = _model_facts(rec)
    stages: dict[str, list[float]] = {s: [] for s in STAGES}
    tokens, computed, gflops, model_gflops, passes, prompts, pass_prompts = [], [], [], [], [], [], []
    pass_flops: list[dict] = []
    for body in bodies:
        r = rec.ask_request(AskRequest(**body))
        for s in STAGES:
            stages[s].append(getattr(r.timings, s))
        passes.append(r.timings.rank_pass_s)
        record = rec.audit_store.get(r.request_id)
        if facts["tokenizer"] is not None and record is not None and record.ranking_prompt:
            prompts.append(record.ranking_prompt)
            ids = facts["tokenizer"](record.ranking_prompt, add_special_tokens=False)["input_ids"]
            # The pass computes only what follows the cached static head: those are the FLOPs it does.
            cached = _cached_prefix_tokens(facts["backend"], ids)
            t = len(ids) - cached
            tokens.append(len(ids))
            computed.append(t)
            if facts["params"] and r.timings.rank_pass_s > 0:
                weights = 2 * facts["params"] * t
                gflops.append(weights / r.timings.rank_pass_s / 1e9)
                attention = attention_flops(facts["layers"], facts["attention_width"], cached, t)
                model_gflops.append((weights + attention) / r.timings.rank_pass_s / 1e9)
                pass_flops.append({"s": r.timings.rank_pass_s, "attention": attention,
                                   "attention_dtype": facts["attention_dtype"],
                                   "weights": {d: 2 * n * t for d, n in facts["params_by_dtype"].items()}})
                pass_prompts.append(record.ranking_prompt)
    if pass_prompts and hasattr(facts["backend"], "_prefixes"):
        replay_fastest(facts["backend"], pass_prompts, pass_flops)
    return {"requests": len(bodies), "first_ask_s": round(load_s, 2), "dtype": facts["dtype"],
            "non_embedding_params": facts["params"], "params_by_dtype": facts.get("params_by_dtype"),
            "pass_flops": pass_flops, "stages": {s: summary(v) for s, v in stages.items()},
            "rank_pass_s": summary(passes), "rank_tokens": summary(tokens, 0),
            "rank_computed_tokens": summary(computed, 0), "rank_gflops": summary(gflops, 1),
            "rank_model_gflops": summary(model_gflops, 1),
            "fused_vs_stock": pass_ratio(rec, facts["backend"], prompts[:10]), "bodies": bodies}


def cli_runs(workspace: Path, bodies: list[dict], n: int, standalone: bool) -> dict:
    runs = [cli_ask(workspace, b["query"], b.get("user_id"), b["k"], standalone) for b in bodies[:n]]
    return {"runs": len(runs), "wall_s": summary([r["wall_s"] for r in runs]),
            "stages": {s: summary([r["timings"][s] for r in runs]) for s in STAGES},
            "answered_by_service": sum(r["via_service"] for r in runs)}


def bench_workspace(workspace: Path, kind: str, args, log: Path) -> dict:
    from llmrec.audit.store import AuditStore

    print(f"[{kind}] Python API ({args.n} requests) ...", flush=True)
    api = python_api(workspace, args.n, kind)
    bodies = api.pop("bodies")
    print(f"[{kind}] CLI standalone ({args.cli_n} asks) ...", flush=True)
    out = {"workspace": str(workspace), "python_api": api, "cli_standalone": cli_runs(workspace, bodies, args.cli_n,
                                                                                        True)}
    if args.no_service:
        return out
    store = AuditStore(workspace / "audit.sqlite")
    print(f"[{kind}] llmrec serve: CLI through it, then {args.clients} clients ...", flush=True)
    with ServeProcess(workspace, log, *args.serve_arg) as served:
        out["service"] = {"startup_s": round(served.startup_s, 1), "health": served.health(),
                          "serve_args": list(args.serve_arg)}
        out["cli_via_service"] = cli_runs(workspace, bodies, args.cli_n, False)
        out["throughput"] = []
        for clients in args.clients:
            before = os.getloadavg()[0]
            level = throughput(served.url, bodies, clients, args.per_client, store.count)
            level["load_before_after"] = [round(before, 1), round(os.getloadavg()[0], 1)]
            out["throughput"].append(level)
            print(f"  {clients} clients: {level['requests_per_s']} req/s, statuses {level['statuses']}", flush=True)
    return out


def _md(report: dict) -> str:
    lines = [f"# ask: latency and throughput ({report['time']})", "",
             f"Machine: {report['machine']}, {report['cores']} cores; matmul peak ({report['threads']} threads, the "
             f"best of {', '.join(map(_shape_name, PEAK_SHAPES))}, measured at the start and the end, the better "
             "kept): "
             + ", ".join(f"{k} {v} GFLOP/s (at {report.get('matmul_peak_shape', {}).get(k, '1024×1024×1024')}"
                         + (f"; runs {' and '.join(map(str, runs))}"
                            if (runs := report.get('matmul_peak_runs', {}).get(k)) else "") + ")"
                         for k, v in report["matmul_peak_gflops"].items())
             + f"; load average {report['load_before_after'][0]} before, {report['load_before_after'][1]} after "
             "(other jobs share the cores). Command: `" + report["command"] + "`.", ""]
    for kind, ws in report["workspaces"].items():
        api = ws["python_api"]
        lines += [f"## {kind} ({ws['workspace']})", "",
                  "| path | n | retrieve p50/p95 | rank p50/p95 | justify p50/p95 | total p50/p95 | wall p50/p95 |",
                  "|---|---|---|---|---|---|---|"]
        paths = [("Python API (warm)", api, None), ("CLI standalone", ws["cli_standalone"], "wall_s")]
        if "cli_via_service" in ws:
            paths.append(("CLI via the service", ws["cli_via_service"], "wall_s"))
        for name, block, wall in paths:
            st = block["stages"]
            cells = [f"{st[s]['p50']} / {st[s]['p95']}" for s in STAGES]
            w = f"{block[wall]['p50']} / {block[wall]['p95']}" if wall else "–"
            lines.append(f"| {name} | {st['total_s']['n']} | " + " | ".join(cells) + f" | {w} |")
        g, mg = api["rank_gflops"], api.get("rank_model_gflops")
        shares = api.get("peak_share") or {}
        used = dtypes_used(api)
        of = "the peak of its dtype mix (each FLOP at its own dtype's peak)" if len(used) > 1 else \
            f"the {next(iter(used), 'float32')} peak"

        def share(key):
            return f" = {shares[key]:.0%} of {of}" if shares.get(key) else ""

        fastest = (f" Each prompt's fastest of {REPLAYS + 1} runs (the ask's and {REPLAYS} replays; the peak too is "
                   f"the fastest of its runs): **{shares['model_fastest']:.0%}** of {of}, p50."
                   if shares.get("model_fastest") else "")

        split = ", ".join(f"{n:,} {d}" for d, n in (api.get("params_by_dtype") or {}).items())
        done = api.get("rank_computed_tokens", api["rank_tokens"])["p50"]
        lines += ["", f"Ranking pass (the model call, p50 {api['rank_pass_s']['p50']} s, p95 "
                  f"{api['rank_pass_s']['p95']} s): {api['rank_tokens']['p50']} prompt tokens p50 "
                  f"({api['rank_tokens']['max']} max), {done} of them computed (the rest is the cached static head). "
                  f"Achieved, p50: **{mg['p50']} GFLOP/s of model FLOPs{share('model')}** (weights and causal "
                  f"attention); {g['p50']} GFLOP/s{share('weights')} counting the weights alone ({api['dtype']}; "
                  f"{api['non_embedding_params']:,} non-embedding parameters: {split}).{fastest} First ask of the "
                  f"process (models load): {api['first_ask_s']} s."]
        ab = api.get("fused_vs_stock")
        if ab:
            lines += ["", f"Fused CPU paths ({', '.join(ab['ops'])}) against the stock transformers modules, the "
                      f"same prompts interleaved ({ab['passes']} passes each): pass time ratio **"
                      f"{ab['fused_over_stock']}** (median), largest letter-logprob difference "
                      f"{ab['max_abs_logprob_diff']:.1e}."]
        lines.append("")
        if "cli_via_service" in ws:
            serve = " ".join(["llmrec serve", *ws["service"].get("serve_args", [])])
            lines += [f"Service (`{serve}`): ready {ws['service']['startup_s']} s after it started (load + warm-up); "
                      f"{ws['cli_via_service']['answered_by_service']} of {ws['cli_via_service']['runs']} CLI asks "
                      "answered by it.", "",
                      "| clients | requests | req/s | statuses | 5xx | client p50/p95 (s) | server p50 (s) | "
                      "audit records / answers |", "|---|---|---|---|---|---|---|---|"]
            for t in ws["throughput"]:
                lines.append(f"| {t['clients']} | {t['requests']} | {t['requests_per_s']} | {t['statuses']} | "
                             f"{t['server_errors']} | {t['latency_s']['p50']} / {t['latency_s']['p95']} | "
                             f"{t['server_time_s']['p50']} | {t['audit_records_added']} / {t['answers']} |")
            lines.append("")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str]) -> int:
    ap = script_parser("eval/bench_ask.py", __doc__)
    add_workspace_argument(ap, default=Path("demo-workspace"))
    ap.add_argument("--ml-workspace", type=Path, default=Path("ml-workspace"),
                    help="an ingested ml-latest-small workspace; skipped when it does not exist")
    ap.add_argument("--n", type=int, default=20, help="Python API requests per workspace")
    ap.add_argument("--cli-n", type=int, default=5, help="CLI asks per path (standalone, via the service)")
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--per-client", type=int, default=4, help="requests each client sends")
    ap.add_argument("--no-service", action="store_true", help="skip `llmrec serve` (CLI via service, throughput)")
    ap.add_argument("--serve-arg", action="append", default=[], metavar="ARG",
                    help="pass an option to `llmrec serve`, e.g. --serve-arg=--max-batch=1 (repeatable)")
    ap.add_argument("--quick", action="store_true", help="a smoke run: few requests, 1 and 4 clients, demo only")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--verbose", action="store_true", help="show the libraries' own logs and bars")
    args = ap.parse_args(argv)
    from llmrec.quiet import quiet_libraries

    quiet_libraries(args.verbose)
    if args.quick:
        args.n, args.cli_n, args.clients, args.per_client, args.ml_workspace = 3, 1, [1, 4], 1, None

    if not (args.workspace / "state.sqlite").exists():
        from llmrec.demo import run_demo

        run_demo(args.workspace, train_adapter=False)  # the adapter is not what is timed
    import torch

    from llmrec.config import LLMRecConfig

    threads = LLMRecConfig().ranker.threads
    if threads:
        torch.set_num_threads(threads)
    load_before = os.getloadavg()[0]
    report = {"time": time.strftime("%Y-%m-%d %H:%M"), "machine": platform.processor() or platform.machine(),
              "cores": os.cpu_count(), "threads": torch.get_num_threads(), "quick": args.quick,
              "command": command_line("python eval/bench_ask.py", argv),
              "matmul_peak_gflops": {}, "matmul_peak_shape": {}, "workspaces": {}}
    report["matmul_peak_gflops"]["float32"], report["matmul_peak_shape"]["float32"] = matmul_peak("float32")
    args.out.mkdir(parents=True, exist_ok=True)
    log = args.out / "bench-ask-serve.log"
    targets = [("demo", args.workspace)]
    if args.ml_workspace is not None and (args.ml_workspace / "state.sqlite").exists():
        targets.append(("ml-latest-small", args.ml_workspace))
    elif args.ml_workspace is not None:
        print(f"note: no ml-latest-small workspace at {args.ml_workspace}; make one with `llmrec ingest "
              f"../shared/data/ml-latest-small --workspace {args.ml_workspace}`", flush=True)
    for kind, ws in targets:
        report["workspaces"][kind] = bench_workspace(ws, kind, args, log)
        api = report["workspaces"][kind]["python_api"]
        for dtype in sorted(dtypes_used(api) - set(report["matmul_peak_gflops"])):
            report["matmul_peak_gflops"][dtype], report["matmul_peak_shape"][dtype] = matmul_peak(dtype)
    remeasure_peaks(report)
    for kind in report["workspaces"]:
        api = report["workspaces"][kind]["python_api"]
        api["peak_share"] = peak_shares(api, report["matmul_peak_gflops"])
    report["load_before_after"] = [round(load_before, 1), round(os.getloadavg()[0], 1)]
    report["versions"] = versions(("torch", "transformers"))
    write_report(args.out / ("bench-ask-quick" if args.quick else "bench-ask"), report, _md)
    log.unlink(missing_ok=True)
    return 0
