"""`rgym export`: runs (rgym's and MLGym's) as training data: chat transcripts for SFT, episodes
with rewards for RL, in the shapes TRL and verl read (docs/export.md).

runs.py finds and picks runs, episode.py reads an rgym run's events, recorded.py reads back
the messages its model was sent (rebuild.py renders them again for older runs, which did not
record them), transcript.py makes the chat, formats.py the rows, write.py the file; command.py
ties them together and cli.py is the command line."""
