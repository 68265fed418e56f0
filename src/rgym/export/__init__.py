"""`rgym export`: runs as training data (chat SFT examples, RL episodes)."""
