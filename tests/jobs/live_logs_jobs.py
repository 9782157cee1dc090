"""Jobs for the live-log and captured-output tests (``tests/integration/test_live_logs.py``):
ops that log and then take their time, and ops that print, some failing."""

from __future__ import annotations

import sys
import threading
import time

from opgrid import Config, OpExecutionContext, job, op


class NapConfig(Config):
    seconds: float = 6.0


@op
def warm_up(context: OpExecutionContext, config: NapConfig) -> int:
    context.log.info("warming up")
    time.sleep(config.seconds)
    context.log.info("warmed up")
    return 1


@job(description="Logs a line, then sleeps.")
def slow_logger():
    warm_up()


@job(description="Logs a line, then sleeps long enough to be canceled.")
def cancelable():
    warm_up()


@op
def talk() -> int:
    print("hello on stdout")
    print("trouble on stderr", file=sys.stderr)
    print("z" * 5000)  # over the tests' capture limit
    # a thread of the op's own writes to the worker's stdout, as a print outside a step
    elsewhere = threading.Thread(target=print, args=("printed by a thread of talk",))
    elsewhere.start()
    elsewhere.join()
    return 1


@op
def talk_and_fail(value: int) -> int:
    print(f"got {value}, failing")
    print("the reason is below", file=sys.stderr)
    raise RuntimeError("failing on purpose")


@job(description="Prints on both streams, then a step prints and fails.")
def printing():
    talk_and_fail(talk())
