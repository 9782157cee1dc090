"""The orchestrator: plan compiler, run state machine, executors and the command line."""
