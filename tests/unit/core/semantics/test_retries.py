"""RetryPolicy, RetryRequested, Failure(allow_retries=False)."""

from opgrid import Backoff, Failure, Jitter, RetryPolicy, RetryRequested, job, op


def test_retry_policy_succeeds_on_second_try(execute, events_for):
    attempts = []

    @op(retry_policy=RetryPolicy(max_retries=2))
    def flaky(context):
        attempts.append(context.retry_number)
        if context.retry_number < 1:
            raise ValueError("first attempt fails")
        return "ok on %d" % context.retry_number

    @job
    def j():
        flaky()

    result = execute(j)
    assert result.success
    assert attempts == [0, 1]
    assert result.output_for_node("flaky") == "ok on 1"
    evs = events_for(result, "flaky")
    assert evs.count("STEP_UP_FOR_RETRY") == 1
    assert evs.count("STEP_START") == 1
    assert evs.count("STEP_RESTARTED") == 1
    assert evs[-1] == "STEP_SUCCESS"
    assert "STEP_FAILURE" not in evs


def test_exhausting_retries_fails(execute, events_for):
    attempts = []

    @op(retry_policy=RetryPolicy(max_retries=2))
    def always_fails(context):
        attempts.append(context.retry_number)
        raise ValueError("nope")

    @op
    def downstream(x):
        return x

    @job
    def j():
        downstream(always_fails())

    result = execute(j, raise_on_error=False)
    assert not result.success
    assert attempts == [0, 1, 2]
    assert result.is_node_failed("always_fails")
    assert result.is_node_untouched("downstream")
    evs = events_for(result, "always_fails")
    assert evs.count("STEP_UP_FOR_RETRY") == 2
    assert evs.count("STEP_FAILURE") == 1


def test_exhausted_retries_raise_max_retries_error(execute):
    import pytest

    from opgrid import DagsterError

    @op(retry_policy=RetryPolicy(max_retries=1))
    def always_fails():
        raise KeyError("k")

    @job
    def j():
        always_fails()

    with pytest.raises(DagsterError) as exc:
        execute(j)
    assert type(exc.value).__name__ == "DagsterMaxRetriesExceededError"


def test_retry_policy_with_backoff_and_jitter(execute):
    attempts = []

    @op(
        retry_policy=RetryPolicy(
            max_retries=3, delay=0.01, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS
        )
    )
    def flaky(context):
        attempts.append(context.retry_number)
        if context.retry_number < 2:
            raise ValueError()
        return context.retry_number

    @job
    def j():
        flaky()

    assert execute(j).output_for_node("flaky") == 2
    assert attempts == [0, 1, 2]


def test_with_retry_policy_on_invocation(execute):
    attempts = []

    @op
    def flaky(context):
        attempts.append(context.retry_number)
        if context.retry_number == 0:
            raise ValueError()
        return "done"

    @job
    def j():
        flaky.with_retry_policy(RetryPolicy(max_retries=1))()

    assert execute(j).output_for_node("flaky") == "done"
    assert attempts == [0, 1]


def test_retry_requested_from_op(execute, events_for):
    attempts = []

    @op
    def asks_retry(context):
        attempts.append(context.retry_number)
        if context.retry_number < 2:
            raise RetryRequested(max_retries=3)
        return "done"

    @job
    def j():
        asks_retry()

    result = execute(j)
    assert result.output_for_node("asks_retry") == "done"
    assert attempts == [0, 1, 2]
    assert events_for(result, "asks_retry").count("STEP_UP_FOR_RETRY") == 2


def test_retry_requested_exhausted_fails(execute):
    attempts = []

    @op
    def asks_retry(context):
        attempts.append(context.retry_number)
        raise RetryRequested(max_retries=1)

    @job
    def j():
        asks_retry()

    result = execute(j, raise_on_error=False)
    assert not result.success
    assert attempts == [0, 1]


def test_failure_allow_retries_false_skips_retry_policy(execute, events_for):
    attempts = []

    @op(retry_policy=RetryPolicy(max_retries=3))
    def no_retry(context):
        attempts.append(context.retry_number)
        raise Failure(description="permanent", allow_retries=False)

    @job
    def j():
        no_retry()

    result = execute(j, raise_on_error=False)
    assert not result.success
    assert attempts == [0]
    assert "STEP_UP_FOR_RETRY" not in events_for(result, "no_retry")
