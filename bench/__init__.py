"""`make bench`: the local stack's figures, each beside a baseline measured in the same run."""
