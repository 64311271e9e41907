"""Running things: the config, the update steps, the search loop, training from scratch, checkpoints,
run folders, torchrun, and batched seeds.
"""
