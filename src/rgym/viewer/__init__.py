"""`rgym view`: runs, trajectories and leaderboards in the browser."""
