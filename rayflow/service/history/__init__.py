"""History service (internal): shards that own workflow executions and their event histories."""
