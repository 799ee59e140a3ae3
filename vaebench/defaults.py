"""Defaults that several modules need, each stated once (a leaf module: it imports nothing)."""

N_EVAL = 5000  # evaluation points per run (a grid's [study] n_eval, vaebench.evaluation)
SHARD_SIZE = 64  # runs per shard, stored as one part (vaebench.execution.plan)
RECON_VAR = 0.5  # σ² of the Gaussian decoder, the seed's; RunConfig.recon_var and the metrics' default
