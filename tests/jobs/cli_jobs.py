"""A code location for the CLI tests: small jobs that each show one behaviour.

Ops report what they saw through ``context.log``, which the in-process
executor writes to stderr, so the tests read it from the command's stderr.
"""

from opgrid import Field, RetryPolicy, graph, job, op


@op(config_schema={"greeting": str, "name": Field(str, default_value="world")})
def greet(context):
    text = f"{context.op_config['greeting']}, {context.op_config['name']}"
    context.log.info(f"said: {text}")
    return text


@job(description="Greet someone.\n\nThe greeting comes from run config.")
def greeting():
    greet()


@op
def report_tags(context):
    tags = ",".join(f"{key}={value}" for key, value in sorted(context.run.tags.items()))
    context.log.info(f"tags: {tags}")


@job(tags={"owner": "cli-tests"})
def tagged():
    report_tags()


@op
def explode():
    raise ValueError("boom: the op blew up")


@op
def after(value):
    return value


@job
def broken():
    """Its first op raises, so the run fails."""
    after(explode())


@op(retry_policy=RetryPolicy(max_retries=1))
def flaky(context):
    if context.retry_number == 0:
        raise ConnectionError("first attempt fails")
    return "ok"


@job
def retried():
    flaky()


@op
def one():
    return 1


@op
def add(a, b):
    return a + b


@graph
def inner(x):
    return add(x, one())


@graph
def outer(x):
    return inner(inner(x))


@job
def nested():
    """Graphs inside graphs: five ops in all."""
    outer(one())
