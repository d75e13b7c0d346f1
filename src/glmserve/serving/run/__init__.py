"""Running a prepared chat completion: the completion and its typed deltas, its legs on the
engine, the steerer between them, priority between interactive and batch work, and the
content-filter hook."""
