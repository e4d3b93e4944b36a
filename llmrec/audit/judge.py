"""The packaged LLM as a constrained-label judge for claims the deterministic checks leave open.

One forward pass per claim, no free generation: the prompt ends at "Answer:" and the judge reads the logprobs of the
three label tokens (" yes" = supported, " no" = contradicted, " unknown" = unsupported) through
``backend.option_logprobs``. Small models prefer some answers whatever the question, so the three probabilities are
contextually calibrated (Zhao et al., 2021): divided by the probabilities the model gives for a content-free card and
claim ("N/A"), then renormalised. The judge answers only when it is confident: "supported" when the calibrated
probability of "yes" reaches ``threshold``, "unsupported"/"contradicted" when that of "no" plus "unknown" does;
otherwise it abstains and the claim keeps the label word overlap gave it. Only the open claims reach the judge, and
only a confident answer changes them; a better model or a tuned adapter can be plugged in through ``backend``.

Measured with the packaged SmolLM2-135M on 16 hand-written claims about demo items (8 true paraphrases, 8 inventions):
calibrated p(yes) fell between 0.38 and 0.57 in both groups, i.e. no separation (a few-shot prompt did no better). At
the default threshold (0.8) it abstains on everything, so with this model the audit's verdicts are the rules'.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from llmrec.claims.grounds import Grounds
from llmrec.errors import ConfigError

JUDGE_TEMPLATE = "claim_judge.j2"
# Answer token per label; each is a single token in the packaged model's vocabulary.
LABEL_TOKENS = {"supported": " yes", "contradicted": " no", "unsupported": " unknown"}


@dataclass(frozen=True)
class JudgeScore:
    label: str | None        # supported | unsupported | contradicted; None when the judge abstains
    p_supported: float       # calibrated, the three sum to 1
    p_unsupported: float
    p_contradicted: float


class ClaimJudge:
    """Labels claims from the LLM's probabilities of three answer tokens."""

    def __init__(self, backend, threshold: float = 0.8, library=None, calibrate: bool = True):
        """``threshold``: calibrated probability (of "yes", or of "no" + "unknown") the judge needs to answer."""
        from llmrec.prompts import default_library

        if not 0 < threshold < 1:
            raise ConfigError(f"judge threshold must be between 0 and 1 (got {threshold})")
        self.backend = backend
        self.threshold = threshold
        self.calibrate = calibrate
        self.library = (library or default_library()).with_chat(backend.chat)
        self._bias: list[float] | None = None

    @property
    def model_id(self) -> str:
        return f"{self.backend.model_id}{' + ' + self.backend.adapter_id if self.backend.adapter_id else ''}"

    def prompt(self, card: str, history: list[str], claim: str) -> str:
        return self.library.render(JUDGE_TEMPLATE, card=card, history=history, claim=claim).text

    def _label_logprobs(self, prompts: list[str]) -> list[list[float]]:
        """(N, 3) log-probabilities renormalised over the three labels, in LABEL_TOKENS order."""
        raw = self.backend.option_logprobs(prompts, list(LABEL_TOKENS.values()))
        out = []
        for row in raw:
            top = max(row)
            z = top + math.log(sum(math.exp(x - top) for x in row))
            out.append([x - z for x in row])
        return out

    def bias(self) -> list[float]:
        """Label log-probabilities for a content-free card and claim (the model's prior over the answers)."""
        if self._bias is None:
            self._bias = self._label_logprobs([self.prompt("N/A", [], "N/A")])[0] if self.calibrate else [0.0] * 3
        return self._bias

    def judge(self, claims: Sequence[tuple[Grounds, str]], batch_size: int = 8) -> list[JudgeScore]:
        """Label each (grounds, claim): one forward pass per claim, ``batch_size`` claims per batch."""
        bias = self.bias()
        labels = list(LABEL_TOKENS)
        scores = []
        for start in range(0, len(claims), batch_size):
            chunk = claims[start:start + batch_size]
            prompts = [self.prompt(s.card, list(s.history.values())[-5:], text) for s, text in chunk]
            for row in self._label_logprobs(prompts):
                adjusted = [x - b for x, b in zip(row, bias)]
                top = max(adjusted)
                exp = [math.exp(a - top) for a in adjusted]
                p = {label: e / sum(exp) for label, e in zip(labels, exp)}
                if p["supported"] >= self.threshold:
                    label = "supported"
                elif 1 - p["supported"] >= self.threshold:
                    label = "contradicted" if p["contradicted"] > p["unsupported"] else "unsupported"
                else:
                    label = None  # not confident either way: abstain
                scores.append(JudgeScore(label, p["supported"], p["unsupported"], p["contradicted"]))
        return scores
