"""The GraphQL explorer served at ``GET /graphql`` to a browser: a query editor,
variables, the result, and a schema browser built from the introspection query. Our
own page and script (``static/explorer.js``); nothing is loaded from anywhere else."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse

from .layout import page

#: The query the editor opens with.
FIRST_QUERY = """query RecentRuns($limit: Int) {
  runsOrError(limit: $limit) {
    __typename
    ... on Runs {
      count
      results { runId jobName status startTime endTime }
    }
    ... on PythonError { message }
  }
}
"""


def explorer_page(request: Request) -> HTMLResponse:
    body = (
        '<h1>GraphQL</h1><div class="gql">'
        '<section class="gql-editor"><div class="gql-bar"><h2>Query</h2>'
        '<button class="primary" id="gql-run" title="Ctrl+Enter">Run ▸</button></div>'
        f'<textarea id="gql-query" spellcheck="false" rows="16">{FIRST_QUERY}</textarea>'
        '<h2>Variables <span class="muted">(JSON)</span></h2>'
        '<textarea id="gql-variables" spellcheck="false" rows="4">{"limit": 5}</textarea>'
        '<p class="muted">Ctrl+Enter runs the query. POST /graphql takes the same JSON '
        "from any client.</p></section>"
        '<section class="gql-out"><h2>Result <span class="muted" id="gql-took"></span></h2>'
        '<pre id="gql-result" class="mono">Run a query to see its result.</pre></section>'
        '<section class="gql-docs"><h2>Schema</h2>'
        '<input id="gql-filter" placeholder="Find a type" autocomplete="off">'
        '<div id="gql-schema" class="muted">Loading the schema…</div>'
        '<div id="gql-type-view"></div></section></div>'
        '<script src="/static/explorer.js" defer></script>'
    )
    return page(request, "GraphQL", body, "/graphql")
