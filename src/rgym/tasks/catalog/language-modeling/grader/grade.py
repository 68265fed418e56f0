"""language-modeling grader: the model's log-probabilities on hidden text, in the grader's loop.

The model folder runs alone in a sandbox of its own (rgym's model server imports its model.py);
this grader sends it windows of the hidden dev or test text as int64 arrays and gets back
log-probabilities of the next token at every position. lm_eval.py (a copy of the starter's)
picks the windows, checks every reply (shape, dtype, finite, normalised), checks causality on
seeded copies with a changed future, bounds the model's time, and computes the loss: bits per
byte (default and tiny) or nats per token (full, MLGym's val_loss).
"""

import json

import lm_eval
import numpy as np
import rgym_grade
from rgym_grade import Invalid


def main(args):
    settings = lm_eval.Settings.from_dict(json.loads((args.private / "eval.json").read_text()))
    stream = np.load(args.private / f"{args.split}.npy")
    model = rgym_grade.remote_model("model/model.py", load_timeout=lm_eval.WARMUP_TIMEOUT)
    # one reply holds rows x context x vocab_max numbers, float64 at most
    reply_bytes = settings.batch * settings.context * settings.vocab_max * 8 + (1 << 20)

    def call(rows: np.ndarray, timeout: float):
        try:
            return model.call("logprobs", rows, timeout=timeout, max_bytes=reply_bytes)
        except rgym_grade.RemoteError as e:
            if "in time" not in str(e):
                raise
            raise Invalid(
                f"{e}: the model may take {settings.time_limit:g} s for all its calls together "
                f"(after a first call of one row, which may take {lm_eval.WARMUP_TIMEOUT:g} s)"
            ) from None

    try:
        return lm_eval.evaluate(call, stream, settings, seed=args.seed)
    except lm_eval.BadModel as e:
        raise Invalid(str(e)) from None


if __name__ == "__main__":
    rgym_grade.run(main)
