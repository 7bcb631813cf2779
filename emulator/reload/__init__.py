"""Edits picked up while the stack runs, as `sam sync --watch` picks them up for a deployed stack:
watch each function's CodeUri folder and the template (watcher.py), rebuild what changed with
`sam build <LogicalId>` (sam_build.py), then give Lambda the new code (LambdaService's
update_function_code). source_files.py says what is stale at start and what does not compile."""
