"""The Jobs pages (each job's description, tags, op graph, config schema, latest runs) and
the Launchpad (YAML editor validated while typing, tags, partition, Launch)."""

from __future__ import annotations

import json

import yaml
from starlette.requests import Request
from starlette.responses import Response

from ..actions import run_row, ui_state
from ..catalog import LoadProblem
from ..cluster import GraphDefinition, JobDefinition, RunNotFound
from ..config_schema import SchemaNode, job_schema, scaffold_yaml
from ..dag import upstream_of
from ..graph_svg import GraphNode, render
from ..redact import redacted
from ..runs_query import RunFilter, list_runs
from . import fragments
from .layout import h, page, tag_chips

#: Latest runs listed on a job's page.
LATEST_RUNS = 10


def jobs_page(request: Request) -> Response:
    state = ui_state(request)
    rows = (
        "".join(
            f'<tr><td><a href="/jobs/{h(job.name)}">{h(job.name)}</a></td>'
            f"<td>{h(job.description or '')}</td><td>{tag_chips(redacted(job.tags))}</td>"
            f"<td class='mono'>{h(location)}</td>"
            f'<td><a class="button" href="/launchpad/{h(job.name)}">Launchpad</a></td></tr>'
            for location, job in state.catalog.jobs()
        )
        or '<tr><td colspan="5" class="muted">No job loaded.</td></tr>'
    )
    problems = "".join(_problem(p) for p in state.catalog.problems.values())
    body = (
        f"<h1>Jobs</h1>{problems}<table><thead><tr><th>Job</th><th>Description</th><th>Tags</th>"
        f"<th>Code location</th><th></th></tr></thead><tbody>{rows}</tbody></table>"
    )
    return page(request, "Jobs", body, "/jobs")


def _problem(problem: LoadProblem) -> str:
    return (
        f'<div class="error"><h3>Code location {h(problem.label)} failed to load</h3>'
        f"<p>{h(problem.message)}</p><details><summary>Stack</summary>"
        f"<pre>{h(problem.stack)}</pre></details></div>"
    )


def graph_sections(graph: GraphDefinition, prefix: str = "") -> str:
    """The graph's SVG; each nested graph is a box that opens its own section below."""
    nodes = []
    inner = []
    for name, node in graph.node_dict.items():
        path = f"{prefix}{name}"
        if isinstance(node.definition, GraphDefinition):
            nodes.append(
                GraphNode(
                    name, f"▸ {name}", "graph", href=f"#graph-{path}", note="graph: click to expand"
                )
            )
            inner.append((path, node.definition))
        else:
            nodes.append(GraphNode(name, name, "op", note=node.definition.description or "op"))
    svg = render(nodes, upstream_of(graph), "dag")
    nested = "".join(
        f'<details class="subgraph" id="graph-{h(path)}"><summary>graph <b>{h(path)}</b>'
        f"</summary>{graph_sections(definition, path + '.')}</details>"
        for path, definition in inner
    )
    return f'<div class="graph">{svg}</div>{nested}'


def schema_html(node: SchemaNode, name: str = "") -> str:
    label = f'<span class="field">{h(name)}</span>: ' if name else ""
    flags = "" if node.required else ' <span class="muted">optional</span>'
    default = (
        f' <span class="muted">default {h(json.dumps(redacted(node.default), default=str))}</span>'
        if node.has_default
        else ""
    )
    description = f' <span class="desc">{h(node.description)}</span>' if node.description else ""
    head = f'{label}<span class="type">{h(node.type_name)}</span>{flags}{default}{description}'
    if not node.fields:
        return f"<li>{head}</li>"
    children = "".join(schema_html(child, key) for key, child in node.fields.items())
    return f"<li>{head}<ul>{children}</ul></li>"


def _job_or_404(request: Request) -> tuple[str, JobDefinition] | Response:
    state = ui_state(request)
    found = state.catalog.find(request.path_params["job"], request.query_params.get("location"))
    if found is None:
        name = request.path_params["job"]
        return page(request, "Job not found", f"<h1>No job {h(name)!s}</h1>", "/jobs", 404)
    return found


def job_page(request: Request) -> Response:
    found = _job_or_404(request)
    if isinstance(found, Response):
        return found
    location, job = found
    state = ui_state(request)
    latest = list_runs(state.cluster, RunFilter(job=job.name), LATEST_RUNS).runs
    rows = fragments.run_rows_html([run_row(r) for r in latest])
    schema = job_schema(job)
    body = f"""<h1>Job {h(job.name)}</h1>
<p>{h(job.description or "")}</p><p>{tag_chips(redacted(job.tags))}</p>
<p class="muted">Code location <span class="mono">{h(location)}</span></p>
<p><a class="button" href="/launchpad/{h(job.name)}">Open launchpad</a>
 <a class="button" href="/runs?job={h(job.name)}">All runs</a></p>
<section><h2>Op graph</h2>{graph_sections(job.graph)}</section>
<section><h2>Config schema</h2><ul class="schema">{schema_html(schema, "run config")}</ul></section>
<section><h2>Latest runs</h2><table><thead><tr><th>Run</th><th>Job</th><th>Status</th>
<th>Tags</th><th>Created</th><th>Duration</th></tr></thead><tbody>{rows}</tbody></table></section>"""
    return page(request, job.name, body, "/jobs")


def _prefill(request: Request, job: JobDefinition) -> tuple[str, dict[str, str]]:
    """The launchpad's YAML and tags: a scaffold, or the config of ``?from_run=``."""
    run_id = request.query_params.get("from_run")
    if not run_id:
        return scaffold_yaml(job), {}
    store = ui_state(request).cluster.store
    try:
        record = store.get_run(run_id)
        config = store.get_plan(run_id).run_config
    except RunNotFound:
        return scaffold_yaml(job), {}
    tags = {k: str(v) for k, v in redacted(record.tags).items() if not k.startswith("dagster/")}
    return yaml.safe_dump(redacted(config), sort_keys=False) if config else "{}\n", tags


def launchpad_page(request: Request) -> Response:
    found = _job_or_404(request)
    if isinstance(found, Response):
        return found
    location, job = found
    text, tags = _prefill(request, job)
    partitions = job.partitions_def
    picker = ""
    if partitions is not None:
        options = "".join(
            f'<option value="{h(k)}">{h(k)}</option>' for k in partitions.get_partition_keys()
        )
        picker = (
            f'<label>Partition <select id="partition">{options}</select></label>'
            '<p class="muted">The partition supplies the run config; YAML given here is '
            "laid over it.</p>"
        )
    tag_text = "\n".join(f"{k}={v}" for k, v in tags.items())
    body = f"""<h1>Launchpad: {h(job.name)}</h1>
<div class="launchpad" id="launchpad" data-job="{h(job.name)}" data-location="{h(location)}">
<div class="editor"><label for="config">Run config (YAML)</label>
<textarea id="config" spellcheck="false" rows="22">{h(text)}</textarea></div>
<div class="side"><h2>Validation</h2><ul id="config-errors" class="errors"></ul>
<p id="config-ok" class="ok"></p>
<label for="tags">Tags (one key=value a line)</label>
<textarea id="tags" rows="4" spellcheck="false">{h(tag_text)}</textarea>{picker}
<button id="launch" class="primary">Launch run</button><p id="launch-result"></p>
<h2>Schema</h2><ul class="schema">{schema_html(job_schema(job), "run config")}</ul></div></div>"""
    return page(request, f"Launchpad {job.name}", body, "/jobs")
