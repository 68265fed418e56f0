"""rl-breakout grader: rgym's Breakout-MinAtar rollout asks the agent's policy for actions.

The environment, the loop, the evaluation seeds (from the secret --seed, other ones for dev and
test) and the action sampling are the grader's (rl_rollout.py, on the grading sandbox's path);
the policy folder runs in a sandbox of its own behind rgym's model server and only answers
`policy(ckpt, obs) -> logits`. Score: mean return over checkpoints x seeds x environments.
"""

import rgym_grade
import rl_rollout

ENV = "Breakout-MinAtar"


def main(args):
    return rl_rollout.grade(args, ENV)


if __name__ == "__main__":
    rgym_grade.run(main)
