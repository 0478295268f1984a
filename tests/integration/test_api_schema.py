"""Schemathesis against the OpenAPI spec, once per backend: generated requests to every
operation, valid and invalid (both generation modes), never get a 5xx and every answer
matches its schema and content type.

The caller holds every insurer role (so requests get past authorization and into the use
cases); refusals by rule, four-eyes or tenant are fine as long as they are documented.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import product

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)

from tests import builders as b
from tests import support
from xinbao.bootstrap import bootstrap
from xinbao.entrypoints.api.app import create_app
from xinbao.iam.model.security import Role

STAFF_ROLES = [r.value for r in Role if r is not Role.FUNDER]


CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
EXAMPLES = 15  # per operation, generation mode (valid, invalid) and backend


def test_no_server_errors_and_every_answer_matches_the_spec(database_url: str):
    c = bootstrap(support.settings(database_url))
    c = replace(c, settings=replace(c.settings, rate_limit_burst=100_000,
                                    rate_limit_per_second=100_000))
    b.seed(c.uow)
    b.issued_policy(c.uow)  # something to find: objects with id 1 exist
    headers = support.bearer(support.api_token(c, "schema-probe", STAFF_ROLES))
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(c))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    for operation, mode in product(operations, GenerationMode):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def probe(case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            probe()
        except Unsatisfiable:
            # An operation without parameters or body has no invalid form to generate.
            assert mode is GenerationMode.NEGATIVE and not (
                operation.path_parameters or operation.query or operation.body), operation.label
    c.close()
