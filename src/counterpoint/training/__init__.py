"""Training with orderless NADE: the run's config and recipes (config), the objective
(objective), batches and validation windows (batches), the starting weights and the teacher
(teacher), and the loop (loop)."""
