"""The GraphQL API at ``/graphql``: Dagster's names where Dagster's client needs them."""

from .schema import schema

__all__ = ["schema"]
