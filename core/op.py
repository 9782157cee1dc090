"""Ops: ``@op`` and ``OpDefinition``, the unit of computation."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Mapping
from typing import Any

from . import composition
from .config import Config, ConfigSchema
from .definition_checks import check_name, check_tags
from .errors import DagsterInvalidDefinitionError
from .input import In, InputDefinition
from .named_sequence import NamedDefinitions
from .output import DEFAULT_OUTPUT, Out, OutputDefinition, check_output_name, output_type_of
from .resource import resource_keys
from .retry import RetryPolicy
from .types import NO_VALUE, Nothing, is_nothing

#: First-parameter names that make a parameter the op's context (Dagster's; ``ctx`` is an
#: input there). A first parameter annotated ``OpExecutionContext`` is a context too.
CONTEXT_NAMES = frozenset({"context", "_context", "context_", "_"})


class OpDefinition(composition.Invocable):
    """An op: a function with declared inputs, outputs, config and resources.

    Args:
        compute_fn: the op's function.
        name: defaults to the function's name.
        ins: input declarations, by parameter name.
        outs: output declarations, by output name.
        description: defaults to the function's docstring.
        config_schema: the schema of ``ops.<name>.config``.
        required_resource_keys: resources the op uses.
        tags: free-form tags; ``opgrid/*`` tags steer execution.
        retry_policy: how a failing step is retried.
    """

    def __init__(
        self,
        compute_fn: Callable[..., Any],
        name: str | None = None,
        ins: Mapping[str, In] | None = None,
        outs: Mapping[str, Out] | None = None,
        description: str | None = None,
        config_schema: Any = None,
        required_resource_keys: set[str] | frozenset[str] | None = None,
        tags: Mapping[str, Any] | None = None,
        retry_policy: RetryPolicy | None = None,
        code_version: str | None = None,
    ) -> None:
        self.compute_fn = compute_fn
        self.name = name or compute_fn.__name__
        check_name(self.name, "the name of an op")
        check_tags(tags, f"op {self.name!r}")
        self.description = description if description is not None else inspect.getdoc(compute_fn)
        self.required_resource_keys = resource_keys(required_resource_keys, f"op {self.name!r}")
        self.tags: dict[str, Any] = dict(tags or {})
        self.retry_policy = retry_policy
        self.code_version = code_version
        self.is_generator = inspect.isgeneratorfunction(compute_fn)
        sig = _Signature(compute_fn, self.name)
        #: the raw ``OpDefinition(compute_fn=fn(context, inputs))`` form: inputs come as a dict
        self.takes_inputs_dict = sig.takes_inputs_dict(ins or {})
        self.has_context = sig.has_context
        self.context_param = sig.context_param
        self.var_kwargs = sig.var_kwargs
        self.config_param = sig.config_param
        if config_schema is None and sig.config_class is not None:
            config_schema = sig.config_class
        self.config_schema = (
            ConfigSchema(config_schema, f"op {self.name!r}") if config_schema is not None else None
        )
        self.input_defs: NamedDefinitions[InputDefinition] = NamedDefinitions(sig.inputs(ins or {}))
        self.output_defs: NamedDefinitions[OutputDefinition] = NamedDefinitions(
            _outputs(self.name, outs, sig.return_annotation)
        )
        self.positional_inputs = tuple(n for n, d in self.input_defs.items() if not d.is_nothing)

    # Dagster-compatible views -------------------------------------------------
    @property
    def ins(self) -> dict[str, InputDefinition]:
        return dict(self.input_defs.items())

    @property
    def outs(self) -> dict[str, OutputDefinition]:
        return dict(self.output_defs.items())

    @property
    def node_type_str(self) -> str:
        return "op"

    def input_def_named(self, name: str) -> InputDefinition:
        return self.input_defs[name]

    def output_def_named(self, name: str) -> OutputDefinition:
        return self.output_defs[name]

    def all_required_resource_keys(self) -> frozenset[str]:
        return self.required_resource_keys

    def iterate_op_defs(self) -> list[OpDefinition]:
        return [self]

    def configured(
        self,
        config_or_config_fn: Any,
        name: str,
        config_schema: Any = None,
        description: str | None = None,
    ) -> OpDefinition:
        """A copy named ``name`` whose config is fixed, or mapped from ``config_schema``."""
        from .configured import configure_op

        result: OpDefinition = configure_op(
            self, config_or_config_fn, name, config_schema, description
        )
        return result

    def call(self, context: Any, inputs: Mapping[str, Any]) -> Any:
        """Call the function with a context (when it takes one) and the input values."""
        if self.takes_inputs_dict:
            return self.compute_fn(context, dict(inputs))
        if self.has_context:
            return self.compute_fn(context, **inputs)
        return self.compute_fn(**inputs)

    # Composition ---------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if composition.is_composing():
            return composition.invoke(self, None, args, kwargs)
        from .invocation import invoke_op  # direct invocation, as in a unit test

        return invoke_op(self, args, kwargs)

    def __repr__(self) -> str:
        return f"<OpDefinition {self.name}>"


class _Signature:
    """What an op function's signature declares: context, config parameter, inputs."""

    def __init__(self, fn: Callable[..., Any], op_name: str) -> None:
        self.op_name = op_name
        every = list(inspect.signature(fn).parameters.values())
        self.var_kwargs = any(p.kind is p.VAR_KEYWORD for p in every)
        params = [p for p in every if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        try:
            hints = typing.get_type_hints(fn)
        except Exception:  # unresolvable forward references: fall back to raw annotations
            hints = dict(getattr(fn, "__annotations__", {}))
        self.return_annotation = hints.get("return", NO_VALUE)
        self.has_context = bool(params) and (
            params[0].name in CONTEXT_NAMES or _is_context_type(hints.get(params[0].name))
        )
        self.context_param = params[0].name if self.has_context else None
        if self.has_context:
            params = params[1:]
        self.config_param: str | None = None
        self.config_class: type[Config] | None = None
        for param in params:
            hint = hints.get(param.name)
            if isinstance(hint, type) and issubclass(hint, Config):
                self.config_param, self.config_class = param.name, hint
        self.params = [p for p in params if p.name != self.config_param]
        self.raw = False
        self.hints = hints

    def takes_inputs_dict(self, ins: Mapping[str, In]) -> bool:
        """Whether the function is ``fn(context, inputs)`` with the inputs declared in ``ins``."""
        declared = [n for n, spec in ins.items() if not is_nothing(spec.dagster_type)]
        is_raw = self.has_context and [p.name for p in self.params] == ["inputs"]
        if is_raw and declared and "inputs" not in ins:
            self.params = []  # the declared ins are the inputs
            self.raw = True
            return True
        return False

    def inputs(self, ins: Mapping[str, In]) -> dict[str, InputDefinition]:
        names = {p.name for p in self.params}
        for name, spec in ins.items():
            if not isinstance(spec, In):
                raise DagsterInvalidDefinitionError(
                    f"op {self.op_name!r}: ins[{name!r}] must be an In, got {spec!r}"
                )
            if is_nothing(spec.dagster_type) and name in names:
                raise DagsterInvalidDefinitionError(
                    f"op {self.op_name!r}: input {name!r} is of type Nothing and must not be "
                    "a parameter of the function"
                )
            if not is_nothing(spec.dagster_type) and name not in names and not self.raw:
                raise DagsterInvalidDefinitionError(
                    f"op {self.op_name!r}: input {name!r} is declared in ins but is not a "
                    "parameter of the function"
                )
        result: dict[str, InputDefinition] = {}
        if self.raw:  # the raw form: every declared input, in order
            for name, spec in ins.items():
                if not is_nothing(spec.dagster_type):
                    result[name] = InputDefinition.build(name, NO_VALUE, spec, NO_VALUE)
        for param in self.params:
            default = NO_VALUE if param.default is param.empty else param.default
            hint = self.hints.get(param.name, NO_VALUE)
            result[param.name] = InputDefinition.build(
                param.name, hint, ins.get(param.name), default
            )
        for name, spec in ins.items():
            if is_nothing(spec.dagster_type):
                result[name] = InputDefinition.build(name, Nothing, spec, NO_VALUE)
        return result


def _is_context_type(hint: Any) -> bool:
    return isinstance(hint, type) and hint.__name__ in {
        "OpExecutionContext",
        "AssetExecutionContext",
    }


def _outputs(
    op_name: str, outs: Mapping[str, Out] | Out | None, annotation: Any
) -> dict[str, OutputDefinition]:
    annotation = output_type_of(annotation, op_name)
    if outs is None or isinstance(outs, Out):
        spec = outs or Out()
        if annotation is None or annotation is type(None):
            annotation = NO_VALUE  # ``-> None``: the output carries None, unchecked
        return {DEFAULT_OUTPUT: OutputDefinition.build(DEFAULT_OUTPUT, spec, annotation)}
    result: dict[str, OutputDefinition] = {}
    per_position = _tuple_args(annotation, len(outs))
    for index, (name, spec) in enumerate(outs.items()):
        check_output_name(name, f"op {op_name!r}")
        if not isinstance(spec, Out):
            raise DagsterInvalidDefinitionError(
                f"op {op_name!r}: out[{name!r}] must be an Out, got {spec!r}"
            )
        result[name] = OutputDefinition.build(name, spec, per_position[index])
    return result


def _tuple_args(annotation: Any, count: int) -> list[Any]:
    if count == 1 and annotation is not NO_VALUE:
        return [annotation]  # one output: the whole return annotation is its type
    if typing.get_origin(annotation) is tuple:
        args = typing.get_args(annotation)
        if len(args) == count and Ellipsis not in args:
            return [output_type_of(arg, "") for arg in args]
    return [NO_VALUE] * count


def op(
    compute_fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    ins: Mapping[str, In] | None = None,
    out: Mapping[str, Out] | Out | None = None,
    config_schema: Any = None,
    required_resource_keys: set[str] | None = None,
    tags: Mapping[str, Any] | None = None,
    retry_policy: RetryPolicy | None = None,
    code_version: str | None = None,
) -> Any:
    """Turn a function into an ``OpDefinition`` (``@op`` or ``@op(...)``)."""

    def wrap(fn: Callable[..., Any]) -> OpDefinition:
        outs = out if isinstance(out, Mapping) else ({DEFAULT_OUTPUT: out} if out else None)
        definition = OpDefinition(
            fn,
            name=name,
            ins=ins,
            outs=outs,
            description=description,
            config_schema=config_schema,
            required_resource_keys=required_resource_keys,
            tags=tags,
            retry_policy=retry_policy,
            code_version=code_version,
        )
        # as in Dagster, the definition wraps its function: __wrapped__, __name__, __doc__
        functools.update_wrapper(definition, fn, updated=())
        return definition

    if compute_fn is not None:
        return wrap(compute_fn)
    return wrap
