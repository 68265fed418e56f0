"""Tasks: the task.yaml schema, the registry, data recipes and the built-in catalogue."""
