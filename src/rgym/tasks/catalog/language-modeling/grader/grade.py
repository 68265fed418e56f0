"""language-modeling grader: the model's log-probabilities on hidden text, in the grader's loop.

The model folder runs alone in a sandbox of its own (rgym's model server imports its model.py);
this grader sends it windows of the hidden dev or test text as int64 arrays and gets back
log-probabilities of the next token at every position. A second process of the model gets the
causality copies. lm_eval.py (a copy of the starter's)
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
    # two separate processes of the model (task.yaml: artifact.instances): the windows go to
    # the first, their causality copies to the second, which never sees an original
    model, checker = (
        rgym_grade.remote_model("model/model.py", lm_eval.WARMUP_TIMEOUT, instance=i)
        for i in (0, 1)
    )
    # one reply holds rows x context x vocab_max numbers, float64 at most
    reply_bytes = settings.batch * settings.context * settings.vocab_max * 8 + (1 << 20)

    def caller(remote):
        def call(rows: np.ndarray, timeout: float):
            try:
                return remote.call("logprobs", rows, timeout=timeout, max_bytes=reply_bytes)
            except rgym_grade.RemoteError as e:
                if "in time" not in str(e):
                    raise
                raise Invalid(
                    f"{e}: the model may take {settings.time_limit:g} s for all its calls "
                    f"together (after a first call of one row, which may take "
                    f"{lm_eval.WARMUP_TIMEOUT:g} s)"
                ) from None

        return call

    try:
        return lm_eval.evaluate(
            caller(model), stream, settings, seed=args.seed, check_call=caller(checker)
        )
    except lm_eval.BadModel as e:
        raise Invalid(str(e)) from None


if __name__ == "__main__":
    rgym_grade.run(main)
