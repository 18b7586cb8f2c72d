"""named-worker-sim: a paired duty vs named-worker simulation of a community learning-disability team."""
