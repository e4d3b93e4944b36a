"""The output head of a ranking pass, cheaper: the option letters' logits in float32, exactly, and the softmax's
normaliser from a bfloat16 copy of the head, made exact where it matters.

A ranking pass needs 20 numbers, the log-probabilities of the option letters, but their normaliser (log-sum-exp over
the whole vocabulary) needs every logit: a (vocabulary × hidden) matvec that streams the head's weights from memory
once per pass, whatever the prompt's length. For SmolLM2-135M (49,152 × 576, float32, tied to the embeddings: 113 MB)
that is 9.8 ms on a 2-core AMD EPYC with avx512_bf16, a fixed cost that is 6% of a demo pass of 133 new tokens. From a
bfloat16 copy it is half the bytes and 3.2 ms.

bfloat16 logits alone are off by up to ~0.1, and their normaliser by up to 2e-2, so only the bulk of the vocabulary
comes from the copy:

- the letters' logits come from their float32 rows of the head (20 rows: microseconds), as the full head gives them;
- so are all logits within ``MARGIN`` of the largest (~200-350 tokens on demo and ml-latest-small prompts), which
  carry most of the softmax's mass;
- the rest, each below e^-MARGIN of the top token's mass, come from the copy.

Measured on 10 demo and ml-latest-small prompts: the normaliser within 6.5e-4 of float32's (bfloat16 alone: 2.3e-2).
The normaliser is one number per prompt, so every letter moves by the same amount and **the letters' order is
float32's exactly**; the recorded log-probabilities move by that much. (The bfloat16 MLP, which ``auto`` takes on the
same machines, already moves them by ~0.05.) Only where bfloat16 matmuls are faster (``ranker.normaliser_dtype``).
"""

from __future__ import annotations

# Logits this close to the largest (in nats, judged on the bfloat16 copy) are recomputed in float32.
MARGIN = 8.0
# More near-top logits than this: the whole row in float32 instead (gathering that many rows costs more).
MAX_NEAR = 4096
# The bfloat16 copy sits beside the float32 head (tied to the embeddings, which still need it): at most this many bytes.
MAX_COPY_BYTES = 512 << 20

# Causal LMs whose logits are exactly ``lm_head(last hidden state)`` (transformers 5.x sources): no scaling, no
# softcapping, no bias.
PLAIN_HEADS = {"LlamaForCausalLM", "Qwen2ForCausalLM", "MistralForCausalLM"}


def fits(model) -> bool:
    """Whether ``model`` (a causal LM, not a peft wrapper) has a plain float32 head this can stand in for."""
    import torch

    head = getattr(model, "lm_head", None)
    return (type(model).__name__ in PLAIN_HEADS and type(head) is torch.nn.Linear and head.bias is None
            and head.weight.dtype == torch.float32 and head.weight.numel() * 2 <= MAX_COPY_BYTES
            and hasattr(model, "model"))


class LetterHead:
    """Log-probabilities of chosen tokens from last hidden states, as ``log_softmax(lm_head(h))[:, ids]`` gives them
    up to the normaliser's error (see the module docstring)."""

    def __init__(self, weight):
        import torch

        self.weight = weight.detach()
        self.copy = self.weight.to(torch.bfloat16)

    def logprobs(self, hidden, token_ids):
        """(B, H) float32 hidden states, (L,) token ids -> (B, L) float32 log-probabilities."""
        import torch
        import torch.nn.functional as F

        with torch.inference_mode():
            hidden = hidden.float()
            logits = F.linear(hidden.to(torch.bfloat16), self.copy).float()  # (B, V)
            top = logits.max(dim=-1).values
            for row in range(logits.shape[0]):
                near = torch.nonzero(logits[row] >= top[row] - MARGIN).squeeze(1)
                if len(near) > MAX_NEAR:  # a flat distribution: gathering rows would cost more than the full head
                    logits[row] = F.linear(hidden[row], self.weight)
                    continue
                exact = torch.unique(torch.cat([near, token_ids]))
                logits[row].index_copy_(0, exact, F.linear(hidden[row], self.weight.index_select(0, exact)))
            return logits[:, token_ids] - torch.logsumexp(logits, dim=-1, keepdim=True)
