"""How an instance is stored: plain JSON naming its spec by digest, read back in every layout the desk
has written, converted with SpiffWorkflow's public registry (no mode shared between threads)."""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from datetime import UTC, datetime, timedelta

from SpiffWorkflow.bpmn.serializer import DefaultRegistry

from supportdesk.engine.desk import Desk
from supportdesk.engine.process.spiff import SPEC_DIGEST
from supportdesk.engine.store.models import ProcessSpec
from supportdesk.engine.tickets.instances import find_ticket, load_workflow
from supportdesk.handlers import REGISTRY

from helpers import FIRST_RESPONSE, do, log_and_triage, open_titles


def _state(desk, reference: str) -> str:
    with desk.db.reading() as session:
        return find_ticket(session, reference).state


def test_the_saved_state_is_plain_json_whose_spec_digest_names_the_stored_spec(desk):
    state = _state(desk, log_and_triage(desk))
    dct = json.loads(state)
    with desk.db.reading() as session:
        spec = session.get(ProcessSpec, dct["spec_digest"])
        assert spec is not None
    assert hashlib.sha256(f"{spec.spec}\n{spec.subprocess_specs}".encode()).hexdigest() == dct["spec_digest"]
    assert "spec" not in dct
    assert "subprocess_specs" not in dct
    # One json.dumps, nothing spliced in; the digest first, where migration 0007's downgrade reads it.
    assert json.dumps(dct, separators=(",", ":")) == state
    assert state.startswith(f'{SPEC_DIGEST}{dct["spec_digest"]}",')


def test_a_state_saved_by_the_old_splicing_code_still_loads_and_runs(desk):
    reference = log_and_triage(desk)
    dct = json.loads(_state(desk, reference))
    digest = dct.pop("spec_digest")
    old = '{"spec_digest": "' + digest + '",' + json.dumps(dct)[1:]  # as the desk wrote it before
    with desk.db.transaction() as session:
        find_ticket(session, reference).state = old

    again = Desk(desk.settings, REGISTRY)  # a new process: the spec is read from process_spec
    with again.db.reading() as session:
        workflow = load_workflow(session, again, old)
    assert json.loads(again.process_engine.dumps(workflow)) == {"spec_digest": digest, **dct}
    do(again, reference, "First level response", FIRST_RESPONSE)
    assert open_titles(again, reference) == ["Resolve call (second line)"]
    assert _state(again, reference).startswith(f'{SPEC_DIGEST}{digest}",')  # saved anew, in today's layout
    again.close()


def test_task_data_of_every_kind_the_registry_knows_survives_a_save(desk):
    reference = log_and_triage(desk)
    with desk.db.reading() as session:
        workflow = load_workflow(session, desk, find_ticket(session, reference).state)
    data = {
        "when": datetime(2026, 11, 23, 10, tzinfo=UTC),
        "within": timedelta(hours=4),
        "id": uuid.UUID(int=7),
        "nested": {"at": [datetime(2026, 11, 24, tzinfo=UTC)], "pair": (1, "two"), "hook": print},
        "labels": {"b"},
        "hook": print,
    }
    workflow.data.update(data)
    # The desk's registry converts as SpiffWorkflow's DefaultRegistry does (its shorter road aside).
    registry = desk.process_engine.serializer.registry
    plain = {k: v for k, v in data.items() if k != "labels"}
    assert registry.convert(plain) == DefaultRegistry().convert(plain)

    again = desk.process_engine.loads(desk.process_engine.dumps(workflow))
    expected = {k: v for k, v in data.items() if k != "hook"}
    expected["nested"] = {"at": [datetime(2026, 11, 24, tzinfo=UTC)], "pair": [1, "two"]}  # callables dropped
    expected["labels"] = ["b"]  # a set is written as a list, as SpiffWorkflow's JSON encoder writes it
    assert {k: again.data[k] for k in expected} == expected
    assert "hook" not in again.data


def test_saving_beside_a_spec_comparison_in_another_thread_changes_neither(desk):
    """Nothing is switched on the shared registry while saving: a migration comparing specs (with
    ``registry.convert``) in another thread sees them converted all the way down. (With the encoder
    mode the desk used to switch on for each save, about half of these conversions left the
    datetime as it was.)"""
    engine = desk.process_engine
    state = _state(desk, log_and_triage(desk))
    with desk.db.reading() as session:
        workflow = load_workflow(session, desk, state)
    value = {"spec": workflow.spec, "due": [datetime(2026, 11, 24, tzinfo=UTC)]}
    expected_value, expected_state = engine.serializer.registry.convert(value), json.loads(state)
    seen: list[bool] = []

    def compare():
        seen.extend(engine.serializer.registry.convert(value) == expected_value for _ in range(200))

    def save():
        seen.extend(json.loads(engine.dumps(workflow)) == expected_state for _ in range(200))

    threads = [threading.Thread(target=target) for target in (compare, save, compare, save)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 800
    assert all(seen)
