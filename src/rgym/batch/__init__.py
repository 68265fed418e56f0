"""`rgym batch`: a matrix of tasks × agents × seeds run on a local pool or a Ray cluster,
resumable, with budgets at batch level and infrastructure faults retried."""
