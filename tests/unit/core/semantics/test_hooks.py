"""success_hook / failure_hook semantics."""

from opgrid import HookContext, ResourceDefinition, RetryPolicy, failure_hook, job, op, success_hook

calls = []


@success_hook
def on_ok(context: HookContext):
    calls.append(("ok", context.op.name))


@failure_hook
def on_fail(context: HookContext):
    calls.append(("fail", context.op.name, type(context.op_exception).__name__))


@op
def good():
    return 1


@op
def good_too(x):
    return x


@op
def bad():
    raise KeyError("bad op")


def test_job_level_success_hook_fires_for_each_successful_op(execute):
    calls.clear()

    @job(hooks={on_ok})
    def j():
        good_too(good())
        good.alias("third")()

    execute(j)
    assert sorted(calls) == [("ok", "good"), ("ok", "good_too"), ("ok", "third")]


def test_failure_hook_fires_only_for_failed_op(execute):
    calls.clear()

    @job(hooks={on_ok, on_fail})
    def j():
        good()
        bad()

    execute(j, raise_on_error=False)
    assert sorted(calls) == [("fail", "bad", "KeyError"), ("ok", "good")]


def test_hooks_not_fired_for_skipped_or_untouched_ops(execute):
    calls.clear()

    @job(hooks={on_ok, on_fail})
    def j():
        good_too(bad())

    execute(j, raise_on_error=False)
    assert calls == [("fail", "bad", "KeyError")]


def test_with_hooks_on_single_invocation(execute):
    calls.clear()

    @job
    def j():
        good.with_hooks({on_ok})()
        good.alias("no_hook")()

    execute(j)
    assert calls == [("ok", "good")]


def test_with_hooks_on_job_definition(execute):
    calls.clear()

    @job
    def plain():
        good()

    execute(plain.with_hooks({on_ok}))
    assert calls == [("ok", "good")]


def test_to_job_hooks(execute):
    from opgrid import graph

    calls.clear()

    @graph
    def g():
        good()

    execute(g.to_job(hooks={on_ok}))
    assert calls == [("ok", "good")]


def test_hook_context_attributes(execute):
    seen = {}

    @success_hook(required_resource_keys={"flag"})
    def capture(context: HookContext):
        seen.update(
            op_name=context.op.name,
            job_name=context.job_name,
            run_id=context.run_id,
            flag=context.resources.flag,
            exc=context.op_exception,
        )

    @job(hooks={capture}, resource_defs={"flag": ResourceDefinition.hardcoded_resource("F")})
    def hook_ctx_job():
        good()

    result = execute(hook_ctx_job)
    assert seen == {
        "op_name": "good",
        "job_name": "hook_ctx_job",
        "run_id": result.run_id,
        "flag": "F",
        "exc": None,
    }


def test_failure_hook_fires_once_after_retries_exhausted(execute):
    calls.clear()
    attempts = []

    @op(retry_policy=RetryPolicy(max_retries=2))
    def flaky(context):
        attempts.append(context.retry_number)
        raise ValueError("always")

    @job(hooks={on_fail})
    def j():
        flaky()

    execute(j, raise_on_error=False)
    assert attempts == [0, 1, 2]
    assert calls == [("fail", "flaky", "ValueError")]


def test_success_hook_fires_once_after_successful_retry(execute):
    calls.clear()

    @op(retry_policy=RetryPolicy(max_retries=2))
    def flaky_ok(context):
        if context.retry_number == 0:
            raise ValueError("first try")
        return 1

    @job(hooks={on_ok, on_fail})
    def j():
        flaky_ok()

    execute(j)
    assert calls == [("ok", "flaky_ok")]
