"""named-worker-sim: a paired duty vs named-worker simulation of a community learning-disability team."""

import os

# Parallelism is one process per run; numerical libraries must not add thread pools of their own
# (they would oversubscribe the cores, and a threaded parent cannot be forked safely).
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
# Arrow's allocator would otherwise start a background thread as soon as pandas loads it.
os.environ.setdefault("JE_ARROW_MALLOC_CONF", "background_thread:false")
# Under `uv run`, Ray would ship the current folder to its workers as a new working directory and
# start them with `uv run` again; the workers already share this environment, so keep them in it.
os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
