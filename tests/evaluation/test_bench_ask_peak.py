"""The benchmark holds a mixed-precision pass to the peak of its own mix of FLOPs, not to the slowest dtype's."""

from __future__ import annotations

import pytest

from llmrec.evaluation.bench.ask import (attention_flops, dtypes_used, ideal_seconds, peak_shares,
                                        remeasure_peaks, replay_fastest)

PEAK = {"float32": 400.0, "bfloat16": 1600.0}


def test_each_dtype_s_flops_take_the_time_its_own_peak_allows():
    assert ideal_seconds({"float32": 400e9}, PEAK) == pytest.approx(1.0)
    assert ideal_seconds({"float32": 200e9, "bfloat16": 800e9}, PEAK) == pytest.approx(1.0)


def test_a_pass_at_half_the_mixed_peak_scores_half():
    passes = [{"s": 2.0, "weights": {"float32": 200e9, "bfloat16": 800e9}, "attention": 0.0,
               "attention_dtype": "bfloat16"}]
    assert peak_shares({"pass_flops": passes}, PEAK) == {"weights": 0.5, "model": 0.5, "model_fastest": None}


def test_attention_counts_at_its_own_dtype_peak_in_the_model_share():
    passes = [{"s": 1.0, "weights": {"float32": 400e9}, "attention": 1600e9, "attention_dtype": "bfloat16"}]
    shares = peak_shares({"pass_flops": passes}, PEAK)
    assert shares["weights"] == pytest.approx(1.0) and shares["model"] == pytest.approx(2.0)


def test_no_passes_no_share():
    assert peak_shares({}, PEAK) == {"weights": None, "model": None, "model_fastest": None}


def test_the_fastest_run_share_holds_each_prompt_s_fastest_run_to_the_peak():
    """Like the peak, the best of a pass's runs: the ask's 2 s pass replayed in 1.25 s scores 0.8, not 0.5."""
    passes = [{"s": 2.0, "fastest_s": 1.25, "weights": {"float32": 400e9}, "attention": 0.0,
               "attention_dtype": "float32"}]
    assert peak_shares({"pass_flops": passes}, PEAK) == {"weights": 0.5, "model": 0.5, "model_fastest": 0.8}


def test_replays_keep_each_prompt_s_fastest_run_and_never_a_slower_one():
    class Backend:
        _prefixes = {"static head": None}

        def __init__(self):
            self.seen, self.delays = [], iter([0.0, 0.05, 0.05, 0.05])  # a, b, a, b

        def option_logprobs(self, prompts, letters, prefix):
            import time

            self.seen.append((prompts[0], prefix, len(letters)))
            time.sleep(next(self.delays))
            return [[0.0] * len(letters)]

    backend = Backend()
    passes = [{"s": 0.02}, {"s": 0.001}]
    replay_fastest(backend, ["static head, then a", "b"], passes, rounds=2)
    assert backend.seen == [("static head, then a", "static head", 20), ("b", "", 20)] * 2
    assert passes[0]["fastest_s"] < 0.02  # a replay was faster than the ask
    assert passes[1]["fastest_s"] == 0.001  # no replay was: the ask's own time stands


def test_causal_attention_counts_the_cached_keys_and_the_triangle():
    # 2 new tokens after 3 cached: the first sees 4 keys, the second 5.
    assert attention_flops(layers=1, width=1, cached=3, computed=2) == 4 * 9


def test_the_dtypes_a_pass_used_are_its_weights_and_its_attention_s():
    api = {"params_by_dtype": {"float32": 10, "bfloat16": 30}, "pass_flops": [{"attention_dtype": "bfloat16"}]}
    assert dtypes_used(api) == {"float32", "bfloat16"}
    assert dtypes_used({"params_by_dtype": {"float32": 10}, "pass_flops": []}) == {"float32"}


def test_the_peak_is_measured_again_at_the_end_and_the_better_reading_held_to():
    """A neighbour's load during the first reading (float32 here) must not make every pass look closer to the peak;
    a worse second reading (bfloat16) changes nothing. Both readings are in the report."""
    report = {"matmul_peak_gflops": {"float32": 165.0, "bfloat16": 430.0},
              "matmul_peak_shape": {"float32": (1024, 1024, 1024), "bfloat16": (1024, 1024, 1024)}}
    again = {"float32": (190.0, (2048, 2048, 2048)), "bfloat16": (410.0, (2048, 2048, 2048))}
    remeasure_peaks(report, measure=again.__getitem__)
    assert report["matmul_peak_gflops"] == {"float32": 190.0, "bfloat16": 430.0}
    assert report["matmul_peak_shape"] == {"float32": (2048, 2048, 2048), "bfloat16": (1024, 1024, 1024)}
    assert report["matmul_peak_runs"] == {"float32": [165.0, 190.0], "bfloat16": [430.0, 410.0]}
