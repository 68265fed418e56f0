"""The grader of every RL task (rl-breakout, rl-meta-maze, rl-mountain-car,
rl-mountain-car-reinforce): rgym's rollout of the variant's gymnax environment asks the agent's
policy for actions.

The environment, the loop, the evaluation seeds (from the secret --seed, other ones for dev and
test) and the action sampling are the grader's (rl_rollout.py, beside this file); the policy
folder runs in a sandbox of its own behind rgym's model server and only answers
`policy(ckpt, obs)`. Score: mean return over checkpoints x seeds x environments.
"""

import rgym_grade
import rl_rollout


def main(args):
    return rl_rollout.grade(args, args.options["env_name"])


if __name__ == "__main__":
    rgym_grade.run(main)
